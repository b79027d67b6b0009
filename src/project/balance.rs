//! The supervisor's side of load balancing: after each decision, tell the
//! kernel balancer (`network::services`) who takes new connections. Stops
//! are drained first: the caller passes the containers about to stop, and
//! the rules drop them before any stop signal is sent.

use std::collections::{BTreeMap, BTreeSet};

use super::balancer_status::{BalancerStatus, BalancerStatuses};
use super::translate::{ProjectRecord, ServiceRecord};
use crate::network::conntrack::{forget_udp_flows_to, ConntrackError};
use crate::network::ops::{NetError, Networks};
use crate::network::services::ServiceRequest;
use crate::network::{Proto, ServiceLb};
use crate::supervisor::lb::{membership, Membership};
use crate::supervisor::ObservedState;
use std::net::Ipv4Addr;

/// What the balancer was last told, per service.
#[derive(Debug, Default)]
pub struct BalancerMemory {
    applied: BTreeMap<String, Membership>,
    failing: BTreeSet<String>,
    /// Re-apply every service on the next sync (the definition changed).
    stale: bool,
    /// The entries last applied, for the userspace proxy.
    entries: BTreeMap<String, ServiceLb>,
    /// What `up` waits on (`balancer.json`), and whether it changed.
    statuses: BalancerStatuses,
    statuses_changed: bool,
}

/// What one sync changed, for the events log.
#[derive(Debug)]
pub enum BalancerChange {
    Members {
        service: String,
        members: Vec<String>,
    },
    /// Reported once per failing streak; retried every pass.
    Failed { service: String, error: NetError },
    /// The UDP flows of members that left could not be forgotten.
    FlowsKept {
        service: String,
        error: ConntrackError,
    },
}

/// The bridge network a service's replicas join, if any (not host/none).
pub fn balanced_network(service: &ServiceRecord) -> Option<&str> {
    let network = service.template.network.as_deref()?;
    let special = matches!(network, "host" | "none") || network.starts_with("container:");
    (!special).then_some(network)
}

impl BalancerMemory {
    /// Brings every service's balancer up to date; returns what changed.
    /// `now` (RFC 3339) stamps the statuses written for `up`.
    pub fn sync(
        &mut self,
        networks: &Networks,
        record: &ProjectRecord,
        observed: &ObservedState,
        draining: &BTreeSet<String>,
        now: &str,
    ) -> Vec<BalancerChange> {
        let mut changes = Vec::new();
        for service in &record.services {
            let Some(network) = balanced_network(service) else {
                continue;
            };
            let name = &service.spec.name;
            let wanted = membership(name, observed, draining);
            if !self.stale && self.applied.get(name) == Some(&wanted) {
                continue;
            }
            let request = ServiceRequest {
                project: record.name.clone(),
                service: name.clone(),
                network: network.to_string(),
                vip: !service.dnsrr,
                ports: service.ports.clone(),
                members: wanted.members.clone(),
                replicas: wanted.running.clone(),
                // `up` refuses an unknown strategy; a stale record falls back.
                strategy: service.lb_strategy().unwrap_or_default(),
                vip_ports: service.vip_ports.clone(),
            };
            let result = networks.sync_service(&request);
            let status = BalancerStatus {
                revision: service.spec.revision,
                running: wanted.running.len(),
                error: result.as_ref().err().map(|e| e.to_string()),
                at: now.to_string(),
            };
            self.note_status(name, status);
            match result {
                Ok(entry) => {
                    if let Some(change) = self.forget_flows(name, &entry) {
                        changes.push(change);
                    }
                    self.entries.insert(name.clone(), entry);
                    self.failing.remove(name);
                    let before = self.applied.get(name).map(|m| &m.members);
                    // Worth an event when the members change (not on every
                    // start of a replica that is not a member yet).
                    if before.unwrap_or(&Vec::new()) != &wanted.members {
                        changes.push(BalancerChange::Members {
                            service: name.clone(),
                            members: wanted.members.clone(),
                        });
                    }
                    self.applied.insert(name.clone(), wanted);
                }
                Err(error) if self.failing.insert(name.clone()) => {
                    changes.push(BalancerChange::Failed {
                        service: name.clone(),
                        error,
                    })
                }
                Err(_) => {}
            }
        }
        self.stale = false;
        let balanced = |name: &String| {
            record
                .service(name)
                .is_some_and(|s| balanced_network(s).is_some())
        };
        self.entries.retain(|name, _| balanced(name));
        self.statuses.retain(|name, _| balanced(name));
        changes
    }

    /// Keeps `status` for `up`; a re-sync after a reload is news even when
    /// nothing changed (the `up` that sent the reload waits for it).
    fn note_status(&mut self, name: &str, status: BalancerStatus) {
        let same = self.statuses.get(name).is_some_and(|s| {
            (s.revision, s.running, &s.error) == (status.revision, status.running, &status.error)
        });
        if self.stale || !same {
            self.statuses.insert(name.to_string(), status);
            self.statuses_changed = true;
        }
    }

    /// The statuses, once after each change (for `balancer.json`).
    pub fn take_changed_statuses(&mut self) -> Option<&BalancerStatuses> {
        std::mem::take(&mut self.statuses_changed).then_some(&self.statuses)
    }

    /// The services' balancer entries as last applied (what the proxy serves).
    pub fn entries(&self) -> impl Iterator<Item = &ServiceLb> {
        self.entries.values()
    }

    /// Members that left keep their UDP conntrack entries (and so their
    /// clients) until those expire: delete them, after the rules changed.
    fn forget_flows(&self, name: &str, entry: &ServiceLb) -> Option<BalancerChange> {
        let before = self.entries.get(name)?;
        let has_udp = before.vip.is_some() || before.ports.iter().any(|p| p.proto == Proto::Udp);
        let left: Vec<Ipv4Addr> = before
            .backends
            .iter()
            .filter(|ip| !entry.backends.contains(ip))
            .copied()
            .collect();
        if !has_udp || left.is_empty() {
            return None;
        }
        let error = forget_udp_flows_to(&left).err()?;
        Some(BalancerChange::FlowsKept {
            service: name.to_string(),
            error,
        })
    }

    /// Makes the next sync re-apply every service (after a reload: ports
    /// or endpoint mode may have changed).
    pub fn invalidate(&mut self) {
        self.stale = true;
    }
}
