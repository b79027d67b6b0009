//! The `deploy` block: replicas, resources and Swarm's restart and update policies.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{dur, is_default, opt_dur};

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Deploy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(skip_serializing_if = "is_default")]
    pub update_config: UpdateConfig,
    #[serde(skip_serializing_if = "is_default")]
    pub rollback_config: UpdateConfig,
    #[serde(skip_serializing_if = "is_default")]
    pub endpoint_mode: EndpointMode,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_default")]
    pub placement: Placement,
}

/// deploy.placement, as written; the supervisor parses and checks it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Placement {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// `spread=node.labels.X`, one per entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Resources {
    pub limits: Limits,
    #[serde(skip_serializing_if = "is_default")]
    pub reservations: Reservations,
}

/// What a replica is guaranteed (Kubernetes requests): `up` admits a
/// replica only where the host has that much left.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Reservations {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// -1 or 0: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    None,
    OnFailure,
    #[default]
    Any,
}

/// deploy.restart_policy (Swarm semantics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestartPolicy {
    pub condition: RestartCondition,
    #[serde(serialize_with = "dur")]
    pub delay: Duration,
    /// None: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// None: every attempt counts.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_dur")]
    pub window: Option<Duration>,
}

impl Default for RestartPolicy {
    /// Swarm's defaults: any exit, 5 s apart, forever.
    fn default() -> Self {
        RestartPolicy {
            condition: RestartCondition::Any,
            delay: Duration::from_secs(5),
            max_attempts: None,
            window: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    #[default]
    Pause,
    Continue,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    #[default]
    StopFirst,
    StartFirst,
}

/// deploy.update_config / deploy.rollback_config (swarmkit semantics).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateConfig {
    /// Replicas updated at once; 0 means all at once.
    pub parallelism: u32,
    #[serde(serialize_with = "dur")]
    pub delay: Duration,
    pub failure_action: FailureAction,
    #[serde(serialize_with = "dur")]
    pub monitor: Duration,
    pub max_failure_ratio: f64,
    pub order: UpdateOrder,
}

impl Default for UpdateConfig {
    /// swarmkit's defaults (see ANCHORS.md).
    fn default() -> Self {
        UpdateConfig {
            parallelism: 1,
            delay: Duration::ZERO,
            failure_action: FailureAction::Pause,
            monitor: Duration::from_secs(5),
            max_failure_ratio: 0.0,
            order: UpdateOrder::StopFirst,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointMode {
    /// One virtual IP per service.
    #[default]
    Vip,
    /// DNS returns every replica's IP.
    Dnsrr,
}

/// `x-rcorch-autoscale`: rcorch's horizontal autoscaler (Kubernetes HPA
/// algorithm) for a service. At least one target is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Autoscale {
    pub min: u32,
    pub max: u32,
    /// Average CPU use per replica, in percent of one CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_cpu: Option<f64>,
    /// Average established TCP connections per replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_connections: Option<f64>,
    /// Scale-down stabilisation: the highest recommendation of this window wins.
    #[serde(serialize_with = "dur")]
    pub window: Duration,
    /// How often the metrics are sampled.
    #[serde(serialize_with = "dur")]
    pub interval: Duration,
}

impl Autoscale {
    /// The HPA's scale-down stabilisation window.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
}
