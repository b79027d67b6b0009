//! Root-only: memory, pids and CPU limits are enforced and reported.

mod common;

use std::time::Duration;

use common::TestEnv;

#[test]
fn memory_hog_is_oom_killed() {
    let Some(env) = TestEnv::new() else { return };
    // Doubles a shell string until the 32 MiB limit kills the shell.
    let hog = "x=a; while true; do x=$x$x; done";
    let out = env.rcorch(&[
        "run", "--name", "hog", "--memory", "32m", "busybox", "sh", "-c", hog,
    ]);
    assert_eq!(out.code, 137, "{out:?}");
    let v = env.inspect("hog");
    assert_eq!(v["State"]["OOMKilled"], true, "{v:#}");
    assert_eq!(v["State"]["ExitCode"], 137, "{v:#}");
    assert_eq!(v["HostConfig"]["Memory"], 32 * 1024 * 1024, "{v:#}");
}

#[test]
fn fork_bomb_is_contained_by_pids_limit() {
    let Some(env) = TestEnv::new() else { return };
    // A shell dies on its first failed fork, so the bomb runs in xargs and
    // the shell then execs (no fork) to keep the container up.
    let bomb = "seq 200 | xargs -n1 -P200 sleep 30; exec sleep 30";
    let id = env.run_detached(&["--pids-limit", "20"], &["sh", "-c", bomb]);
    let logs_fork_failure = common::wait_for(Duration::from_secs(10), || {
        let logs = env.rcorch(&["logs", &id]);
        logs.stderr.contains("Resource temporarily unavailable")
            || logs.stdout.contains("Resource temporarily unavailable")
    });
    assert!(logs_fork_failure, "no fork failure logged");

    let out = env
        .rcorch(&["stats", "--no-stream", "--format", "json", &id])
        .ok();
    let stats: serde_json::Value = serde_json::from_str(&out).expect("stats JSON");
    let pids = stats[0]["PIDs"]
        .as_u64()
        .unwrap_or_else(|| panic!("no PIDs: {out}"));
    assert!((2..=20).contains(&pids), "PIDs {pids} in {out}");

    // The host-side cgroup agrees.
    let cg = env
        .cgroup_parent_dirs()
        .into_iter()
        .map(|d| d.join(&id).join("pids.current"))
        .find(|p| p.exists())
        .expect("pids cgroup of the container");
    let current: u64 = std::fs::read_to_string(&cg)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(current <= 20, "pids.current {current}");

    let v = env.inspect(&id);
    assert_eq!(v["HostConfig"]["PidsLimit"], 20, "{v:#}");
}

#[test]
fn fork_failure_stops_a_shell_loop() {
    let Some(env) = TestEnv::new() else { return };
    let bomb = "for i in $(seq 100); do sleep 5 & done; wait";
    let out = env.run_busybox(&["--pids-limit", "20"], &["sh", "-c", bomb]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("can't fork"), "{out:?}");
}

#[test]
fn cpu_limit_is_recorded_and_applied() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&["--cpus", "0.5"], &["sleep", "30"]);
    let v = env.inspect(&id);
    assert_eq!(v["HostConfig"]["CpuQuota"], 50000, "{v:#}");
    assert_eq!(v["HostConfig"]["CpuPeriod"], 100000, "{v:#}");
    let quota = env
        .cgroup_parent_dirs()
        .into_iter()
        .map(|d| d.join(&id).join("cpu.cfs_quota_us"))
        .find(|p| p.exists());
    if let Some(q) = quota {
        assert_eq!(std::fs::read_to_string(q).unwrap().trim(), "50000");
    }
}

#[test]
fn ulimit_sets_soft_and_hard_limits_inside() {
    let Some(env) = TestEnv::new() else { return };
    let opts = ["--network", "none", "--ulimit", "nofile=1024:2048"];
    let out = env
        .run_busybox(&opts, &["sh", "-c", "ulimit -n; ulimit -Hn"])
        .ok();
    assert_eq!(out, "1024\n2048");
    let bad = env.run_busybox(&["--ulimit", "nofiles=1"], &["true"]);
    assert_eq!(bad.code, 125, "{bad:?}");
    assert!(bad.stderr.contains("nofiles"), "{bad:?}");
}

#[test]
fn exec_gets_the_containers_ulimits() {
    // As `docker exec`: the exec'd process has the container's limits,
    // not rcorch's own (the host's 1024:524288 here would differ).
    let Some(env) = TestEnv::new() else { return };
    let opts = ["--network", "none", "--ulimit", "nofile=333:444"];
    let id = env.run_detached(&opts, &["sleep", "60"]);
    let out = env
        .rcorch(&["exec", &id, "sh", "-c", "ulimit -n; ulimit -Hn"])
        .ok();
    assert_eq!(out, "333\n444");
    env.rcorch(&["rm", "-f", &id]);
}

/// The container's control file `name` in whichever hierarchy holds it.
fn cgroup_file(env: &TestEnv, id: &str, name: &str) -> Option<String> {
    env.cgroup_parent_dirs()
        .into_iter()
        .map(|d| d.join(id).join(name))
        .find(|p| p.exists())
        .map(|p| std::fs::read_to_string(p).unwrap().trim().to_string())
}

fn is_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

#[test]
fn swap_reservation_shares_and_cpuset_reach_the_cgroup() {
    let Some(env) = TestEnv::new() else { return };
    let opts = [
        "--network",
        "none",
        "--memory",
        "64m",
        "--memory-swap",
        "96m",
        "--memory-reservation",
        "32m",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
    ];
    let id = env.run_detached(&opts, &["sleep", "30"]);
    // Inside: the scheduler confines the container to CPU 0.
    let allowed = env
        .rcorch(&[
            "exec",
            &id,
            "sh",
            "-c",
            "grep Cpus_allowed_list /proc/self/status",
        ])
        .ok();
    assert!(allowed.ends_with(":\t0"), "{allowed}");
    let file = |name: &str| cgroup_file(&env, &id, name);
    assert_eq!(file("cpuset.cpus").as_deref(), Some("0"));
    if is_v2() {
        assert_eq!(file("memory.low").as_deref(), Some("33554432"));
        assert_eq!(file("cpu.weight").as_deref(), Some("59"));
        if let Some(swap) = file("memory.swap.max") {
            assert_eq!(swap, "33554432");
        }
    } else {
        let soft = file("memory.soft_limit_in_bytes");
        assert_eq!(soft.as_deref(), Some("33554432"));
        assert_eq!(file("cpu.shares").as_deref(), Some("512"));
        if let Some(memsw) = file("memory.memsw.limit_in_bytes") {
            assert_eq!(memsw, "100663296");
        }
    }
    let v = env.inspect(&id);
    let hc = &v["HostConfig"];
    assert_eq!(hc["MemorySwap"], 96 << 20, "{hc:#}");
    assert_eq!(hc["MemoryReservation"], 32 << 20, "{hc:#}");
    assert_eq!(hc["CpuShares"], 512, "{hc:#}");
    assert_eq!(hc["CpusetCpus"], "0", "{hc:#}");
    env.rcorch(&["rm", "-f", &id]).ok();
}

#[test]
fn unlimited_swap_lifts_the_swap_limit() {
    let Some(env) = TestEnv::new() else { return };
    let opts = ["--network", "none", "-m", "64m", "--memory-swap", "-1"];
    let id = env.run_detached(&opts, &["sleep", "30"]);
    let (name, unlimited) = match is_v2() {
        true => ("memory.swap.max", "max"),
        false => ("memory.memsw.limit_in_bytes", "9223372036854771712"),
    };
    if let Some(value) = cgroup_file(&env, &id, name) {
        assert_eq!(value, unlimited);
    }
    assert_eq!(env.inspect(&id)["HostConfig"]["MemorySwap"], -1);
    env.rcorch(&["rm", "-f", &id]).ok();
}

#[test]
fn bad_finer_limits_are_refused_naming_the_flag() {
    let Some(env) = TestEnv::new() else { return };
    let cases: &[(&[&str], &str)] = &[
        (&["--memory-swap", "128m"], "--memory-swap needs --memory"),
        (&["-m", "64m", "--memory-swap", "32m"], "below --memory"),
        (
            &["-m", "32m", "--memory-reservation", "64m"],
            "--memory-reservation",
        ),
        (&["--cpuset-cpus", "0-4095"], "available"),
        (&["--cpuset-cpus", "x"], "--cpuset-cpus"),
        (&["--cpu-shares", "1"], "--cpu-shares"),
        (&["--blkio-weight", "5"], "--blkio-weight"),
    ];
    for (opts, message) in cases {
        let out = env.run_busybox(opts, &["true"]);
        assert_eq!(out.code, 125, "{opts:?}: {out:?}");
        assert!(out.stderr.contains(message), "{opts:?}: {out:?}");
    }
    assert_eq!(env.leftovers(), Vec::<String>::new());
}

#[test]
fn blkio_weight_is_applied_or_refused_clearly() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.rcorch(&[
        "run",
        "-d",
        "--network",
        "none",
        "--blkio-weight",
        "300",
        "busybox",
        "sleep",
        "30",
    ]);
    if out.code == 0 {
        let id = out.stdout.trim();
        let written = [
            "blkio.weight",
            "blkio.bfq.weight",
            "io.bfq.weight",
            "io.weight",
        ]
        .iter()
        .find_map(|f| cgroup_file(&env, id, f))
        .expect("a weight file");
        assert!(written == "300" || written.contains("2930"), "{written}");
        assert_eq!(env.inspect(id)["HostConfig"]["BlkioWeight"], 300);
        env.rcorch(&["rm", "-f", id]).ok();
    } else {
        // This host has no proportional I/O scheduler: one clear error.
        assert_eq!(out.code, 125, "{out:?}");
        assert!(
            out.stderr.contains("--blkio-weight is not supported"),
            "{out:?}"
        );
        assert_eq!(env.leftovers(), Vec::<String>::new());
    }
}

#[test]
fn update_changes_a_running_containers_cgroup_and_record() {
    let Some(env) = TestEnv::new() else { return };
    let opts = [
        "--network",
        "none",
        "--name",
        "upd",
        "-m",
        "32m",
        "--pids-limit",
        "10",
    ];
    let id = env.run_detached(&opts, &["sleep", "60"]);
    let out = env.rcorch(&[
        "update",
        "--memory",
        "96m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "30",
        "--cpu-shares",
        "2048",
        "--cpuset-cpus",
        "0",
        "upd",
    ]);
    assert_eq!(out.ok(), "upd");
    let file = |name: &str| cgroup_file(&env, &id, name);
    assert_eq!(file("pids.max").as_deref(), Some("30"));
    assert_eq!(file("cpuset.cpus").as_deref(), Some("0"));
    if is_v2() {
        assert_eq!(file("memory.max").as_deref(), Some("100663296"));
        assert_eq!(file("cpu.max").as_deref(), Some("50000 100000"));
        assert_eq!(file("cpu.weight").as_deref(), Some("174"));
    } else {
        assert_eq!(file("memory.limit_in_bytes").as_deref(), Some("100663296"));
        assert_eq!(file("cpu.cfs_quota_us").as_deref(), Some("50000"));
        assert_eq!(file("cpu.shares").as_deref(), Some("2048"));
    }
    let allowed = env
        .rcorch(&[
            "exec",
            &id,
            "grep",
            "Cpus_allowed_list",
            "/proc/self/status",
        ])
        .ok();
    assert!(allowed.ends_with(":\t0"), "{allowed}");
    let hc = env.inspect("upd")["HostConfig"].clone();
    assert_eq!(hc["Memory"], 96 << 20, "{hc:#}");
    assert_eq!(hc["PidsLimit"], 30, "{hc:#}");
    assert_eq!(hc["CpuShares"], 2048, "{hc:#}");
    assert_eq!(hc["NanoCpus"], 500_000_000_i64, "{hc:#}");

    // Lifting the pids limit writes "max"; a bad value changes nothing.
    env.rcorch(&["update", "--pids-limit", "-1", "upd"]).ok();
    assert_eq!(file("pids.max").as_deref(), Some("max"));
    let bad = env.rcorch(&["update", "--memory-swap", "64m", "upd"]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert!(bad.stderr.contains("--memory-swap"), "{bad:?}");
    assert_eq!(env.inspect("upd")["HostConfig"]["Memory"], 96 << 20);
    let none = env.rcorch(&["update", "upd"]);
    assert!(none.stderr.contains("nothing to change"), "{none:?}");
    env.rcorch(&["rm", "-f", &id]).ok();
}

#[test]
fn a_memory_limit_lowered_by_update_is_enforced() {
    let Some(env) = TestEnv::new() else { return };
    let opts = ["--network", "none", "--name", "shrink", "-m", "256m"];
    let id = env.run_detached(&opts, &["sleep", "60"]);
    env.rcorch(&["update", "-m", "32m", "shrink"]).ok();
    // The hog that would fit in 256m is now OOM-killed inside 32m.
    let hog = "x=a; while true; do x=$x$x; done";
    let out = env.rcorch(&["exec", &id, "sh", "-c", hog]);
    assert_eq!(out.code, 137, "{out:?}");
    env.rcorch(&["rm", "-f", &id]).ok();
}
