//! Times `unpack_layer` on a tarball: `cargo run --release --example unpack_bench -- TARBALL DEST`.
//! DEST must not exist; it is created and left for inspection.

use std::fs::File;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (tarball, dest) = (&args[1], std::path::Path::new(&args[2]));
    std::fs::create_dir(dest).expect("create DEST");
    let start = Instant::now();
    let stats = rcorch::image::unpack_layer(File::open(tarball).expect("open TARBALL"), dest)
        .expect("unpack");
    let secs = start.elapsed().as_secs_f64();
    let mb = stats.bytes as f64 / 1e6;
    println!(
        "{} entries, {mb:.1} MB of file data in {secs:.3}s ({:.0} MB/s)",
        stats.entries,
        mb / secs
    );
}
