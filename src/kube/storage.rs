//! Named volumes as PersistentVolumeClaims; secrets and configs as Secrets
//! and ConfigMaps holding the bytes read from their sources.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::ByteString;

use super::objects::{meta, Map, Object};
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
        // `local` is compose's default: nothing to say.
        if let Some(driver) = def.driver.as_ref().filter(|d| *d != "local") {
            n.add("driver", driver, "pick a storageClassName instead");
        }
        // Shared by several pods: they may land on different nodes.
        let mode = if pods > 1 {
            "ReadWriteMany"
        } else {
            "ReadWriteOnce"
        };
        let spec = PersistentVolumeClaimSpec {
            access_modes: Some(vec![mode.to_string()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(DEFAULT_CLAIM_SIZE.to_string()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        };
        let claim = PersistentVolumeClaim {
            metadata: meta(
                &dns_name(name),
                super::project_labels(&project.name),
                def.labels.clone(),
            ),
            spec: Some(spec),
            ..PersistentVolumeClaim::default()
        };
        out.push(Manifest {
            object: Object::Claim(Box::new(claim)),
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
    let labels = || super::project_labels(&project.name);
    let mut out = Vec::new();
    for (name, bytes) in &contents.secrets {
        let data = BTreeMap::from([(data_key(name), ByteString(bytes.clone()))]);
        out.push(Object::Secret(Box::new(Secret {
            metadata: meta(&dns_name(name), labels(), Map::new()),
            type_: Some("Opaque".into()),
            data: Some(data),
            ..Secret::default()
        })));
    }
    for (name, bytes) in &contents.configs {
        let mut map = ConfigMap {
            metadata: meta(&dns_name(name), labels(), Map::new()),
            ..ConfigMap::default()
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => map.data = Some(BTreeMap::from([(data_key(name), text.to_string())])),
            Err(_) => {
                map.binary_data = Some(BTreeMap::from([(
                    data_key(name),
                    ByteString(bytes.clone()),
                )]))
            }
        }
        out.push(Object::ConfigMap(Box::new(map)));
    }
    out
}
