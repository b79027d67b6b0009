//! The supervisor's autoscaler: every `interval` it samples an autoscaled
//! service's running replicas (cgroup CPU counters, established TCP
//! connections) and asks the pure HPA computation
//! ([`crate::supervisor::autoscale`]) for a replica count. The previous CPU
//! samples and the recommendation history live here, in memory only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::replicas::replica_labels;
use super::translate::{ProjectRecord, ServiceRecord};
use crate::cgroups::systemd::Driver;
use crate::cgroups::{self, Layout};
use crate::container::store::Record;
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;
use crate::supervisor::autoscale::{decide, AutoscaleHistory};
use crate::supervisor::autoscale_policy::{
    combined_ratio, cpu_rate, describe, established_connections, CpuSample, Measurements,
};
use crate::supervisor::{RunState, Time};

/// A service's replica count to change, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleDecision {
    pub service: String,
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

impl ScaleDecision {
    /// Sets the new count in the desired state.
    pub fn apply_to(&self, record: &mut ProjectRecord) {
        if let Some(s) = record
            .services
            .iter_mut()
            .find(|s| s.spec.name == self.service)
        {
            s.spec.replicas = self.to;
        }
    }
}

#[derive(Debug, Default)]
struct ServiceMemory {
    next_at: Time,
    /// Last CPU counter of each replica (by container id).
    samples: BTreeMap<String, CpuSample>,
    history: AutoscaleHistory,
}

#[derive(Debug)]
pub struct Autoscaler {
    proc_root: PathBuf,
    /// Detected on first use.
    layout: Option<Layout>,
    services: BTreeMap<String, ServiceMemory>,
}

impl Default for Autoscaler {
    fn default() -> Self {
        Autoscaler::new(Path::new("/proc"))
    }
}

/// A running replica as the autoscaler measures it.
struct Replica<'r> {
    id: &'r str,
    cgroup_parent: &'r str,
    cgroup_manager: Driver,
    pid: Option<i32>,
}

impl Autoscaler {
    /// `proc_root`: where /proc/PID/net/tcp is read for connection counts.
    pub fn new(proc_root: &Path) -> Autoscaler {
        Autoscaler {
            proc_root: proc_root.to_path_buf(),
            layout: None,
            services: BTreeMap::new(),
        }
    }

    /// Samples the services whose interval is up and returns the changes of
    /// replica count the HPA computation asks for (bounds included).
    pub fn evaluate(
        &mut self,
        instance: &Instance,
        record: &ProjectRecord,
        now: Time,
    ) -> Vec<ScaleDecision> {
        let autoscaled =
            |s: &ServiceRecord| s.autoscale.is_some() && s.spec.run == RunState::Running;
        self.services
            .retain(|name, _| record.service(name).is_some_and(autoscaled));
        let due: Vec<&ServiceRecord> = record
            .services
            .iter()
            .filter(|s| autoscaled(s))
            .filter(|s| {
                self.services
                    .get(&s.spec.name)
                    .is_none_or(|m| m.next_at <= now)
            })
            .collect();
        if due.is_empty() {
            return Vec::new();
        }
        if self.layout.is_none() {
            self.layout = instance.cgroup_layout().ok();
        }
        let containers = instance.containers.list().unwrap_or_default();
        due.into_iter()
            .filter_map(|s| self.evaluate_service(&containers, &record.name, s, now))
            .collect()
    }

    /// When the next service is due for sampling.
    pub fn next_deadline(&self) -> Option<Time> {
        self.services.values().map(|m| m.next_at).min()
    }

    fn evaluate_service(
        &mut self,
        containers: &[Record],
        project: &str,
        service: &ServiceRecord,
        now: Time,
    ) -> Option<ScaleDecision> {
        let policy = service.autoscale.as_ref()?;
        let replicas = running_replicas(containers, project, service);
        let samples: BTreeMap<String, CpuSample> = replicas
            .iter()
            .filter_map(|r| {
                let usage_ns = read_cpu_ns(
                    self.layout.as_ref()?,
                    (r.cgroup_manager, r.cgroup_parent),
                    r.id,
                )?;
                Some((r.id.to_string(), CpuSample { at: now, usage_ns }))
            })
            .collect();
        let mut m = Measurements::default();
        if policy.target_connections.is_some() {
            let ports: Vec<u16> = service.ports.iter().map(|p| p.container_port).collect();
            m.connections = replicas
                .iter()
                .filter_map(|r| read_connections(&self.proc_root, r.pid?, &ports))
                .map(|n| n as f64)
                .collect();
        }
        let memory = self.services.entry(service.spec.name.clone()).or_default();
        m.cpu = samples
            .iter()
            .filter_map(|(id, after)| cpu_rate(*memory.samples.get(id)?, *after))
            .collect();
        memory.samples = samples;
        memory.next_at = now + policy.interval;
        let from = service.spec.replicas;
        let metric = combined_ratio(policy, &m, from);
        let (history, to) = decide(&policy.spec(), &memory.history, from, metric, now);
        memory.history = history;
        (to != from).then(|| ScaleDecision {
            service: service.spec.name.clone(),
            from,
            to,
            reason: describe(policy, &m, from, to),
        })
    }
}

/// The service's running replicas in wanted slots (not those being scaled away).
fn running_replicas<'r>(
    containers: &'r [Record],
    project: &str,
    service: &ServiceRecord,
) -> Vec<Replica<'r>> {
    containers
        .iter()
        .filter(|r| observed_status(&r.state) == Status::Running)
        .filter(|r| {
            replica_labels(r, project).is_some_and(|(name, slot, _)| {
                name == service.spec.name && slot <= service.spec.replicas
            })
        })
        .map(|r| Replica {
            id: &r.config.id,
            cgroup_parent: &r.config.cgroup_parent,
            cgroup_manager: r.config.cgroup_manager,
            pid: r.state.pid,
        })
        .collect()
}

/// A container cgroup's cumulative CPU time (ns), as `rcorch stats` reads it.
pub fn read_cpu_ns(layout: &Layout, (driver, parent): (Driver, &str), id: &str) -> Option<u64> {
    let manager = cgroups::container_manager(layout, driver, parent, id).ok()?;
    manager.stats().ok().map(|s| s.cpu_usage_ns)
}

/// Established TCP connections (IPv4 and IPv6) in the network namespace of
/// `pid` on one of `ports` (any if empty); `None` if it cannot be read.
pub fn read_connections(proc_root: &Path, pid: i32, ports: &[u16]) -> Option<usize> {
    let net = proc_root.join(pid.to_string()).join("net");
    let v4 = std::fs::read_to_string(net.join("tcp")).ok()?;
    // tcp6 is absent when IPv6 is disabled.
    let v6 = std::fs::read_to_string(net.join("tcp6")).unwrap_or_default();
    Some(established_connections(&v4, ports) + established_connections(&v6, ports))
}

#[cfg(test)]
#[path = "autoscaler_tests.rs"]
mod tests;
