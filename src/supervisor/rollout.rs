//! Rolling updates and rollbacks with Swarm's semantics, as a state machine.
//!
//! Slots are replaced in batches of `parallelism`; a batch counts as up when
//! each new replica is running (and healthy, if it has a health check), and
//! the next batch starts `delay` after that. A new replica that exits or turns
//! unhealthy before `monitor` has passed counts as failed; when failures
//! exceed `max_failure_ratio` of the replicas updated, `failure_action` runs.
//! A rollback that fails pauses: a rollback is never rolled back.
//!
//! `step` is pure: it reads the persisted `Rollout` and the observed state and
//! returns the next `Rollout` and the actions. Like `reconcile`'s, the actions
//! are idempotent requests: the shell ignores one already in progress.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::action::{Action, Reason};
use super::observed::{ObservedReplica, ObservedState, ReplicaStatus, SlotKey};
use super::spec::ServiceSpec;
use super::time::Time;

pub use super::update_config::{FailureAction, Order, UpdateConfig};

/// Whether a rollout goes forward or back; a failed rollback is never rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutKind {
    Update,
    Rollback,
}

/// Why a rollout stopped making progress (shown by `ps` and `events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PauseReason {
    /// `failure_action: pause` ran: `failed` of the `total` slots to update failed.
    TooManyFailures { failed: u32, total: u32 },
    /// A rollback failed too; rolling back a rollback would loop, so it pauses.
    RollbackFailed { failed: u32, total: u32 },
}

/// The rollout as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Updating,
    Paused(PauseReason),
    Completed,
}

/// One slot's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotStep {
    /// Not reached yet.
    Pending,
    /// Being replaced: old stopped/removed and new started, in the configured order.
    Replacing,
    /// The new replica is up since `since`; failing before `since + monitor` counts.
    Monitoring {
        since: Time,
    },
    Done,
    Failed,
}

/// A rolling update (or rollback) of one service, persisted between steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub service: String,
    pub kind: RolloutKind,
    pub from_revision: u64,
    /// The revision being rolled out; the shell's desired spec must follow it
    /// (it changes when an update turns into a rollback).
    pub to_revision: u64,
    pub config: UpdateConfig,
    /// Used if this update fails with `failure_action: rollback`.
    pub rollback_config: UpdateConfig,
    pub stop_grace: Duration,
    pub phase: Phase,
    pub slots: BTreeMap<u32, SlotStep>,
    /// The next batch may not start before this (batch up + `delay`).
    pub next_batch_at: Time,
    /// New replicas started so far, and how many of them failed.
    pub updated: u32,
    pub failed: u32,
    /// Slots found already at the target revision, so not updated.
    pub adopted: u32,
}

impl Rollout {
    /// An update to `new` (already the desired definition) from `from_revision`,
    /// following `new.update`.
    pub fn update(new: &ServiceSpec, from_revision: u64, now: Time) -> Rollout {
        Rollout::begin(
            RolloutKind::Update,
            new,
            from_revision,
            new.update,
            new.rollback,
            now,
        )
    }

    /// `rcorch rollback`: from `current` back to `target`, following `current.rollback`.
    pub fn rollback(current: &ServiceSpec, target: &ServiceSpec, now: Time) -> Rollout {
        let config = current.rollback;
        Rollout::begin(
            RolloutKind::Rollback,
            target,
            current.revision,
            config,
            config,
            now,
        )
    }

    fn begin(
        kind: RolloutKind,
        target: &ServiceSpec,
        from_revision: u64,
        config: UpdateConfig,
        rollback_config: UpdateConfig,
        now: Time,
    ) -> Rollout {
        Rollout {
            service: target.name.clone(),
            kind,
            from_revision,
            to_revision: target.revision,
            config,
            rollback_config,
            stop_grace: target.stop_grace,
            phase: Phase::Updating,
            slots: (1..=target.replicas)
                .map(|n| (n, SlotStep::Pending))
                .collect(),
            next_batch_at: now,
            updated: 0,
            failed: 0,
            adopted: 0,
        }
    }

    /// Slots this rollout drives now; the reconciler must leave them alone.
    pub fn claimed_slots(&self) -> BTreeSet<SlotKey> {
        if self.phase != Phase::Updating {
            return BTreeSet::new();
        }
        self.slots
            .iter()
            .filter(|(_, s)| matches!(s, SlotStep::Replacing | SlotStep::Monitoring { .. }))
            .map(|(n, _)| SlotKey::new(&self.service, *n))
            .collect()
    }

    /// The earliest time after `now` when `step` may make progress by itself
    /// (the next batch or the end of a monitor window).
    pub fn next_wakeup(&self, now: Time) -> Option<Time> {
        if self.phase != Phase::Updating {
            return None;
        }
        let pending = self.slots.values().any(|s| *s == SlotStep::Pending);
        let batch = pending.then_some(self.next_batch_at);
        let monitors = self.slots.values().filter_map(|s| match s {
            SlotStep::Monitoring { since } => Some(*since + self.config.monitor),
            _ => None,
        });
        batch.into_iter().chain(monitors).filter(|t| *t > now).min()
    }
}

/// Advances the rollout at `now` given what is observed.
pub fn step(state: &Rollout, observed: &ObservedState, now: Time) -> (Rollout, Vec<Action>) {
    if state.phase != Phase::Updating {
        return (state.clone(), Vec::new());
    }
    let mut next = state.clone();
    let mut actions = Vec::new();
    let mut busy = false;
    let mut new_failures = 0;
    for (slot, s) in &state.slots {
        if !matches!(s, SlotStep::Replacing | SlotStep::Monitoring { .. }) {
            continue;
        }
        let (after, action) = advance_slot(state, *slot, *s, observed, now);
        match (s, after) {
            (_, SlotStep::Failed) => new_failures += 1,
            (SlotStep::Replacing, SlotStep::Monitoring { .. }) => {
                next.next_batch_at = next.next_batch_at.max(now + state.config.delay);
            }
            _ => {}
        }
        busy |= after == SlotStep::Replacing || action.is_some();
        next.slots.insert(*slot, after);
        actions.extend(action);
    }
    next.failed += new_failures;
    if new_failures > 0 && too_many_failures(&next) {
        return on_failure(&next, observed, now, actions);
    }
    if !busy && now >= next.next_batch_at {
        actions.extend(start_batch(&mut next, observed, now));
    }
    if next
        .slots
        .values()
        .all(|s| matches!(s, SlotStep::Done | SlotStep::Failed))
    {
        next.phase = Phase::Completed;
    }
    (next, actions)
}

/// Swarm's rule: failures over the number of slots to update exceed the ratio.
fn too_many_failures(r: &Rollout) -> bool {
    f64::from(r.failed) > r.config.max_failure_ratio * f64::from(slots_to_update(r).max(1))
}

fn slots_to_update(r: &Rollout) -> u32 {
    u32::try_from(r.slots.len()).unwrap_or(u32::MAX) - r.adopted
}

/// Runs the failure action. In-flight actions are dropped when the rollout
/// stops driving its slots; the reconciler takes them over.
fn on_failure(
    r: &Rollout,
    observed: &ObservedState,
    now: Time,
    actions: Vec<Action>,
) -> (Rollout, Vec<Action>) {
    let (failed, total) = (r.failed, slots_to_update(r));
    let pause = |reason| {
        let mut paused = r.clone();
        paused.phase = Phase::Paused(reason);
        (paused, Vec::new())
    };
    match (r.config.failure_action, r.kind) {
        (FailureAction::Continue, _) => (r.clone(), actions),
        (_, RolloutKind::Rollback) => pause(PauseReason::RollbackFailed { failed, total }),
        (FailureAction::Pause, RolloutKind::Update) => {
            pause(PauseReason::TooManyFailures { failed, total })
        }
        (FailureAction::Rollback, RolloutKind::Update) => {
            let back = Rollout {
                kind: RolloutKind::Rollback,
                from_revision: r.to_revision,
                to_revision: r.from_revision,
                config: r.rollback_config,
                phase: Phase::Updating,
                slots: r.slots.keys().map(|n| (*n, SlotStep::Pending)).collect(),
                next_batch_at: now,
                updated: 0,
                failed: 0,
                adopted: 0,
                ..r.clone()
            };
            step(&back, observed, now)
        }
    }
}

/// Takes the next `parallelism` pending slots (0: all). Every pending slot
/// already at the target revision and ready is first adopted as done, so it
/// neither takes a place in the batch nor counts as a slot to update.
fn start_batch(r: &mut Rollout, observed: &ObservedState, now: Time) -> Vec<Action> {
    let pending: Vec<u32> = r
        .slots
        .iter()
        .filter(|(_, s)| **s == SlotStep::Pending)
        .map(|(n, _)| *n)
        .collect();
    let mut dirty = Vec::new();
    for slot in pending {
        let (old, new) = split_slot(r, slot, observed);
        if old.is_none() && new.is_some_and(ObservedReplica::is_ready) {
            r.slots.insert(slot, SlotStep::Done);
            r.adopted += 1;
        } else {
            dirty.push(slot);
        }
    }
    let limit = match r.config.parallelism {
        0 => usize::MAX,
        n => n as usize,
    };
    let mut actions = Vec::new();
    for slot in dirty.into_iter().take(limit) {
        r.updated += 1;
        let (after, action) = advance_slot(r, slot, SlotStep::Replacing, observed, now);
        r.slots.insert(slot, after);
        actions.extend(action);
    }
    actions
}

/// The old container (another revision) and the new one (the target revision) in a slot.
fn split_slot<'a>(
    r: &Rollout,
    slot: u32,
    observed: &'a ObservedState,
) -> (Option<&'a ObservedReplica>, Option<&'a ObservedReplica>) {
    let key = SlotKey::new(&r.service, slot);
    let old = observed.in_slot(&key).find(|c| c.revision != r.to_revision);
    let new = observed
        .in_slot(&key)
        .filter(|c| c.revision == r.to_revision && c.status != ReplicaStatus::Removing)
        .max_by_key(|c| (c.is_ready(), c.is_running()));
    (old, new)
}

fn new_failed(new: &ObservedReplica) -> bool {
    matches!(new.status, ReplicaStatus::Exited(_)) || new.is_unhealthy()
}

/// One slot's next step and the action it needs (at most one).
fn advance_slot(
    r: &Rollout,
    slot: u32,
    step: SlotStep,
    observed: &ObservedState,
    now: Time,
) -> (SlotStep, Option<Action>) {
    let (old, new) = split_slot(r, slot, observed);
    let start = |surge| Action::Start {
        key: SlotKey::new(&r.service, slot),
        revision: r.to_revision,
        surge,
    };
    match step {
        SlotStep::Replacing => match (new, old, r.config.order) {
            (Some(n), _, _) if new_failed(n) => (SlotStep::Failed, None),
            (Some(n), _, _) if n.is_ready() => {
                // Start-first: the old one goes once the new one serves.
                let next = SlotStep::Monitoring { since: now };
                (next, old.and_then(|o| retire(r, o)))
            }
            (Some(_), _, _) => (step, None),
            (None, Some(o), Order::StopFirst) => (step, retire(r, o)),
            (None, None, Order::StopFirst) => (step, Some(start(false))),
            (None, o, Order::StartFirst) => (step, Some(start(o.is_some()))),
        },
        SlotStep::Monitoring { since } => match (new, old) {
            (None, _) => (SlotStep::Failed, None),
            (Some(n), _) if new_failed(n) => (SlotStep::Failed, None),
            (_, Some(o)) => (step, retire(r, o)),
            _ if now >= since + r.config.monitor => (SlotStep::Done, None),
            _ => (step, None),
        },
        SlotStep::Pending | SlotStep::Done | SlotStep::Failed => (step, None),
    }
}

/// Stops the old replica, or removes it once exited.
fn retire(r: &Rollout, old: &ObservedReplica) -> Option<Action> {
    match old.status {
        ReplicaStatus::Starting | ReplicaStatus::Running { .. } => Some(Action::Stop {
            key: old.key.clone(),
            container: old.container.clone(),
            grace: r.stop_grace,
            reason: Reason::Rollout,
        }),
        ReplicaStatus::Exited(_) => Some(Action::Remove {
            key: old.key.clone(),
            container: old.container.clone(),
            reason: Reason::Rollout,
        }),
        ReplicaStatus::Removing => None,
    }
}

#[cfg(test)]
#[path = "rollout_sim.rs"]
mod sim;

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
