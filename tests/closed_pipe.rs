//! `rcorch ps | head -1`, `rcorch config 2>&1 >/dev/null | grep -q WARN`:
//! writing to a pipe whose reader is gone ends rcorch quietly (SIGPIPE, as
//! CLI tools do), never with a panic or an abort. Needs no root.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");

/// A pipe whose read end is already closed.
fn closed_pipe() -> Stdio {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Stdio::from(write)
}

fn compose_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("compose.yaml");
    let mut services = String::from("services:\n");
    for i in 0..200 {
        services.push_str(&format!(
            "  s{i}:\n    image: busybox\n    command: [\"sleep\", \"{i}\"]\n"
        ));
    }
    std::fs::write(&file, services).unwrap();
    file
}

#[track_caller]
fn assert_quiet(status: std::process::ExitStatus, what: &str) {
    assert!(
        status.signal() == Some(libc::SIGPIPE) || matches!(status.code(), Some(0) | Some(1)),
        "{what}: {status:?} (101 is a panic, SIGABRT an abort)"
    );
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let file = compose_file(dir.path());
    let out = Command::new(BIN)
        .arg("--root")
        .arg(dir.path().join("root"))
        .args(["config", "-f"])
        .arg(&file)
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_quiet(out.status, "config | closed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn a_closed_stderr_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(BIN)
        .arg("--root")
        .arg(dir.path().join("root"))
        .args(["inspect", "ghost"])
        .stdout(Stdio::null())
        .stderr(closed_pipe())
        .status()
        .unwrap();
    assert_quiet(status, "inspect 2>closed");
}

#[test]
fn ps_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("ps")
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_quiet(out.status, "ps | closed");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Root only: the foreground monitor keeps running its container when its
/// stdout's reader is gone (a write fails; the container's code comes back).
#[test]
fn a_foreground_run_outlives_a_closed_stdout() {
    let Some(tar) = std::env::var_os("RCORCH_TEST_BUSYBOX_TAR") else {
        eprintln!("skipping: needs RCORCH_TEST_BUSYBOX_TAR");
        return;
    };
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let parent = format!("rcorch-test-pipe-{}", std::process::id());
    let rcorch = |args: &[&str]| {
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "--mount", "--propagation", "private", BIN])
            .arg("--root")
            .arg(dir.path().join("root"))
            .args(["--cgroup-parent", &parent])
            .args(args);
        cmd
    };
    let tar = tar.to_str().unwrap();
    assert!(rcorch(&["import", tar, "busybox"])
        .status()
        .unwrap()
        .success());
    let script = "echo a; sleep 0.2; echo b; echo c >&2; exit 7";
    let status = rcorch(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        script,
    ])
    .stdout(closed_pipe())
    .stderr(Stdio::null())
    .status()
    .unwrap();
    // The empty parent cgroup `run` made, in every hierarchy.
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(hierarchy.path().join(&parent));
    }
    assert_eq!(status.code(), Some(7), "{status:?}");
}
