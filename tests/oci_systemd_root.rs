//! rcorch-runtime's `--systemd-cgroup`, as podman (cgroup_manager systemd)
//! and containerd (`SystemdCgroup = true`) call it: a "slice:prefix:name"
//! cgroupsPath becomes the transient scope runc's systemd driver makes.
//! The scope tests need systemd as PID 1 (scripts/v2-guest.sh --init
//! systemd runs them there); elsewhere the cgroupfs fallback is tested.

#[allow(dead_code)] // not every helper is used here
mod ocibundle;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ocibundle::{become_subreaper, is_root, nanos, reap, Bundle};

fn systemd_is_pid1() -> bool {
    let comm = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    Path::new("/run/systemd/system").is_dir() && comm.trim() == "systemd"
}

/// Whether the scope tests can run here; in the systemd guest they must.
fn scope_tests_run() -> bool {
    let can = is_root() && systemd_is_pid1();
    if std::env::var("RCORCH_GUEST_INIT").as_deref() == Ok("systemd") {
        assert!(
            can,
            "the systemd guest must have root, runc and systemd as PID 1"
        );
    }
    if !can {
        eprintln!("skipping: needs root, runc and systemd as PID 1 (v2-guest.sh --init systemd)");
    }
    can
}

/// `systemctl show UNIT -p PROP --value`.
fn show(unit: &str, prop: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", unit, "-p", prop, "--value"])
        .output()
        .expect("systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_for(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

/// A bundle whose cgroupsPath names a scope in a slice of the test's own
/// ("rcorch-ocit<N>.slice" lives in "rcorch.slice"), stopped when dropped.
struct ScopedBundle {
    bundle: Bundle,
    slice: String,
    unit: String,
}

impl ScopedBundle {
    fn new(args: &[&str], resources: serde_json::Value) -> ScopedBundle {
        let bundle = Bundle::new(args);
        let tag = format!("{}x{}", std::process::id(), nanos() % 1_000_000_000);
        let slice = format!("rcorch-ocit{tag}.slice");
        let name = format!("c{tag}");
        let path = format!("{slice}:rcorch-oci:{name}");
        bundle.edit_config(|c| {
            c["linux"]["cgroupsPath"] = path.into();
            c["linux"]["resources"] = resources;
        });
        ScopedBundle {
            bundle,
            slice,
            unit: format!("rcorch-oci-{name}.scope"),
        }
    }

    /// The scope's cgroup below the hierarchy's root, as systemd nests it.
    fn cgroup(&self) -> String {
        format!("/rcorch.slice/{}/{}", self.slice, self.unit)
    }

    fn runtime(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--systemd-cgroup"];
        all.extend_from_slice(args);
        self.bundle.runtime(&all)
    }

    fn create(&self, id: &str) -> (std::process::ExitStatus, String) {
        let dir = self.bundle.dir.path().to_str().unwrap().to_string();
        let pid_file = self.bundle.path("pid");
        let pid_file = pid_file.to_str().unwrap().to_string();
        self.bundle.runtime_detached(&[
            "--systemd-cgroup",
            "create",
            "--bundle",
            &dir,
            "--pid-file",
            &pid_file,
            id,
        ])
    }

    fn pid(&self) -> i32 {
        let text = std::fs::read_to_string(self.bundle.path("pid")).unwrap();
        text.trim().parse().unwrap()
    }
}

impl Drop for ScopedBundle {
    fn drop(&mut self) {
        let _ = self.runtime(&["delete", "--force", "c1"]);
        if systemd_is_pid1() {
            let _ = Command::new("systemctl")
                .args(["stop", &self.slice])
                .status();
        } else {
            // The cgroupfs fallback made the slices' directories itself.
            for root in cgroup_roots() {
                let slice = root.join("rcorch.slice").join(&self.slice);
                let _ = std::fs::remove_dir(slice.join(&self.unit));
                let _ = std::fs::remove_dir(&slice);
                let _ = std::fs::remove_dir(root.join("rcorch.slice"));
            }
        }
    }
}

/// Every cgroup hierarchy's root (v1 controllers, or the one v2 root).
fn cgroup_roots() -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .filter(|l| l.contains(" - cgroup2 ") || l.contains(" - cgroup "))
        .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
        .collect()
}

/// The dir holding `file` among the scope's cgroup dirs.
fn control_file(cgroup: &str, file: &str) -> Option<String> {
    cgroup_roots()
        .into_iter()
        .map(|r| r.join(cgroup.trim_start_matches('/')).join(file))
        .find(|p| p.exists())
        .map(|p| std::fs::read_to_string(p).unwrap().trim().to_string())
}

#[test]
fn a_slice_prefix_name_path_becomes_a_systemd_scope_that_update_and_delete_follow() {
    if !scope_tests_run() {
        return;
    }
    become_subreaper();
    let resources = serde_json::json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}});
    let b = ScopedBundle::new(&["sleep", "300"], resources);
    let (status, out) = b.create("c1");
    assert!(status.success(), "create: {out}");
    assert!(!out.contains("warning"), "{out}");
    let unit = &b.unit;
    assert_eq!(show(unit, "ActiveState"), "active", "{unit}");
    assert_eq!(show(unit, "Slice"), b.slice);
    assert_eq!(show(unit, "ControlGroup"), b.cgroup());
    assert_eq!(show(unit, "MemoryMax"), "67108864");
    assert_eq!(show(unit, "TasksMax"), "50");
    let pid = b.pid();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cgroup.lines().any(|l| l == format!("0::{}", b.cgroup())),
        "{cgroup}"
    );
    assert_eq!(
        control_file(&b.cgroup(), "memory.max").as_deref(),
        Some("67108864")
    );
    assert_eq!(b.bundle.state("c1")["status"], "created");

    let out = b.runtime(&["start", "c1"]);
    assert!(out.status.success(), "start: {out:?}");
    // update goes to the cgroup and to systemd (so a daemon-reload keeps it).
    let out = b.runtime(&["update", "--memory", "32m", "c1"]);
    assert!(out.status.success(), "update: {out:?}");
    assert_eq!(show(unit, "MemoryMax"), (32u64 << 20).to_string());
    assert_eq!(
        control_file(&b.cgroup(), "memory.max").as_deref(),
        Some("33554432")
    );
    let out = b.runtime(&["ps", "--format", "json", "c1"]);
    let listed: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed, vec![pid]);

    let out = b.runtime(&["kill", "c1", "KILL"]);
    assert!(out.status.success(), "kill: {out:?}");
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(137));
    let out = b.runtime(&["delete", "c1"]);
    assert!(out.status.success(), "delete: {out:?}");
    let gone = wait_for(Duration::from_secs(20), || {
        show(unit, "LoadState") == "not-found"
            && control_file(&b.cgroup(), "cgroup.procs").is_none()
    });
    assert!(gone, "{unit} left: {}", show(unit, "ActiveState"));
}

#[test]
fn a_create_that_fails_after_its_scope_exists_leaves_no_unit() {
    if !scope_tests_run() {
        return;
    }
    become_subreaper();
    // A unified key no kernel has: refused when written into the new scope.
    let resources = serde_json::json!({"unified": {"memory.no_such_file": "1"}});
    let b = ScopedBundle::new(&["sleep", "300"], resources);
    let (status, out) = b.create("c1");
    assert!(!status.success(), "create must fail: {out}");
    assert!(out.contains("memory.no_such_file"), "{out}");
    let gone = wait_for(Duration::from_secs(20), || {
        show(&b.unit, "LoadState") == "not-found"
    });
    assert!(gone, "{} left: {}", b.unit, show(&b.unit, "ActiveState"));
    assert!(control_file(&b.cgroup(), "cgroup.procs").is_none());
    assert!(!b.bundle.root.join("c1").exists(), "no state is left");
}

/// runc names the scope the same way: a caller switching runtimes finds
/// its containers where it looked before.
#[test]
fn the_scope_is_where_runc_puts_it() {
    if !scope_tests_run() {
        return;
    }
    become_subreaper();
    let b = ScopedBundle::new(&["sleep", "300"], serde_json::json!({}));
    let dir = b.bundle.dir.path().to_str().unwrap().to_string();
    let state = b.bundle.path("runc-state");
    let runc = Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["--systemd-cgroup", "create", "--bundle", &dir, "r1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(runc.success());
    let runc_group = show(&b.unit, "ControlGroup");
    let _ = Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["delete", "--force", "r1"])
        .status();
    wait_for(Duration::from_secs(20), || {
        show(&b.unit, "LoadState") == "not-found"
    });
    let (status, out) = b.create("c1");
    assert!(status.success(), "create: {out}");
    assert_eq!(show(&b.unit, "ControlGroup"), runc_group);
}

#[test]
fn without_systemd_as_pid_1_the_scope_path_is_made_in_cgroupfs_with_a_warning() {
    if !is_root() || systemd_is_pid1() {
        return;
    }
    become_subreaper();
    let resources = serde_json::json!({"pids": {"limit": 30}});
    let b = ScopedBundle::new(&["sleep", "300"], resources);
    let (status, out) = b.create("c1");
    assert!(status.success(), "create: {out}");
    assert!(
        out.contains("warning") && out.contains(&b.unit) && out.contains("not PID 1"),
        "{out}"
    );
    let pid = b.pid();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroup.contains(&b.cgroup()), "{cgroup}");
    assert_eq!(control_file(&b.cgroup(), "pids.max").as_deref(), Some("30"));
    let out = b.runtime(&["delete", "--force", "c1"]);
    assert!(out.status.success(), "delete: {out:?}");
    assert_eq!(reap(pid, Duration::from_secs(10)), Some(137));
    assert!(control_file(&b.cgroup(), "cgroup.procs").is_none());
}
