//! Named volumes, Docker's way: a directory per volume under
//! `<root>/volumes/NAME/_data` with its metadata in `meta.json`, mounted by
//! `run -v NAME:/path`. This file holds the pure rules (names, mount-source
//! classification, who uses a volume, compose naming); `store` touches the
//! disk and `copy` fills a fresh volume from the image.

pub mod copy;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::container::{ContainerConfig, MountKind, MountSpec};

/// The only driver rcorch has: a directory on the host.
pub const DRIVER: &str = "local";
/// Labels compose puts on the volumes it creates.
pub const LABEL_COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_COMPOSE_VOLUME: &str = "com.docker.compose.volume";
/// Docker's mark of an anonymous volume (`-v /path`, an image's VOLUME).
pub const LABEL_ANONYMOUS: &str = "com.docker.volume.anonymous";
/// The id of the container an anonymous volume was made for.
pub const LABEL_OWNER: &str = "rcorch.container";
/// The container path an anonymous volume was made for.
pub const LABEL_DESTINATION: &str = "rcorch.destination";

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
    #[error("corrupt volume metadata {path}: {source}; run `rcorch system check --repair`")]
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
    labels.insert(
        crate::container::labels::LABEL_PROJECT.into(),
        project.into(),
    );
    labels
}

/// Labels of an anonymous volume made for container `owner`. A replica's
/// volume also carries its project's labels, so `down -v` finds it.
pub fn anonymous_labels(
    owner: &str,
    container_labels: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (LABEL_ANONYMOUS.to_string(), String::new()),
        (LABEL_OWNER.to_string(), owner.to_string()),
    ]);
    if let Some(project) = container_labels.get(crate::container::labels::LABEL_PROJECT) {
        labels.insert(LABEL_COMPOSE_PROJECT.into(), project.clone());
    }
    for key in REPLICA_KEYS {
        if let Some(value) = container_labels.get(key) {
            labels.insert(key.to_string(), value.clone());
        }
    }
    labels
}

/// What names a replica (project, service, slot) on its anonymous volumes.
const REPLICA_KEYS: [&str; 3] = [
    crate::container::labels::LABEL_PROJECT,
    crate::container::labels::LABEL_SERVICE,
    crate::container::labels::LABEL_SLOT,
];

/// Compose keeps a replica's anonymous volumes when it recreates it (stop
/// then start, a new revision): an unused anonymous volume made for the
/// same project, service and slot at `destination`, if there is one.
pub fn reusable_anonymous<'a>(
    volumes: &'a [Volume],
    containers: &[ContainerConfig],
    replica: &BTreeMap<String, String>,
    destination: &str,
) -> Option<&'a str> {
    let same_replica = |v: &Volume| {
        REPLICA_KEYS
            .iter()
            .all(|k| replica.get(*k).is_some_and(|r| v.labels.get(*k) == Some(r)))
    };
    volumes
        .iter()
        .filter(|v| is_anonymous(v) && same_replica(v))
        .filter(|v| v.labels.get(LABEL_DESTINATION).map(String::as_str) == Some(destination))
        .find(|v| users(&v.name, containers).is_empty())
        .map(|v| v.name.as_str())
}

pub fn is_anonymous(v: &Volume) -> bool {
    v.labels.contains_key(LABEL_ANONYMOUS)
}

/// The anonymous volumes among those `mounts` name: what `rm -v` and
/// `run --rm` remove with the container.
pub fn anonymous_of<'a>(volumes: &'a [Volume], mounts: &[MountSpec]) -> Vec<&'a str> {
    let mounted = |name: &str| {
        mounts
            .iter()
            .any(|m| m.kind == MountKind::Volume && m.volume.as_deref() == Some(name))
    };
    volumes
        .iter()
        .filter(|v| is_anonymous(v) && mounted(&v.name))
        .map(|v| v.name.as_str())
        .collect()
}

/// Anonymous volume mounts for the image's `Volumes` (Dockerfile VOLUME),
/// skipping paths the container already mounts something on, as Docker does.
pub fn image_volume_mounts(image_volumes: &[String], mounts: &[MountSpec]) -> Vec<MountSpec> {
    let taken: Vec<PathBuf> = mounts.iter().map(|m| normalise(&m.destination)).collect();
    let mut out: Vec<MountSpec> = Vec::new();
    for path in image_volumes {
        let destination = normalise(Path::new(path));
        let root_or_relative = destination.parent().is_none() || !destination.is_absolute();
        let seen = out.iter().any(|m| m.destination == destination);
        if root_or_relative || seen || taken.contains(&destination) {
            continue;
        }
        out.push(MountSpec {
            kind: MountKind::Volume,
            source: PathBuf::new(),
            destination,
            read_only: false,
            volume: None,
            nocopy: false,
            tmpfs: None,
        });
    }
    out
}

/// `/data/`, `/data/.` and `//data` are the same mount point.
fn normalise(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
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
mod anon_tests;
#[cfg(test)]
mod tests;
