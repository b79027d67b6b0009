//! `depends_on` gating: may a replica of a service start now?
//!
//! Checked before every start and restart, not only at first `up`, so a
//! dependency that was restarted must meet its condition again.

use super::observed::{ObservedState, ReplicaStatus, SlotKey};
use super::spec::{Condition, Dependency, DesiredState, ServiceSpec};

/// The first dependency of `spec` whose condition does not hold, if any.
pub fn unmet_dependency<'a>(
    desired: &DesiredState,
    spec: &'a ServiceSpec,
    observed: &ObservedState,
) -> Option<&'a Dependency> {
    spec.depends_on
        .iter()
        .find(|dep| !condition_holds(desired, dep, observed))
}

/// Whether one dependency meets its condition. An unknown service never does.
pub fn condition_holds(desired: &DesiredState, dep: &Dependency, observed: &ObservedState) -> bool {
    let Some(target) = desired.service(&dep.service) else {
        return false;
    };
    let mut replicas = observed
        .of_service(&target.name)
        .filter(|r| r.status != ReplicaStatus::Removing);
    match dep.condition {
        Condition::ServiceStarted => replicas.any(|r| r.is_running()),
        // `is_ready` treats a replica without a health check as healthy once running.
        Condition::ServiceHealthy => replicas.any(|r| r.is_ready()),
        Condition::ServiceCompletedSuccessfully => (1..=target.replicas).all(|slot| {
            let key = SlotKey::new(&target.name, slot);
            let mut in_slot = observed.in_slot(&key).peekable();
            in_slot.peek().is_some()
                && in_slot.all(|r| matches!(&r.status, ReplicaStatus::Exited(e) if e.code == 0))
        }),
    }
}

#[cfg(test)]
#[path = "deps_tests.rs"]
mod tests;
