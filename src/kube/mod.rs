//! `kube generate`: a compose project as Kubernetes manifests.
//!
//! A pure mapping from the loaded [`Project`] (and the bytes of its secrets
//! and configs, read by the caller) to [`Manifest`]s; [`render`] writes
//! them as YAML with a comment for each compose key that has no Kubernetes
//! equivalent (also kept as a `compose.rcorch.io/…` annotation).

mod container;
pub mod objects;
pub mod play;
mod policy;
mod services;
mod storage;
mod workload;

use crate::compose::model::Project;
use objects::{Map, Object};

pub use policy::CONNECTIONS_METRIC;
pub use storage::{Contents, DEFAULT_CLAIM_SIZE};

/// How published ports are exposed outside the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceType {
    #[default]
    NodePort,
    LoadBalancer,
}

/// A compose key that has no Kubernetes equivalent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub key: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notes(pub Vec<Note>);

impl Notes {
    pub fn add(&mut self, key: &str, value: &str, reason: &str) {
        self.0.push(Note {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        });
    }
}

/// One object and what of compose it could not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub object: Object,
    pub notes: Notes,
}

impl Manifest {
    pub fn kind(&self) -> &'static str {
        self.object.kind()
    }

    pub fn name(&self) -> &str {
        self.object.metadata().name.as_deref().unwrap_or_default()
    }
}

/// The annotations' prefix.
pub const NOTE_PREFIX: &str = "compose.rcorch.io/";

/// Every object of the project: storage, config, then each service's
/// Service(s), Deployment and autoscaler, then the network policies.
pub fn generate(project: &Project, contents: &Contents, exposed: ServiceType) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = storage::file_objects(project, contents)
        .into_iter()
        .map(|object| Manifest {
            object,
            notes: Notes::default(),
        })
        .collect();
    out.extend(storage::claims(project));
    for (name, svc) in &project.services {
        out.extend(services::services(&project.name, name, svc, exposed));
        let mut notes = Notes::default();
        let object = workload::deployment(project, name, svc, &mut notes);
        out.push(Manifest { object, notes });
        if let Some(a) = &svc.autoscale {
            out.push(policy::autoscaler(project, name, a));
        }
    }
    out.extend(policy::network_policies(project));
    for m in &mut out {
        annotate(m);
    }
    out
}

/// Keys the compose loader did not carry into the model (its warnings'
/// key paths): each becomes a note on its service's Deployment, or on the
/// first manifest for project-level keys, so none is dropped silently.
pub fn note_ignored(manifests: &mut [Manifest], keys: &[String]) {
    for key in keys {
        let service = key
            .strip_prefix("services.")
            .and_then(|rest| rest.split('.').next());
        let target = service
            .and_then(|s| {
                manifests
                    .iter()
                    .position(|m| m.kind() == "Deployment" && m.name() == dns_name(s))
            })
            .unwrap_or(0);
        let Some(m) = manifests.get_mut(target) else {
            return;
        };
        let local = match service {
            Some(s) => key[format!("services.{s}.").len().min(key.len())..].to_string(),
            None => key.clone(),
        };
        let reason = "not converted: rcorch does not read this key yet";
        m.notes.add(&local, "", reason);
        let name = format!("{NOTE_PREFIX}{}", annotation_name(&local));
        let annotations = m
            .object
            .metadata_mut()
            .annotations
            .get_or_insert_with(Map::new);
        annotations.insert(name, reason.into());
    }
}

fn annotate(m: &mut Manifest) {
    for note in &m.notes.0 {
        let key = format!("{NOTE_PREFIX}{}", annotation_name(&note.key));
        let annotations = m
            .object
            .metadata_mut()
            .annotations
            .get_or_insert_with(Map::new);
        annotations.insert(key, note.reason.clone());
    }
}

/// An annotation's name part: `[A-Za-z0-9][-A-Za-z0-9_.]*`, at most 63.
fn annotation_name(key: &str) -> String {
    let cleaned: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut name: String = trimmed.chars().take(63).collect();
    while name.ends_with(|c: char| !c.is_ascii_alphanumeric()) {
        name.pop();
    }
    name
}

/// Two compose names of one kind that become the same Kubernetes name
/// (`web_1` and `web-1`): (kind, first, second, the shared name).
pub fn name_clash(project: &Project) -> Option<(&'static str, String, String, String)> {
    let kinds: [(&'static str, Vec<&String>); 5] = [
        ("service", project.services.keys().collect()),
        ("volume", project.volumes.keys().collect()),
        ("network", project.networks.keys().collect()),
        ("secret", project.secrets.keys().collect()),
        ("config", project.configs.keys().collect()),
    ];
    for (kind, names) in kinds {
        let mut seen: std::collections::BTreeMap<String, &String> = Default::default();
        for name in names {
            if let Some(first) = seen.insert(dns_name(name), name) {
                return Some((kind, first.clone(), name.clone(), dns_name(name)));
            }
        }
    }
    None
}

/// A compose name as a Kubernetes object name (an RFC 1123 label:
/// lowercase letters, digits and '-', at most 63).
pub fn dns_name(name: &str) -> String {
    let mapped: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut out: String = mapped.trim_matches('-').chars().take(63).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "x".into()
    } else {
        out
    }
}

pub fn project_labels(project: &str) -> Map {
    Map::from([("app.kubernetes.io/part-of".into(), dns_name(project))])
}

/// The labels that pick one compose service's pods.
pub fn selector(project: &str, service: &str) -> Map {
    let mut m = project_labels(project);
    m.insert("app.kubernetes.io/name".into(), dns_name(service));
    m
}

/// The pod label that says "attached to compose network `net`".
pub fn network_label(net: &str) -> String {
    format!("network.rcorch.io/{}", dns_name(net))
}

/// All manifests as one multi-document YAML stream.
pub fn render(manifests: &[Manifest]) -> String {
    manifests
        .iter()
        .map(render_one)
        .collect::<Vec<_>>()
        .join("---\n")
}

/// One manifest, its notes as comments above it.
pub fn render_one(m: &Manifest) -> String {
    let mut out = String::new();
    for n in &m.notes.0 {
        let value = n.value.replace('\n', " ");
        match value.is_empty() {
            true => out.push_str(&format!("# {}: {}\n", n.key, n.reason)),
            false => out.push_str(&format!("# {}: {value}: {}\n", n.key, n.reason)),
        }
    }
    out.push_str(&serde_norway::to_string(&m.object).expect("manifests serialise"));
    out
}

/// The file `-o DIR` writes a manifest to: `web-deployment.yaml`.
pub fn file_name(m: &Manifest) -> String {
    format!("{}-{}.yaml", m.name(), m.kind().to_ascii_lowercase())
}

#[cfg(test)]
mod tests;
