//! Root-only: `init: true` services (and `run -d --init`, which replicas
//! use) come up; the init must not keep the runtime's pipes open.

mod common;

use std::time::Duration;

use common::project::Project;
use common::TestEnv;

#[test]
fn run_detached_with_init_returns() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.rcorch_timeout(
        &["run", "-d", "--init", "busybox", "sleep", "100"],
        Duration::from_secs(15),
    );
    assert_eq!(out.code, 0, "run -d --init did not return: {out:#?}");
}

#[test]
fn service_with_init_comes_up() {
    let Some(env) = TestEnv::new() else { return };
    let yaml = r#"
services:
  web:
    image: busybox
    command: ["sleep", "1000"]
    init: true
    deploy:
      replicas: 2
"#;
    let p = Project::new(&env, "withinit", yaml);
    let out = p.cmd("up", &["-d", "--wait-timeout", "15"]);
    assert_eq!(
        out.code,
        0,
        "{out:#?}\n{:#?}\n{:#?}",
        p.replicas("web"),
        p.events()
    );
    assert_eq!(p.running("web").len(), 2);
}
