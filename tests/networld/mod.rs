//! Shared by the `network_*` root tests: every scenario is a shell script run
//! under `unshare --net --mount --propagation private`, with its own --root
//! and cgroup parent, so it never touches the VM's interfaces, routes or
//! firewall. The namespace (bridges, veths, nft table) dies with the script.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct World {
    pub root: tempfile::TempDir,
    pub cgroup_parent: String,
}

pub fn busybox_tar() -> Option<PathBuf> {
    let tar = std::env::var_os("RCORCH_TEST_BUSYBOX_TAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-tools/out/busybox.tar")
        });
    tar.exists().then_some(tar)
}

/// None (with a note) when not root, or without the busybox tarball.
pub fn world(test: &str) -> Option<World> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping {test}: needs root");
        return None;
    }
    let Some(tar) = busybox_tar() else {
        eprintln!("skipping {test}: no busybox tarball (set RCORCH_TEST_BUSYBOX_TAR)");
        return None;
    };
    let world = World {
        root: tempfile::tempdir().expect("tempdir"),
        cgroup_parent: format!("rcorch-test-{test}-{}", std::process::id()),
    };
    let out = Command::new(env!("CARGO_BIN_EXE_rcorch"))
        .arg("--root")
        .arg(world.root.path())
        .args(["import", tar.to_str().unwrap(), "busybox:latest"])
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(world)
}

impl World {
    /// The names this world's root gives its nft table and bridges.
    #[allow(dead_code)] // Not every test binary reads them.
    pub fn names(&self) -> rcorch::network::names::HostNames {
        let root = std::fs::canonicalize(self.root.path()).expect("canonical root");
        rcorch::network::names::HostNames::for_root(&root)
    }

    /// Runs `script` (bash) in a fresh network namespace; `$R` is rcorch
    /// with this world's root (`$ROOT`) and cgroup parent, `$T` its nft
    /// table. Returns combined output.
    #[allow(dead_code)] // Not every test binary runs one world alone.
    pub fn run(&self, script: &str) -> String {
        let prologue = format!(
            "set -u\nROOT='{}'\nR=\"{} --root $ROOT --cgroup-parent {}\"\nT='{}'\nip link set lo up\n\
             trap '$R rm -f $($R ps -aq) >/dev/null 2>&1' EXIT\n",
            self.root.path().display(),
            env!("CARGO_BIN_EXE_rcorch"),
            self.cgroup_parent,
            self.names().table
        );
        in_new_netns(&prologue, script)
    }
}

/// `prologue` then `script` in bash, in a new network and mount namespace;
/// its stdout and stderr (also printed, for a failing test's log).
pub fn in_new_netns(prologue: &str, script: &str) -> String {
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "bash", "-c"])
        .arg(format!("{prologue}{script}"))
        .output()
        .expect("unshare");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("--- script output ---\n{text}");
    text
}

impl Drop for World {
    fn drop(&mut self) {
        // Container cgroups are gone with `rm -f`; only the empty parents remain.
        if let Ok(layout) = rcorch::cgroups::detect(Path::new("/proc/self/mountinfo")) {
            let _ = rcorch::cgroups::parent_cleanup(&layout, &self.cgroup_parent);
        }
    }
}

/// The value of the script's `KEY=value` output line.
#[allow(dead_code)] // Not every test binary reads values.
pub fn value<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= line in:\n{out}"))
}
