//! v2 backend on a recorded layout in a tempdir. mkdir in a tempdir creates no
//! control files, so each test lays out the files the kernel would provide.

use std::fs;
use std::process::Command;

use super::*;
use crate::cgroups::{manager_for, CpuQuota, Layout};

const ROOT_CONTROLLERS: &str = "cpuset cpu io memory hugetlb pids rdma misc\n";

fn put(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap()
}

/// A root whose children already see memory, cpu and pids (as the kernel
/// shows once the root enabled them), with "rcorch" having only two enabled.
fn fake_host(root: &Path, with_swap: bool) -> PathBuf {
    put(
        root,
        &[
            ("cgroup.controllers", ROOT_CONTROLLERS),
            ("cgroup.subtree_control", ""),
        ],
    );
    put(
        &root.join("rcorch"),
        &[
            ("cgroup.controllers", "cpu memory pids\n"),
            ("cgroup.subtree_control", "memory pids\n"),
        ],
    );
    let cg = root.join("rcorch/web");
    put(
        &cg,
        &[
            ("memory.max", "max\n"),
            ("cpu.max", "max 100000\n"),
            ("pids.max", "max\n"),
            ("cgroup.procs", ""),
        ],
    );
    if with_swap {
        put(&cg, &[("memory.swap.max", "max\n")]);
    }
    cg
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

fn manager(root: &Path) -> Box<dyn CgroupManager> {
    let layout = Layout::V2 {
        root: root.to_path_buf(),
    };
    manager_for(&layout, "rcorch", "web").unwrap()
}

#[test]
fn enabling_adds_every_available_wanted_controller_and_requires_only_the_needed() {
    let all = ["memory", "cpu", "pids"];
    assert_eq!(
        controllers_to_enable(ROOT_CONTROLLERS, "", &all),
        Ok(vec!["memory", "cpu", "pids"])
    );
    assert_eq!(
        controllers_to_enable(ROOT_CONTROLLERS, "cpu memory pids io", &all),
        Ok(vec![])
    );
    assert_eq!(
        controllers_to_enable("cpu io memory", "memory", &all),
        Err("pids")
    );
    // Substrings are not controllers: "cpuset" is not "cpu".
    assert_eq!(
        controllers_to_enable("cpuset memory pids", "", &all),
        Err("cpu")
    );
    // No cpu delegated and no cpu limit asked: the others are still enabled.
    assert_eq!(
        controllers_to_enable("memory pids", "", &["memory"]),
        Ok(vec!["memory", "pids"])
    );
    assert_eq!(controllers_to_enable("io", "", &[]), Ok(vec![]));
}

#[test]
fn required_controllers_follow_the_limits() {
    assert!(required_controllers(&Limits::default()).is_empty());
    assert_eq!(
        required_controllers(&limits()),
        vec!["memory", "cpu", "pids"]
    );
    let memory_only = Limits {
        memory: Some(64 << 20),
        ..Limits::default()
    };
    assert_eq!(required_controllers(&memory_only), vec!["memory"]);
    let tuned = Limits {
        cpu_shares: Some(512),
        cpuset_cpus: Some("0".into()),
        blkio_weight: Some(100),
        ..Limits::default()
    };
    assert_eq!(required_controllers(&tuned), vec!["cpu", "cpuset", "io"]);
}

#[test]
fn cpuset_and_io_are_enabled_only_when_a_limit_needs_them() {
    let all = "cpuset cpu io memory pids";
    assert_eq!(
        controllers_to_enable(all, "", &[]),
        Ok(vec!["memory", "cpu", "pids"])
    );
    assert_eq!(
        controllers_to_enable(all, "+memory +cpu +pids", &["cpuset", "io"]),
        Ok(vec!["cpuset", "io"])
    );
    assert_eq!(controllers_to_enable("memory pids", "", &["io"]), Err("io"));
}

#[test]
fn a_blkio_weight_without_io_weight_files_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let all = "cpuset cpu io memory pids";
    put(
        root,
        &[("cgroup.controllers", all), ("cgroup.subtree_control", "")],
    );
    let m = manager_for(&Layout::V2 { root: root.into() }, "rcorch", "web").unwrap();
    fs::create_dir_all(root.join("rcorch")).unwrap();
    put(
        &root.join("rcorch"),
        &[("cgroup.controllers", all), ("cgroup.subtree_control", "")],
    );
    let weighted = Limits {
        blkio_weight: Some(300),
        ..Limits::default()
    };
    let e = m.apply_limits(&weighted).unwrap_err().to_string();
    assert!(
        e.contains("--blkio-weight") && e.contains("io.weight"),
        "{e}"
    );
    assert_eq!(
        read(root.join("rcorch/cgroup.subtree_control")),
        "+memory +cpu +pids +io"
    );
    fs::write(root.join("rcorch/web/io.weight"), "default 100\n").unwrap();
    m.apply_limits(&weighted).unwrap();
    assert_eq!(read(root.join("rcorch/web/io.weight")), "default 2930");
}

#[test]
fn a_container_without_limits_runs_where_no_controller_is_delegated() {
    let tmp = tempfile::tempdir().unwrap();
    put(
        tmp.path(),
        &[("cgroup.controllers", "\n"), ("cgroup.subtree_control", "")],
    );
    put(
        &tmp.path().join("rcorch"),
        &[("cgroup.controllers", "\n"), ("cgroup.subtree_control", "")],
    );
    manager(tmp.path())
        .apply_limits(&Limits::default())
        .unwrap();
    assert!(tmp.path().join("rcorch/web").is_dir());
    assert_eq!(read(tmp.path().join("cgroup.subtree_control")), "");
}

#[test]
fn apply_limits_enables_controllers_down_the_tree_and_writes_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = fake_host(tmp.path(), true);
    manager(tmp.path()).apply_limits(&limits()).unwrap();

    assert_eq!(
        read(tmp.path().join("cgroup.subtree_control")),
        "+memory +cpu +pids"
    );
    assert_eq!(
        read(tmp.path().join("rcorch/cgroup.subtree_control")),
        "+cpu"
    );
    assert_eq!(read(cg.join("memory.max")), "67108864");
    assert_eq!(read(cg.join("memory.swap.max")), "0");
    assert_eq!(read(cg.join("cpu.max")), "50000 100000");
    assert_eq!(read(cg.join("pids.max")), "20");
}

#[test]
fn apply_limits_skips_swap_when_the_host_has_no_swap_accounting() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = fake_host(tmp.path(), false);
    manager(tmp.path()).apply_limits(&limits()).unwrap();
    assert!(!cg.join("memory.swap.max").exists());
    assert_eq!(read(cg.join("memory.max")), "67108864");
}

#[test]
fn apply_limits_never_invents_control_files() {
    let tmp = tempfile::tempdir().unwrap();
    fake_host(tmp.path(), true);
    let layout = Layout::V2 {
        root: tmp.path().to_path_buf(),
    };
    let fresh = manager_for(&layout, "rcorch", "new").unwrap();
    let err = fresh.apply_limits(&limits()).unwrap_err();
    assert!(
        matches!(&err, CgroupError::Write { path, .. } if path.ends_with("rcorch/new/memory.max")),
        "{err}"
    );
    assert!(tmp.path().join("rcorch/new").is_dir());
    // Without limits nothing is written, so a bare directory is enough.
    fresh.apply_limits(&Limits::default()).unwrap();
}

#[test]
fn apply_limits_reports_a_controller_the_root_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    fake_host(tmp.path(), true);
    fs::write(tmp.path().join("cgroup.controllers"), "cpu io memory\n").unwrap();
    let err = manager(tmp.path()).apply_limits(&limits()).unwrap_err();
    assert!(
        matches!(&err, CgroupError::ControllerUnavailable { controller: "pids", path } if path == tmp.path()),
        "{err}"
    );
}

#[test]
fn stats_and_oom_come_from_recorded_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = fake_host(tmp.path(), true);
    put(
        &cg,
        &[
            ("memory.current", "10485760\n"),
            (
                "memory.stat",
                "anon 5242880\nfile 5242880\nactive_file 1048576\ninactive_file 4194304\n",
            ),
            ("memory.max", "67108864\n"),
            (
                "cpu.stat",
                "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n",
            ),
            ("pids.current", "3\n"),
            ("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n"),
            ("cgroup.procs", "101\n102\n103\n"),
        ],
    );
    let m = manager(tmp.path());
    assert_eq!(
        m.stats().unwrap(),
        Stats {
            cpu_usage_ns: 1_234_567_000,
            memory_usage: 6_291_456,
            memory_limit: Some(67_108_864),
            pids_current: 3,
            pids_limit: None,
        }
    );
    assert_eq!(m.pids().unwrap(), vec![101, 102, 103]);
    assert!(!m.oom_killed().unwrap());
    put(
        &cg,
        &[("memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n")],
    );
    assert!(m.oom_killed().unwrap());
}

#[test]
fn paths_point_into_the_unified_tree() {
    let m = manager(Path::new("/cg"));
    assert_eq!(
        m.procs_files(),
        vec![PathBuf::from("/cg/rcorch/web/cgroup.procs")]
    );
    assert_eq!(m.cgroup_dirs(), vec![PathBuf::from("/cg/rcorch/web")]);
}

#[test]
fn kill_all_prefers_cgroup_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = fake_host(tmp.path(), true);
    put(&cg, &[("cgroup.kill", ""), ("cgroup.procs", "not read\n")]);
    manager(tmp.path()).kill_all(Signal::SIGKILL).unwrap();
    assert_eq!(read(cg.join("cgroup.kill")), "1");
}

#[test]
fn kill_all_signals_listed_pids_without_cgroup_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = fake_host(tmp.path(), true);
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    // 0 (a process outside our pid namespace) must never be signalled.
    put(&cg, &[("cgroup.procs", &format!("0\n{}\n", child.id()))]);
    manager(tmp.path()).kill_all(Signal::SIGKILL).unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn destroy_is_idempotent_and_collects_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let cg = fake_host(tmp.path(), true);
    let m = manager(tmp.path());
    // A tempdir with files is not empty (cgroupfs would allow the rmdir).
    let err = m.destroy().unwrap_err();
    assert!(matches!(&err, CgroupError::Remove { failures } if failures.len() == 1));
    for entry in fs::read_dir(&cg).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    m.destroy().unwrap();
    assert!(!cg.exists());
    m.destroy().unwrap();
}

#[test]
fn parent_cleanup_removes_nested_parents_bottom_up() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("a/b")).unwrap();
    fs::create_dir_all(tmp.path().join("x/y/busy")).unwrap();
    let layout = Layout::V2 {
        root: tmp.path().to_path_buf(),
    };
    crate::cgroups::parent_cleanup(&layout, "a/b").unwrap();
    assert!(!tmp.path().join("a").exists());
    crate::cgroups::parent_cleanup(&layout, "x/y").unwrap();
    assert!(tmp.path().join("x/y/busy").is_dir());
    // Already gone is fine.
    crate::cgroups::parent_cleanup(&layout, "a/b").unwrap();
}
