//! Builders shared by the supervisor's unit tests.

use std::collections::BTreeSet;
use std::time::Duration;

use super::action::{Action, Reason};
use super::health::{HealthState, HealthStatus};
use super::observed::{ObservedReplica, ObservedState, ReplicaStatus, SlotKey};
use super::restart::{record_start, ExitCause, ExitInfo, RestartHistory, RestartPolicy, StartKind};
use super::spec::{Condition, Dependency, DesiredState, ServiceSpec, DEFAULT_STOP_GRACE};
use super::time::Time;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn t(n: u64) -> Time {
    Time::from_millis(n)
}

pub fn key(service: &str, slot: u32) -> SlotKey {
    SlotKey::new(service, slot)
}

pub fn service(name: &str, replicas: u32, restart: &str) -> ServiceSpec {
    ServiceSpec {
        replicas,
        restart: docker_delays(RestartPolicy::parse(restart).unwrap()),
        ..ServiceSpec::new(name, 1)
    }
}

pub fn desired(services: Vec<ServiceSpec>) -> DesiredState {
    DesiredState {
        project: "p".into(),
        services,
        claimed: BTreeSet::new(),
    }
}

pub fn replica(
    service: &str,
    slot: u32,
    container: &str,
    status: ReplicaStatus,
) -> ObservedReplica {
    ObservedReplica {
        key: key(service, slot),
        container: container.into(),
        revision: 1,
        status,
        health: None,
    }
}

pub fn running(service: &str, slot: u32, container: &str) -> ObservedReplica {
    replica(
        service,
        slot,
        container,
        ReplicaStatus::Running { since: t(0) },
    )
}

pub fn exited(service: &str, slot: u32, container: &str, code: i32, at: u64) -> ObservedReplica {
    replica(
        service,
        slot,
        container,
        ReplicaStatus::Exited(ExitInfo {
            code,
            at: t(at),
            cause: ExitCause::Exited,
        }),
    )
}

pub fn with_health(mut r: ObservedReplica, status: HealthStatus) -> ObservedReplica {
    r.health = Some(HealthState {
        status,
        ..HealthState::new(t(0))
    });
    r
}

pub fn observed(replicas: Vec<ObservedReplica>) -> ObservedState {
    ObservedState {
        replicas,
        ..ObservedState::default()
    }
}

pub fn start(service: &str, slot: u32) -> Action {
    Action::Start {
        key: key(service, slot),
        revision: 1,
        surge: false,
    }
}

pub fn stop(service: &str, slot: u32, container: &str, reason: Reason) -> Action {
    Action::Stop {
        key: key(service, slot),
        container: container.into(),
        grace: DEFAULT_STOP_GRACE,
        reason,
    }
}

pub fn restart_at(service: &str, slot: u32, container: &str, at: u64) -> Action {
    Action::Restart {
        key: key(service, slot),
        container: container.into(),
        at: t(at),
    }
}

pub fn assert_one_action_per_slot(actions: &[Action]) {
    let keys: BTreeSet<&SlotKey> = actions.iter().map(Action::key).collect();
    assert_eq!(
        keys.len(),
        actions.len(),
        "two actions for one slot: {actions:#?}"
    );
}

pub fn depends(mut s: ServiceSpec, on: &str, condition: Condition) -> ServiceSpec {
    s.depends_on.push(Dependency {
        service: on.into(),
        condition,
    });
    s
}

pub fn wait(service: &str, slot: u32, on: &str, condition: Condition) -> Action {
    Action::WaitForDependency {
        key: key(service, slot),
        dependency: on.into(),
        condition,
    }
}

pub fn history_after_restarts(delays: &[u64], last_start: u64) -> RestartHistory {
    let mut h = record_start(&RestartHistory::default(), t(0), StartKind::Fresh);
    for d in delays {
        h = record_start(&h, t(last_start), StartKind::Restart { delay: ms(*d) });
    }
    h
}

/// Docker's delays exactly (the first restart too waits `base`), so tests
/// can follow the doubling from the first restart on.
pub fn docker_delays(mut policy: RestartPolicy) -> RestartPolicy {
    policy.backoff.first = policy.backoff.base;
    policy
}
