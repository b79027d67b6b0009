//! Root-only: the cgroup v2 devices program, loaded into the kernel and
//! attached to a cgroup of its own (under this host's cgroup2 mount),
//! checked by what a shell moved into that cgroup can open.

use std::path::{Path, PathBuf};
use std::process::Command;

use rcorch::cgroups::devices::DeviceAccess;
use rcorch::cgroups::v2::V2Manager;
use rcorch::cgroups::CgroupManager;

/// The cgroup2 mount: the whole tree on a v2 host, `unified` on a hybrid one.
fn cgroup2_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists())
}

/// Removes the test's cgroup even when the test fails.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// What a shell in `dir` gets opening /dev/null and /dev/net/tun.
fn opens(dir: &Path) -> String {
    let script = format!(
        "echo $$ > {}/cgroup.procs || exit 9; \
         for m in '<' '>'; do for d in /dev/null /dev/net/tun; do \
         if (eval \"exec 3${{m}}$d\") 2>/dev/null; then echo \"$m$d ok\"; else echo \"$m$d no\"; fi; \
         done; done",
        dir.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_v2_device_program_allows_the_defaults_and_a_devices_access_only() {
    if !nix::unistd::Uid::effective().is_root() || !Path::new("/dev/net/tun").exists() {
        eprintln!("skipping: needs root and /dev/net/tun");
        return;
    }
    let Some(root) = cgroup2_root() else {
        eprintln!("skipping: no cgroup2 mount");
        return;
    };
    let name = format!("rcorch-bpf-test-{}", std::process::id());
    let dir = Dir(root.join(&name));
    std::fs::create_dir(&dir.0).unwrap();
    let manager = V2Manager::new(&root, Path::new(&name));
    let access = DeviceAccess {
        all: false,
        allowed: vec!["c 10:200 r".into()],
    };
    manager.set_devices(&access).unwrap();
    assert_eq!(
        opens(&dir.0),
        "</dev/null ok\n</dev/net/tun ok\n>/dev/null ok\n>/dev/net/tun no\n"
    );
    // Set again (a restart): the new rules replace the old ones.
    let access = DeviceAccess {
        all: false,
        allowed: vec!["c 10:200 w".into()],
    };
    manager.set_devices(&access).unwrap();
    assert_eq!(
        opens(&dir.0),
        "</dev/null ok\n</dev/net/tun no\n>/dev/null ok\n>/dev/net/tun ok\n"
    );
}
