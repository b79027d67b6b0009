//! Restart policies and Docker's restart backoff, as pure decisions.
//!
//! `decide_restart` reads a history value and returns a decision; the shell
//! records what it did with `record_start`/`record_exit`, which return new values.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::time::Time;

/// Errors from parsing a compose `restart:` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RestartError {
    /// Not one of the four policies Docker knows.
    #[error(
        "invalid restart policy {value:?}: expected no, always, on-failure[:N] or unless-stopped"
    )]
    UnknownPolicy { value: String },
    /// `on-failure:N` with an N that is not a non-negative integer.
    #[error(
        "invalid restart policy {value:?}: the maximum retry count must be a non-negative integer"
    )]
    BadRetryCount { value: String },
}

/// Docker's backoff: 100 ms doubling to 60 s, reset once a run lasts 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// The first restart after a healthy run: immediate, so one crash costs
    /// almost nothing (Kubernetes restarts immediately too); a crash loop
    /// then backs off from `base`.
    pub first: Duration,
    pub base: Duration,
    pub cap: Duration,
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::ZERO,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(60),
            reset_after: Duration::from_secs(10),
        }
    }
}

/// `deploy.restart_policy.condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeployCondition {
    None,
    OnFailure,
    Any,
}

/// `deploy.restart_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRestart {
    pub condition: DeployCondition,
    /// Replaces the backoff base when given.
    pub delay: Option<Duration>,
    pub max_attempts: Option<u32>,
    /// Only restarts within this window count toward `max_attempts`.
    pub window: Option<Duration>,
}

/// Which exits are restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RestartRule {
    #[default]
    No,
    Always,
    OnFailure {
        max_retries: Option<u32>,
    },
    /// Same as `Always` here: the supervisor follows the desired state, so a
    /// user's `stop` is never undone (Docker's only difference is at daemon start).
    UnlessStopped,
    Deploy(DeployRestart),
}

/// A service's restart rule and the backoff it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RestartPolicy {
    pub rule: RestartRule,
    pub backoff: Backoff,
}

impl RestartPolicy {
    pub fn new(rule: RestartRule) -> RestartPolicy {
        RestartPolicy {
            rule,
            backoff: Backoff::default(),
        }
    }

    /// Parses compose's `restart:` (`no`, `always`, `on-failure[:N]`, `unless-stopped`).
    pub fn parse(value: &str) -> Result<RestartPolicy, RestartError> {
        let rule = match value {
            "no" | "" => RestartRule::No,
            "always" => RestartRule::Always,
            "unless-stopped" => RestartRule::UnlessStopped,
            "on-failure" => RestartRule::OnFailure { max_retries: None },
            _ => match value.strip_prefix("on-failure:") {
                Some(n) => RestartRule::OnFailure {
                    max_retries: Some(n.parse().map_err(|_| RestartError::BadRetryCount {
                        value: value.to_string(),
                    })?),
                },
                None => {
                    return Err(RestartError::UnknownPolicy {
                        value: value.to_string(),
                    })
                }
            },
        };
        Ok(RestartPolicy::new(rule))
    }

    /// Whether any failure would ever be restarted (unhealthy replicas are replaced only then).
    pub fn restarts_failures(&self) -> bool {
        !matches!(
            self.rule,
            RestartRule::No
                | RestartRule::Deploy(DeployRestart {
                    condition: DeployCondition::None,
                    ..
                })
        )
    }
}

/// Why a container stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitCause {
    /// Its process exited (or was killed) on its own.
    Exited,
    /// The supervisor stopped it because it was unhealthy: a failure whatever the code.
    StoppedUnhealthy,
    /// Stopped on purpose (user, scale down, update): never restarted by policy.
    StoppedOnRequest,
}

/// How and when a container exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    pub code: i32,
    pub at: Time,
    pub cause: ExitCause,
}

impl ExitInfo {
    pub fn failed(&self) -> bool {
        self.code != 0 || self.cause == ExitCause::StoppedUnhealthy
    }
}

/// Restarts of one slot so far.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RestartHistory {
    /// Restarts since the slot was last started by hand (what `ps` shows).
    pub count: u32,
    /// The backoff delay used before the latest restart; `None` before any.
    pub last_delay: Option<Duration>,
    pub last_start: Option<Time>,
    pub last_exit: Option<ExitInfo>,
    /// Times of recent restarts, for `deploy.restart_policy.window`.
    pub recent: Vec<Time>,
}

/// How a start came about, for `record_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartKind {
    /// First start, `start`, or a new container: resets the count and the backoff.
    Fresh,
    /// A policy restart that waited `delay`.
    Restart { delay: Duration },
}

/// Why the policy stops restarting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GiveUpReason {
    /// `on-failure:N` reached N retries.
    MaxRetries { max: u32 },
    /// `deploy.restart_policy.max_attempts` reached (within the window, if any).
    MaxAttempts { max: u32 },
}

/// The outcome of `decide_restart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartDecision {
    /// Restart at `at`, after a backoff of `delay` from the exit.
    RestartAt {
        at: Time,
        delay: Duration,
    },
    GiveUp(GiveUpReason),
    NoRestart,
}

/// Records a start: returns the new history.
pub fn record_start(history: &RestartHistory, at: Time, kind: StartKind) -> RestartHistory {
    match kind {
        StartKind::Fresh => RestartHistory {
            last_start: Some(at),
            ..RestartHistory::default()
        },
        StartKind::Restart { delay } => {
            let mut recent = history.recent.clone();
            recent.push(at);
            // Bounded: max_attempts is small in practice and the window prunes the rest.
            if recent.len() > 64 {
                recent.remove(0);
            }
            RestartHistory {
                count: history.count.saturating_add(1),
                last_delay: Some(delay),
                last_start: Some(at),
                last_exit: history.last_exit,
                recent,
            }
        }
    }
}

/// Records an exit: returns the new history.
pub fn record_exit(history: &RestartHistory, exit: ExitInfo) -> RestartHistory {
    RestartHistory {
        last_exit: Some(exit),
        ..history.clone()
    }
}

/// Decides whether and when to restart after `exit`. Pure: `now` is only
/// used to count restarts within `deploy.restart_policy.window`.
pub fn decide_restart(
    policy: &RestartPolicy,
    history: &RestartHistory,
    exit: &ExitInfo,
    now: Time,
) -> RestartDecision {
    if exit.cause == ExitCause::StoppedOnRequest {
        return RestartDecision::NoRestart;
    }
    let base = match policy.rule {
        RestartRule::No => return RestartDecision::NoRestart,
        RestartRule::Always | RestartRule::UnlessStopped => policy.backoff.base,
        RestartRule::OnFailure { max_retries } => {
            if !exit.failed() {
                return RestartDecision::NoRestart;
            }
            if let Some(max) = max_retries.filter(|max| history.count >= *max) {
                return RestartDecision::GiveUp(GiveUpReason::MaxRetries { max });
            }
            policy.backoff.base
        }
        RestartRule::Deploy(deploy) => {
            match deploy.condition {
                DeployCondition::None => return RestartDecision::NoRestart,
                DeployCondition::OnFailure if !exit.failed() => return RestartDecision::NoRestart,
                _ => {}
            }
            if let Some(max) = deploy.max_attempts {
                if attempts(history, deploy.window, now) >= max {
                    return RestartDecision::GiveUp(GiveUpReason::MaxAttempts { max });
                }
            }
            // Swarm's restart delay applies to every restart, the first too.
            let delay = deploy.delay.unwrap_or(policy.backoff.base);
            let backoff = Backoff {
                first: delay,
                ..policy.backoff
            };
            return restart_at(next_delay(&backoff, delay, history, exit), exit);
        }
    };
    restart_at(next_delay(&policy.backoff, base, history, exit), exit)
}

fn restart_at(delay: Duration, exit: &ExitInfo) -> RestartDecision {
    RestartDecision::RestartAt {
        at: exit.at + delay,
        delay,
    }
}

/// Doubles the previous delay, capped, unless the last run lasted long enough to reset.
fn next_delay(
    backoff: &Backoff,
    base: Duration,
    history: &RestartHistory,
    exit: &ExitInfo,
) -> Duration {
    let ran_long = history
        .last_start
        .is_some_and(|start| exit.at.since(start) >= backoff.reset_after);
    match history.last_delay {
        Some(prev) if !ran_long && prev.is_zero() => base,
        Some(prev) if !ran_long => prev.saturating_mul(2).min(backoff.cap.max(base)),
        _ => backoff.first,
    }
}

/// Restarts that count toward `max_attempts`: all of them, or those within the window.
fn attempts(history: &RestartHistory, window: Option<Duration>, now: Time) -> u32 {
    match window {
        None => history.count,
        Some(w) => {
            let n = history.recent.iter().filter(|t| now.since(**t) < w).count();
            u32::try_from(n).unwrap_or(u32::MAX)
        }
    }
}

#[cfg(test)]
#[path = "restart_tests.rs"]
mod tests;
