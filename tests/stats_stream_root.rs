//! Root-only: `stats` streams Docker's table, one block a second into a
//! pipe or file, until interrupted; `--no-stream` prints one and returns.

mod common;

use std::time::Duration;

use common::{wait_for, wait_timeout, TestEnv};

const HEADER: &str =
    "CONTAINER ID  NAME  CPU %  MEM USAGE / LIMIT  MEM %  NET I/O  BLOCK I/O  PIDS";

/// Whether `path`'s filesystem sits on a block device (major 0: tmpfs,
/// overlay and the like, whose writes no blkio/io counter sees).
fn on_a_block_device(path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).expect("the state root").dev();
    nix::sys::stat::major(dev) != 0
}

fn squeeze(line: &str) -> String {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join("  ")
}

#[test]
fn stats_repeats_blocks_until_interrupted() {
    let Some(env) = TestEnv::new() else { return };
    // Writes 2 MB to its (disk-backed) upper dir: BLOCK I/O shows it.
    env.run_detached(
        &["--name", "busy", "--network", "none"],
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/big bs=1k count=2000 && sync && exec sleep 1000",
        ],
    );
    let once = env.rcorch(&["stats", "--no-stream"]);
    let lines: Vec<String> = once.stdout.lines().map(squeeze).collect();
    assert_eq!(lines[0], HEADER, "{once:#?}");
    assert!(lines[1].contains("busy"), "{once:#?}");

    let out = env.scratch.join("stats");
    let mut stream = env.spawn_to(&["stats"], &out);
    let blocks = || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|l| squeeze(l) == HEADER)
            .count()
    };
    assert!(
        wait_for(Duration::from_secs(20), || blocks() >= 3),
        "{}",
        std::fs::read_to_string(&out).unwrap_or_default()
    );
    assert_eq!(stream.try_wait().unwrap(), None, "still streaming");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains('\x1b'), "no redraw codes off a terminal");
    let row = text
        .lines()
        .find(|l| l.contains("busy"))
        .unwrap()
        .to_string();
    let block_io = squeeze(&row)
        .split("  ")
        .nth(6)
        .unwrap_or_default()
        .to_string();
    let written = block_io.split(" / ").nth(1).unwrap_or_default();
    if on_a_block_device(&env.root) {
        assert!(written.ends_with("MB"), "2 MB written: {row}");
    } else {
        // A tmpfs root (the v2 guest's): no block device sees the writes.
        eprintln!(
            "{} is on no block device: BLOCK I/O {block_io}",
            env.root.display()
        );
    }
    let _ = std::process::Command::new("kill")
        .arg(stream.id().to_string())
        .status();
    assert!(wait_timeout(&mut stream, Duration::from_secs(10)).is_some());
}
