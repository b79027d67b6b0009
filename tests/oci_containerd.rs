//! Root-only: containerd's runc shim (io.containerd.runc.v2) drives
//! rcorch-runtime through `ctr run --runc-binary`: run, exec, pause,
//! resume, kill and delete a busybox container. The test starts a private
//! containerd (own root, state, sockets, opt dir) and stops it afterwards;
//! the image is the busybox tarball imported and saved as an OCI archive
//! by rcorch. Skips (saying so) without containerd/ctr or the tarball.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "docker.io/library/busybox:latest";
const RUNTIME: &str = env!("CARGO_BIN_EXE_rcorch-runtime");

struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
    cgroup: String,
}

fn config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
         [grpc]\n  address = \"{d}/containerd.sock\"\n\
         [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
         [debug]\n  address = \"{d}/debug.sock\"\n\
         [metrics]\n  address = \"\"\n\
         [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n"
    )
}

impl Containerd {
    fn start() -> Option<Containerd> {
        if !nix::unistd::Uid::effective().is_root() {
            return None;
        }
        for tool in ["containerd", "ctr", "containerd-shim-runc-v2"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !found {
                eprintln!(
                    "skipping: {tool} is not installed (scripts/deps.sh test installs containerd)"
                );
                return None;
            }
        }
        if std::env::var_os("RCORCH_TEST_BUSYBOX_TAR").is_none() {
            eprintln!("skipping: RCORCH_TEST_BUSYBOX_TAR is not set");
            return None;
        }
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        std::fs::write(dir.path().join("config.toml"), config(dir.path())).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let cgroup = format!("/rcorch-ctr-test-{}-{nanos}", std::process::id());
        let c = Containerd {
            dir,
            daemon,
            cgroup,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !c.ctr(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "containerd did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(c)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn ctr(&self, args: &[&str]) -> Output {
        Command::new("timeout")
            .arg("120")
            .arg("ctr")
            .arg("--address")
            .arg(self.path("containerd.sock"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// busybox as an OCI archive: imported and saved by rcorch.
    fn import_busybox(&self) {
        let tar = std::env::var("RCORCH_TEST_BUSYBOX_TAR").unwrap();
        let rcorch = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_rcorch"))
                .arg("--root")
                .arg(self.path("rcorch"))
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "rcorch {args:?}: {out:?}");
        };
        let archive = self.path("busybox-oci.tar");
        rcorch(&["import", &tar, "busybox:latest"]);
        rcorch(&["save", "-o", archive.to_str().unwrap(), "busybox:latest"]);
        let out = self.ctr(&["images", "import", archive.to_str().unwrap()]);
        assert!(out.status.success(), "ctr images import: {out:?}");
    }

    /// `ctr run` with rcorch-runtime as the shim's runc, its state under our dir.
    fn run(&self, id: &str, flags: &[&str], command: &[&str]) -> Output {
        let cgroup = format!("{}/{id}", self.cgroup);
        let root = self.path("runtime");
        let fifos = self.path("fifo");
        let mut args = vec!["run", "--runc-binary", RUNTIME, "--cgroup", &cgroup];
        args.extend(["--runc-root", root.to_str().unwrap()]);
        args.extend(["--fifo-dir", fifos.to_str().unwrap()]);
        args.extend_from_slice(flags);
        args.extend([IMAGE, id]);
        args.extend_from_slice(command);
        self.ctr(&args)
    }

    fn task_status(&self, id: &str) -> String {
        let out = self.ctr(&["task", "ls"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let row = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id));
        row.and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or("")
            .to_string()
    }

    fn cgroup_dir(&self, hierarchy: &str, id: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(hierarchy)
            .join(self.cgroup.trim_start_matches('/'))
            .join(id)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for id in ["t0", "t1"] {
            let _ = self.ctr(&["task", "kill", "-s", "KILL", id]);
            let _ = self.ctr(&["task", "delete", "--force", id]);
            let _ = self.ctr(&["container", "rm", id]);
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = Command::new("umount")
            .arg("-R")
            .arg(self.dir.path())
            .output();
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten() {
            let top = hierarchy.unwrap().path();
            let top = top.join(self.cgroup.trim_start_matches('/'));
            for entry in std::fs::read_dir(&top).into_iter().flatten().flatten() {
                let _ = std::fs::remove_dir(entry.path());
            }
            let _ = std::fs::remove_dir(top);
        }
        // The shims' socket directory is fixed in containerd 1.6; only
        // empty directories go (rmdir), so nobody else's are touched.
        for dir in ["/run/containerd/s", "/run/containerd"] {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ctr_runs_execs_pauses_kills_and_deletes_through_rcorch_runtime() {
    let Some(c) = Containerd::start() else { return };
    c.import_busybox();
    let out = c.run("t0", &["--rm"], &["echo", "hi"]);
    assert!(out.status.success(), "ctr run --rm: {out:?}");
    assert_eq!(stdout(&out), "hi\n");

    // create fails as runc's does: the shim reports it and nothing runs.
    let out = c.run("t0", &["--rm"], &["/nonexistent"]);
    assert!(
        !out.status.success(),
        "ctr run of a missing program: {out:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no such file or directory"), "{stderr}");
    let _ = c.ctr(&["container", "rm", "t0"]);

    let limit = (64u64 << 20).to_string();
    let out = c.run("t1", &["-d", "--memory-limit", &limit], &["sleep", "1000"]);
    assert!(out.status.success(), "ctr run -d: {out:?}");
    assert_eq!(c.task_status("t1"), "RUNNING");
    let memory = c.cgroup_dir("memory", "t1").join("memory.limit_in_bytes");
    assert_eq!(std::fs::read_to_string(memory).unwrap().trim(), limit);
    // The shim asks the runtime (`ps --format json`) and reads the cgroup.
    let out = c.ctr(&["task", "ps", "t1"]);
    assert!(out.status.success(), "task ps: {out:?}");
    assert_eq!(stdout(&out).lines().count(), 2, "one process: {out:?}");
    let out = c.ctr(&["task", "metrics", "t1"]);
    assert!(out.status.success(), "task metrics: {out:?}");
    assert!(stdout(&out).contains(&limit), "the limit: {out:?}");
    let fifos = c.path("fifo");
    let out = c.ctr(&[
        "task",
        "exec",
        "--fifo-dir",
        fifos.to_str().unwrap(),
        "--exec-id",
        "e1",
        "t1",
        "sh",
        "-c",
        "echo in-exec; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4), "task exec: {out:?}");
    assert_eq!(stdout(&out), "in-exec\n");

    assert!(c.ctr(&["task", "pause", "t1"]).status.success());
    assert_eq!(c.task_status("t1"), "PAUSED");
    let frozen = std::fs::read_to_string(c.cgroup_dir("freezer", "t1").join("freezer.state"));
    assert_eq!(frozen.unwrap().trim(), "FROZEN");
    assert!(c.ctr(&["task", "resume", "t1"]).status.success());
    assert_eq!(c.task_status("t1"), "RUNNING");

    assert!(c
        .ctr(&["task", "kill", "-s", "KILL", "t1"])
        .status
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.task_status("t1") != "STOPPED" {
        assert!(Instant::now() < deadline, "t1 never stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = c.ctr(&["task", "delete", "t1"]);
    assert!(out.status.success(), "task delete: {out:?}");
    assert!(c.ctr(&["container", "rm", "t1"]).status.success());
    assert!(!c.path("runtime/t1").exists(), "delete removes the state");
    assert!(!c.cgroup_dir("memory", "t1").exists(), "and the cgroups");
}
