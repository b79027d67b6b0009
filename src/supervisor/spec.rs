//! The desired state: plain service descriptions, easy to map from a compose model.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::health::HealthSpec;
use super::observed::SlotKey;
use super::restart::RestartPolicy;
use super::update_config::UpdateConfig;

/// Compose's default `stop_grace_period`.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

/// Whether the user wants a service's replicas running (`start`/`up`) or stopped (`stop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RunState {
    #[default]
    Running,
    Stopped,
}

/// A `depends_on` condition (compose spec names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Condition {
    /// `service_started`: some replica of the dependency is running.
    #[default]
    ServiceStarted,
    /// `service_healthy`: some replica is running and healthy (running, if it has no check).
    ServiceHealthy,
    /// `service_completed_successfully`: every replica has exited with code 0.
    ServiceCompletedSuccessfully,
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub service: String,
    pub condition: Condition,
}

/// What the supervisor needs to know about one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    /// `deploy.replicas` / `scale`.
    pub replicas: u32,
    /// Revision of the definition; replicas carry the revision they were started from.
    pub revision: u64,
    pub run: RunState,
    pub restart: RestartPolicy,
    /// `None` when the service has no health check (or `disable: true`).
    pub health: Option<HealthSpec>,
    /// `deploy.update_config`.
    pub update: UpdateConfig,
    /// `deploy.rollback_config`.
    pub rollback: UpdateConfig,
    pub depends_on: Vec<Dependency>,
    /// `stop_grace_period`: time between the stop signal and SIGKILL.
    pub stop_grace: Duration,
}

impl ServiceSpec {
    /// A service with compose's defaults: one replica, `restart: no`, no health check.
    pub fn new(name: &str, revision: u64) -> ServiceSpec {
        ServiceSpec {
            name: name.to_string(),
            replicas: 1,
            revision,
            run: RunState::Running,
            restart: RestartPolicy::default(),
            health: None,
            update: UpdateConfig::default(),
            rollback: UpdateConfig::default(),
            depends_on: Vec::new(),
            stop_grace: DEFAULT_STOP_GRACE,
        }
    }
}

/// Everything the user asked for, as persisted by the supervisor.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DesiredState {
    pub project: String,
    pub services: Vec<ServiceSpec>,
    /// Slots a rolling update currently drives (`Rollout::claimed_slots`); the
    /// reconciler leaves them alone so the two never fight over a replica.
    pub claimed: BTreeSet<SlotKey>,
}

impl DesiredState {
    /// The service called `name`, if desired.
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// The container name of a replica: `PROJECT-SERVICE-N`, as compose names them.
pub fn replica_name(project: &str, service: &str, slot: u32) -> String {
    format!("{project}-{service}-{slot}")
}

/// The name for a new container in slot `slot` running `revision`, given the
/// names already `taken`: `PROJECT-SERVICE-N` when free; otherwise (the old
/// replica of a start-first update still holds it) `PROJECT-SERVICE-N-rREV`,
/// then `…-rREV-2`, `…-rREV-3`… The container keeps that name: the next
/// start in the slot takes `PROJECT-SERVICE-N` again once it is free.
pub fn container_name_for(
    project: &str,
    service: &str,
    slot: u32,
    revision: u64,
    taken: impl Fn(&str) -> bool,
) -> String {
    let base = replica_name(project, service, slot);
    let surge = format!("{base}-r{revision}");
    std::iter::once(base)
        .chain(std::iter::once(surge.clone()))
        .chain((2u32..).map(|k| format!("{surge}-{k}")))
        .find(|name| !taken(name))
        .unwrap_or(surge) // unreachable: the candidates never run out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_named_like_compose() {
        assert_eq!(replica_name("shop", "web", 3), "shop-web-3");
    }

    #[test]
    fn a_surge_replica_is_named_after_its_revision_while_the_slot_name_is_taken() {
        let name = |taken: &[&str]| container_name_for("shop", "web", 3, 7, |n| taken.contains(&n));
        assert_eq!(name(&[]), "shop-web-3");
        assert_eq!(name(&["shop-web-2", "shop-web-3-r6"]), "shop-web-3");
        assert_eq!(name(&["shop-web-3"]), "shop-web-3-r7");
        assert_eq!(name(&["shop-web-3", "shop-web-3-r7"]), "shop-web-3-r7-2");
        assert_eq!(
            name(&["shop-web-3", "shop-web-3-r7", "shop-web-3-r7-2"]),
            "shop-web-3-r7-3"
        );
        // The next update of the slot takes the plain name back once free.
        assert_eq!(name(&["shop-web-3-r6"]), "shop-web-3");
    }

    #[test]
    fn new_service_has_compose_defaults() {
        let s = ServiceSpec::new("web", 1);
        assert_eq!((s.replicas, s.stop_grace), (1, Duration::from_secs(10)));
        assert_eq!(s.restart, RestartPolicy::default());
        assert!(s.health.is_none());
    }
}
