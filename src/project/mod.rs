//! Compose projects: the desired state kept under the root, the supervisor
//! that keeps it true, and the commands (`up`, `down`, `scale`) that change it.
//!
//! `<root>/projects/<name>/`: `desired.json` (a `ProjectRecord`),
//! `supervisor.lock` (held by the one supervisor), `supervisor.pid`,
//! `events.log` (JSON lines of what the supervisor did and why),
//! `balancer.json` (whether each service's balancer rules are applied).

pub mod admit;
pub mod autoscaler;
pub mod balance;
pub mod balancer_status;
pub mod commands;
pub mod events;
pub mod events_query;
pub mod files;
pub mod history;
pub mod image_plan;
pub mod lb_watch;
pub mod metrics;
pub mod precheck;
pub mod probes;
pub mod proxy;
pub mod replicas;
pub mod rollouts;
pub mod select;
pub mod supervise;
pub mod translate;
pub mod wait;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};

use crate::supervisor::SlotKey;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use thiserror::Error;

use crate::container::store::{read_json, write_json_atomic, StoreError};
use crate::supervisor::health::HealthStatus;
use crate::supervisor::health_log::HealthReport;
pub use translate::{ProjectRecord, ReplicaTemplate, ServiceRecord};

pub use crate::container::labels::{LABEL_PROJECT, LABEL_REVISION, LABEL_SERVICE, LABEL_SLOT};

#[derive(Debug, Error)]
pub enum ProjectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    #[error(transparent)]
    ImageStore(#[from] crate::image::ImageError),
    /// A secret or config that cannot be read.
    #[error(transparent)]
    Compose(Box<crate::compose::ComposeError>),
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no project named {name}; start it with 'rcorch up -f FILE'")]
    NotFound { name: String },
    #[error("service {service} is not in project {project}")]
    NoService { project: String, service: String },
    #[error("invalid scale \"{0}\": expected SERVICE=N")]
    Scale(String),
    #[error(transparent)]
    Network(#[from] crate::network::ops::NetError),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::http::MetricsError),
    #[error(transparent)]
    Admit(#[from] admit::AdmitError),
    #[error("service {service}: {source}")]
    Balancer {
        service: String,
        source: crate::supervisor::lb::LbError,
    },
    /// A service `up` cannot run: no image to run (only `build:`).
    #[error("service {service} has no image to run: it only has build:, and rcorch cannot build images yet; add image: NAME and make NAME with 'rcorch import', 'load' or 'pull'")]
    NoImage { service: String },
    /// A service's image is not in the store: nothing would ever start.
    #[error("service {service}: image {image} is not present; get it with 'rcorch pull {image}' (or build or import it), then run up again")]
    ImageMissing { service: String, image: String },
    #[error("service {service}: {reason}")]
    Ulimit { service: String, reason: String },
    #[error("project {project} defines no services: nothing to start; add some under services:")]
    NoServices { project: String },
    /// A replica `run` would refuse (a bad user, path, signal, limit…).
    #[error("service {service}: {reason}")]
    Replica { service: String, reason: String },
    /// compose `logging:` a replica could not be run with.
    #[error("service {service}: logging: {reason}")]
    Logging { service: String, reason: String },
    /// The service's process could never be exec'd (E2BIG).
    #[error("service {service}: {source}")]
    ArgSize {
        service: String,
        source: crate::container::argsize::ArgSizeError,
    },
    #[error("service {service}: cannot read its image: {source}")]
    Image {
        service: String,
        source: crate::image::ImageError,
    },
    #[error("cannot roll back service {service}: {source}")]
    History {
        service: String,
        source: crate::supervisor::revisions::HistoryError,
    },
    /// The image a revision ran is no longer in the store (`rmi -f`).
    #[error("cannot roll back service {service} to revision {revision}: its image {image} has been removed; roll back to another revision with --to, or run up again")]
    RollbackImageGone {
        service: String,
        revision: u64,
        image: String,
    },
}

pub type Result<T> = std::result::Result<T, ProjectError>;

impl From<crate::compose::ComposeError> for ProjectError {
    fn from(e: crate::compose::ComposeError) -> Self {
        ProjectError::Compose(Box::new(e))
    }
}

/// The files of one project under the root.
#[derive(Debug, Clone)]
pub struct ProjectDir {
    pub name: String,
    pub dir: PathBuf,
}

impl ProjectDir {
    pub fn new(root: &Path, name: &str) -> ProjectDir {
        ProjectDir {
            name: name.to_string(),
            dir: root.join("projects").join(name),
        }
    }

    pub fn exists(&self) -> bool {
        self.dir.join("desired.json").exists()
    }

    pub fn load(&self) -> Result<ProjectRecord> {
        if !self.exists() {
            return Err(ProjectError::NotFound {
                name: self.name.clone(),
            });
        }
        Ok(read_json(&self.dir.join("desired.json"))?)
    }

    pub fn save(&self, record: &ProjectRecord) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|source| ProjectError::Io {
            path: self.dir.clone(),
            source,
        })?;
        Ok(write_json_atomic(&self.dir.join("desired.json"), record)?)
    }

    /// The supervisor's exclusive lock; `None` if another supervisor holds it.
    pub fn try_lock_supervisor(&self) -> Result<Option<Flock<File>>> {
        std::fs::create_dir_all(&self.dir).map_err(|source| ProjectError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.dir.join("supervisor.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| ProjectError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(Flock::lock(file, FlockArg::LockExclusiveNonblock).ok())
    }

    /// The running supervisor's pid, if one holds the lock.
    pub fn supervisor_pid(&self) -> Option<i32> {
        if self.try_lock_supervisor().ok()?.is_some() {
            return None; // we got the lock, so nobody holds it
        }
        std::fs::read_to_string(self.dir.join("supervisor.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Health of the project's replicas as the supervisor last saw it, for
    /// `ps` (the supervisor rewrites it when a replica's health changes).
    pub fn save_health(&self, health: &std::collections::BTreeMap<String, HealthReport>) {
        let _ = write_json_atomic(&self.dir.join("health.json"), health);
    }

    /// Each probed container's `State.Health`; an older supervisor's file
    /// (statuses only) reads as reports with empty logs.
    pub fn load_health(&self) -> std::collections::BTreeMap<String, HealthReport> {
        let path = self.dir.join("health.json");
        if let Ok(reports) = read_json(&path) {
            return reports;
        }
        let statuses: std::collections::BTreeMap<String, HealthStatus> =
            read_json(&path).unwrap_or_default();
        statuses
            .into_iter()
            .map(|(c, status)| {
                let report = HealthReport {
                    status,
                    ..HealthReport::starting()
                };
                (c, report)
            })
            .collect()
    }

    /// Exited replicas the supervisor will restart once their backoff ends.
    pub fn save_restarting(&self, restarting: &std::collections::BTreeSet<String>) {
        let _ = write_json_atomic(&self.dir.join("restarting.json"), restarting);
    }

    pub fn load_restarting(&self) -> std::collections::BTreeSet<String> {
        read_json(&self.dir.join("restarting.json")).unwrap_or_default()
    }

    /// Slots admission holds back: "service.slot" → reason.
    pub fn save_pending(&self, pending: &BTreeMap<SlotKey, String>) {
        let flat: BTreeMap<String, &String> = pending
            .iter()
            .map(|(k, r)| (format!("{}.{}", k.service, k.slot), r))
            .collect();
        let _ = write_json_atomic(&self.dir.join("pending.json"), &flat);
    }

    pub fn load_pending(&self) -> BTreeMap<String, String> {
        read_json(&self.dir.join("pending.json")).unwrap_or_default()
    }

    pub fn events_path(&self) -> PathBuf {
        self.dir.join("events.log")
    }
}

/// Every project with a desired state under the root.
pub fn list_projects(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("projects")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("desired.json").exists())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}
