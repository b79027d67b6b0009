//! Root-only: concurrency, repeated runs, crashes of rcorch itself and of the
//! monitor; afterwards nothing may be left behind.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{pid_alive, wait_for, TestEnv};

const WAIT: Duration = Duration::from_secs(15);

/// Removes every container and asserts the instance is clean (allowing the
/// host a moment to reap killed processes).
#[track_caller]
fn rm_all_and_assert_clean(env: &TestEnv) {
    let ids = env.rcorch(&["ps", "-aq"]).ok();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(&ids);
        env.rcorch(&args).ok();
    }
    assert_eq!(env.rcorch(&["ps", "-aq"]).ok(), "");
    wait_for(WAIT, || env.leftovers().is_empty());
    assert_eq!(env.leftovers(), Vec::<String>::new());
}

#[test]
fn parallel_detached_runs_get_distinct_names_and_ids() {
    let Some(env) = TestEnv::new() else { return };
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| env.rcorch(&["run", "-d", "busybox", "sleep", "30"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: HashSet<String> = outs.iter().map(|o| o.ok()).collect();
    assert_eq!(ids.len(), 20, "ids not distinct: {ids:?}");
    let ps = env.rcorch(&["ps", "--format", "json"]).ok();
    let ps: serde_json::Value = serde_json::from_str(&ps).expect("ps JSON");
    let rows = ps.as_array().expect("ps array");
    assert_eq!(rows.len(), 20, "{ps:#}");
    let names: HashSet<String> = ids
        .iter()
        .map(|id| env.inspect(id)["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 20, "names not distinct: {names:?}");
    for id in &ids {
        assert_eq!(env.inspect(id)["State"]["Running"], true, "{id}");
    }
    rm_all_and_assert_clean(&env);
}

#[test]
fn parallel_runs_with_the_same_name_admit_exactly_one() {
    let Some(env) = TestEnv::new() else { return };
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| env.rcorch(&["run", "-d", "--name", "same", "busybox", "sleep", "30"]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = outs.iter().filter(|o| o.code == 0).count();
    assert_eq!(ok, 1, "{outs:#?}");
    assert!(
        outs.iter().all(|o| o.code == 0 || o.code == 125),
        "{outs:#?}"
    );
    assert_eq!(env.rcorch(&["ps", "-aq"]).ok().lines().count(), 1);
    rm_all_and_assert_clean(&env);
}

#[test]
fn many_rm_runs_leave_nothing() {
    let Some(env) = TestEnv::new() else { return };
    for i in 0..50 {
        let out = env.rcorch(&["run", "--rm", "busybox", "true"]);
        assert_eq!(out.code, 0, "run {i}: {out:?}");
    }
    assert_eq!(env.rcorch(&["ps", "-aq"]).ok(), "");
    assert_eq!(env.leftovers(), Vec::<String>::new());
}

#[test]
fn rm_leaves_no_mount_cgroup_or_dir() {
    let Some(env) = TestEnv::new() else { return };
    let vol = format!("{}:/data", env.scratch.display());
    let opts = [
        "-v",
        &vol,
        "--tmpfs",
        "/t",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
    ];
    let running = env.run_detached(&opts, &["sleep", "30"]);
    let exited = env.run_detached(&opts, &["true"]);
    env.wait_exited(&exited, WAIT);
    assert!(
        !env.leftovers().is_empty(),
        "census sees nothing while running"
    );
    env.rcorch(&["rm", &exited]).ok();
    env.rcorch(&["rm", "-f", &running]).ok();
    assert!(wait_for(WAIT, || env.leftovers().is_empty()));
    assert_eq!(env.leftovers(), Vec::<String>::new());
    // The bind source survives (rm must not recurse into it).
    assert!(env.scratch.is_dir());
}

#[test]
fn sigkilled_run_is_listed_and_removable() {
    let Some(env) = TestEnv::new() else { return };
    // Kill `run -d` at several points of its start-up.
    for delay_ms in [0u64, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50] {
        let mut child = env.spawn(&["run", "-d", "busybox", "sleep", "30"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    std::thread::sleep(Duration::from_millis(300));
    // Whatever got far enough to exist is listed; the rest left nothing.
    let listed = env.rcorch(&["ps", "-aq"]).ok();
    let dirs = env
        .leftovers()
        .into_iter()
        .filter(|l| l.starts_with("container dir"))
        .count();
    assert_eq!(listed.lines().count(), dirs, "unlisted container dirs");
    rm_all_and_assert_clean(&env);
}

#[test]
fn killed_monitor_container_shows_gone_and_is_removable() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&[], &["sleep", "30"]);
    let v = env.inspect(&id);
    let monitor = v["State"]["MonitorPid"].as_i64().expect("MonitorPid") as i32;
    let pid = v["State"]["Pid"].as_i64().expect("Pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill monitor");
    // Without its monitor nobody records the exit or collects output, so
    // the container must not be reported (or keep running) as Up.
    let gone = wait_for(Duration::from_secs(5), || {
        let ps = env.rcorch(&["ps", "-a"]).ok();
        ps.lines()
            .find(|l| l.contains(&id[..12]))
            .is_some_and(|row| !row.contains(" Up "))
    });
    let ps = env.rcorch(&["ps", "-a"]).ok();
    let alive = pid_alive(pid);
    rm_all_and_assert_clean(&env);
    assert!(!pid_alive(pid));
    assert!(
        gone,
        "still shown as Up after its monitor died (pid alive: {alive}):\n{ps}"
    );
}

#[test]
fn killed_monitor_and_process_show_exited() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(&[], &["sleep", "30"]);
    let v = env.inspect(&id);
    let monitor = v["State"]["MonitorPid"].as_i64().expect("MonitorPid") as i32;
    let pid = v["State"]["Pid"].as_i64().expect("Pid") as i32;
    for p in [monitor, pid] {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let exited = wait_for(WAIT, || {
        let v = env.inspect(&id);
        v["State"]["Running"] == false
    });
    assert!(
        exited,
        "dead container still running: {:#}",
        env.inspect(&id)
    );
    let ps = env.rcorch(&["ps", "-a"]).ok();
    assert!(ps.contains("Exited"), "{ps}");
    assert_eq!(env.rcorch(&["ps", "-q"]).ok(), "", "listed as running");
    rm_all_and_assert_clean(&env);
}
