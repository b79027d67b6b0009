//! `x-rcorch-autoscale`: typed, defaulted, validated with file/line/key.

use std::time::Duration;

use super::*;
use crate::compose::model::Autoscale;

fn svc(block: &str) -> String {
    format!("services:\n  web:\n    image: x\n    x-rcorch-autoscale:\n{block}")
}

#[test]
fn full_form_and_defaults() {
    let l = ok(&svc("      min: 2\n      max: \"5\"\n      target_cpu: 50\n      target_connections: 100\n      window: 30s\n      interval: 2s\n"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let web = &l.project.services["web"];
    assert!(!web.extensions.contains_key("x-rcorch-autoscale"));
    assert_eq!(
        web.autoscale,
        Some(Autoscale {
            min: 2,
            max: 5,
            target_cpu: Some(50.0),
            target_connections: Some(100.0),
            window: Duration::from_secs(30),
            interval: Duration::from_secs(2),
        })
    );
    let a = ok(&svc("      max: 3\n      target_cpu: 20\n"))
        .project
        .services["web"]
        .autoscale
        .clone()
        .unwrap();
    assert_eq!((a.min, a.max, a.target_connections), (1, 3, None));
    assert_eq!(
        (a.window, a.interval),
        (Autoscale::DEFAULT_WINDOW, Autoscale::DEFAULT_INTERVAL)
    );
    assert!(
        ok("services:\n  web:\n    image: x\n").project.services["web"]
            .autoscale
            .is_none()
    );
}

#[test]
fn config_output_keeps_the_extension_key() {
    let l = ok(&svc(
        "      max: 3\n      target_cpu: 20\n      window: 90s\n",
    ));
    let yaml = serde_norway::to_string(&l.project).unwrap();
    assert!(yaml.contains("x-rcorch-autoscale:"), "{yaml}");
    assert!(yaml.contains("window: 1m30s"), "{yaml}");
}

#[test]
fn unknown_inner_keys_are_errors() {
    assert_err(
        &svc("      max: 3\n      target_cpu: 20\n      windw: 1m\n"),
        7,
        "services.web.x-rcorch-autoscale: additional property windw is not allowed; did you mean window?",
    );
}

#[test]
fn invalid_settings_name_file_line_and_key() {
    let key = "services.web.x-rcorch-autoscale";
    assert_err(
        &svc("      min: 4\n      max: 3\n      target_cpu: 20\n"),
        5,
        &format!("{key}.min: invalid value \"4\", expected a replica count no larger than max"),
    );
    assert_err(
        &svc("      max: 0\n      target_cpu: 20\n"),
        5,
        "at least 1",
    );
    assert_err(
        &svc("      max: 2\n      target_cpu: -5\n"),
        6,
        &format!("{key}.target_cpu: invalid value \"-5\", expected a positive number"),
    );
    assert_err(
        &svc("      max: 2\n      target_connections: 0\n"),
        6,
        "positive",
    );
    assert_err(
        &svc("      max: 2\n      target_cpu: lots\n"),
        6,
        "a number",
    );
    assert_err(
        &svc("      max: 2\n      target_cpu: 5\n      window: soon\n"),
        7,
        "duration",
    );
    assert_err(
        &svc("      max: 2\n      target_cpu: 5\n      interval: 0s\n"),
        7,
        "positive duration",
    );
    assert_err(
        &svc("      max: 2\n"),
        4,
        &format!("{key}: missing required key target_cpu"),
    );
    assert_err(&svc("      target_cpu: 5\n"), 4, "missing required key max");
    assert_err(&svc("      [1, 2]\n"), 4, "expected a mapping");
}

#[test]
fn a_scalar_or_a_misnamed_key_is_one_error_naming_the_fix() {
    let head = "services:\n  web:\n    image: x\n";
    let e = err(&format!("{head}    x-rcorch-autoscale: 5\n")).to_string();
    assert!(
        e.starts_with(&format!(
            "{FILE}:4: services.web.x-rcorch-autoscale: expected a mapping"
        )),
        "{e}"
    );
    assert!(e.contains("max") && e.contains("target_cpu"), "{e}");
    let e = err(&format!("{head}    x-autoscale:\n      max: 3\n")).to_string();
    assert!(
        e.starts_with(&format!("{FILE}:4: services.web.x-autoscale:")),
        "{e}"
    );
    assert!(e.contains("rename it to x-rcorch-autoscale"), "{e}");
    // Other extensions stay free, as the compose specification says.
    let l = ok(&format!("{head}    x-scaling: 5\n"));
    assert!(l.project.services["web"]
        .extensions
        .contains_key("x-scaling"));
}
