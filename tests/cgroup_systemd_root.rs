//! The systemd cgroup driver against a real systemd. Root only; the tests
//! that need systemd as PID 1 skip elsewhere (scripts/v2-guest.sh --init
//! systemd boots one in a guest and runs them there); the bad-input ones
//! run everywhere.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{wait_for, TestEnv};

/// Whether systemd runs as PID 1 here (and owns the cgroup tree).
fn systemd_is_pid1() -> bool {
    let comm = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    let booted = Path::new("/run/systemd/system").is_dir() && comm.trim() == "systemd";
    if std::env::var("RCORCH_GUEST_INIT").as_deref() == Ok("systemd") {
        assert!(booted, "the systemd guest must have systemd as PID 1");
    }
    if !booted {
        eprintln!(
            "skipping: systemd is not PID 1 here (scripts/v2-guest.sh --init systemd runs this)"
        );
    }
    booted
}

/// A test instance whose containers go to a slice of their own below
/// rcorch.slice ("rcorch-test-PID-N.slice" nests as systemd's dashes say).
fn systemd_env() -> Option<Slice> {
    if !systemd_is_pid1() {
        return None;
    }
    let mut env = TestEnv::new()?;
    env.cgroup_parent = format!("{}.slice", env.cgroup_parent);
    Some(Slice(env))
}

/// Stops the test's slice when done, so systemd forgets it.
struct Slice(TestEnv);

impl Drop for Slice {
    fn drop(&mut self) {
        let _ = Command::new("systemctl")
            .args(["stop", &self.0.cgroup_parent])
            .status();
    }
}

/// `systemctl show UNIT -p PROP --value`.
fn show(unit: &str, prop: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", unit, "-p", prop, "--value"])
        .output()
        .expect("systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn scope(id: &str) -> String {
    format!("rcorch-{id}.scope")
}

#[test]
fn scope_limits_stats_update_and_rm() {
    let Some(slice) = systemd_env() else { return };
    let env = &slice.0;
    let id = env.run_detached(
        &[
            "--cgroup-manager",
            "systemd",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
        ],
        &["sleep", "300"],
    );
    let unit = scope(&id);
    assert_eq!(show(&unit, "ActiveState"), "active", "{unit}");
    assert_eq!(show(&unit, "MemoryMax"), (64u64 << 20).to_string());
    assert_eq!(show(&unit, "TasksMax"), "50");
    assert_eq!(show(&unit, "Slice"), env.cgroup_parent);
    let v = env.inspect(&id);
    assert_eq!(v["HostConfig"]["CgroupManager"], "systemd", "{v:#}");
    assert_eq!(
        v["HostConfig"]["CgroupParent"],
        env.cgroup_parent.as_str(),
        "{v:#}"
    );
    let pid = v["State"]["Pid"].as_i64().expect("pid");
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_default();
    assert!(path.starts_with("/rcorch.slice/"), "{cgroup}");
    assert!(
        path.ends_with(&format!("/{}/{unit}", env.cgroup_parent)),
        "{cgroup}"
    );
    assert_eq!(v["State"]["CgroupPath"], path, "{v:#}");
    let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    // Limits systemd has no property for are still written (delegation).
    assert_eq!(
        std::fs::read_to_string(dir.join("memory.swap.max"))
            .unwrap()
            .trim(),
        "0"
    );
    let stats = env
        .rcorch(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}} {{.PIDs}}",
            &id,
        ])
        .ok();
    assert!(stats.contains("/ 64.00MiB"), "{stats}");
    // update goes to the cgroup and to systemd, so a daemon-reload keeps it.
    env.rcorch(&["update", "--memory", "128m", "--memory-swap", "128m", &id])
        .ok();
    assert_eq!(show(&unit, "MemoryMax"), (128u64 << 20).to_string());
    let max = std::fs::read_to_string(dir.join("memory.max")).unwrap();
    assert_eq!(max.trim(), (128u64 << 20).to_string());
    env.rcorch(&["rm", "-f", &id]).ok();
    let gone = wait_for(Duration::from_secs(20), || {
        show(&unit, "LoadState") == "not-found" && !dir.exists()
    });
    assert!(
        gone,
        "{unit}: {} {}",
        show(&unit, "LoadState"),
        dir.display()
    );
}

// systemd (252 at least) removes the scope's cgroup once its last process
// is OOM-killed, often before the monitor has reaped it: the monitor's watch
// on memory.events must have seen the kill while the scope ran.
#[test]
fn a_process_over_its_memory_limit_is_oom_killed_in_its_scope() {
    let Some(slice) = systemd_env() else { return };
    let env = &slice.0;
    let hog = "x=a; while true; do x=$x$x; done";
    let out = env.rcorch(&[
        "run",
        "--cgroup-manager",
        "systemd",
        "--name",
        "hog",
        "--memory",
        "32m",
        "busybox",
        "sh",
        "-c",
        hog,
    ]);
    assert_eq!(out.code, 137, "{out:?}");
    let v = env.inspect("hog");
    assert_eq!(v["State"]["OOMKilled"], true, "{v:#}");
    let id = v["Id"].as_str().unwrap().to_string();
    env.rcorch(&["rm", "hog"]).ok();
    let gone = wait_for(Duration::from_secs(20), || {
        show(&scope(&id), "LoadState") == "not-found"
    });
    assert!(
        gone,
        "{} left: {}",
        scope(&id),
        show(&scope(&id), "ActiveState")
    );
}

#[test]
fn systemd_is_the_default_where_it_is_pid1() {
    let Some(slice) = systemd_env() else { return };
    let env = &slice.0;
    // The container sees its own cgroup namespace: read its cgroup here.
    let cgroup_of = |opts: &[&str]| {
        let id = env.run_detached(opts, &["sleep", "300"]);
        let pid = env.inspect(&id)["State"]["Pid"].as_i64().expect("pid");
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        env.rcorch(&["rm", "-f", &id]).ok();
        (id, text)
    };
    // `info` says which driver the default is, as docker info does.
    let driver = env.rcorch(&["info", "--format", "{{.CgroupDriver}}"]).ok();
    assert_eq!(driver.trim(), "systemd");
    let asked = [
        "--cgroup-manager",
        "cgroupfs",
        "info",
        "--format",
        "{{.CgroupDriver}}",
    ];
    assert_eq!(env.rcorch(&asked).ok().trim(), "cgroupfs");
    let (id, text) = cgroup_of(&[]);
    assert!(
        text.trim_end().ends_with(&format!("/{}", scope(&id))),
        "{text}"
    );
    // cgroupfs still on request (a slice is a valid cgroupfs parent name).
    let (id, text) = cgroup_of(&["--cgroup-manager", "cgroupfs"]);
    let want = format!("0::/{}/{id}", env.cgroup_parent);
    assert!(text.lines().any(|l| l == want), "{text}");
}

#[test]
fn bad_manager_values_are_refused_with_nothing_started() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.rcorch(&["run", "--cgroup-manager", "sytemd", "busybox", "true"]);
    assert_eq!(out.code, 125, "{out:?}");
    for part in ["--cgroup-manager", "\"sytemd\"", "cgroupfs, systemd"] {
        assert!(out.stderr.contains(part), "{part}: {out:?}");
    }
    let ps = env.rcorch(&["ps", "-aq"]).ok();
    assert!(ps.trim().is_empty(), "{ps}");
    if Path::new("/run/systemd/system").is_dir() {
        // Not a slice: the systemd driver needs one.
        let out = env.rcorch(&["create", "--cgroup-manager", "systemd", "busybox", "true"]);
        assert_eq!(out.code, 125, "{out:?}");
        assert!(out.stderr.contains("is not a systemd slice"), "{out:?}");
    } else {
        let out = env.rcorch(&["create", "--cgroup-manager", "systemd", "busybox", "true"]);
        assert_eq!(out.code, 125, "{out:?}");
        assert!(out.stderr.contains("--cgroup-manager cgroupfs"), "{out:?}");
        // Here the default is cgroupfs, as before, and `info` says so.
        let driver = env.rcorch(&["info", "--format", "{{.CgroupDriver}}"]).ok();
        assert_eq!(driver.trim(), "cgroupfs");
        let id = env.rcorch(&["create", "busybox", "true"]).ok();
        let v = env.inspect(id.trim());
        assert_eq!(v["HostConfig"]["CgroupManager"], "cgroupfs", "{v:#}");
    }
    let ps = env.rcorch(&["ps", "-aq"]).ok();
    assert!(ps.lines().count() <= 1, "{ps}");
}

/// A scoped container whose config record is torn is still found by its
/// process's cgroup: `rm -f` kills every process of the scope and stops it,
/// whatever driver this command would pick; a torn state record of a
/// stopped one is repaired by `system check` and its scope is gone too.
#[test]
fn damaged_records_of_scoped_containers_are_removed_with_their_scopes() {
    let Some(slice) = systemd_env() else { return };
    let env = &slice.0;
    let manager = ["--cgroup-manager", "systemd"];
    let id = env.run_detached(&manager, &["sh", "-c", "sleep 300 & exec sleep 301"]);
    let unit = scope(&id);
    assert_eq!(show(&unit, "ActiveState"), "active", "{unit}");
    let record = env.root.join("containers").join(&id);
    std::fs::write(record.join("config.json"), b"{\"torn\": ").unwrap();
    // This command would choose cgroupfs: the scope is found all the same.
    let out = env.rcorch(&["--cgroup-manager", "cgroupfs", "rm", "-f", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    let gone = wait_for(Duration::from_secs(20), || {
        show(&unit, "LoadState") == "not-found"
    });
    assert!(gone, "{unit} left: {}", show(&unit, "ActiveState"));
    assert!(!record.exists());

    let id = env.run_detached(&manager, &["sleep", "300"]);
    let unit = scope(&id);
    let record = env.root.join("containers").join(&id);
    std::fs::write(record.join("state.json"), b"{\"torn\": ").unwrap();
    let out = env.rcorch(&[
        "--cgroup-manager",
        "cgroupfs",
        "system",
        "check",
        "--repair",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let gone = wait_for(Duration::from_secs(20), || {
        show(&unit, "LoadState") == "not-found"
    });
    assert!(gone, "{unit} left: {}", show(&unit, "ActiveState"));
    env.rcorch(&["rm", "-f", &id]).ok();
}
