//! Named volumes, Docker's way: a directory per volume under
//! `<root>/volumes/NAME/_data` with its metadata in `meta.json`, mounted by
//! `run -v NAME:/path`. This file holds the pure rules (names, mount-source
//! classification, who uses a volume, compose naming); `store` touches the
//! disk and `copy` fills a fresh volume from the image.

pub mod copy;
pub mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::container::{ContainerConfig, MountKind};

/// The only driver rcorch has: a directory on the host.
pub const DRIVER: &str = "local";
/// Labels compose puts on the volumes it creates.
pub const LABEL_COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_COMPOSE_VOLUME: &str = "com.docker.compose.volume";

/// One volume as stored in `meta.json` (and shown by `volume inspect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    /// The host directory containers see (`.../NAME/_data`).
    pub mountpoint: PathBuf,
    pub created: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Error)]
pub enum VolumeError {
    #[error("invalid volume name \"{name}\": use at least two characters of letters, digits, '_', '.' and '-', starting with a letter or digit")]
    InvalidName { name: String },
    #[error("invalid label \"{label}\": expected KEY=VALUE")]
    InvalidLabel { label: String },
    #[error("no such volume: {name}")]
    NotFound { name: String },
    #[error("volume {name} is in use by container(s) {}; remove them first", containers.join(", "))]
    InUse {
        name: String,
        containers: Vec<String>,
    },
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: Errno },
    #[error("corrupt volume metadata {path}: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot copy {path} into the volume: {source}")]
    Copy { path: PathBuf, source: Errno },
}

pub type Result<T> = std::result::Result<T, VolumeError>;

/// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// What the source half of `-v SOURCE:DEST` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountSource<'a> {
    /// An absolute host path: a bind mount.
    HostPath(&'a str),
    /// A named volume.
    Named(&'a str),
    /// Neither: relative paths (`./x`, `../x`, `~/x`) and bad names.
    Invalid,
}

/// Docker's classification: a source with a `/` is a path (rcorch wants it
/// absolute); anything else is a volume name.
pub fn classify_source(source: &str) -> MountSource<'_> {
    if source.starts_with('/') {
        MountSource::HostPath(source)
    } else if source.contains('/') || !valid_name(source) {
        MountSource::Invalid
    } else {
        MountSource::Named(source)
    }
}

/// `KEY=VALUE` labels; a bare `KEY` gets an empty value, as in Docker.
pub fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    labels
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            if k.is_empty() {
                return Err(VolumeError::InvalidLabel { label: l.clone() });
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The volumes a container mounts.
pub fn volumes_of(config: &ContainerConfig) -> impl Iterator<Item = &str> {
    config
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume)
        .filter_map(|m| m.volume.as_deref())
}

/// Names of the containers (running or not, as Docker counts) using `volume`.
pub fn users<'a>(volume: &str, containers: &'a [ContainerConfig]) -> Vec<&'a str> {
    containers
        .iter()
        .filter(|c| volumes_of(c).any(|v| v == volume))
        .map(|c| c.name.as_str())
        .collect()
}

/// The volumes no container uses, in the order given.
pub fn unused<'a>(volumes: &'a [Volume], containers: &[ContainerConfig]) -> Vec<&'a str> {
    volumes
        .iter()
        .map(|v| v.name.as_str())
        .filter(|name| users(name, containers).is_empty())
        .collect()
}

/// The real name of compose volume `key` in `project`: its `name:` if set,
/// the key itself if external, else `PROJECT_KEY` (compose's naming).
pub fn compose_volume_name(project: &str, key: &str, def: Option<&ComposeVolume>) -> String {
    match def {
        Some(ComposeVolume { name: Some(n), .. }) => n.clone(),
        Some(ComposeVolume { external: true, .. }) => key.to_string(),
        _ => format!("{project}_{key}"),
    }
}

/// The parts of a compose top-level volume the naming rule reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeVolume {
    pub name: Option<String>,
    pub external: bool,
}

/// Labels of a volume compose creates for `project`.
pub fn compose_labels(
    project: &str,
    key: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = extra.clone();
    labels.insert(LABEL_COMPOSE_PROJECT.into(), project.into());
    labels.insert(LABEL_COMPOSE_VOLUME.into(), key.into());
    labels.insert(crate::project::LABEL_PROJECT.into(), project.into());
    labels
}

/// `volume inspect`'s JSON for one volume, Docker's field names.
pub fn inspect_json(v: &Volume) -> serde_json::Value {
    serde_json::json!({
        "CreatedAt": v.created,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": {},
        "Scope": "local",
    })
}

#[cfg(test)]
mod tests;
