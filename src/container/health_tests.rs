use super::*;

fn req() -> HealthRequest {
    HealthRequest::default()
}

#[test]
fn no_flags_and_no_image_check_is_none() {
    assert_eq!(resolve(&req(), None), Ok(None));
    let none = json!({"Test": ["NONE"], "Interval": 5_000_000_000u64});
    assert_eq!(resolve(&req(), Some(&none)), Ok(None));
}

#[test]
fn health_cmd_runs_under_a_shell_with_docker_defaults() {
    let r = HealthRequest {
        cmd: Some("test -f /ok".into()),
        ..req()
    };
    let h = resolve(&r, None).unwrap().unwrap();
    assert_eq!(h.argv, ["/bin/sh", "-c", "test -f /ok"]);
    assert_eq!(h.test, ["CMD-SHELL", "test -f /ok"]);
    assert_eq!(h.spec, HealthSpec::default());
}

#[test]
fn flags_override_the_image_field_by_field() {
    let image = json!({
        "Test": ["CMD", "/bin/check", "-q"],
        "Interval": 10_000_000_000u64,
        "Timeout": 2_000_000_000u64,
        "Retries": 5,
    });
    let r = HealthRequest {
        timeout: Some("500ms".into()),
        start_period: Some("1m30s".into()),
        ..req()
    };
    let h = resolve(&r, Some(&image)).unwrap().unwrap();
    assert_eq!(h.argv, ["/bin/check", "-q"]);
    assert_eq!(h.spec.interval, Duration::from_secs(10));
    assert_eq!(h.spec.timeout, Duration::from_millis(500));
    assert_eq!(h.spec.start_period, Duration::from_secs(90));
    assert_eq!(h.spec.start_interval, Duration::from_secs(5));
    assert_eq!(h.spec.retries, 5);
    let j = docker_json(&h);
    assert_eq!(j["Test"], json!(["CMD", "/bin/check", "-q"]));
    assert_eq!(j["Timeout"], json!(500_000_000u64));
}

#[test]
fn no_healthcheck_disables_the_image_check_and_conflicts_with_flags() {
    let image = json!({"Test": ["CMD-SHELL", "true"]});
    let off = HealthRequest {
        disabled: true,
        ..req()
    };
    assert_eq!(resolve(&off, Some(&image)), Ok(None));
    let both = HealthRequest {
        retries: Some("2".into()),
        ..off
    };
    assert_eq!(resolve(&both, Some(&image)), Err(HealthError::Conflict));
}

#[test]
fn bad_values_name_the_flag() {
    let bad = |r: HealthRequest| resolve(&r, None).unwrap_err().to_string();
    let e = bad(HealthRequest {
        cmd: Some("true".into()),
        interval: Some("5".into()),
        ..req()
    });
    assert!(e.contains("--health-interval \"5\""), "{e}");
    let e = bad(HealthRequest {
        cmd: Some("true".into()),
        timeout: Some("10us".into()),
        ..req()
    });
    assert!(e.contains("--health-timeout"), "{e}");
    let e = bad(HealthRequest {
        cmd: Some("true".into()),
        retries: Some("-1".into()),
        ..req()
    });
    assert!(e.contains("--health-retries \"-1\""), "{e}");
    assert_eq!(
        resolve(
            &HealthRequest {
                cmd: Some(" ".into()),
                ..req()
            },
            None
        ),
        Err(HealthError::EmptyCommand)
    );
}
