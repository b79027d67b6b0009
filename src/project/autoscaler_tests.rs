//! The thin readers on recorded cgroup and /proc layouts, and the
//! sampling schedule on an instance without containers.

use std::fs;
use std::time::Duration;

use super::*;
use crate::cgroups::systemd::Driver;
use crate::cgroups::Controller;
use crate::supervisor::autoscale_policy::AutoscalePolicy;

fn put(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
}

/// This host's hybrid layout: cpu and cpuacct mounted separately.
fn v1_hybrid(root: &Path, usage_ns: u64) -> Layout {
    let dir = |c: &str| root.join(c).join("rcorch/web");
    let memory = [
        ("memory.usage_in_bytes", "8192\n"),
        ("memory.stat", "total_inactive_file 4096\n"),
        ("memory.limit_in_bytes", "9223372036854771712\n"),
    ];
    put(&dir("memory"), &memory);
    put(&dir("cpu"), &[("cpu.cfs_quota_us", "-1\n")]);
    put(
        &dir("cpuacct"),
        &[("cpuacct.usage", &format!("{usage_ns}\n"))],
    );
    put(
        &dir("pids"),
        &[("pids.current", "1\n"), ("pids.max", "max\n")],
    );
    let mounts = [
        (Controller::Memory, "memory"),
        (Controller::Cpu, "cpu"),
        (Controller::Cpuacct, "cpuacct"),
        (Controller::Pids, "pids"),
    ];
    Layout::V1 {
        mounts: mounts.into_iter().map(|(c, d)| (c, root.join(d))).collect(),
    }
}

fn v2(root: &Path, usage_usec: u64) -> Layout {
    let stat = format!("usage_usec {usage_usec}\nuser_usec 10\nsystem_usec 5\n");
    put(
        &root.join("rcorch/web"),
        &[
            ("cpu.stat", &stat),
            ("memory.current", "8192\n"),
            ("memory.stat", "inactive_file 4096\n"),
            ("memory.max", "max\n"),
            ("pids.current", "1\n"),
            ("pids.max", "max\n"),
        ],
    );
    Layout::V2 {
        root: root.to_path_buf(),
    }
}

fn sample(layout: &Layout, ms: u64) -> CpuSample {
    CpuSample {
        at: Time::from_millis(ms),
        usage_ns: read_cpu_ns(layout, (Driver::Cgroupfs, "rcorch"), "web").expect("cpu counter"),
    }
}

#[test]
fn cpu_counters_on_v1_hybrid_and_v2() {
    let tmp = tempfile::tempdir().unwrap();
    let before = sample(&v1_hybrid(tmp.path(), 1_000_000_000), 0);
    let after = sample(&v1_hybrid(tmp.path(), 1_750_000_000), 1_000);
    assert_eq!(cpu_rate(before, after), Some(0.75));

    let tmp = tempfile::tempdir().unwrap();
    let before = sample(&v2(tmp.path(), 2_000_000), 0);
    assert_eq!(before.usage_ns, 2_000_000_000);
    let after = sample(&v2(tmp.path(), 2_500_000), 2_000);
    assert_eq!(cpu_rate(before, after), Some(0.25));

    assert_eq!(
        read_cpu_ns(&v2(tmp.path(), 1), (Driver::Cgroupfs, "rcorch"), "gone"),
        None
    );
}

#[test]
fn connections_from_a_recorded_proc() {
    let tmp = tempfile::tempdir().unwrap();
    let header = "  sl  local_address rem_address   st tx_queue\n";
    let tcp = format!(
        "{header}   0: 00000000:0050 00000000:0000 0A\n   1: 0200110A:0050 0100110A:C350 01\n"
    );
    put(&tmp.path().join("42/net"), &[("tcp", &tcp)]);
    assert_eq!(read_connections(tmp.path(), 42, &[80]), Some(1));
    put(&tmp.path().join("42/net"), &[("tcp6", &tcp)]);
    assert_eq!(read_connections(tmp.path(), 42, &[]), Some(2));
    assert_eq!(read_connections(tmp.path(), 43, &[]), None);
}

fn record(replicas: u32, run: RunState) -> ProjectRecord {
    let mut spec = crate::supervisor::ServiceSpec::new("web", 1);
    spec.replicas = replicas;
    spec.run = run;
    ProjectRecord {
        name: "shop".into(),
        services: vec![ServiceRecord {
            autoscale: Some(AutoscalePolicy {
                min_replicas: 1,
                max_replicas: 3,
                target_cpu: Some(0.2),
                target_connections: None,
                scale_down_window: Duration::from_secs(3),
                interval: Duration::from_secs(2),
            }),
            ..ServiceRecord::plain(spec, Default::default())
        }],
        networks: Vec::new(),
        metrics: None,
    }
}

#[test]
fn samples_each_interval_and_applies_bounds_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let instance = Instance::open(tmp.path(), "rcorch-autoscaler-test").unwrap();
    let mut scaler = Autoscaler::new(&tmp.path().join("proc"));
    assert_eq!(scaler.next_deadline(), None);
    let mut rec = record(5, RunState::Running);
    let decisions = scaler.evaluate(&instance, &rec, Time::from_secs(10));
    assert_eq!(
        decisions,
        [ScaleDecision {
            service: "web".into(),
            from: 5,
            to: 3,
            reason: "5 -> 3 replicas, bounds 1..3".into(),
        }]
    );
    decisions[0].apply_to(&mut rec);
    assert_eq!(rec.services[0].spec.replicas, 3);
    assert_eq!(scaler.next_deadline(), Some(Time::from_secs(12)));
    // Not due yet: nothing sampled, nothing decided.
    assert!(scaler
        .evaluate(&instance, &rec, Time::from_secs(11))
        .is_empty());
    // No replica runs, so no metric: the count stays.
    assert!(scaler
        .evaluate(&instance, &rec, Time::from_secs(12))
        .is_empty());
    assert_eq!(scaler.next_deadline(), Some(Time::from_secs(14)));
    // A stopped service is not sampled, and no deadline remains.
    let stopped = record(3, RunState::Stopped);
    assert!(scaler
        .evaluate(&instance, &stopped, Time::from_secs(20))
        .is_empty());
    assert_eq!(scaler.next_deadline(), None);
}
