//! Root-only: admission on one host. Replicas reserve memory from a small
//! fake capacity (RCORCH_HOST_CAPACITY, so the host's size does not matter);
//! one that does not fit stays pending with its reason, and starts by itself
//! once another is removed. Bad reservations and constraints stop `up`.

mod common;

use std::time::Duration;

use common::project::Project;
use common::TestEnv;

const WAIT: Duration = Duration::from_secs(30);

fn fake_capacity() {
    // Every test in this binary uses the same value, read by `up` and the
    // supervisor it starts.
    std::env::set_var("RCORCH_HOST_CAPACITY", "memory=1g");
}

const FULL: &str = r#"
x-rcorch-metrics: 127.0.0.1:9464
services:
  big:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    deploy:
      resources:
        reservations: {memory: 512m}
  late:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    deploy:
      resources:
        reservations: {memory: 768m}
"#;

#[test]
fn a_replica_that_does_not_fit_waits_then_starts_when_room_frees() {
    let Some(env) = TestEnv::new() else { return };
    fake_capacity();
    let p = Project::new(&env, "adm", FULL);
    p.up();
    assert_eq!(p.running("big").len(), 1);
    assert!(p.running("late").is_empty(), "late started beyond capacity");
    let reason = "insufficient memory: 512 MiB reserved of 1 GiB, 768 MiB requested";
    let ps = env.rcorch(&["ps"]).ok();
    assert!(
        ps.contains("pending  adm/late.1") && ps.contains(reason),
        "{ps}"
    );
    let pending = p.events_of("late-1", "pending");
    assert!(
        pending.iter().any(|l| l.contains(reason)),
        "{:#?}",
        p.events()
    );

    // The supervisor's metrics count it as pending.
    let pending = "rcorch_service_pending_replicas{project=\"adm\",service=\"late\"}";
    assert_eq!(metric(&p, pending), Some(1.0));
    let big = "rcorch_service_pending_replicas{project=\"adm\",service=\"big\"}";
    assert_eq!(metric(&p, big), Some(0.0));

    // Removing big frees its reservation: late starts on its own.
    p.cmd("scale", &["big=0"]).ok();
    assert!(
        p.wait_running("late", 1, WAIT),
        "late never started: {:#?}",
        p.events()
    );
    assert!(p.running("big").is_empty());
    let ps = env.rcorch(&["ps"]).ok();
    assert!(!ps.contains("pending"), "{ps}");
    let settled = common::wait_for(WAIT, || metric(&p, pending) == Some(0.0));
    assert!(settled, "{:?}", metric(&p, pending));
    p.down();
}

/// One series' value from the project supervisor's /metrics (served in the
/// supervisor's network namespace, where the test's commands run).
fn metric(p: &Project, series: &str) -> Option<f64> {
    let sup = p.supervisor_pid()?;
    let netns = format!("--net=/proc/{sup}/ns/net");
    let _ = std::process::Command::new("nsenter")
        .args([netns.as_str(), "ip", "link", "set", "lo", "up"])
        .status();
    let out = std::process::Command::new("nsenter")
        .args([
            netns.as_str(),
            "curl",
            "-sf",
            "http://127.0.0.1:9464/metrics",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn placement_constraints_follow_the_node_labels() {
    let Some(env) = TestEnv::new() else { return };
    fake_capacity();
    std::fs::write(env.root.join("node-labels"), "zone=east\n").unwrap();
    let yaml = r#"
services:
  east:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    deploy:
      placement:
        constraints: ["node.labels.zone==east", "node.role==manager"]
        preferences: [{spread: node.labels.zone}]
  west:
    image: busybox
    command: ["sleep", "1000"]
    deploy:
      placement:
        constraints: ["node.labels.zone==west"]
"#;
    let p = Project::new(&env, "place", yaml);
    p.up();
    assert_eq!(p.running("east").len(), 1);
    assert!(p.running("west").is_empty());
    let ps = env.rcorch(&["ps"]).ok();
    assert!(
        ps.contains("unsatisfied placement constraint node.labels.zone==west"),
        "{ps}"
    );
    p.down();
}

#[test]
fn bad_reservations_and_constraints_stop_up_naming_the_key() {
    let Some(env) = TestEnv::new() else { return };
    fake_capacity();
    let cases = [
        (
            "deploy: {resources: {reservations: {memory: 2g}}}",
            "services.web.deploy.resources.reservations.memory",
        ),
        (
            "deploy: {resources: {limits: {memory: 64m}, reservations: {memory: 128m}}}",
            "services.web.deploy.resources.limits.memory",
        ),
        (
            "deploy: {placement: {constraints: [\"node.labels.zone=east\"]}}",
            "services.web.deploy.placement.constraints[0]",
        ),
        (
            "deploy: {placement: {preferences: [{binpack: node.labels.x}]}}",
            "services.web.deploy.placement.preferences[0]",
        ),
        (
            "x-rcorch-cpu-placement: packed",
            "services.web.x-rcorch-cpu-placement: expected spread or none",
        ),
        (
            "{x-rcorch-cpu-placement: spread, deploy: {resources: {reservations: {cpus: '0.5'}}}}",
            "services.web.x-rcorch-cpu-placement: spread pins whole CPUs",
        ),
    ];
    for (i, (deploy, key)) in cases.iter().enumerate() {
        let extra = match deploy.strip_prefix('{').and_then(|d| d.strip_suffix('}')) {
            // Two keys: one per line.
            Some(keys) => keys.replacen(", deploy", "\n    deploy", 1),
            None => deploy.to_string(),
        };
        let yaml = format!(
            "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"100\"]\n    {extra}\n"
        );
        let p = Project::new(&env, &format!("bad{i}"), &yaml);
        let out = p.cmd("up", &["-d", "--wait-timeout", "10"]);
        assert_ne!(out.code, 0, "{deploy}: {out:#?}");
        assert!(out.stderr.contains(key), "{deploy}: {out:#?}");
        assert!(p.replicas("web").is_empty(), "{deploy}: something started");
    }
    assert_eq!(env.leftovers(), Vec::<String>::new());
}

/// `x-rcorch-cpu-placement: spread` pins each replica that asks for whole
/// CPUs to a cpuset of its own while there are free CPUs, then to the
/// least used; the kernel's affinity of its process says the same.
#[test]
fn whole_cpu_replicas_are_spread_over_the_cpus() {
    let Some(env) = TestEnv::new() else { return };
    fake_capacity();
    let yaml = "services:\n  pin:\n    image: busybox\n    command: [\"sleep\", \"1000\"]\n    \
                stop_grace_period: 1s\n    x-rcorch-cpu-placement: spread\n    \
                deploy:\n      replicas: 2\n      resources:\n        reservations: {cpus: '1'}\n";
    let p = Project::new(&env, "cpus", yaml);
    p.up();
    assert!(p.wait_running("pin", 2, WAIT), "{:#?}", p.events());
    let cpusets: Vec<String> = p
        .running("pin")
        .iter()
        .map(|r| {
            let v = env.inspect(&r.id);
            let set = v["HostConfig"]["CpusetCpus"].as_str().unwrap().to_string();
            let pid = v["State"]["Pid"].as_i64().unwrap();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            let allowed = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .unwrap()
                .trim()
                .to_string();
            assert_eq!(allowed, set, "{}", r.name);
            set
        })
        .collect();
    for set in &cpusets {
        assert!(
            set.parse::<u32>().is_ok(),
            "one whole CPU each: {cpusets:?}"
        );
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= 2 {
        assert_ne!(cpusets[0], cpusets[1], "spread while CPUs are free");
    }
    p.down();
}
