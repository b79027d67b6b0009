//! Named volumes as PersistentVolumeClaims; secrets and configs as Secrets
//! and ConfigMaps holding the bytes read from their sources.

use std::collections::BTreeMap;

use serde_json::json;

use super::objects::{Body, Map, Meta, Object};
use super::{dns_name, Manifest, Notes};
use crate::compose::model::{MountKind, Project};

/// compose volumes have no size: what each claim requests.
pub const DEFAULT_CLAIM_SIZE: &str = "1Gi";

/// The claim a named volume mounts: an external volume keeps its own name.
pub fn claim_name(project: &Project, volume: &str) -> String {
    match project.volumes.get(volume) {
        Some(def) if def.external => dns_name(def.name.as_deref().unwrap_or(volume)),
        _ => dns_name(volume),
    }
}

/// The key of the one file a Secret or ConfigMap holds.
pub fn data_key(source: &str) -> String {
    source
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '-',
        })
        .collect()
}

/// The Secret/ConfigMap a compose secret/config becomes.
pub fn file_object_name(project: &Project, kind: &str, source: &str) -> String {
    let defs = if kind == "secret" {
        &project.secrets
    } else {
        &project.configs
    };
    match defs.get(source) {
        Some(def) if def.external => dns_name(def.name.as_deref().unwrap_or(source)),
        _ => dns_name(source),
    }
}

/// One claim per named volume the active services mount (external ones
/// already exist in the cluster, as they exist on the host for compose).
pub fn claims(project: &Project) -> Vec<Manifest> {
    let mut users: BTreeMap<&str, u32> = BTreeMap::new();
    for svc in project.services.values() {
        for m in &svc.volumes {
            if let (MountKind::Volume, Some(v)) = (m.kind, &m.source) {
                *users.entry(v.as_str()).or_default() += svc.replicas();
            }
        }
    }
    let mut out = Vec::new();
    for (name, def) in &project.volumes {
        let Some(&pods) = users.get(name.as_str()) else {
            continue;
        };
        if def.external {
            continue;
        }
        let mut n = Notes::default();
        n.add(
            "size",
            DEFAULT_CLAIM_SIZE,
            "compose volumes have no size: set the claim's request",
        );
        if let Some(driver) = &def.driver {
            n.add("driver", driver, "pick a storageClassName instead");
        }
        // Shared by several pods: they may land on different nodes.
        let mode = if pods > 1 {
            "ReadWriteMany"
        } else {
            "ReadWriteOnce"
        };
        let meta = Meta {
            name: dns_name(name),
            labels: super::project_labels(&project.name),
            annotations: def.labels.clone(),
        };
        let spec = json!({
            "accessModes": [mode],
            "resources": { "requests": { "storage": DEFAULT_CLAIM_SIZE } },
        });
        out.push(Manifest {
            object: Object::new("PersistentVolumeClaim", meta, spec),
            notes: n,
        });
    }
    out
}

/// The bytes of each secret and config, read by the caller from their sources.
#[derive(Debug, Default)]
pub struct Contents {
    pub secrets: BTreeMap<String, Vec<u8>>,
    pub configs: BTreeMap<String, Vec<u8>>,
}

/// A Secret per secret, a ConfigMap per config (external ones exist already).
pub fn file_objects(project: &Project, contents: &Contents) -> Vec<Object> {
    let mut out = Vec::new();
    for (name, bytes) in &contents.secrets {
        let data = Map::from([(data_key(name), base64(bytes))]);
        out.push(Object {
            api_version: "v1",
            kind: "Secret",
            metadata: meta(project, name),
            body: Body::Secret {
                kind: "Opaque",
                data,
            },
        });
    }
    for (name, bytes) in &contents.configs {
        let (mut data, mut binary_data) = (Map::new(), Map::new());
        match std::str::from_utf8(bytes) {
            Ok(text) => data.insert(data_key(name), text.to_string()),
            Err(_) => binary_data.insert(data_key(name), base64(bytes)),
        };
        out.push(Object {
            api_version: "v1",
            kind: "ConfigMap",
            metadata: meta(project, name),
            body: Body::ConfigMap { data, binary_data },
        });
    }
    out
}

fn meta(project: &Project, name: &str) -> Meta {
    Meta {
        name: dns_name(name),
        labels: super::project_labels(&project.name),
        ..Meta::default()
    }
}

/// Standard base64 with padding (RFC 4648), as Secret `data` wants.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
