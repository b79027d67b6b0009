use super::*;
use crate::supervisor::test_fixtures::{desired, observed, running, service, with_health};

fn project_with(value: Option<serde_norway::Value>) -> Project {
    let mut extensions = BTreeMap::new();
    if let Some(v) = value {
        extensions.insert(KEY.to_string(), v);
    }
    Project {
        name: "shop".into(),
        services: BTreeMap::new(),
        networks: BTreeMap::new(),
        volumes: BTreeMap::new(),
        secrets: BTreeMap::new(),
        configs: BTreeMap::new(),
        extensions,
    }
}

#[test]
fn metrics_are_off_unless_configured() {
    assert_eq!(check(&project_with(None), None).unwrap(), None);
    assert_eq!(configured(&project_with(None)), None);
}

#[test]
fn flag_overrides_the_file() {
    let mut p = project_with(Some("127.0.0.1:1".into()));
    set_address(&mut p, "127.0.0.1:0");
    assert_eq!(configured(&p), Some("127.0.0.1:0"));
    assert_eq!(
        check(&p, None).unwrap().unwrap().ip().to_string(),
        "127.0.0.1"
    );
}

#[test]
fn malformed_or_taken_addresses_are_refused() {
    let number = project_with(Some(serde_norway::Value::Number(9464.into())));
    let err = check(&number, None).unwrap_err().to_string();
    assert!(err.contains("invalid metrics address \"9464\""), "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let p = project_with(Some(addr.clone().into()));
    let err = check(&p, None).unwrap_err().to_string();
    assert!(err.contains("already in use"), "{err}");
    // Our own running supervisor holds it: no conflict.
    assert!(check(&p, Some(&addr)).unwrap().is_some());
}

#[test]
fn restart_reasons() {
    assert_eq!(restart_reason(ExitCause::Exited, true), Some("oom"));
    assert_eq!(restart_reason(ExitCause::Exited, false), Some("exit"));
    assert_eq!(
        restart_reason(ExitCause::StoppedUnhealthy, false),
        Some("unhealthy")
    );
    assert_eq!(restart_reason(ExitCause::StoppedOnRequest, true), None);
}

#[test]
fn snapshot_counts_running_replicas_and_health() {
    let d = desired(vec![service("web", 3, "always")]);
    let o = observed(vec![
        with_health(running("web", 1, "c1"), HealthStatus::Healthy),
        running("web", 2, "c2"),
    ]);
    let names = BTreeMap::from([("c1".to_string(), "shop-web-1".to_string())]);
    let mut counters = Counters::default();
    counters.restarted("web", "oom");
    counters.oom_killed("web");
    let s = snapshot(&d, &o, &names, &counters);
    let web = &s.services["web"];
    assert_eq!((web.desired, web.running, web.oom_kills), (3, 2, 1));
    assert_eq!(web.restarts.get("oom"), Some(&1));
    assert_eq!(s.health["shop-web-1"], ("web".to_string(), "healthy"));
    assert_eq!(s.health.len(), 1);
}
