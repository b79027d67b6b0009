//! Root-only: `depends_on: condition: service_healthy` holds a service back
//! until its dependency's health check passes.

mod common;

use std::time::Duration;

use common::project::Project;
use common::{wait_timeout, TestEnv};

const WAIT: Duration = Duration::from_secs(20);

const YAML: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    depends_on:
      db:
        condition: service_healthy
  db:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 200ms
      timeout: 2s
      retries: 1
      # Not yet ready is not unhealthy: without a start period the first
      # failed probe would get db replaced, racing the test's exec.
      start_period: 60s
      start_interval: 200ms
"#;

#[test]
fn web_waits_for_healthy_db() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "deps", YAML);
    // `up -d` returns only once web runs, so it runs in the background.
    let mut up = env.spawn(&["up", "-d", "-f", p.file_str(), "-p", "deps"]);
    let db_up = p.wait_running("db", 1, WAIT);
    if !db_up {
        let _ = up.kill();
        let _ = up.wait();
        panic!("db never ran: {:#?}", p.events());
    }
    // db runs but is not healthy: web must not start.
    std::thread::sleep(Duration::from_millis(1500));
    let early_web = p.replicas("web");
    let early_events = p.events();
    let db = p.running("db")[0].id.clone();
    env.rcorch(&["exec", &db, "touch", "/tmp/ready"]).ok();
    let web_up = p.wait_running("web", 1, WAIT);
    let code = wait_timeout(&mut up, WAIT);
    if code.is_none() {
        let _ = up.kill();
        let _ = up.wait();
    }
    assert!(
        early_web.is_empty(),
        "web started before db was healthy: {early_web:#?}"
    );
    assert!(
        !early_events.iter().any(|l| l.contains(" web-")),
        "web events before db was healthy: {early_events:#?}"
    );
    assert!(web_up, "web never started: {:#?}", p.events());
    assert_eq!(code, Some(0), "up -d did not finish once all ran");
    // Order in the event stream: db healthy before web start.
    let events = p.events();
    let healthy = events.iter().position(|l| l.contains(" db-1 healthy "));
    let start = events.iter().position(|l| l.contains(" web-1 start "));
    assert!(
        matches!((healthy, start), (Some(h), Some(s)) if h < s),
        "{events:#?}"
    );
}

#[test]
fn config_services_lists_dependencies_first() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "order", YAML);
    let out = env
        .rcorch(&["config", "-f", p.file_str(), "--services"])
        .ok();
    assert_eq!(out.lines().collect::<Vec<_>>(), ["db", "web"], "{out}");
}
