//! `run --restart`: Docker's restart policies for one container, and the
//! restart manager's backoff, as pure decisions the monitor acts on.
//! Docker (daemon/restartmanager): the first restart waits 100 ms, each next
//! one twice as long, at most a minute; a run of 10 s or more resets it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub const FIRST_DELAY: Duration = Duration::from_millis(100);
pub const MAX_DELAY: Duration = Duration::from_secs(60);
pub const RESET_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartName {
    #[default]
    No,
    Always,
    OnFailure,
    UnlessStopped,
}

/// `HostConfig.RestartPolicy`: a name and, for on-failure, a retry limit
/// (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RestartPolicy {
    pub name: RestartName,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_retries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RestartPolicy {
    pub fn is_no(&self) -> bool {
        self.name == RestartName::No
    }

    /// Parses `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub fn parse(value: &str) -> Result<RestartPolicy, String> {
        let (name, count) = match value.split_once(':') {
            Some((name, count)) => (name, Some(count)),
            None => (value, None),
        };
        let name = match name {
            "no" | "" => RestartName::No,
            "always" => RestartName::Always,
            "on-failure" => RestartName::OnFailure,
            "unless-stopped" => RestartName::UnlessStopped,
            _ => {
                return Err(format!(
                "invalid --restart \"{value}\": use no, always, on-failure[:N] or unless-stopped"
            ))
            }
        };
        let max_retries = match (name, count) {
            (_, None) => 0,
            (RestartName::OnFailure, Some(n)) => n.parse().map_err(|_| {
                format!(
                    "invalid --restart \"{value}\": the retry count must be a non-negative integer"
                )
            })?,
            (_, Some(_)) => {
                return Err(format!(
                    "invalid --restart \"{value}\": only on-failure takes a retry count"
                ))
            }
        };
        Ok(RestartPolicy { name, max_retries })
    }

    /// Docker's name for it (`HostConfig.RestartPolicy.Name`).
    pub fn docker_name(&self) -> &'static str {
        match self.name {
            RestartName::No => "no",
            RestartName::Always => "always",
            RestartName::OnFailure => "on-failure",
            RestartName::UnlessStopped => "unless-stopped",
        }
    }
}

/// What the monitor knows when its container exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitFacts {
    pub exit_code: i32,
    /// Restarts so far (`RestartCount`).
    pub restarts: u32,
    /// The delay waited before the last restart; None before any.
    pub last_delay: Option<Duration>,
    pub ran_for: Duration,
    /// `stop`, `kill` with the stop signal or SIGKILL, or `rm -f` asked for it.
    pub stop_requested: bool,
}

/// Restart after `delay`, or let the container stay exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    RestartAfter(Duration),
    Stay,
}

pub fn decide(policy: &RestartPolicy, exit: &ExitFacts) -> Decision {
    if exit.stop_requested {
        return Decision::Stay;
    }
    let restart = match policy.name {
        RestartName::No => false,
        RestartName::Always | RestartName::UnlessStopped => true,
        RestartName::OnFailure => {
            exit.exit_code != 0 && (policy.max_retries == 0 || exit.restarts < policy.max_retries)
        }
    };
    if !restart {
        return Decision::Stay;
    }
    let delay = match exit.last_delay {
        Some(prev) if exit.ran_for < RESET_AFTER => (prev * 2).min(MAX_DELAY),
        _ => FIRST_DELAY,
    };
    Decision::RestartAfter(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32, restarts: u32, last_ms: Option<u64>, ran_s: u64) -> ExitFacts {
        ExitFacts {
            exit_code: code,
            restarts,
            last_delay: last_ms.map(Duration::from_millis),
            ran_for: Duration::from_secs(ran_s),
            stop_requested: false,
        }
    }

    fn policy(s: &str) -> RestartPolicy {
        RestartPolicy::parse(s).unwrap()
    }

    #[test]
    fn policies_parse_as_docker_spells_them() {
        assert!(policy("no").is_no());
        assert_eq!(policy("always").name, RestartName::Always);
        assert_eq!(policy("unless-stopped").docker_name(), "unless-stopped");
        assert_eq!(policy("on-failure").max_retries, 0);
        assert_eq!(policy("on-failure:3").max_retries, 3);
        for bad in ["sometimes", "on-failure:x", "on-failure:-1", "always:2"] {
            let e = RestartPolicy::parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn the_backoff_starts_at_100ms_doubles_and_caps_at_a_minute() {
        let p = policy("always");
        assert_eq!(
            decide(&p, &exit(1, 0, None, 0)),
            Decision::RestartAfter(FIRST_DELAY)
        );
        assert_eq!(
            decide(&p, &exit(1, 1, Some(100), 0)),
            Decision::RestartAfter(Duration::from_millis(200))
        );
        assert_eq!(
            decide(&p, &exit(1, 9, Some(40_000), 0)),
            Decision::RestartAfter(MAX_DELAY)
        );
    }

    #[test]
    fn a_run_of_ten_seconds_resets_the_backoff() {
        let p = policy("always");
        assert_eq!(
            decide(&p, &exit(0, 5, Some(3200), 10)),
            Decision::RestartAfter(FIRST_DELAY)
        );
        assert_eq!(
            decide(&p, &exit(0, 5, Some(3200), 9)),
            Decision::RestartAfter(Duration::from_millis(6400))
        );
    }

    #[test]
    fn on_failure_restarts_failures_only_and_up_to_n_times() {
        let p = policy("on-failure:2");
        assert_eq!(decide(&p, &exit(0, 0, None, 0)), Decision::Stay);
        assert!(matches!(
            decide(&p, &exit(3, 1, Some(100), 0)),
            Decision::RestartAfter(_)
        ));
        assert_eq!(decide(&p, &exit(3, 2, Some(200), 0)), Decision::Stay);
        assert!(matches!(
            decide(&policy("on-failure"), &exit(3, 1000, Some(100), 0)),
            Decision::RestartAfter(_)
        ));
    }

    #[test]
    fn no_policy_or_a_requested_stop_never_restarts() {
        assert_eq!(decide(&policy("no"), &exit(1, 0, None, 0)), Decision::Stay);
        for p in ["always", "unless-stopped", "on-failure"] {
            let stopped = ExitFacts {
                stop_requested: true,
                ..exit(137, 0, None, 0)
            };
            assert_eq!(decide(&policy(p), &stopped), Decision::Stay, "{p}");
        }
    }
}
