//! A runtime bundle for the rcorch-runtime tests: busybox, runc's default
//! config (own namespaces, network included), a host directory at /out and
//! a cgroupsPath of its own; dropping it deletes the containers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Root, and runc for `runc spec` (the default config these tests start from).
pub fn is_root() -> bool {
    let runc = Command::new("runc").arg("--version").output();
    nix::unistd::Uid::effective().is_root() && runc.is_ok_and(|o| o.status.success())
}

pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub cgroup: String,
}

impl Bundle {
    /// A busybox rootfs, runc's default config with `args`, a host
    /// directory bound at /out and a cgroupsPath of its own.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs/bin");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("busybox")).unwrap();
        for applet in ["sh", "echo", "sleep", "cat", "id", "pwd", "tty", "true"] {
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

    /// Changes config.json in place.
    #[allow(dead_code)] // not every test target edits its config
    pub fn edit_config(&self, change: impl FnOnce(&mut serde_json::Value)) {
        let path = self.path("config.json");
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        change(&mut config);
        std::fs::write(&path, config.to_string()).unwrap();
    }

    pub fn runtime(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rcorch-runtime"))
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .output()
            .unwrap()
    }

    /// For create/run: the container inherits the runtime's stdio (as under
    /// a shim), so give it files rather than pipes we would wait on.
    pub fn runtime_detached(&self, args: &[&str]) -> (std::process::ExitStatus, String) {
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

    pub fn state(&self, id: &str) -> serde_json::Value {
        let out = self.runtime(&["state", id]);
        assert!(out.status.success(), "state: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
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

pub fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0);
}

/// Reaps `pid` as the caller must; returns its exit code.
pub fn reap(pid: i32, timeout: Duration) -> Option<i32> {
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

pub fn cgroup_dirs(cgroup: &str) -> Vec<PathBuf> {
    // "": a pure cgroup v2 host, where the cgroup sits at the top.
    ["memory", "pids", "cpuset", "devices", ""]
        .iter()
        .map(|c| {
            Path::new("/sys/fs/cgroup")
                .join(c)
                .join(cgroup.trim_start_matches('/'))
        })
        .filter(|p| p.exists())
        .collect()
}
