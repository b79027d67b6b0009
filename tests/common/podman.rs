//! podman as the peer some tests compare with: a private store, runc (crun
//! refuses this hybrid host), cgroupfs and file events, so nothing of the
//! host's podman state is read or changed.

use std::path::Path;
use std::process::{Command, Output};

pub fn podman(dir: &Path, args: &[&str]) -> Output {
    Command::new("podman")
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(["--storage-driver", "vfs", "--runtime", "runc"])
        .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
        .args(args)
        .output()
        .expect("run podman")
}

/// podman's private storage, removed with its containers and images even
/// when the test fails.
pub struct PodmanDir(pub tempfile::TempDir);

impl Drop for PodmanDir {
    fn drop(&mut self) {
        let _ = podman(self.0.path(), &["rm", "-a", "-f"]);
        let _ = podman(self.0.path(), &["rmi", "-a", "-f"]);
        let _ = Command::new("umount").arg("-R").arg(self.0.path()).output();
    }
}
