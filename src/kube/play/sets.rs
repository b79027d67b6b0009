//! StatefulSets and DaemonSets: replicated services like a Deployment's,
//! with what one host makes of their ordering and per-node placement.

use serde_json::{json, Map, Value};

use super::docs::Doc;
use super::walk::PlayError;
use super::workload::insert;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

const HISTORY: (&str, &str) = (
    "revisionHistoryLimit",
    "rcorch keeps its own revision history (rcorch history): ignored",
);
const MIN_READY: (&str, &str) = (
    "minReadySeconds",
    "a replica counts as ready when it runs (or is healthy): ignored",
);

fn replicated(svc: &mut Map<String, Value>, replicas: u32, update: Value) {
    insert(
        svc,
        "deploy",
        json!({"replicas": replicas, "update_config": update}),
    );
    insert(svc, "restart", json!("always"));
}

/// Replicas are numbered (`PROJECT-NAME-N`) but start together; a
/// rolling update replaces one at a time (or `maxUnavailable`), old first.
pub fn stateful_set(
    doc: &Doc,
    spec: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let supported = [
        "replicas",
        "selector",
        "template",
        "serviceName",
        "updateStrategy",
        "podManagementPolicy",
    ];
    doc.fields(spec, at, &supported, &[HISTORY, MIN_READY], out)?;
    let replicas: u32 = doc.uint(spec, at, "replicas")?.unwrap_or(1);
    if doc.str(spec, at, "podManagementPolicy")? != Some("Parallel") {
        let reason =
            "replicas start together, not one by one (OrderedReady): set Parallel to say so";
        doc.warn(out, &at.key("podManagementPolicy"), reason);
    }
    let mut parallelism = 1;
    if let Some(u) = doc.get(spec, "updateStrategy") {
        let u_at = at.key("updateStrategy");
        doc.fields(u, &u_at, &["type", "rollingUpdate"], &[], out)?;
        if doc.str(u, &u_at, "type")? == Some("OnDelete") {
            let message =
                "OnDelete: rcorch replaces replicas when the spec changes (RollingUpdate)";
            return Err(doc.err(&u_at.key("type"), message));
        }
        if let Some(r) = doc.get(u, "rollingUpdate") {
            let r_at = u_at.key("rollingUpdate");
            doc.fields(r, &r_at, &["partition", "maxUnavailable"], &[], out)?;
            if doc.uint::<u32>(r, &r_at, "partition")?.unwrap_or(0) != 0 {
                let message = "a partial rollout is not supported: use 0";
                return Err(doc.err(&r_at.key("partition"), message));
            }
            parallelism = doc.uint(r, &r_at, "maxUnavailable")?.unwrap_or(1);
        }
    }
    let update = json!({"parallelism": parallelism, "order": "stop-first"});
    replicated(svc, replicas, update);
    Ok(())
}

/// One host is one node: a DaemonSet runs one replica.
pub fn daemon_set(
    doc: &Doc,
    spec: &Value,
    at: &KeyPath,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let supported = ["selector", "template", "updateStrategy"];
    doc.fields(spec, at, &supported, &[HISTORY, MIN_READY], out)?;
    let mut order = "stop-first";
    if let Some(u) = doc.get(spec, "updateStrategy") {
        let u_at = at.key("updateStrategy");
        doc.fields(u, &u_at, &["type", "rollingUpdate"], &[], out)?;
        if doc.str(u, &u_at, "type")? == Some("OnDelete") {
            let message =
                "OnDelete: rcorch replaces replicas when the spec changes (RollingUpdate)";
            return Err(doc.err(&u_at.key("type"), message));
        }
        if let Some(r) = doc.get(u, "rollingUpdate") {
            let r_at = u_at.key("rollingUpdate");
            doc.fields(r, &r_at, &["maxSurge", "maxUnavailable"], &[], out)?;
            // The default surge is 0: the old pod goes first.
            let surge = r.get("maxSurge").filter(|s| !s.is_null());
            let zero = surge.is_none() || surge == Some(&json!(0)) || surge == Some(&json!("0%"));
            if !zero {
                order = "start-first";
            }
        }
    }
    replicated(svc, 1, json!({"parallelism": 1, "order": order}));
    Ok(())
}
