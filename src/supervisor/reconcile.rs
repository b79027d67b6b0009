//! Reconciliation: compare the desired replicas with the observed ones and
//! return the actions that close the gap. Pure and synchronous.
//!
//! Rules, per service: slots are `1..=replicas`; slots above that are stopped
//! then removed (highest first); an empty slot is started; an exited replica
//! is restarted per its restart policy, never before its backoff deadline; an
//! unhealthy one is stopped so its policy restarts it; duplicates in a slot are
//! reduced to one; containers of no desired service are removed. Every start
//! is gated by `depends_on`. At most one action per slot per pass, and slots
//! claimed by a rolling update are left to it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::action::{Action, Reason};
use super::deps::unmet_dependency;
use super::health::next_probe_at;
use super::observed::{ObservedReplica, ObservedState, ReplicaStatus, SlotKey};
use super::restart::{
    decide_restart, ExitCause, ExitInfo, RestartDecision, RestartPolicy, RestartRule,
};
use super::spec::{DesiredState, RunState, ServiceSpec, DEFAULT_STOP_GRACE};
use super::time::Time;

/// The actions that move `observed` toward `desired` at `now`.
pub fn reconcile(desired: &DesiredState, observed: &ObservedState, now: Time) -> Vec<Action> {
    let mut actions = Vec::new();
    for (key, replicas) in by_slot(observed) {
        if desired.claimed.contains(&key) {
            continue;
        }
        let action = match desired.service(&key.service) {
            None => retire_one(&replicas, DEFAULT_STOP_GRACE, Reason::Orphan),
            Some(spec) if key.slot == 0 || key.slot > spec.replicas => {
                retire_one(&replicas, spec.stop_grace, Reason::ScaleDown)
            }
            Some(spec) => occupied_slot(desired, spec, observed, &replicas, now),
        };
        actions.extend(action);
    }
    for spec in &desired.services {
        if spec.run == RunState::Stopped {
            continue;
        }
        for slot in 1..=spec.replicas {
            let key = SlotKey::new(&spec.name, slot);
            if desired.claimed.contains(&key) || observed.in_slot(&key).next().is_some() {
                continue;
            }
            let start = Action::Start {
                key: key.clone(),
                revision: spec.revision,
                surge: false,
            };
            actions.push(gate(desired, spec, observed, start));
        }
    }
    // Scale-down stops the highest slots first; keep the list in a stable order.
    actions.sort_by(|a, b| {
        (&a.key().service, std::cmp::Reverse(a.key().slot))
            .cmp(&(&b.key().service, std::cmp::Reverse(b.key().slot)))
    });
    actions
}

/// The earliest deadline after `now` the shell should wake for: a deferred
/// restart or a health probe. `None` when nothing is scheduled.
pub fn next_wakeup(desired: &DesiredState, observed: &ObservedState, now: Time) -> Option<Time> {
    let restarts = reconcile(desired, observed, now)
        .into_iter()
        .filter_map(|a| match a {
            Action::Restart { at, .. } => Some(at),
            _ => None,
        });
    let probes = probe_schedule(desired, observed).map(|(_, at)| at);
    restarts.chain(probes).filter(|at| *at > now).min()
}

/// Containers whose health probe is due at `now`.
pub fn due_probes<'a>(
    desired: &'a DesiredState,
    observed: &'a ObservedState,
    now: Time,
) -> Vec<&'a str> {
    probe_schedule(desired, observed)
        .filter(|(_, at)| *at <= now)
        .map(|(r, _)| r.container.as_str())
        .collect()
}

/// Every running replica with a health check, with its next probe time.
fn probe_schedule<'a>(
    desired: &'a DesiredState,
    observed: &'a ObservedState,
) -> impl Iterator<Item = (&'a ObservedReplica, Time)> + 'a {
    observed.replicas.iter().filter_map(move |r| {
        let spec = desired.service(&r.key.service)?.health.as_ref()?;
        let state = r.health.as_ref()?;
        r.is_running().then(|| (r, next_probe_at(spec, state)))
    })
}

/// Groups observed replicas by slot, in slot order.
fn by_slot(observed: &ObservedState) -> BTreeMap<SlotKey, Vec<&ObservedReplica>> {
    let mut slots: BTreeMap<SlotKey, Vec<&ObservedReplica>> = BTreeMap::new();
    for r in &observed.replicas {
        slots.entry(r.key.clone()).or_default().push(r);
    }
    slots
}

/// Stops a live container or removes an exited one.
fn retire(r: &ObservedReplica, grace: Duration, reason: Reason) -> Option<Action> {
    match r.status {
        ReplicaStatus::Starting | ReplicaStatus::Running { .. } => Some(Action::Stop {
            key: r.key.clone(),
            container: r.container.clone(),
            grace,
            reason,
        }),
        ReplicaStatus::Exited(_) => Some(Action::Remove {
            key: r.key.clone(),
            container: r.container.clone(),
            reason,
        }),
        ReplicaStatus::Removing => None,
    }
}

/// Retires the first container of the slot that needs it (one action per slot).
fn retire_one(replicas: &[&ObservedReplica], grace: Duration, reason: Reason) -> Option<Action> {
    replicas.iter().find_map(|r| retire(r, grace, reason))
}

/// A slot within `1..=replicas` holding one or more containers.
fn occupied_slot(
    desired: &DesiredState,
    spec: &ServiceSpec,
    observed: &ObservedState,
    replicas: &[&ObservedReplica],
    now: Time,
) -> Option<Action> {
    if replicas.len() > 1 {
        let keep = keeper(spec, replicas)?;
        let extras: Vec<&ObservedReplica> = replicas
            .iter()
            .copied()
            .filter(|r| r.container != keep.container)
            .collect();
        return retire_one(&extras, spec.stop_grace, Reason::Duplicate);
    }
    let replica = replicas.first()?;
    match &replica.status {
        ReplicaStatus::Starting | ReplicaStatus::Removing => None,
        ReplicaStatus::Running { .. } if spec.run == RunState::Stopped => {
            retire(replica, spec.stop_grace, Reason::ServiceStopped)
        }
        // Replaced whatever the restart policy: that is the point of a health
        // check (and what Docker never does).
        ReplicaStatus::Running { .. } => replica
            .is_unhealthy()
            .then(|| retire(replica, spec.stop_grace, Reason::Unhealthy))
            .flatten(),
        ReplicaStatus::Exited(_) if spec.run == RunState::Stopped => None,
        ReplicaStatus::Exited(exit) => {
            let at = if exit.cause == ExitCause::StoppedOnRequest {
                // Stopped by the user, now wanted running again (`start`/`up`).
                now
            } else {
                let history = observed.history(&replica.key);
                let policy = replacement_policy(&spec.restart, exit);
                match decide_restart(&policy, &history, exit, now) {
                    RestartDecision::RestartAt { at, .. } => at,
                    RestartDecision::GiveUp(_) | RestartDecision::NoRestart => return None,
                }
            };
            let restart = Action::Restart {
                key: replica.key.clone(),
                container: replica.container.clone(),
                at,
            };
            Some(gate(desired, spec, observed, restart))
        }
    }
}

/// Which of several containers in one slot to keep: the current revision,
/// ready, running, not exited — ties broken by container id for determinism.
fn keeper<'a>(spec: &ServiceSpec, replicas: &[&'a ObservedReplica]) -> Option<&'a ObservedReplica> {
    let rank = |r: &ObservedReplica| {
        (
            r.revision == spec.revision,
            r.is_ready(),
            r.is_running(),
            !matches!(r.status, ReplicaStatus::Exited(_) | ReplicaStatus::Removing),
        )
    };
    replicas
        .iter()
        .copied()
        .max_by(|a, b| rank(a).cmp(&rank(b)).then(b.container.cmp(&a.container)))
}

/// Replaces a start with a wait when a dependency does not meet its condition.
fn gate(
    desired: &DesiredState,
    spec: &ServiceSpec,
    observed: &ObservedState,
    start: Action,
) -> Action {
    match unmet_dependency(desired, spec, observed) {
        Some(dep) => Action::WaitForDependency {
            key: start.key().clone(),
            dependency: dep.service.clone(),
            condition: dep.condition,
        },
        None => start,
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;

/// The policy for restarting an exited replica: its own, except that a
/// replica stopped for being unhealthy is always replaced (with the same
/// backoff), even under `restart: no`.
fn replacement_policy(policy: &RestartPolicy, exit: &ExitInfo) -> RestartPolicy {
    if exit.cause == ExitCause::StoppedUnhealthy && !policy.restarts_failures() {
        RestartPolicy {
            rule: RestartRule::Always,
            ..*policy
        }
    } else {
        *policy
    }
}
