//! A project's `/metrics` endpoint: where it is configured, the check `up`
//! makes before starting anything, the supervisor's counters, and the
//! snapshot a scrape reads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{Result, LABEL_PROJECT};
use crate::compose::Project;
use crate::container::store::ContainerStore;
use crate::instance::Instance;
use crate::metrics::histogram::{Histogram, HEAL_SECONDS, SECONDS};
use crate::metrics::http::{self, Server};
use crate::metrics::lb::{self, LbStats};
use crate::metrics::supervisor::{AutoscaleFigures, ServiceFigures, Snapshot};
use crate::metrics::{collect, render};
use crate::supervisor::health::HealthStatus;
use crate::supervisor::restart::ExitCause;
use crate::supervisor::{DesiredState, ObservedState};

/// The top-level compose extension naming the address.
pub const KEY: &str = "x-rcorch-metrics";

/// The address the compose file asks for (a string; anything else is
/// refused by `check`).
pub fn configured(project: &Project) -> Option<&str> {
    project.extensions.get(KEY).and_then(|v| v.as_str())
}

/// `up --metrics ADDR`: the flag wins over the file.
pub fn set_address(project: &mut Project, addr: &str) {
    project
        .extensions
        .insert(KEY.to_string(), serde_norway::Value::String(addr.into()));
}

/// Before `up` changes anything: the address must parse and be free,
/// unless this project's running supervisor already serves it.
pub fn check(project: &Project, served_now: Option<&str>) -> Result<Option<SocketAddr>> {
    let Some(value) = project.extensions.get(KEY) else {
        return Ok(None);
    };
    let text = match value.as_str() {
        Some(text) => text.to_string(),
        None => serde_norway::to_string(value)
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    let addr = http::parse_addr(&text)?;
    if served_now.and_then(|s| http::parse_addr(s).ok()) != Some(addr) {
        drop(http::bind(addr)?);
    }
    Ok(Some(addr))
}

/// Why the supervisor restarts a replica (the `reason` label and event);
/// `None` for a start the user asked for (`start`, `up` after `stop`).
pub fn restart_reason(cause: ExitCause, oom_killed: bool) -> Option<&'static str> {
    match cause {
        ExitCause::StoppedOnRequest => None,
        _ if oom_killed => Some("oom"),
        ExitCause::StoppedUnhealthy => Some("unhealthy"),
        ExitCause::Exited => Some("exit"),
    }
}

/// What the supervisor counts; lost when it restarts (a counter reset,
/// which Prometheus's rate() handles).
#[derive(Debug)]
pub struct Counters {
    pub restarts: BTreeMap<String, BTreeMap<&'static str, u64>>,
    pub oom_kills: BTreeMap<String, u64>,
    pub loop_duration: Histogram,
    pub probe_duration: BTreeMap<String, Histogram>,
    pub heal_duration: BTreeMap<String, Histogram>,
    pub autoscale: BTreeMap<String, AutoscaleFigures>,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            restarts: BTreeMap::new(),
            oom_kills: BTreeMap::new(),
            loop_duration: Histogram::new(SECONDS),
            probe_duration: BTreeMap::new(),
            heal_duration: BTreeMap::new(),
            autoscale: BTreeMap::new(),
        }
    }
}

impl Counters {
    pub fn restarted(&mut self, service: &str, reason: &'static str) {
        let by_reason = self.restarts.entry(service.to_string()).or_default();
        *by_reason.entry(reason).or_default() += 1;
    }

    pub fn oom_killed(&mut self, service: &str) {
        *self.oom_kills.entry(service.to_string()).or_default() += 1;
    }

    pub fn autoscaled(&mut self, service: &str, from: u32, to: u32) {
        let a = self.autoscale.entry(service.to_string()).or_default();
        let direction = if to > from { "up" } else { "down" };
        *a.decisions.entry(direction).or_default() += 1;
        a.last_target = to;
    }

    pub fn healed(&mut self, service: &str, took: std::time::Duration) {
        self.heal_duration
            .entry(service.to_string())
            .or_insert_with(|| Histogram::new(HEAL_SECONDS))
            .observe(took.as_secs_f64());
    }

    pub fn probed(&mut self, service: &str, took: std::time::Duration) {
        self.probe_duration
            .entry(service.to_string())
            .or_insert_with(|| Histogram::new(SECONDS))
            .observe(took.as_secs_f64());
    }
}

/// The snapshot of one pass; `names` maps container ids to names.
pub fn snapshot(
    desired: &DesiredState,
    observed: &ObservedState,
    names: &BTreeMap<String, String>,
    counters: &Counters,
) -> Snapshot {
    let mut s = Snapshot {
        project: desired.project.clone(),
        loop_duration: counters.loop_duration.clone(),
        probe_duration: counters.probe_duration.clone(),
        heal_duration: counters.heal_duration.clone(),
        autoscale: counters.autoscale.clone(),
        ..Snapshot::default()
    };
    for spec in &desired.services {
        let running = observed
            .of_service(&spec.name)
            .filter(|r| r.is_running())
            .count();
        s.services.insert(
            spec.name.clone(),
            ServiceFigures {
                desired: spec.replicas,
                running: running as u32,
                restarts: counters
                    .restarts
                    .get(&spec.name)
                    .cloned()
                    .unwrap_or_default(),
                oom_kills: counters.oom_kills.get(&spec.name).copied().unwrap_or(0),
                // Admission's holds are the loop's to count (publish_metrics).
                pending: 0,
            },
        );
    }
    for r in observed.replicas.iter().filter(|r| r.is_running()) {
        let (Some(health), Some(name)) = (&r.health, names.get(&r.container)) else {
            continue;
        };
        let state = match health.status {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        };
        s.health
            .insert(name.clone(), (r.key.service.clone(), state));
    }
    s
}

/// (network, address) → container name, for naming balancer backends.
fn endpoint_names(root: &std::path::Path) -> BTreeMap<(String, String), String> {
    let endpoints = crate::runtime::net::networks(root)
        .list()
        .map(|s| s.endpoints)
        .unwrap_or_default();
    endpoints
        .into_values()
        .map(|e| ((e.network, e.ip.to_string()), e.container_name))
        .collect()
}

/// Serves the project's replicas and `snapshot` on `addr` from a thread.
/// The thread opens its own view of the state root: a scrape never touches
/// the supervisor loop's state, only copies the snapshot.
pub fn serve(
    root: PathBuf,
    project: String,
    addr: SocketAddr,
    snapshot: Arc<Mutex<Snapshot>>,
    lb: LbStats,
) -> Result<Server> {
    let listener = http::bind(addr)?;
    // Each record names its own cgroup parent and manager: these are never used.
    let instance = Instance {
        containers: ContainerStore::open(&root)?,
        root,
        cgroup_parent: String::new(),
        cgroup_manager: Default::default(),
    };
    let server = http::serve(listener, move |format| {
        let ours = |r: &crate::container::store::Record| {
            r.config.labels.get(LABEL_PROJECT) == Some(&project)
        };
        let mut families = collect::container_families(&instance, ours);
        let snap = snapshot.lock().map(|s| s.clone()).unwrap_or_default();
        families.extend(crate::metrics::supervisor::families(&snap));
        let backends = lb::named(lb.figures(), &endpoint_names(&instance.root));
        families.extend(lb::families(&project, &backends));
        render(&families, format)
    })
    .map_err(|source| super::ProjectError::Io {
        path: PathBuf::from(addr.to_string()),
        source,
    })?;
    Ok(server)
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
