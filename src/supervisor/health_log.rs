//! What `inspect` shows as `State.Health`: the status, the failing streak and
//! the last five probe results, as Docker keeps them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::health::{HealthState, HealthStatus};

/// Docker keeps this many probe results.
pub const LOG_ENTRIES: usize = 5;
/// Docker keeps this much of a probe's output (stdout and stderr together).
pub const MAX_OUTPUT: usize = 4096;

/// One probe's result, in Docker's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeLog {
    /// RFC 3339 wall-clock times.
    pub start: String,
    pub end: String,
    /// The command's exit code; -1 when it timed out.
    pub exit_code: i32,
    pub output: String,
}

/// One replica's `State.Health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthReport {
    pub status: HealthStatus,
    pub failing_streak: u32,
    pub log: Vec<ProbeLog>,
}

impl HealthReport {
    /// A replica with a check that has not reported yet.
    pub fn starting() -> HealthReport {
        HealthReport {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// The report after a probe: the state machine's status and streak, the
    /// log with `entry` appended and the oldest dropped beyond five.
    pub fn after_probe(&self, state: &HealthState, entry: ProbeLog) -> HealthReport {
        let mut log = self.log.clone();
        log.push(entry);
        let excess = log.len().saturating_sub(LOG_ENTRIES);
        log.drain(..excess);
        HealthReport {
            status: state.status,
            failing_streak: state.failing_streak,
            log,
        }
    }
}

/// Docker's status words: "starting", "healthy", "unhealthy".
pub fn status_word(status: HealthStatus) -> &'static str {
    match status {
        HealthStatus::Starting => "starting",
        HealthStatus::Healthy => "healthy",
        HealthStatus::Unhealthy => "unhealthy",
    }
}

/// A probe's output as Docker keeps it: the first 4096 bytes, cut on a
/// character boundary, invalid UTF-8 replaced.
pub fn probe_output(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_OUTPUT)]);
    let mut text = text.into_owned();
    while text.len() > MAX_OUTPUT {
        text.pop();
    }
    text
}

/// Docker's output for a probe killed at its timeout.
pub fn timeout_output(timeout: Duration) -> String {
    format!("Health check exceeded timeout ({})", go_duration(timeout))
}

/// Go's `time.Duration` text for the values a timeout takes: "2s", "1.5s",
/// "300ms", "1m30s".
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (minutes, rest) = (ms / 60_000, ms % 60_000);
    let seconds = if rest % 1000 == 0 {
        format!("{}s", rest / 1000)
    } else {
        let text = format!("{}.{:03}", rest / 1000, rest % 1000);
        format!("{}s", text.trim_end_matches('0'))
    };
    match minutes {
        0 => seconds,
        m => format!("{m}m{seconds}"),
    }
}

#[cfg(test)]
#[path = "health_log_tests.rs"]
mod tests;
