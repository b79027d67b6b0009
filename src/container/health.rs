//! A plain container's health check: `run --health-*` merged over the
//! image's HEALTHCHECK, field by field, as Docker's daemon does.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::supervisor::health::HealthSpec;
use crate::util::time::parse_go_duration;

/// The `run` flags, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthRequest {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub disabled: bool,
}

/// The check a container runs: its argv (run inside it, as `exec` does)
/// and its timings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    pub argv: Vec<String>,
    pub spec: HealthSpec,
    /// Docker's `Config.Healthcheck.Test` (`CMD-SHELL ...` or `CMD ...`).
    pub test: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HealthError {
    #[error("--no-healthcheck conflicts with --health-* options: give one or the other")]
    Conflict,
    #[error("invalid --health-{flag} {value:?}: expected a duration of at least 1ms such as 30s, 1m30s or 500ms")]
    Duration { flag: &'static str, value: String },
    #[error("invalid --health-retries {0:?}: expected a number of 0 or more")]
    Retries(String),
    #[error(
        "--health-cmd is empty: give the command to run, e.g. --health-cmd 'wget -q -O- localhost'"
    )]
    EmptyCommand,
}

/// User's flags (each given one wins) over the image's `Healthcheck`
/// (Docker's JSON: `Test`, durations in ns); None when neither has a
/// check, or the flags or image say NONE.
pub fn resolve(
    req: &HealthRequest,
    image: Option<&Value>,
) -> Result<Option<HealthConfig>, HealthError> {
    let given = req.cmd.is_some()
        || req.interval.is_some()
        || req.timeout.is_some()
        || req.retries.is_some()
        || req.start_period.is_some()
        || req.start_interval.is_some();
    if req.disabled {
        return if given {
            Err(HealthError::Conflict)
        } else {
            Ok(None)
        };
    }
    let image = image.cloned().unwrap_or(Value::Null);
    let test = match &req.cmd {
        Some(cmd) if cmd.trim().is_empty() => return Err(HealthError::EmptyCommand),
        Some(cmd) => vec!["CMD-SHELL".to_string(), cmd.clone()],
        None => image["Test"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let Some(argv) = argv_of(&test) else {
        return Ok(None);
    };
    let defaults = HealthSpec::default();
    let pick = |flag, text: &Option<String>, key: &str, default: Duration| match text {
        Some(t) => flag_duration(flag, t),
        None => Ok(image_duration(&image, key).unwrap_or(default)),
    };
    let retries = match &req.retries {
        Some(t) => t
            .trim()
            .parse::<u32>()
            .map_err(|_| HealthError::Retries(t.clone()))?,
        None => image["Retries"].as_u64().unwrap_or(0) as u32,
    };
    let spec = HealthSpec {
        interval: pick("interval", &req.interval, "Interval", defaults.interval)?,
        timeout: pick("timeout", &req.timeout, "Timeout", defaults.timeout)?,
        start_period: pick(
            "start-period",
            &req.start_period,
            "StartPeriod",
            defaults.start_period,
        )?,
        start_interval: pick(
            "start-interval",
            &req.start_interval,
            "StartInterval",
            defaults.start_interval,
        )?,
        // 0 means "the default", as in Docker.
        retries: if retries == 0 {
            defaults.retries
        } else {
            retries
        },
    };
    Ok(Some(HealthConfig { argv, spec, test }))
}

/// `CMD-SHELL line` runs under /bin/sh -c, `CMD argv...` as is; `NONE`
/// or an empty test is no check.
fn argv_of(test: &[String]) -> Option<Vec<String>> {
    match test.split_first()? {
        (kind, [line]) if kind == "CMD-SHELL" => {
            Some(vec!["/bin/sh".into(), "-c".into(), line.clone()])
        }
        (kind, argv) if kind == "CMD" && !argv.is_empty() => Some(argv.to_vec()),
        _ => None,
    }
}

/// A flag's Go duration; 0 is "the default" as in Docker, else at least 1ms.
fn flag_duration(flag: &'static str, text: &str) -> Result<Duration, HealthError> {
    let bad = || HealthError::Duration {
        flag,
        value: text.to_string(),
    };
    let d = parse_go_duration(text).ok_or_else(bad)?;
    if d.is_zero() {
        return Ok(default_of(flag));
    }
    if d < Duration::from_millis(1) {
        return Err(bad());
    }
    Ok(d)
}

fn default_of(flag: &str) -> Duration {
    let d = HealthSpec::default();
    match flag {
        "interval" => d.interval,
        "timeout" => d.timeout,
        "start-interval" => d.start_interval,
        _ => Duration::ZERO,
    }
}

fn image_duration(image: &Value, key: &str) -> Option<Duration> {
    image[key]
        .as_u64()
        .filter(|n| *n > 0)
        .map(Duration::from_nanos)
}

/// `Config.Healthcheck` as `docker inspect` shows it.
pub fn docker_json(h: &HealthConfig) -> Value {
    let ns = |d: Duration| d.as_nanos() as u64;
    json!({
        "Test": h.test,
        "Interval": ns(h.spec.interval),
        "Timeout": ns(h.spec.timeout),
        "StartPeriod": ns(h.spec.start_period),
        "StartInterval": ns(h.spec.start_interval),
        "Retries": h.spec.retries,
    })
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
