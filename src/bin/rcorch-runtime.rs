//! `rcorch-runtime`: the OCI runtime CLI (runc's verbs) over rcorch's core.

fn main() {
    std::process::exit(rcorch::oci::cli::main());
}
