//! `kube play`: Kubernetes objects as a compose project on one host.
//!
//! A pure mapping from the manifests' text to a compose document (a
//! [`Value`] the caller loads with `compose::load_str`) plus the bytes of
//! each Secret and ConfigMap key, which the compose document names by a
//! virtual path under [`FILES_ROOT`] so no copy of them is written outside
//! the project's own owner-only store. Every field is either mapped,
//! ignored with a warning that says why, or refused with an error naming
//! the object, the field, and its line.

mod autoscale;
mod container;
mod docs;
mod downward;
mod files;
mod init;
mod job;
mod network;
mod probe_action;
mod probes;
mod quantity;
mod sets;
mod walk;
mod workload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

pub use docs::{parse_documents, Doc};
pub use walk::PlayError;

/// Where the compose document says each Secret/ConfigMap key's bytes are:
/// never a real file, only a key into [`Played::files`].
pub const FILES_ROOT: &str = "/run/rcorch-kube";

/// The objects of all the files, ready to be loaded as compose.
#[derive(Debug)]
pub struct Played {
    pub project: String,
    /// The compose document (`$` already written `$$`).
    pub compose: Value,
    /// The virtual `file:` paths of secrets and configs, with their bytes.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    /// Fields that have no effect on one host, each with why.
    pub warnings: Vec<String>,
}

/// The project the objects form: `-p`, else the `app.kubernetes.io/part-of`
/// label all labelled objects share (what `kube generate` writes), else the
/// first file's stem, else `kube`.
pub fn project_name(docs: &[Doc], explicit: Option<&str>, first_file: Option<&Path>) -> String {
    if let Some(name) = explicit {
        return name.to_string();
    }
    let part_of: std::collections::BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| {
            d.value
                .pointer("/metadata/labels/app.kubernetes.io~1part-of")
        })
        .filter_map(Value::as_str)
        .collect();
    if let [only] = part_of.into_iter().collect::<Vec<_>>()[..] {
        return super::dns_name(only);
    }
    first_file
        .and_then(|f| f.file_stem())
        .and_then(|s| s.to_str())
        .map(super::dns_name)
        .unwrap_or_else(|| "kube".into())
}

/// Maps every object; the first object or field that cannot run here is
/// the error, and nothing is produced.
pub fn play(docs: &[Doc], project: &str) -> Result<Played, PlayError> {
    let mut out = Out::default();
    let index = docs::Index::new(docs)?;
    // Workloads first: the other objects refer to them by their labels.
    for doc in docs {
        match doc.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "Pod" => {
                workload::workload(doc, &index, &mut out)?
            }
            "PersistentVolumeClaim" => files::claim(doc, &mut out)?,
            "ConfigMap" | "Secret" => files::check_data_object(doc, &mut out)?,
            _ => {}
        }
    }
    for doc in docs {
        match doc.kind.as_str() {
            "Service" => network::service(doc, &mut out)?,
            "HorizontalPodAutoscaler" => autoscale::autoscaler(doc, &mut out)?,
            "NetworkPolicy" => network::policy(doc, &mut out)?,
            _ => {}
        }
    }
    network::finish(&mut out);
    let mut compose = Map::new();
    compose.insert("name".into(), json!(project));
    compose.insert("services".into(), Value::Object(out.services));
    for (key, section) in [
        ("networks", out.networks),
        ("volumes", out.volumes),
        ("secrets", out.secrets),
        ("configs", out.configs),
    ] {
        if !section.is_empty() {
            compose.insert(key.into(), Value::Object(section));
        }
    }
    let mut compose = Value::Object(compose);
    escape_dollars(&mut compose);
    Ok(Played {
        project: project.to_string(),
        compose,
        files: out.files,
        warnings: out.warnings,
    })
}

/// What the objects add up to, filled in document order.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub services: Map<String, Value>,
    pub networks: Map<String, Value>,
    pub volumes: Map<String, Value>,
    pub secrets: Map<String, Value>,
    pub configs: Map<String, Value>,
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    pub warnings: Vec<String>,
    /// ClusterIP Service names to add as aliases, per compose service.
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Each workload's pod labels, which Services and policies select.
    pub pod_labels: BTreeMap<String, Map<String, Value>>,
    /// Each workload's named container ports, for a Service's targetPort.
    pub port_names: BTreeMap<String, BTreeMap<String, u16>>,
}

impl Out {
    pub fn service(&mut self, name: &str) -> &mut Map<String, Value> {
        self.services
            .get_mut(name)
            .and_then(Value::as_object_mut)
            .expect("workloads are mapped before what refers to them")
    }
}

/// Values are copied into compose text verbatim: compose must not
/// interpolate a `$` that Kubernetes would have passed through.
fn escape_dollars(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Value::Array(items) => items.iter_mut().for_each(escape_dollars),
        Value::Object(m) => m.values_mut().for_each(escape_dollars),
        _ => {}
    }
}

#[cfg(test)]
mod pod_tests;
#[cfg(test)]
mod tests;
