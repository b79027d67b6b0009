//! A pod's `initContainers` as one-shot compose services run in order
//! before its container, as the kubelet runs them: each waits for the one
//! before to exit 0 (`depends_on: service_completed_successfully`), and the
//! pod's service waits for the last. A failing one is retried (restartPolicy
//! Always/OnFailure) or left exited (Never), and the pod never starts.

use serde_json::{json, Map, Value};

use super::docs::{Doc, Index};
use super::files::PodVolumes;
use super::walk::PlayError;
use super::Out;
use crate::compose::locate::KeyPath;

type Result<T> = std::result::Result<T, PlayError>;

/// The service name of init container `name` of the pod's service `pod`.
pub fn service_name(pod: &str, name: &str) -> String {
    format!("{pod}-init-{name}")
}

/// Disk `emptyDir`s become project volumes named after the pod, so the init
/// containers and the pod's container share them (one anonymous volume per
/// service would not be shared).
pub fn share_empty_dirs(pod: &str, volumes: &mut PodVolumes) {
    for (name, (_, v)) in volumes.iter_mut() {
        let Some(empty) = v.get("emptyDir") else {
            continue;
        };
        if empty.get("medium").and_then(Value::as_str) == Some("Memory") {
            continue;
        }
        let claim = format!("{pod}-emptydir-{name}");
        *v = json!({"name": name, "persistentVolumeClaim": {"claimName": claim}});
    }
}

/// The pod-level keys an init container shares with the pod's container.
const SHARED: [&str; 3] = ["network_mode", "stop_grace_period", "labels"];

/// Adds one service per init container and makes `svc` wait for the last.
pub fn services(
    doc: &Doc,
    index: &Index,
    inits: &[(KeyPath, &Value)],
    volumes: &PodVolumes,
    never: bool,
    svc: &mut Map<String, Value>,
    out: &mut Out,
) -> Result<()> {
    let mut previous: Option<String> = None;
    for (c_at, c) in inits {
        let name = doc.required_str(c, c_at, "name")?;
        let service = service_name(&doc.name, name);
        if out.services.contains_key(&service) {
            let message = format!("{service}: an object already runs a service of this name");
            return Err(doc.err(&c_at.key("name"), message));
        }
        let mut init: Map<String, Value> = SHARED
            .iter()
            .filter_map(|k| Some((k.to_string(), svc.get(*k)?.clone())))
            .collect();
        // Retried until it succeeds, as the kubelet does, unless Never.
        let restart = if never { "no" } else { "on-failure" };
        init.insert("restart".into(), json!(restart));
        super::container::container(doc, index, c, c_at, volumes, &mut init, out)?;
        if let Some(before) = previous.replace(service.clone()) {
            init.insert("depends_on".into(), completed(&before));
        }
        out.services.insert(service, Value::Object(init));
    }
    if let Some(last) = previous {
        svc.insert("depends_on".into(), completed(&last));
    }
    Ok(())
}

fn completed(service: &str) -> Value {
    json!({ service: {"condition": "service_completed_successfully"} })
}
