//! The health-check state machine of one replica (Docker's semantics).
//!
//! The shell runs the probe inside the container (as `exec` does) at
//! `next_probe_at`, kills it after `timeout`, and feeds the result to
//! `on_probe_result`. An unhealthy replica is replaced by the reconciler.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::time::Time;

/// A service's `healthcheck` timings (the command stays with the compose model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSpec {
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures (after the start period) that make a replica unhealthy.
    pub retries: u32,
    /// Failures during this period after start do not count.
    pub start_period: Duration,
    /// Probe interval during the start period.
    pub start_interval: Duration,
}

impl Default for HealthSpec {
    /// Compose's defaults; Docker's `start_interval` default.
    fn default() -> HealthSpec {
        HealthSpec {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            retries: 3,
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(5),
        }
    }
}

/// What `ps` shows as health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

/// One replica's health as of its latest probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthState {
    pub status: HealthStatus,
    /// Consecutive counted failures.
    pub failing_streak: u32,
    /// When the container started: the start period runs from here.
    pub started_at: Time,
    /// When the latest probe finished; the next one is scheduled from here.
    pub last_probe_at: Option<Time>,
}

impl HealthState {
    /// The state of a container that just started.
    pub fn new(started_at: Time) -> HealthState {
        HealthState {
            status: HealthStatus::Starting,
            failing_streak: 0,
            started_at,
            last_probe_at: None,
        }
    }
}

/// How a probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProbeResult {
    Success,
    /// The command exited non-zero.
    Failure,
    /// The command outlived `timeout` (and was killed): a failure.
    Timeout,
}

/// A status change worth an `events` line (and, for `BecameUnhealthy`, a replacement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthEvent {
    Unchanged,
    BecameHealthy,
    BecameUnhealthy,
}

/// Whether `at` falls in the start period of a replica that was never healthy.
fn in_start_period(spec: &HealthSpec, state: &HealthState, at: Time) -> bool {
    state.status == HealthStatus::Starting && at < state.started_at + spec.start_period
}

/// When the next probe should start: `start_interval` after the previous probe
/// during the start period, `interval` after it otherwise.
pub fn next_probe_at(spec: &HealthSpec, state: &HealthState) -> Time {
    let from = state.last_probe_at.unwrap_or(state.started_at);
    if in_start_period(spec, state, from) {
        from + spec.start_interval
    } else {
        from + spec.interval
    }
}

/// When a probe that started at `probe_started` times out.
pub fn probe_deadline(spec: &HealthSpec, probe_started: Time) -> Time {
    probe_started + spec.timeout
}

/// Applies a probe's result, finished at `now`.
pub fn on_probe_result(
    spec: &HealthSpec,
    state: &HealthState,
    result: ProbeResult,
    now: Time,
) -> (HealthState, HealthEvent) {
    let mut next = HealthState {
        last_probe_at: Some(now),
        ..*state
    };
    match result {
        ProbeResult::Success => {
            next.failing_streak = 0;
            next.status = HealthStatus::Healthy;
        }
        ProbeResult::Failure | ProbeResult::Timeout => {
            if !in_start_period(spec, state, now) {
                next.failing_streak = state.failing_streak.saturating_add(1);
                if next.failing_streak >= spec.retries.max(1) {
                    next.status = HealthStatus::Unhealthy;
                }
            }
        }
    }
    let event = match (state.status, next.status) {
        (a, b) if a == b => HealthEvent::Unchanged,
        (_, HealthStatus::Healthy) => HealthEvent::BecameHealthy,
        (_, HealthStatus::Unhealthy) => HealthEvent::BecameUnhealthy,
        _ => HealthEvent::Unchanged,
    };
    (next, event)
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
