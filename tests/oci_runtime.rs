//! rcorch-runtime driven as a shim drives runc: this test process is the
//! child subreaper, so the container's init (reparented to it once
//! `create` exits) is reaped here, which proves no rcorch process stays
//! behind. Each test has its own state root, bundle and cgroupsPath (under
//! a fresh network namespace made by the container itself) and removes
//! everything it made.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Root, and runc for `runc spec` (the default config these tests start from).
fn is_root() -> bool {
    let runc = Command::new("runc").arg("--version").output();
    nix::unistd::Uid::effective().is_root() && runc.is_ok_and(|o| o.status.success())
}

struct Bundle {
    dir: tempfile::TempDir,
    root: PathBuf,
    cgroup: String,
}

impl Bundle {
    /// A busybox rootfs, runc's default config with `args`, a host
    /// directory bound at /out and a cgroupsPath of its own.
    fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs/bin");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("busybox")).unwrap();
        for applet in ["sh", "echo", "sleep", "cat"] {
            std::os::unix::fs::symlink("busybox", rootfs.join(applet)).unwrap();
        }
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let spec = Command::new("runc")
            .arg("spec")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(spec.status.success(), "runc spec: {spec:?}");
        let path = dir.path().join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let cgroup = format!("/rcorch-oci-test-{}-{}", std::process::id(), nanos());
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = serde_json::json!(args);
        config["linux"]["cgroupsPath"] = cgroup.clone().into();
        config["mounts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "destination": "/out", "type": "bind",
                "source": dir.path().join("out"), "options": ["rbind", "rw"]
            }));
        std::fs::write(&path, config.to_string()).unwrap();
        let root = dir.path().join("state");
        Bundle { dir, root, cgroup }
    }

    fn runtime(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rcorch-runtime"))
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .output()
            .unwrap()
    }

    /// For create/run: the container inherits the runtime's stdio (as under
    /// a shim), so give it files rather than pipes we would wait on.
    fn runtime_detached(&self, args: &[&str]) -> (std::process::ExitStatus, String) {
        let log = self.path(&format!("stdio-{}", nanos()));
        let file = std::fs::File::create(&log).unwrap();
        let status = Command::new(env!("CARGO_BIN_EXE_rcorch-runtime"))
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap();
        (status, std::fs::read_to_string(&log).unwrap_or_default())
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let out = self.runtime(&["state", id]);
        assert!(out.status.success(), "state: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in ["c1", "c2"] {
            let _ = self.runtime(&["delete", "--force", id]);
        }
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0);
}

/// Reaps `pid` as the caller must; returns its exit code.
fn reap(pid: i32, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        ) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => return Some(code),
            Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => return Some(128 + sig as i32),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}

fn cgroup_dirs(cgroup: &str) -> Vec<PathBuf> {
    ["memory", "pids", "cpuset", "devices"]
        .iter()
        .map(|c| {
            Path::new("/sys/fs/cgroup")
                .join(c)
                .join(cgroup.trim_start_matches('/'))
        })
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn create_waits_in_created_until_start_and_the_caller_reaps_the_init() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sh", "-c", "echo started > /out/result; exit 3"]);
    let pid_file = b.path("pid");
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let pid_arg = pid_file.to_str().unwrap();
    let (status, out) =
        b.runtime_detached(&["create", "--bundle", &bundle, "--pid-file", pid_arg, "c1"]);
    assert!(status.success(), "create: {out}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let state = b.state("c1");
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], pid);
    assert!(
        !b.path("out/result").exists(),
        "the process must not run before start"
    );
    assert!(
        !cgroup_dirs(&b.cgroup).is_empty(),
        "the container has its cgroups"
    );
    // The init is our child now: `create` exited and left nobody in between.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: u32 = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, std::process::id());

    let out = b.runtime(&["start", "c1"]);
    assert!(out.status.success(), "start: {out:?}");
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(3));
    assert_eq!(
        std::fs::read_to_string(b.path("out/result")).unwrap(),
        "started\n"
    );
    assert_eq!(b.state("c1")["status"], "stopped");
    let out = b.runtime(&["delete", "c1"]);
    assert!(out.status.success(), "delete: {out:?}");
    assert!(
        cgroup_dirs(&b.cgroup).is_empty(),
        "delete removes the cgroups"
    );
    assert!(!b.root.join("c1").exists());
}

#[test]
fn kill_stops_a_running_container_and_delete_refuses_it_before() {
    if !is_root() {
        return;
    }
    become_subreaper();
    let b = Bundle::new(&["sleep", "100"]);
    let bundle = b.dir.path().to_str().unwrap().to_string();
    let (status, out) = b.runtime_detached(&["run", "--detach", "--bundle", &bundle, "c2"]);
    assert!(status.success(), "run -d: {out}");
    let pid = b.state("c2")["pid"].as_i64().unwrap() as i32;
    assert_eq!(b.state("c2")["status"], "running");
    let out = b.runtime(&["delete", "c2"]);
    assert!(
        !out.status.success(),
        "delete of a running container must fail"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = b.runtime(&["kill", "c2", "KILL"]);
    assert!(out.status.success(), "kill: {out:?}");
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(128 + 9));
    assert_eq!(b.state("c2")["status"], "stopped");
    assert!(b.runtime(&["delete", "c2"]).status.success());
}

#[test]
fn errors_go_to_stderr_and_to_the_json_log() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    let log = b.path("log.json");
    let out = Command::new(env!("CARGO_BIN_EXE_rcorch-runtime"))
        .args([
            "--root",
            b.root.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ])
        .args([
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/nonexistent-bundle",
            "c1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-bundle"));
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"]
        .as_str()
        .unwrap()
        .contains("/nonexistent-bundle"));
    assert!(
        !b.root.join("c1").exists(),
        "a failed create leaves no state"
    );
    let out = b.runtime(&["state", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
