//! Root-only: a long wait says what it waits for on stderr before it ends
//! (after a second, then every five), never silence. Checked by what is
//! printed, never by how long it took.

mod common;

use common::project::Project;
use common::TestEnv;

/// web waits for db's health check, which passes after a few seconds, so
/// `up -d` waits for web; a successful `up` printed its progress first.
const SLOW_HEALTH: &str = r#"
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
    command: ["sh", "-c", "sleep 3; touch /tmp/ready; exec sleep 1000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 200ms
      timeout: 2s
      retries: 1
      start_period: 60s
      start_interval: 200ms
"#;

#[test]
fn up_shows_progress_while_waiting_for_a_slow_health_check() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "slowhealth", SLOW_HEALTH);
    let up = p.up();
    assert!(up.stderr.contains("waiting for web 0/1 running"), "{up:#?}");
    let ps = env.rcorch(&["compose", "-p", "slowhealth", "ps"]);
    assert!(ps.stdout.contains("slowhealth-web-1"), "{ps:#?}");
    p.down();
}

/// `stop` of a container that ignores SIGTERM (a shell as pid 1) waits its
/// grace period out, saying so, then kills it.
#[test]
fn stop_shows_progress_through_the_grace_period() {
    let Some(env) = TestEnv::new() else { return };
    let opts = ["--name", "stubborn", "--network", "none"];
    let id = env.run_detached(&opts, &["sh", "-c", "while :; do sleep 1; done"]);
    let stop = env.rcorch(&["stop", "-t", "3", &id]);
    assert_eq!(stop.code, 0, "{stop:#?}");
    assert!(
        stop.stderr.contains("waiting for stubborn to stop"),
        "{stop:#?}"
    );
    let state = env.inspect(&id)["State"].clone();
    assert_eq!(state["Status"], "exited", "{state}");
    env.rcorch(&["rm", "-f", &id]).ok();
}
