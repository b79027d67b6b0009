//! Root-only: `up SERVICE…` starts or updates the named services and their
//! dependencies, and leaves every other service as it was.

mod common;

use std::time::Duration;

use common::project::Project;
use common::TestEnv;

const WAIT: Duration = Duration::from_secs(20);

const APP: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "1000"]
    init: true
    depends_on: [api]
  api:
    image: busybox
    command: ["sleep", "1000"]
    init: true
    depends_on: [db]
  db:
    image: busybox
    command: ["sleep", "1000"]
    init: true
  cron:
    image: busybox
    command: ["sleep", "1000"]
    init: true
"#;

/// (replicas, revision) of `service` in the project's desired state.
fn wanted(p: &Project, service: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(p.dir().join("desired.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let s = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["spec"]["name"] == service)
        .unwrap_or_else(|| panic!("no {service} in {text}"));
    let n = |k: &str| s["spec"][k].as_u64().unwrap();
    (n("replicas"), n("revision"))
}

fn ids(p: &Project, service: &str) -> Vec<String> {
    p.running(service).into_iter().map(|r| r.id).collect()
}

#[test]
fn up_of_named_services_brings_their_dependencies_and_leaves_the_rest() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "sel", APP);

    // A first partial up: api and (transitively) db; nothing else added.
    let out = p.cmd("up", &["-d", "api"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(p.running("api").len(), 1, "{out:#?}");
    assert_eq!(p.running("db").len(), 1, "{out:#?}");
    assert!(p.replicas("web").is_empty() && p.replicas("cron").is_empty());
    let desired = std::fs::read_to_string(p.dir().join("desired.json")).unwrap();
    assert!(!desired.contains("\"cron\""), "{desired}");

    // An unknown name is an error and changes nothing.
    let before = (ids(&p, "api"), ids(&p, "db"), desired.clone());
    let out = p.cmd("up", &["-d", "api", "nope"]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.stderr.contains("nope"), "{out:#?}");
    let after_desired = std::fs::read_to_string(p.dir().join("desired.json")).unwrap();
    assert_eq!((ids(&p, "api"), ids(&p, "db"), after_desired), before);

    // db scaled by hand, then the file changes db's and api's command:
    // `up cron` adds cron only; db keeps its 2 replicas and old definition.
    p.cmd("scale", &["db=2"]).ok();
    assert!(p.wait_running("db", 2, WAIT));
    let db_before = ids(&p, "db");
    assert_eq!(wanted(&p, "db"), (2, 1));
    let api_before = ids(&p, "api");
    let changed = APP.replace("[\"sleep\", \"1000\"]", "[\"sleep\", \"999\"]");
    std::fs::write(&p.file, changed).unwrap();
    let out = p.cmd("up", &["-d", "cron"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(p.running("cron").len(), 1);
    assert!(p.replicas("web").is_empty());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ids(&p, "db"), db_before, "db was touched");
    assert_eq!(ids(&p, "api"), api_before, "api was touched");
    assert_eq!(wanted(&p, "db"), (2, 1));
    assert_eq!(wanted(&p, "api"), (1, 1));

    // `up api` updates the desired state of api and db (new revision, db
    // back to the file's 1 replica); cron and its replica stay as they were.
    let cron_before = ids(&p, "cron");
    let out = p.cmd("up", &["-d", "api"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(wanted(&p, "api"), (1, 2));
    assert_eq!(wanted(&p, "db"), (1, 2));
    assert_eq!(wanted(&p, "cron"), (1, 1));
    assert!(p.wait_running("db", 1, WAIT));
    assert_eq!(ids(&p, "cron"), cron_before);
    assert!(p.replicas("web").is_empty());
    p.down();
}

const PROFILED: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  debug:
    image: busybox
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    profiles: [dev]
"#;

#[test]
fn a_service_of_a_disabled_profile_does_not_start_until_enabled() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "profiles", PROFILED);
    p.up();
    assert_eq!(p.running("web").len(), 1);
    assert!(p.replicas("debug").is_empty(), "{:#?}", p.replicas("debug"));
    let out = p.cmd("up", &["-d", "--profile", "dev", "--wait-timeout", "30"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        p.wait_running("debug", 1, WAIT),
        "{:#?}",
        p.replicas("debug")
    );
}

#[test]
fn up_naming_a_service_of_a_disabled_profile_starts_it() {
    // As compose: a targeted service's profiles become active.
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "targeted", PROFILED);
    let out = p.cmd("up", &["-d", "--wait-timeout", "30", "debug"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(p.running("debug").len(), 1, "{:#?}", p.replicas("debug"));
    assert!(p.replicas("web").is_empty(), "{:#?}", p.replicas("web"));
    p.down();
}
