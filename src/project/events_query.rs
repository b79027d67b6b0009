//! `events --filter K=V --since T --until T --format F`: which recorded
//! events to show and how, as pure functions. Each event is seen as
//! Docker's event message (`Type`, `Action`, `Actor.ID`,
//! `Actor.Attributes`, `time`, `timeNano`), so `--format '{{json .}}'` and
//! templates written for `docker events` work.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::events::Event;
use crate::util::template::{Template, TemplateError};
use crate::util::time::{parse_go_duration, parse_rfc3339};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("invalid filter {value:?}: expected KEY=VALUE with KEY one of {}", FILTER_KEYS.join(", "))]
    BadFilter { value: String },
    #[error("invalid filter key {key:?}: rcorch events filters by {}", FILTER_KEYS.join(", "))]
    UnknownKey { key: String },
    #[error(
        "invalid --{flag} {value:?}: expected an RFC 3339 time (2026-12-06T22:00:00Z), \
         Unix seconds (1765058400), or a duration before now (10m, 1h30m)"
    )]
    BadTime { flag: &'static str, value: String },
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// Docker's filter keys rcorch's events have.
pub const FILTER_KEYS: [&str; 5] = ["type", "container", "service", "event", "project"];

/// Values per key: an event must match one value of every key given
/// (OR within a key, AND across keys, as Docker does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    by_key: BTreeMap<&'static str, Vec<String>>,
}

pub fn parse_filters(values: &[String]) -> Result<Filters, QueryError> {
    let mut filters = Filters::default();
    for value in values {
        let (key, wanted) = value
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| QueryError::BadFilter {
                value: value.clone(),
            })?;
        let key = FILTER_KEYS
            .into_iter()
            .find(|k| *k == key)
            .ok_or_else(|| QueryError::UnknownKey { key: key.into() })?;
        filters
            .by_key
            .entry(key)
            .or_default()
            .push(wanted.to_string());
    }
    Ok(filters)
}

impl Filters {
    pub fn matches(&self, message: &Value) -> bool {
        let attr = |k: &str| message["Actor"]["Attributes"][k].as_str().unwrap_or("");
        self.by_key.iter().all(|(key, wanted)| {
            wanted.iter().any(|w| match *key {
                "type" => message["Type"] == w.as_str(),
                "event" => action_matches(message["Action"].as_str().unwrap_or(""), w),
                "service" => attr("com.docker.compose.service") == w,
                "project" => attr("com.docker.compose.project") == w,
                // An id prefix (at least what the event holds) or the name.
                "container" => {
                    let id = message["Actor"]["ID"].as_str().unwrap_or("");
                    (!id.is_empty() && (w.starts_with(id) || id.starts_with(w.as_str())))
                        || attr("name") == w
                }
                _ => false,
            })
        })
    }
}

/// Docker's rule: `health_status`, `exec_create` and `exec_start` also
/// match the actions that carry a detail (`health_status: healthy`).
fn action_matches(action: &str, wanted: &str) -> bool {
    const PREFIXED: [&str; 4] = ["health_status", "exec_create", "exec_start", "exec_die"];
    action == wanted
        || (PREFIXED.contains(&wanted)
            && action
                .strip_prefix(wanted)
                .is_some_and(|rest| rest.starts_with(':')))
}

/// Whether a message's `timeNano` falls in `[since, until]`.
pub fn in_window(message: &Value, window: (Option<SystemTime>, Option<SystemTime>)) -> bool {
    let t = UNIX_EPOCH + Duration::from_nanos(message["timeNano"].as_u64().unwrap_or(0));
    window.0.is_none_or(|s| t >= s) && window.1.is_none_or(|u| t <= u)
}

/// Docker's default line: `TIME TYPE ACTION ID (key=value, ...)`, the
/// attributes sorted by key.
pub fn docker_line(message: &Value) -> String {
    let nanos = message["timeNano"].as_u64().unwrap_or(0);
    let time = crate::util::time::format_rfc3339(UNIX_EPOCH + Duration::from_nanos(nanos));
    let attributes: Vec<String> = message["Actor"]["Attributes"]
        .as_object()
        .map(|a| {
            a.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{time} {} {} {} ({})",
        message["Type"].as_str().unwrap_or_default(),
        message["Action"].as_str().unwrap_or_default(),
        message["Actor"]["ID"].as_str().unwrap_or_default(),
        attributes.join(", ")
    )
}

/// One message as `output` prints it; `line` is the plain-text form.
pub fn render(
    message: &Value,
    line: impl FnOnce() -> String,
    output: &Output,
) -> Result<String, TemplateError> {
    match output {
        Output::Lines => Ok(line()),
        Output::Json => Ok(message.to_string()),
        Output::Template(t) => t.execute(message),
    }
}

/// `--since`/`--until`: RFC 3339, Unix seconds (fraction allowed), or a
/// Go duration counted back from `now` (Docker's three forms).
pub fn parse_time(
    flag: &'static str,
    text: &str,
    now: SystemTime,
) -> Result<SystemTime, QueryError> {
    let bad = || QueryError::BadTime {
        flag,
        value: text.to_string(),
    };
    if let Some(t) = parse_rfc3339(text) {
        return Ok(t);
    }
    if let Ok(secs) = text.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite())
            .then(|| UNIX_EPOCH + Duration::from_secs_f64(secs))
            .ok_or_else(bad);
    }
    let ago = parse_go_duration(text).ok_or_else(bad)?;
    now.checked_sub(ago).ok_or_else(bad)
}

/// Runtime-level actions (a container's lifecycle, Docker's `container`
/// events, with Docker's names); every other one is a supervisor decision.
fn container_action(action: &str) -> Option<&'static str> {
    Some(match action {
        "start" => "start",
        "exited" => "die",
        "oom" => "oom",
        "stop" => "stop",
        "remove" => "destroy",
        _ => return None,
    })
}

/// The Docker event message for `event` of `project`.
pub fn message(event: &Event, project: &str) -> Value {
    let (kind, action) = match container_action(&event.action) {
        Some(a) => ("container", a.to_string()),
        None => ("service", event.action.clone()),
    };
    let mut attributes = BTreeMap::from([
        ("com.docker.compose.project", project.to_string()),
        ("com.docker.compose.service", event.service.clone()),
    ]);
    if event.slot > 0 {
        let name = match event.name.as_str() {
            "" => crate::supervisor::spec::replica_name(project, &event.service, event.slot),
            known => known.to_string(),
        };
        attributes.insert("name", name);
        attributes.insert(
            "com.docker.compose.container-number",
            event.slot.to_string(),
        );
    }
    if let Some(code) = event.detail.strip_prefix("code ") {
        let code = code.split_whitespace().next().unwrap_or(code);
        attributes.insert("exitCode", code.to_string());
    }
    if !event.detail.is_empty() {
        attributes.insert("detail", event.detail.clone());
    }
    let nanos = parse_rfc3339(&event.time)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    json!({
        "Type": kind,
        "Action": action,
        "Actor": {"ID": event.container, "Attributes": attributes},
        "scope": "local",
        "time": nanos.as_secs(),
        "timeNano": nanos.as_nanos() as u64,
    })
}

/// How each event is printed.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// rcorch's line (`TIME service-slot action container detail`).
    Lines,
    /// One Docker message per line.
    Json,
    Template(Template),
}

pub fn parse_format(text: Option<&str>) -> Result<Output, QueryError> {
    Ok(match text {
        None => Output::Lines,
        Some("json") => Output::Json,
        // `\t` and `\n` as typed on a shell line, as in Docker.
        Some(t) => Output::Template(Template::parse(
            &t.replace("\\t", "\t").replace("\\n", "\n"),
        )?),
    })
}

/// The events of `project` to print, in order, under `filters` and the
/// `[since, until]` window, each rendered as `output` says; a template
/// that fails on an event (an unknown field) is the error, as in Docker.
pub fn select(
    events: &[Event],
    project: &str,
    filters: &Filters,
    window: (Option<SystemTime>, Option<SystemTime>),
    output: &Output,
) -> Result<Vec<String>, TemplateError> {
    let in_window = |e: &Event| {
        let Some(t) = parse_rfc3339(&e.time) else {
            return window == (None, None);
        };
        window.0.is_none_or(|s| t >= s) && window.1.is_none_or(|u| t <= u)
    };
    events
        .iter()
        .filter(|e| in_window(e))
        .filter_map(|e| {
            let m = message(e, project);
            filters.matches(&m).then(|| match output {
                Output::Lines => Ok(e.line()),
                Output::Json => Ok(m.to_string()),
                Output::Template(t) => t.execute(&m),
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "events_query_tests.rs"]
mod tests;
