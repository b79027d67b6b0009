fn main() {
    std::process::exit(rcorch::cli::main());
}
