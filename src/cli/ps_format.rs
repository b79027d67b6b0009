//! `ps --format TEMPLATE` and `ps --filter`: each container as Docker's
//! field names, and Docker's filter keys over them.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::containers::{ago, status_text};
use super::format::field;
use super::netview::NetView;
use crate::container::store::Record;
use crate::container::Status;
use crate::project::{LABEL_PROJECT, LABEL_SERVICE};
use crate::runtime::control::observed_status;
use crate::util::filter::{name_matches, FilterError, Filters};
use crate::util::template::Field;

/// Docker's `ps` fields and headers, plus rcorch's project and service.
/// `Label` (no header) is a map: `{{.Label "com.example.key"}}`.
pub const FIELDS: &[Field] = &[
    field("ID", "CONTAINER ID"),
    field("Image", "IMAGE"),
    field("Command", "COMMAND"),
    field("CreatedAt", "CREATED AT"),
    field("RunningFor", "CREATED"),
    field("Ports", "PORTS"),
    field("State", "STATE"),
    field("Status", "STATUS"),
    field("Size", "SIZE"),
    field("Names", "NAMES"),
    field("Labels", "LABELS"),
    field("Label", ""),
    field("Mounts", "MOUNTS"),
    field("LocalVolumes", "LOCAL VOLUMES"),
    field("Networks", "NETWORKS"),
    field("Project", "PROJECT"),
    field("Service", "SERVICE"),
];

pub const FILTER_KEYS: &[&str] = &[
    "id", "name", "label", "status", "ancestor", "exited", "network", "volume", "before", "since",
    "publish", "health",
];

/// Docker's `health` filter values; `none`: no health check.
const HEALTH_STATES: &[&str] = &["starting", "healthy", "unhealthy", "none"];

const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Docker's lower-case state word.
pub fn state_word(status: Status) -> &'static str {
    match status {
        Status::Created => "created",
        Status::Running => "running",
        Status::Exited => "exited",
    }
}

/// One container as the template sees it; `size`: Docker's SIZE text,
/// computed only when the template asks for it.
pub fn row(r: &Record, net: &NetView, size: Option<String>) -> Value {
    let c = &r.config;
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| match &m.volume {
            Some(v) => v.clone(),
            None => m.source.display().to_string(),
        })
        .collect();
    let label = |k: &str| c.labels.get(k).cloned().unwrap_or_default();
    json!({
        "ID": c.id[..12.min(c.id.len())],
        "Image": c.image,
        "Command": format!("\"{}\"", c.args.join(" ")),
        "CreatedAt": c.created,
        "RunningFor": format!("{} ago", ago(Some(&c.created))),
        "Ports": net.ports(r),
        "State": state_word(observed_status(&r.state)),
        "Status": status_text(r),
        "Size": size.unwrap_or_default(),
        "Names": c.name,
        "Labels": labels.join(","),
        "Label": c.labels,
        "Mounts": mounts.join(","),
        "LocalVolumes": c.mounts.iter().filter(|m| m.volume.is_some()).count().to_string(),
        "Networks": networks(r, net).into_iter().collect::<Vec<_>>().join(","),
        "Project": label(LABEL_PROJECT),
        "Service": label(LABEL_SERVICE),
    })
}

/// The networks a container is on: its own and those it was connected to.
fn networks(r: &Record, net: &NetView) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = net
        .state()
        .endpoints_of(&r.config.id)
        .map(|e| e.network.clone())
        .collect();
    names.insert(r.config.network.name().to_string());
    names
}

/// `publish=PORT[/PROTO]` or `START-END[/PROTO]` (checked by `parse`): a
/// container port the container publishes (Docker matches the private port).
fn publishes(r: &Record, net: &NetView, spec: &str) -> bool {
    let (range, proto) = spec.split_once('/').unwrap_or((spec, ""));
    let (low, high) = range.split_once('-').unwrap_or((range, range));
    let (Ok(low), Ok(high)) = (low.parse::<u16>(), high.parse::<u16>()) else {
        return false;
    };
    let ports = net
        .state()
        .endpoints_of(&r.config.id)
        .flat_map(|e| &e.ports);
    ports.into_iter().any(|p| {
        (low..=high).contains(&p.container_port)
            && (proto.is_empty() || p.proto.to_string() == proto)
    })
}

/// `ps --filter`, with the references (`before`, `since`, `ancestor`)
/// already looked up by the caller.
pub struct PsFilter {
    pub filters: Filters,
    /// Creation times of the `before` / `since` containers.
    pub before: Option<String>,
    pub since: Option<String>,
    /// Image ids the `ancestor` values name.
    pub ancestor_ids: Vec<String>,
}

impl PsFilter {
    pub fn parse(args: &[String]) -> Result<Filters, FilterError> {
        let filters = Filters::parse(args, "ps", FILTER_KEYS)?;
        filters.check_values("status", STATUSES)?;
        filters.check_values("health", HEALTH_STATES)?;
        if let Some(bad) = filters
            .values("exited")
            .iter()
            .find(|v| v.parse::<i32>().is_err())
        {
            return Err(FilterError::Value {
                key: "exited".into(),
                value: bad.clone(),
                expected: "expected an exit code".into(),
            });
        }
        let port = |p: &str| p.parse::<u16>().is_ok();
        let bad_port = filters.values("publish").iter().find(|v| {
            let (range, proto) = v.split_once('/').unwrap_or((v, "tcp"));
            let (low, high) = range.split_once('-').unwrap_or((range, range));
            !(port(low) && port(high) && ["tcp", "udp"].contains(&proto))
        });
        if let Some(bad) = bad_port {
            return Err(FilterError::Value {
                key: "publish".into(),
                value: bad.clone(),
                expected: "expected PORT[/tcp|udp] or START-END[/tcp|udp]".into(),
            });
        }
        Ok(filters)
    }

    /// `status` and `exited` look at stopped containers even without `-a`,
    /// as in Docker.
    pub fn wants_all(&self) -> bool {
        self.filters.contains("status") || self.filters.contains("exited")
    }

    /// `state`: Docker's state word (`restarting` and `paused` included);
    /// `health`: the container's health word (`none` without a check).
    pub fn matches(&self, r: &Record, net: &NetView, state: &str, health: &str) -> bool {
        let (c, f) = (&r.config, &self.filters);
        let status = observed_status(&r.state);
        f.any("id", |v| c.id.starts_with(v))
            && f.any("name", |v| name_matches(v, &c.name))
            && f.labels_match(&c.labels)
            && f.any("status", |v| v == state)
            && f.any("exited", |v| {
                status == Status::Exited && r.state.exit_code == v.parse().ok()
            })
            && f.any("ancestor", |v| {
                c.image == v
                    || c.image == format!("{v}:latest")
                    || self.ancestor_ids.contains(&c.image_id)
            })
            && f.any("network", |v| networks(r, net).contains(v))
            && f.any("volume", |v| {
                c.mounts.iter().any(|m| {
                    m.volume.as_deref() == Some(v)
                        || m.source.as_os_str() == v
                        || m.destination.as_os_str() == v
                })
            })
            && f.any("publish", |v| publishes(r, net, v))
            && f.any("health", |v| v == health)
            && self.before.as_ref().is_none_or(|t| c.created < *t)
            && self.since.as_ref().is_none_or(|t| c.created > *t)
    }
}

#[cfg(test)]
mod tests {
    use super::PsFilter;

    #[test]
    fn health_filter_takes_dockers_words_only() {
        let parse = |v: &str| PsFilter::parse(&[format!("health={v}")]);
        for ok in ["starting", "healthy", "unhealthy", "none"] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        let err = parse("sick").unwrap_err().to_string();
        assert!(err.contains("sick") && err.contains("unhealthy"), "{err}");
    }
}
