//! Root-only: podman drives rcorch-runtime as it drives runc — conmon as
//! the subreaper, its cleanup command's `delete`, `exec --process`, the
//! console socket, the freezer and the cgroup limits. Each test has a
//! private podman (--root, --runroot, --tmpdir and a containers.conf via
//! CONTAINERS_CONF) and a cgroup parent of its own, all removed afterwards.
//! The containers.conf sets `default_ulimits = []`: as root podman
//! otherwise raises NOFILE/NPROC to 1048576, which this sandbox (no
//! CAP_SYS_RESOURCE) refuses; and `netns = "none"`, so podman touches no
//! host network. Skips (saying so) without podman or the busybox tarball.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CONF: &str = "[containers]\ndefault_ulimits = []\nnetns = \"none\"\n\
                    [engine]\nevents_logger = \"file\"\n";
const IMAGE: &str = "localhost/busybox";

struct Podman {
    dir: tempfile::TempDir,
    cgroup: String,
}

impl Podman {
    fn new() -> Option<Podman> {
        if !nix::unistd::Uid::effective().is_root() {
            return None;
        }
        if Command::new("podman").arg("--version").output().is_err() {
            eprintln!("skipping: podman is not installed (scripts/deps.sh test installs it)");
            return None;
        }
        let Ok(tar) = std::env::var("RCORCH_TEST_BUSYBOX_TAR") else {
            eprintln!("skipping: RCORCH_TEST_BUSYBOX_TAR is not set");
            return None;
        };
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        std::fs::write(dir.path().join("containers.conf"), CONF).unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let cgroup = format!("/rcorch-podman-test-{}-{nanos}", std::process::id());
        let podman = Podman { dir, cgroup };
        let out = podman.cmd(&["import", &tar, IMAGE]);
        assert!(out.status.success(), "podman import: {out:?}");
        Some(podman)
    }

    fn cmd(&self, args: &[&str]) -> Output {
        let dir = self.dir.path();
        Command::new("timeout")
            .arg("120")
            .arg("podman")
            .env("CONTAINERS_CONF", dir.join("containers.conf"))
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--runroot")
            .arg(dir.join("run"))
            .arg("--tmpdir")
            .arg(dir.join("tmp"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--runtime", env!("CARGO_BIN_EXE_rcorch-runtime")])
            .args(args)
            .output()
            .unwrap()
    }

    /// `podman run` in this test's cgroup parent.
    fn run(&self, args: &[&str]) -> Output {
        let mut full = vec!["run", "--cgroup-parent", &self.cgroup];
        full.extend_from_slice(args);
        self.cmd(&full)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let out = self.cmd(&["inspect", "--format", format, name]);
        stdout(&out).trim().to_string()
    }

    /// The container's directory in a v1 hierarchy.
    fn cgroup_dir(&self, hierarchy: &str, id: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(hierarchy)
            .join(self.cgroup.trim_start_matches('/'))
            .join(format!("libpod-{id}"))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "--all", "--force", "--time", "0"]);
        let _ = self.cmd(&["rmi", "--all", "--force"]);
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.path())
            .output();
        // conmon's cgroup (PARENT/conmon) and anything a failure left.
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten() {
            let top = hierarchy
                .unwrap()
                .path()
                .join(self.cgroup.trim_start_matches('/'));
            remove_cgroup_tree(&top);
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&entry.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn podman_run_rm_with_rcorch_runtime_prints_and_passes_exit_codes() {
    let Some(p) = Podman::new() else { return };
    let out = p.run(&["--rm", IMAGE, "echo", "hi"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "hi\n");
    let out = p.run(&["--rm", IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let out = p.run(&["--rm", IMAGE, "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    // `create` fails as runc's does, so even `run -d` exits 127 at once.
    let out = p.run(&["-d", "--name", "nx", IMAGE, "/nonexistent"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let out = p.run(&["-d", "--name", "nx2", IMAGE, "/bin"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    let out = p.cmd(&["rm", "--force", "nx", "nx2"]);
    assert!(out.status.success(), "{out:?}");
    let out = p.run(&["--rm", "-t", IMAGE, "tty"]);
    assert!(stdout(&out).contains("/dev/pts/"), "run -t: {out:?}");
    let out = p.cmd(&["ps", "--all", "--quiet"]);
    assert_eq!(stdout(&out), "", "--rm removed every container");
    let memory = Path::new("/sys/fs/cgroup/memory").join(p.cgroup.trim_start_matches('/'));
    let left: Vec<_> = std::fs::read_dir(&memory)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("libpod-"))
        .collect();
    assert!(left.is_empty(), "delete removes the cgroups: {left:?}");
}

#[test]
fn podman_run_d_then_exec_pause_stop_and_rm() {
    let Some(p) = Podman::new() else { return };
    let out = p.run(&[
        "-d",
        "--name",
        "t1",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        IMAGE,
        "sleep",
        "1000",
    ]);
    assert!(out.status.success(), "run -d: {out:?}");
    let id = stdout(&out).trim().to_string();
    let limit = std::fs::read_to_string(p.cgroup_dir("memory", &id).join("memory.limit_in_bytes"));
    assert_eq!(limit.unwrap().trim(), "67108864");
    let pids = std::fs::read_to_string(p.cgroup_dir("pids", &id).join("pids.max"));
    assert_eq!(pids.unwrap().trim(), "20");

    let out = p.cmd(&["exec", "t1", "sh", "-c", "echo in-exec; exit 5"]);
    assert_eq!(out.status.code(), Some(5), "exec: {out:?}");
    assert_eq!(stdout(&out), "in-exec\n");
    let out = p.cmd(&["exec", "t1", "cat", "/sys/fs/cgroup/pids/pids.max"]);
    assert_eq!(stdout(&out), "20\n", "the container sees its own cgroup");
    let out = p.cmd(&["exec", "-t", "t1", "tty"]);
    assert!(stdout(&out).contains("/dev/pts/"), "exec -t: {out:?}");

    assert!(p.cmd(&["pause", "t1"]).status.success());
    assert_eq!(p.inspect("t1", "{{.State.Status}}"), "paused");
    let frozen = std::fs::read_to_string(p.cgroup_dir("freezer", &id).join("freezer.state"));
    assert_eq!(frozen.unwrap().trim(), "FROZEN");
    assert!(p.cmd(&["unpause", "t1"]).status.success());
    assert_eq!(p.inspect("t1", "{{.State.Status}}"), "running");

    let out = p.cmd(&["stop", "--time", "1", "t1"]);
    assert!(out.status.success(), "stop: {out:?}");
    assert_eq!(p.inspect("t1", "{{.State.Status}}"), "exited");
    let out = p.cmd(&["rm", "t1"]);
    assert!(out.status.success(), "rm: {out:?}");
    assert!(!Path::new("/run/rcorch-runtime").join(&id).exists());
    assert!(!p.cgroup_dir("memory", &id).exists());
}
