//! Root-only: `inspect` carries `State.Health` (status, failing streak, the
//! last five probe results) and `ps` shows health and restart waits, as
//! Docker's do.

mod common;

use std::time::Duration;

use common::project::Project;
use common::{wait_for, TestEnv};

const WAIT: Duration = Duration::from_secs(20);

const CHECKED: &str = r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "touch /tmp/ok; exec sleep 1000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD-SHELL", "echo probe says hi; test -f /tmp/ok"]
      interval: 200ms
      timeout: 2s
      retries: 1000
  slow:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD-SHELL", "echo not yet >&2; test -f /never"]
      interval: 200ms
      start_period: 5m
      start_interval: 200ms
"#;

fn health(env: &TestEnv, id: &str) -> serde_json::Value {
    env.inspect(id)["State"]["Health"].clone()
}

fn ps_line(env: &TestEnv, name: &str) -> String {
    let out = env.rcorch(&["ps"]);
    out.stdout
        .lines()
        .find(|l| l.contains(name))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn inspect_keeps_the_last_five_probes_and_ps_shows_health() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "hstate", CHECKED);
    p.up();
    let web = p.running("web")[0].id.clone();
    // Seven probes at 200 ms: the log is full and has rolled over.
    let full = wait_for(WAIT, || {
        let h = health(&env, &web);
        h["Status"] == "healthy" && h["Log"].as_array().is_some_and(|l| l.len() == 5)
    });
    let h = health(&env, &web);
    assert!(full, "no full log: {h:#}");
    std::thread::sleep(Duration::from_millis(800));
    let h = health(&env, &web);
    let log = h["Log"].as_array().expect("Log");
    assert_eq!(log.len(), 5, "{h:#}");
    for entry in log {
        assert_eq!(entry["ExitCode"], 0, "{h:#}");
        assert_eq!(entry["Output"], "probe says hi\n", "{h:#}");
        let (start, end) = (entry["Start"].as_str(), entry["End"].as_str());
        assert!(
            start.is_some_and(|s| s.ends_with('Z')) && start <= end,
            "{h:#}"
        );
    }
    assert_eq!(h["FailingStreak"], 0);
    assert!(ps_line(&env, "hstate-web-1").contains("(healthy)"));
    let by_health = |value: &str| {
        env.rcorch(&["ps", "-q", "--no-trunc", "--filter", value])
            .ok()
    };
    assert!(by_health("health=healthy").contains(&web), "healthy filter");
    assert!(!by_health("health=none").contains(&web), "none filter");
    assert!(
        !by_health("health=unhealthy").contains(&web),
        "unhealthy filter"
    );

    env.rcorch(&["exec", &web, "rm", "/tmp/ok"]).ok();
    let failing = wait_for(WAIT, || {
        let h = health(&env, &web);
        h["FailingStreak"].as_u64() >= Some(2)
            && h["Log"]
                .as_array()
                .and_then(|l| l.last())
                .map(|e| e["ExitCode"].clone())
                == Some(1.into())
    });
    assert!(failing, "no failing streak: {:#}", health(&env, &web));

    // Failures in the start period count for nothing: still starting.
    let slow = p.running("slow")[0].id.clone();
    let probed = wait_for(WAIT, || {
        health(&env, &slow)["Log"]
            .as_array()
            .is_some_and(|l| l.len() >= 2)
    });
    let h = health(&env, &slow);
    assert!(probed, "slow never probed: {h:#}");
    assert_eq!(h["Status"], "starting", "{h:#}");
    assert_eq!(h["FailingStreak"], 0, "{h:#}");
    assert_eq!(h["Log"][0]["ExitCode"], 1, "{h:#}");
    assert_eq!(h["Log"][0]["Output"], "not yet\n", "{h:#}");
    let line = ps_line(&env, "hstate-slow-1");
    assert!(line.contains("(health: starting)"), "{line}");
    p.down();
}

#[test]
fn a_replica_waiting_for_its_restart_shows_restarting() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = r#"
services:
  crash:
    image: busybox
    command: ["sh", "-c", "exit 3"]
    restart: always
"#;
    let p = Project::new(&env, "hrestart", yaml);
    let _ = p.cmd("up", &["-d", "--wait-timeout", "1"]);
    // The backoff doubles to seconds: the wait between runs shows, and
    // `ps` without -a lists it, as Docker's does.
    let shown = wait_for(WAIT, || {
        ps_line(&env, "hrestart-crash-1").contains("Restarting (3) ")
    });
    assert!(shown, "never Restarting: {:#?}", p.events());
    let json = env.rcorch(&["ps", "--format", "json"]).stdout;
    assert!(json.contains("\"State\":\"restarting\""), "{json}");
    let restarting = wait_for(WAIT, || {
        let id = p.replicas("crash").first().map(|r| r.id.clone());
        id.is_some_and(|id| env.inspect(&id)["State"]["Restarting"] == true)
    });
    assert!(restarting, "inspect never Restarting: {:#?}", p.events());
    p.down();
}
