use super::*;

/// Reads `testdata/DIR/NAME`, `None` if absent.
fn fixture(dir: &str, name: &str) -> Option<String> {
    let path = format!(
        "{}/src/cgroups/testdata/{dir}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).ok()
}

/// Recorded on this hybrid host from a busybox container run with
/// `-m 64m --cpus 0.5` after a busy loop and a 2 MB write (also read by the
/// metrics tests).
pub(crate) fn v1_files() -> UsageFiles {
    let f = |n| fixture("usage-v1", n);
    UsageFiles {
        cpuacct_usage: f("cpuacct.usage"),
        cpu_stat: f("cpu.stat"),
        memory_current: f("memory.usage_in_bytes"),
        memory_stat: f("memory.stat"),
        memory_limit: f("memory.limit_in_bytes"),
        memory_peak: f("memory.max_usage_in_bytes"),
        memory_failcnt: f("memory.failcnt"),
        memory_events: f("memory.oom_control"),
        pids_current: f("pids.current"),
        io_stat: None,
    }
}

/// The v2 files, in the kernel's format (Documentation/admin-guide/cgroup-v2.rst).
fn v2_files() -> UsageFiles {
    let f = |n| fixture("usage-v2", n);
    UsageFiles {
        cpuacct_usage: None,
        cpu_stat: f("cpu.stat"),
        memory_current: f("memory.current"),
        memory_stat: f("memory.stat"),
        memory_limit: f("memory.max"),
        memory_peak: f("memory.peak"),
        memory_failcnt: None,
        memory_events: f("memory.events"),
        pids_current: f("pids.current"),
        io_stat: f("io.stat"),
    }
}

#[test]
fn v1_sample_reads_cadvisor_figures() {
    let u = parse_usage(Flavor::V1, &v1_files());
    assert_eq!(u.cpu_usage_ns, 451_638_907);
    assert_eq!(
        (u.cpu_periods, u.cpu_throttled_periods, u.cpu_throttled_ns),
        (11, 9, 347_324_828)
    );
    assert_eq!(u.memory_usage, 2_437_120);
    // usage − total_inactive_file (2_048_000): the dd's page cache is not working set.
    assert_eq!(u.memory_working_set, 389_120);
    assert_eq!((u.memory_rss, u.memory_cache), (53_248, 2_056_192));
    assert_eq!(u.memory_limit, Some(64 << 20));
    assert_eq!(u.memory_max_usage, Some(2_813_952));
    assert_eq!((u.memory_failcnt, u.oom_kills, u.pids), (0, 0, 1));
    assert!(u.io.is_empty());
}

#[test]
fn v2_sample_converts_microseconds_and_reads_io_stat() {
    let u = parse_usage(Flavor::V2, &v2_files());
    assert_eq!(u.cpu_usage_ns, 1_843_210_000);
    assert_eq!(u.cpu_throttled_ns, 912_345_000);
    assert_eq!((u.cpu_periods, u.cpu_throttled_periods), (420, 37));
    assert_eq!(u.memory_usage, 5_242_880);
    assert_eq!(u.memory_working_set, 5_242_880 - 2_752_512);
    assert_eq!((u.memory_rss, u.memory_cache), (2_101_248, 3_014_656));
    assert_eq!(u.memory_limit, Some(32 << 20));
    assert_eq!(u.memory_max_usage, Some(7_340_032));
    // failcnt is memory.events "max"; kills its "oom_kill", not "oom".
    assert_eq!((u.memory_failcnt, u.oom_kills, u.pids), (25, 1, 3));
    assert_eq!(
        u.io,
        [
            DeviceIo {
                major: 8,
                minor: 0,
                read_bytes: 1 << 20,
                write_bytes: 4 << 20
            },
            DeviceIo {
                major: 253,
                minor: 1,
                read_bytes: 4096,
                write_bytes: 0
            }
        ]
    );
}

#[test]
fn missing_controllers_give_zeros_not_errors() {
    let files = UsageFiles {
        memory_limit: Some("max\n".into()),
        ..UsageFiles::default()
    };
    let u = parse_usage(Flavor::V2, &files);
    assert_eq!(u, Usage::default());
}

#[test]
fn oom_kills_on_every_layout() {
    assert_eq!(
        oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"),
        3
    );
    // Before Linux 4.13 v1 has no counter: a cgroup under OOM counts once.
    assert_eq!(oom_kills("oom_kill_disable 0\nunder_oom 1\n"), 1);
    assert_eq!(oom_kills("oom_kill_disable 0\nunder_oom 0\n"), 0);
    assert_eq!(oom_kills("low 0\nhigh 0\nmax 9\noom 4\noom_kill 2\n"), 2);
}

#[test]
fn proc_io_gives_block_bytes() {
    let text = fixture("usage-v1", "proc-io").unwrap();
    assert_eq!(parse_proc_io(&text), (0, 2_056_192));
    assert_eq!(parse_proc_io("rchar: 5\n"), (0, 0));
}

/// Copies the recorded `files` (name → controller dir) into a fake tree.
fn plant(dir: &std::path::Path, recorded: &str, files: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for name in files {
        std::fs::write(dir.join(name), fixture(recorded, name).unwrap()).unwrap();
    }
}

#[test]
fn v1_manager_reads_each_file_from_its_controller() {
    use crate::cgroups::{manager_for, Controller, Layout};
    let tmp = tempfile::tempdir().unwrap();
    let mounts: std::collections::BTreeMap<Controller, std::path::PathBuf> = Controller::ALL
        .into_iter()
        .map(|c| (c, tmp.path().join(c.name())))
        .collect();
    let dir = |c: &str| tmp.path().join(c).join("rcorch/web");
    plant(
        &dir("memory"),
        "usage-v1",
        &[
            "memory.usage_in_bytes",
            "memory.stat",
            "memory.limit_in_bytes",
            "memory.max_usage_in_bytes",
            "memory.failcnt",
            "memory.oom_control",
        ],
    );
    plant(&dir("cpu"), "usage-v1", &["cpu.stat"]);
    plant(&dir("cpuacct"), "usage-v1", &["cpuacct.usage"]);
    plant(&dir("pids"), "usage-v1", &["pids.current"]);
    let m = manager_for(&Layout::V1 { mounts }, "rcorch", "web").unwrap();
    assert_eq!(m.usage().unwrap(), parse_usage(Flavor::V1, &v1_files()));
    std::fs::remove_file(dir("cpuacct").join("cpuacct.usage")).unwrap();
    assert!(m.usage().is_err(), "a gone cgroup is an error, not zeros");
}

#[test]
fn v2_manager_reads_the_unified_files() {
    use crate::cgroups::{manager_for, Layout};
    let tmp = tempfile::tempdir().unwrap();
    let names = [
        "cpu.stat",
        "memory.current",
        "memory.stat",
        "memory.max",
        "memory.peak",
        "memory.events",
        "pids.current",
        "io.stat",
    ];
    plant(&tmp.path().join("rcorch/web"), "usage-v2", &names);
    let layout = Layout::V2 {
        root: tmp.path().to_path_buf(),
    };
    let m = manager_for(&layout, "rcorch", "web").unwrap();
    let u = m.usage().unwrap();
    assert_eq!(u, parse_usage(Flavor::V2, &v2_files()));
    assert_eq!((u.oom_kills, u.io.len()), (1, 2));
}
