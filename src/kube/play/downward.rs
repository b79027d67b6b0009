//! `env[].valueFrom.fieldRef` and `resourceFieldRef`: the downward API
//! values the kubelet gives. What the manifest fixes (namespace, a Pod's
//! name, resources) is written now; what exists only once the replica runs
//! (a workload pod's name, its IP, the node) is left to the runtime (see
//! [`crate::container::downward`]).

use serde_json::Value;

use super::docs::Doc;
use super::walk::PlayError;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

/// An environment value from the downward API.
#[derive(Debug, PartialEq)]
pub enum Field {
    Text(String),
    /// One of [`crate::container::downward::FIELDS`], filled at start.
    AtStart(&'static str),
}

pub fn field_ref(doc: &Doc, f: &Value, at: &KeyPath, out: &mut Out) -> Result<Field> {
    doc.fields(f, at, &["fieldPath", "apiVersion"], &[], out)?;
    let path = doc.required_str(f, at, "fieldPath")?;
    match path {
        // A bare Pod's name is its own; a workload's pods are its replicas.
        "metadata.name" if doc.kind == "Pod" => Ok(Field::Text(doc.name.clone())),
        "metadata.name" => Ok(Field::AtStart("metadata.name")),
        "metadata.namespace" => {
            let ns = doc.value.pointer("/metadata/namespace").and_then(Value::as_str);
            Ok(Field::Text(ns.unwrap_or("default").to_string()))
        }
        "status.podIP" => Ok(Field::AtStart("status.podIP")),
        "spec.nodeName" => Ok(Field::AtStart("spec.nodeName")),
        other => Err(doc.err(
            &at.key("fieldPath"),
            format!(
                "{other}: not given here (metadata.name, metadata.namespace, status.podIP and spec.nodeName are)"
            ),
        )),
    }
}

/// A container's own limit or request, divided by `divisor` and rounded up
/// as the kubelet does (CPU in cores or millicores, memory in bytes or a unit).
pub fn resource_field_ref(
    doc: &Doc,
    c: &Value,
    r: &Value,
    at: &KeyPath,
    out: &mut Out,
) -> Result<String> {
    doc.fields(r, at, &["resource", "containerName", "divisor"], &[], out)?;
    if let Some(name) = doc.str(r, at, "containerName")? {
        if Some(name) != c.get("name").and_then(Value::as_str) {
            let message = format!("{name}: only the container's own resources are given here");
            return Err(doc.err(&at.key("containerName"), message));
        }
    }
    let resource = doc.required_str(r, at, "resource")?;
    let Some((kind, what)) = resource
        .split_once('.')
        .filter(|(k, w)| ["limits", "requests"].contains(k) && ["cpu", "memory"].contains(w))
    else {
        let message = format!(
            "{resource}: expected limits.cpu, limits.memory, requests.cpu or requests.memory"
        );
        return Err(doc.err(&at.key("resource"), message));
    };
    let quantity = |k: &str| {
        c.pointer(&format!("/resources/{k}/{what}")).and_then(|q| {
            q.as_str()
                .map(str::to_string)
                .or_else(|| Some(q.to_string()))
        })
    };
    // The API server defaults a missing request to the limit; no limit
    // means the node's allocatable, which rcorch does not compute.
    let set = match kind {
        "requests" => quantity("requests").or_else(|| quantity("limits")),
        _ => quantity("limits"),
    };
    let divisor = match doc.get(r, "divisor") {
        None => "1".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let bad_divisor = || {
        doc.err(
            &at.key("divisor"),
            format!("{divisor:?} is not a {what} quantity"),
        )
    };
    let value = match (what, set) {
        ("cpu", q) => {
            let d = super::quantity::cpus(&divisor)
                .filter(|d| *d > 0.0)
                .ok_or_else(bad_divisor)?;
            let cores = match q {
                Some(q) => super::quantity::cpus(&q),
                None if kind == "requests" => Some(0.0),
                None => None,
            };
            cores.map(|v| ((v * 1000.0).round() / (d * 1000.0)).ceil() as u64)
        }
        (_, q) => {
            let d = super::quantity::bytes(&divisor)
                .filter(|d| *d > 0)
                .ok_or_else(bad_divisor)?;
            let bytes = match q {
                Some(q) => super::quantity::bytes(&q),
                None if kind == "requests" => Some(0),
                None => None,
            };
            bytes.map(|b| b.div_ceil(d))
        }
    };
    value.map(|v| v.to_string()).ok_or_else(|| {
        let message = format!(
            "the container sets no {resource}: the kubelet would give the node's allocatable, not computed here"
        );
        doc.err(&at.key("resource"), message)
    })
}
