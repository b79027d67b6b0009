//! `ps --format TEMPLATE`: each container as Docker's field names, rendered
//! by the template subset of `util::template`.

use serde_json::{json, Value};

use super::containers::{ago, status_text};
use super::netview::NetView;
use crate::container::store::Record;
use crate::project::{LABEL_PROJECT, LABEL_SERVICE};
use crate::runtime::control::observed_status;
use crate::util::template::{Field, Template, TemplateError};

const fn field(name: &'static str, header: &'static str) -> Field {
    Field { name, header }
}

/// Docker's `ps` fields and headers, plus rcorch's project and service.
pub const FIELDS: &[Field] = &[
    field("ID", "CONTAINER ID"),
    field("Image", "IMAGE"),
    field("Command", "COMMAND"),
    field("CreatedAt", "CREATED AT"),
    field("RunningFor", "CREATED"),
    field("Ports", "PORTS"),
    field("State", "STATE"),
    field("Status", "STATUS"),
    field("Names", "NAMES"),
    field("Labels", "LABELS"),
    field("Mounts", "MOUNTS"),
    field("Networks", "NETWORKS"),
    field("Project", "PROJECT"),
    field("Service", "SERVICE"),
];

pub fn parse(text: &str) -> Result<Template, TemplateError> {
    Template::parse(text, FIELDS)
}

/// One container as the template sees it.
pub fn row(r: &Record, net: &NetView) -> Value {
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
        "State": format!("{:?}", observed_status(&r.state)).to_lowercase(),
        "Status": status_text(r),
        "Names": c.name,
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": c.network.name(),
        "Project": label(LABEL_PROJECT),
        "Service": label(LABEL_SERVICE),
    })
}
