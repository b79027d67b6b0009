use std::time::Duration;

use super::*;
use crate::supervisor::Time;

fn entry(n: i32) -> ProbeLog {
    ProbeLog {
        start: format!("2026-12-06T23:00:0{n}.000000000Z"),
        end: format!("2026-12-06T23:00:0{n}.100000000Z"),
        exit_code: n,
        output: format!("probe {n}\n"),
    }
}

#[test]
fn log_keeps_the_last_five_probes_with_the_state_machines_status() {
    let mut state = HealthState::new(Time::from_secs(0));
    let mut report = HealthReport::starting();
    for n in 0..7 {
        state.failing_streak = n as u32;
        state.status = if n < 6 {
            HealthStatus::Healthy
        } else {
            HealthStatus::Unhealthy
        };
        report = report.after_probe(&state, entry(n));
    }
    let codes: Vec<i32> = report.log.iter().map(|e| e.exit_code).collect();
    assert_eq!(codes, [2, 3, 4, 5, 6]);
    assert_eq!(report.status, HealthStatus::Unhealthy);
    assert_eq!(report.failing_streak, 6);
}

#[test]
fn report_serializes_with_dockers_field_names() {
    let report = HealthReport::starting().after_probe(&HealthState::new(Time::ZERO), entry(1));
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["FailingStreak"], 0);
    assert_eq!(v["Log"][0]["ExitCode"], 1);
    assert_eq!(v["Log"][0]["Output"], "probe 1\n");
    assert!(v["Log"][0]["Start"].is_string() && v["Log"][0]["End"].is_string());
}

#[test]
fn output_is_cut_at_4096_bytes_on_a_character_boundary() {
    let mut bytes = vec![b'a'; 4095];
    bytes.extend("é and more".as_bytes());
    let out = probe_output(&bytes);
    assert_eq!(out.len(), 4095, "the split é is dropped");
    assert_eq!(probe_output(b"ok\n"), "ok\n");
    assert_eq!(probe_output(&[0xff, b'x']), "\u{fffd}x");
}

#[test]
fn timeout_output_reads_as_dockers() {
    assert_eq!(
        timeout_output(Duration::from_secs(2)),
        "Health check exceeded timeout (2s)"
    );
    assert_eq!(
        timeout_output(Duration::from_millis(1500)),
        "Health check exceeded timeout (1.5s)"
    );
    assert_eq!(
        timeout_output(Duration::from_millis(300)),
        "Health check exceeded timeout (300ms)"
    );
    assert_eq!(
        timeout_output(Duration::from_secs(90)),
        "Health check exceeded timeout (1m30s)"
    );
    assert_eq!(status_word(HealthStatus::Starting), "starting");
}
