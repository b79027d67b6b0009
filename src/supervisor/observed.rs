//! The observed state: what the shell saw of the project's containers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::health::{HealthState, HealthStatus};
use super::restart::{ExitInfo, RestartHistory};
use super::time::Time;

/// A replica's place in its service: slot `N` of `SERVICE` (`PROJECT-SERVICE-N`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SlotKey {
    pub service: String,
    pub slot: u32,
}

impl SlotKey {
    pub fn new(service: &str, slot: u32) -> SlotKey {
        SlotKey {
            service: service.to_string(),
            slot,
        }
    }
}

/// A replica container's lifecycle as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicaStatus {
    /// Created or being started; no process observed yet.
    Starting,
    Running {
        since: Time,
    },
    Exited(ExitInfo),
    /// Being removed by the shell.
    Removing,
}

/// One container the shell found carrying the project's labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedReplica {
    pub key: SlotKey,
    pub container: String,
    /// Revision of the service definition the container was created from.
    pub revision: u64,
    pub status: ReplicaStatus,
    /// `None` when the container has no health check.
    pub health: Option<HealthState>,
}

impl ObservedReplica {
    pub fn is_running(&self) -> bool {
        matches!(self.status, ReplicaStatus::Running { .. })
    }

    /// Running, and healthy if it has a health check.
    pub fn is_ready(&self) -> bool {
        self.is_running()
            && self
                .health
                .as_ref()
                .is_none_or(|h| h.status == HealthStatus::Healthy)
    }

    pub fn is_unhealthy(&self) -> bool {
        self.is_running()
            && self
                .health
                .as_ref()
                .is_some_and(|h| h.status == HealthStatus::Unhealthy)
    }
}

/// What the shell observed, plus the per-slot restart histories it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObservedState {
    pub replicas: Vec<ObservedReplica>,
    /// Keyed by slot, not container, so a replacement inherits the backoff.
    pub restarts: BTreeMap<SlotKey, RestartHistory>,
}

impl ObservedState {
    /// The replicas of one service.
    pub fn of_service(&self, service: &str) -> impl Iterator<Item = &ObservedReplica> + use<'_> {
        let service = service.to_string();
        self.replicas
            .iter()
            .filter(move |r| r.key.service == service)
    }

    /// The replicas in one slot (more than one only with duplicates or a start-first update).
    pub fn in_slot(&self, key: &SlotKey) -> impl Iterator<Item = &ObservedReplica> + use<'_> {
        let key = key.clone();
        self.replicas.iter().filter(move |r| r.key == key)
    }

    /// A slot's restart history (empty if none was recorded).
    pub fn history(&self, key: &SlotKey) -> RestartHistory {
        self.restarts.get(key).cloned().unwrap_or_default()
    }
}
