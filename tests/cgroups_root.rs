//! Root-only: real cgroups on this host under a unique test parent.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rcorch::cgroups::{
    detect, manager_for, parent_cleanup, parse_cpus, parse_memory, parse_pids_limit, CgroupManager,
    Layout, Limits,
};

/// Tears everything down even when an assertion fails midway.
struct Guard {
    layout: Layout,
    parent: String,
    manager: Box<dyn CgroupManager>,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.manager.kill_all(Signal::SIGKILL);
        let _ = self.manager.destroy();
        let _ = parent_cleanup(&self.layout, &self.parent);
    }
}

fn parent_dirs(layout: &Layout, parent: &str) -> Vec<PathBuf> {
    match layout {
        Layout::V1 { mounts } => mounts.values().map(|m| m.join(parent)).collect(),
        Layout::V2 { root } => vec![root.join(parent)],
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(20));
    }
}

fn assert_limits_written(layout: &Layout, dirs: &[PathBuf]) {
    let find = |file: &str| {
        dirs.iter()
            .map(|d| d.join(file))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {file} in {dirs:?}"))
    };
    match layout {
        Layout::V1 { .. } => {
            assert_eq!(read(&find("memory.limit_in_bytes")), "67108864");
            // Swap limited to the same value where swap accounting exists.
            if let Some(memsw) = dirs
                .iter()
                .map(|d| d.join("memory.memsw.limit_in_bytes"))
                .find(|p| p.exists())
            {
                assert_eq!(read(&memsw), "67108864");
            }
            assert_eq!(read(&find("cpu.cfs_quota_us")), "50000");
            assert_eq!(read(&find("cpu.cfs_period_us")), "100000");
            assert_eq!(read(&find("pids.max")), "20");
        }
        Layout::V2 { .. } => {
            assert_eq!(read(&find("memory.max")), "67108864");
            assert_eq!(read(&find("cpu.max")), "50000 100000");
            assert_eq!(read(&find("pids.max")), "20");
        }
    }
}

#[test]
fn real_cgroup_limits_join_kill_and_destroy() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping real_cgroup_limits_join_kill_and_destroy: needs root");
        return;
    }
    let layout = detect(Path::new("/proc/self/mountinfo")).expect("detect cgroup layout");
    let parent = format!("rcorch-test-{}", std::process::id());
    let mut guard = Guard {
        manager: manager_for(&layout, &parent, "limits").unwrap(),
        layout: layout.clone(),
        parent: parent.clone(),
        child: None,
    };
    let limits = Limits {
        memory: Some(parse_memory("64m").unwrap()),
        cpu: Some(parse_cpus("0.5", 1).unwrap()),
        pids: parse_pids_limit("20").unwrap(),
        ..Limits::default()
    };
    guard.manager.apply_limits(&limits).unwrap();
    let dirs = guard.manager.cgroup_dirs();
    assert_limits_written(&layout, &dirs);

    // The child joins by writing "0" itself, as the container init will.
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"for f in "$@"; do echo 0 > "$f" || exit 1; done; exec sleep 60"#)
        .arg("sh")
        .args(guard.manager.procs_files())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    guard.child = Some(child);
    wait_for("child to join", || {
        guard.manager.pids().unwrap().contains(&pid)
    });

    let stats = guard.manager.stats().unwrap();
    assert_eq!(stats.memory_limit, Some(64 << 20));
    assert_eq!(stats.pids_limit, Some(20));
    assert!(stats.pids_current >= 1, "{stats:?}");
    assert!(!guard.manager.oom_killed().unwrap());

    guard.manager.kill_all(Signal::SIGKILL).unwrap();
    let status = guard.child.take().unwrap().wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    wait_for("cgroup to empty", || {
        guard.manager.pids().unwrap().is_empty()
    });

    guard.manager.destroy().unwrap();
    for dir in &dirs {
        assert!(!dir.exists(), "{} remains", dir.display());
    }
    parent_cleanup(&layout, &parent).unwrap();
    for dir in parent_dirs(&layout, &parent) {
        assert!(!dir.exists(), "{} remains", dir.display());
    }
}
