//! Compose files in the style of public projects load with only the expected warnings.

use std::time::Duration;

use super::*;
use crate::compose::model::*;

fn load_sample(text: &str) -> Loaded {
    match load(text) {
        Ok(l) => l,
        Err(e) => panic!("sample failed to load: {e}"),
    }
}

fn keys(l: &Loaded) -> Vec<String> {
    l.warnings.iter().map(|w| w.key.clone()).collect()
}

#[test]
fn wordpress_mysql() {
    let l = load_sample(include_str!("../testdata/wordpress-mysql.yaml"));
    assert!(keys(&l).is_empty(), "{:?}", keys(&l));
    let p = &l.project;
    assert_eq!(p.name, "myapp");
    assert_eq!(topological_order(p).unwrap(), ["db", "wordpress"]);
    let db = &p.services["db"];
    assert_eq!(
        db.command.as_ref().unwrap(),
        &["--default-authentication-plugin=mysql_native_password"]
    );
    assert_eq!(
        db.environment["MYSQL_PASSWORD"].as_deref(),
        Some("wordpress")
    );
    assert_eq!(
        db.healthcheck.as_ref().unwrap().start_period,
        Duration::from_secs(30)
    );
    let wp = &p.services["wordpress"];
    assert_eq!(wp.replicas(), 2);
    let logging = wp.logging.as_ref().unwrap();
    assert_eq!(logging.driver.as_deref(), Some("json-file"));
    assert_eq!(logging.options["max-size"], "10m");
    assert_eq!(wp.depends_on["db"].condition, Condition::ServiceHealthy);
    assert_eq!(wp.deploy.update_config.order, UpdateOrder::StartFirst);
    assert_eq!(
        wp.ports[0].published,
        Some(PortRange { start: 80, end: 80 })
    );
    assert!(p.volumes.contains_key("wp_data") && p.networks.contains_key("default"));
}

#[test]
fn flask_redis() {
    let l = load_sample(include_str!("../testdata/flask-redis.yaml"));
    assert!(keys(&l).is_empty(), "{:?}", keys(&l));
    let p = &l.project;
    assert_eq!(p.name, "flask-redis");
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("flask-redis-web:1.25"));
    // `build:` is understood now (issue 14), relative to the compose file.
    let build = web.build.as_ref().expect("build:");
    assert_eq!(build.target.as_deref(), Some("builder"));
    assert!(build.context.is_absolute());
    assert_eq!(web.volumes[0].source.as_deref(), Some("/srv/My App"));
    assert_eq!(
        web.deploy.update_config.failure_action,
        FailureAction::Rollback
    );
    assert_eq!(web.deploy.rollback_config.parallelism, 2);
    let autoscale = web.autoscale.as_ref().expect("x-rcorch-autoscale");
    assert_eq!((autoscale.min, autoscale.max), (2, 6));
    assert_eq!(autoscale.target_cpu, Some(70.0));
    let redis = &p.services["redis"];
    assert_eq!(redis.deploy.resources.limits.memory, Some(256 << 20));
    assert_eq!(topological_order(p).unwrap(), ["redis", "web"]);
}

#[test]
fn prometheus_grafana() {
    let l = load_sample(include_str!("../testdata/prometheus-grafana.yaml"));
    assert_eq!(
        keys(&l),
        [
            "version",
            "services.node-exporter.pid",
            "services.node-exporter.volumes[0].bind",
        ]
    );
    let p = &l.project;
    for svc in p.services.values() {
        assert_eq!(svc.restart, Restart::UnlessStopped, "merge key applied");
    }
    assert_eq!(
        p.services["prometheus"].container_name.as_deref(),
        Some("prometheus")
    );
    assert_eq!(
        p.services["node-exporter"].networks["monitoring"].aliases,
        ["node"]
    );
    assert_eq!(
        p.services["grafana"].stop_grace_period,
        Duration::from_secs(30)
    );
    assert_eq!(
        topological_order(p).unwrap(),
        ["node-exporter", "prometheus", "grafana"]
    );
    // The normalised model prints and parses back.
    let yaml = serde_norway::to_string(p).unwrap();
    assert!(
        yaml.contains("GF_SECURITY_ADMIN_PASSWORD: grafana"),
        "{yaml}"
    );
}

#[test]
fn warnings_in_samples_point_at_real_lines() {
    let text = include_str!("../testdata/prometheus-grafana.yaml");
    let l = load_sample(text);
    let lines: Vec<&str> = text.lines().collect();
    for w in &l.warnings {
        let last = w.key.rsplit(['.', ']']).next().unwrap_or_default();
        assert!(lines[w.at.line - 1].contains(last), "{w}");
    }
}
