//! v1 backend on a fake per-controller tree in a tempdir. mkdir in a tempdir
//! creates no control files, so each test lays out what the kernel provides.

use std::fs;
use std::process::Command;

use super::*;
use crate::cgroups::{manager_for, parent_cleanup, CpuQuota, Layout};

fn put(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap()
}

const UNLIMITED: &str = "9223372036854771712\n";

/// Mount points under `root`: separate (this host) or "cpu,cpuacct" combined.
fn fake_layout(root: &Path, combined: bool) -> Layout {
    let cpu = if combined { "cpu,cpuacct" } else { "cpu" };
    let cpuacct = if combined { "cpu,cpuacct" } else { "cpuacct" };
    let mounts = [
        (Controller::Memory, "memory"),
        (Controller::Cpu, cpu),
        (Controller::Cpuacct, cpuacct),
        (Controller::Pids, "pids"),
    ]
    .into_iter()
    .map(|(c, dir)| (c, root.join(dir)))
    .collect();
    Layout::V1 { mounts }
}

/// The control files the kernel creates in rcorch/web of each hierarchy.
fn fake_cgroup(root: &Path, combined: bool, with_memsw: bool) {
    let cpu = if combined { "cpu,cpuacct" } else { "cpu" };
    let cpuacct = if combined { "cpu,cpuacct" } else { "cpuacct" };
    let memory = root.join("memory/rcorch/web");
    put(
        &memory,
        &[
            ("memory.limit_in_bytes", UNLIMITED),
            ("memory.usage_in_bytes", "0\n"),
            ("cgroup.procs", ""),
        ],
    );
    if with_memsw {
        put(&memory, &[("memory.memsw.limit_in_bytes", UNLIMITED)]);
    }
    put(
        &root.join(cpu).join("rcorch/web"),
        &[
            ("cpu.cfs_period_us", "100000\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cgroup.procs", ""),
        ],
    );
    put(
        &root.join(cpuacct).join("rcorch/web"),
        &[("cpuacct.usage", "0\n"), ("cgroup.procs", "")],
    );
    put(
        &root.join("pids/rcorch/web"),
        &[
            ("pids.max", "max\n"),
            ("pids.current", "0\n"),
            ("cgroup.procs", ""),
        ],
    );
}

fn limits() -> Limits {
    Limits {
        memory: Some(64 << 20),
        cpu: Some(CpuQuota {
            period_us: 100_000,
            quota_us: 50_000,
        }),
        pids: Some(20),
        ..Limits::default()
    }
}

#[test]
fn apply_limits_writes_each_controller_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fake_cgroup(root, false, true);
    let m = manager_for(&fake_layout(root, false), "rcorch", "web").unwrap();
    m.apply_limits(&limits()).unwrap();
    let cg = |c: &str, f: &str| read(root.join(c).join("rcorch/web").join(f));
    assert_eq!(cg("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(cg("memory", "memory.memsw.limit_in_bytes"), "67108864");
    assert_eq!(cg("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(cg("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cg("pids", "pids.max"), "20");
}

#[test]
fn apply_limits_skips_memsw_without_swap_accounting() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fake_cgroup(root, false, false);
    let m = manager_for(&fake_layout(root, false), "rcorch", "web").unwrap();
    m.apply_limits(&limits()).unwrap();
    let memory = root.join("memory/rcorch/web");
    assert!(!memory.join("memory.memsw.limit_in_bytes").exists());
    assert_eq!(read(memory.join("memory.limit_in_bytes")), "67108864");
}

#[test]
fn apply_limits_creates_directories_only_in_our_controllers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir(root.join("freezer")).unwrap();
    let m = manager_for(&fake_layout(root, false), "rcorch", "new").unwrap();
    m.apply_limits(&Limits::default()).unwrap();
    for c in ["memory", "cpu", "cpuacct", "pids"] {
        assert!(root.join(c).join("rcorch/new").is_dir(), "{c}");
    }
    assert!(!root.join("freezer/rcorch").exists());
    // A limit whose file the kernel did not provide is an error, not a new file.
    let err = m.apply_limits(&limits()).unwrap_err();
    assert!(matches!(err, CgroupError::Write { .. }), "{err}");
    assert!(!root
        .join("memory/rcorch/new/memory.limit_in_bytes")
        .exists());
}

#[test]
fn combined_cpu_cpuacct_is_joined_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fake_cgroup(root, true, true);
    let m = manager_for(&fake_layout(root, true), "rcorch", "web").unwrap();
    m.apply_limits(&limits()).unwrap();
    let procs = m.procs_files();
    assert_eq!(procs.len(), 3, "{procs:?}");
    assert!(procs.contains(&root.join("cpu,cpuacct/rcorch/web/cgroup.procs")));
    assert_eq!(
        read(root.join("cpu,cpuacct/rcorch/web/cpu.cfs_quota_us")),
        "50000"
    );
}

#[test]
fn missing_controller_is_reported() {
    let mut mounts = BTreeMap::new();
    mounts.insert(Controller::Memory, PathBuf::from("/m"));
    let err = manager_for(&Layout::V1 { mounts }, "rcorch", "web").unwrap_err();
    assert!(matches!(
        err,
        CgroupError::ControllerNotMounted {
            controller: Controller::Cpu
        }
    ));
}

#[test]
fn stats_pids_and_oom_come_from_recorded_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fake_cgroup(root, false, true);
    let memory = root.join("memory/rcorch/web");
    put(
        &memory,
        &[
            ("memory.usage_in_bytes", "10485760\n"),
            ("memory.limit_in_bytes", "67108864\n"),
            (
                "memory.stat",
                "cache 8192\ninactive_file 1\ntotal_cache 8192\ntotal_inactive_file 4194304\n",
            ),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            ),
        ],
    );
    put(
        &root.join("cpuacct/rcorch/web"),
        &[("cpuacct.usage", "987654321\n")],
    );
    put(
        &root.join("pids/rcorch/web"),
        &[
            ("pids.current", "2\n"),
            ("pids.max", "20\n"),
            ("cgroup.procs", "7\n8\n"),
        ],
    );
    let m = manager_for(&fake_layout(root, false), "rcorch", "web").unwrap();
    assert_eq!(
        m.stats().unwrap(),
        Stats {
            cpu_usage_ns: 987_654_321,
            memory_usage: 6_291_456,
            memory_limit: Some(67_108_864),
            pids_current: 2,
            pids_limit: Some(20),
        }
    );
    assert_eq!(m.pids().unwrap(), vec![7, 8]);
    assert!(!m.oom_killed().unwrap());
    put(
        &memory,
        &[(
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )],
    );
    assert!(m.oom_killed().unwrap());
    put(&memory, &[("memory.limit_in_bytes", UNLIMITED)]);
    assert_eq!(m.stats().unwrap().memory_limit, None);
}

#[test]
fn kill_all_signals_pids_from_the_pids_controller() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fake_cgroup(root, false, true);
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    put(
        &root.join("pids/rcorch/web"),
        &[("cgroup.procs", &format!("{}\n", child.id()))],
    );
    let m = manager_for(&fake_layout(root, false), "rcorch", "web").unwrap();
    m.kill_all(Signal::SIGKILL).unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn destroy_and_parent_cleanup_remove_empty_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let layout = fake_layout(root, false);
    let m = manager_for(&layout, "rcorch", "web").unwrap();
    let other = manager_for(&layout, "rcorch", "other").unwrap();
    m.apply_limits(&Limits::default()).unwrap();
    other.apply_limits(&Limits::default()).unwrap();
    m.destroy().unwrap();
    m.destroy().unwrap();
    // "other" still lives in the parent: cleanup leaves it alone.
    parent_cleanup(&layout, "rcorch").unwrap();
    assert!(root.join("memory/rcorch/other").is_dir());
    other.destroy().unwrap();
    parent_cleanup(&layout, "rcorch").unwrap();
    for c in ["memory", "cpu", "cpuacct", "pids"] {
        assert!(!root.join(c).join("rcorch").exists(), "{c}");
        assert!(root.join(c).is_dir(), "{c}");
    }
}
