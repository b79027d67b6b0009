//! The supervisor's side of rolling updates: notice that a service's
//! replicas run another revision than the desired one, drive the pure
//! `rollout::step` state machine each pass, make the desired definition
//! follow an automatic rollback, and persist progress (`rollouts.json`) for
//! `ps` and for a supervisor that takes over after a crash.

use std::collections::{BTreeMap, BTreeSet};

use super::history::History;
use super::translate::ProjectRecord;
use super::ProjectDir;
use crate::container::store::{read_json, write_json_atomic};
use crate::supervisor::rollout::{step, Phase, Rollout, RolloutKind, SlotStep};
use crate::supervisor::{Action, ObservedState, ReplicaStatus, SlotKey, Time};

/// What happened to a rollout this pass, for the events log.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutNote {
    pub service: String,
    pub action: &'static str,
    pub detail: String,
}

impl ProjectDir {
    pub fn load_rollouts(&self) -> BTreeMap<String, Rollout> {
        read_json(&self.dir.join("rollouts.json")).unwrap_or_default()
    }

    fn save_rollouts(&self, rollouts: &BTreeMap<String, Rollout>) {
        let _ = write_json_atomic(&self.dir.join("rollouts.json"), rollouts);
    }
}

/// The rollouts of one project, by service.
#[derive(Debug, Default)]
pub struct Rollouts {
    pub active: BTreeMap<String, Rollout>,
}

fn kind_word(kind: RolloutKind) -> &'static str {
    match kind {
        RolloutKind::Update => "update",
        RolloutKind::Rollback => "rollback",
    }
}

/// One line of progress, as `ps` shows it.
pub fn describe(r: &Rollout) -> String {
    let done = r
        .slots
        .values()
        .filter(|s| matches!(s, SlotStep::Done))
        .count();
    let state = match r.phase {
        Phase::Updating => "in progress".to_string(),
        Phase::Completed => "completed".to_string(),
        Phase::Paused(reason) => format!("paused: {reason:?}"),
    };
    format!(
        "{} revision {} -> {}: {state} ({done}/{} replicas, {} failed)",
        kind_word(r.kind),
        r.from_revision,
        r.to_revision,
        r.slots.len(),
        r.failed
    )
}

/// The revision most of a service's other-revision replicas run, if any.
fn outdated_revision(observed: &ObservedState, service: &str, wanted: u64) -> Option<u64> {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for r in observed.of_service(service) {
        if r.revision != wanted && r.status != ReplicaStatus::Removing {
            *counts.entry(r.revision).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(rev, _)| rev)
}

impl Rollouts {
    /// Rollouts persisted by an earlier supervisor. Their times were on its
    /// clock: restart the waits from `now`.
    pub fn load(dir: &ProjectDir, now: Time) -> Rollouts {
        let mut active = dir.load_rollouts();
        for r in active.values_mut() {
            r.next_batch_at = now;
            for s in r.slots.values_mut() {
                if let SlotStep::Monitoring { since } = s {
                    *since = now;
                }
            }
        }
        Rollouts { active }
    }

    /// Slots being replaced: the reconciler leaves them to the rollout.
    pub fn claimed(&self) -> BTreeSet<SlotKey> {
        self.active
            .values()
            .flat_map(Rollout::claimed_slots)
            .collect()
    }

    pub fn next_wakeup(&self, now: Time) -> Option<Time> {
        self.active
            .values()
            .filter_map(|r| r.next_wakeup(now))
            .min()
    }

    pub fn updating(&self) -> bool {
        self.active.values().any(|r| r.phase == Phase::Updating)
    }

    /// One pass: start rollouts for services whose replicas run another
    /// revision, step the running ones, and make `record` follow an
    /// automatic rollback. Returns the actions and what to log; `record`
    /// must be saved when `changed` is set.
    pub fn drive(
        &mut self,
        record: &mut ProjectRecord,
        history: &History,
        observed: &ObservedState,
        now: Time,
    ) -> Drive {
        let mut out = Drive::default();
        self.begin(record, history, observed, now, &mut out);
        for service in record.services.iter_mut() {
            let name = service.spec.name.clone();
            let Some(before) = self.active.get(&name).cloned() else {
                continue;
            };
            let (next, actions) = step(&before, observed, now);
            out.actions.extend(actions);
            if next.to_revision != service.spec.revision {
                // An update failed and turned into a rollback: the desired
                // definition goes back with it.
                if let Some(old) = history.get(&name).and_then(|h| h.get(next.to_revision)) {
                    let mut restored = old.spec.clone();
                    restored.spec.replicas = service.spec.replicas;
                    restored.spec.run = service.spec.run;
                    *service = restored;
                    out.changed = true;
                }
                out.notes.push(RolloutNote {
                    service: name.clone(),
                    action: "rollback",
                    detail: format!(
                        "update to revision {} failed ({} of {}): back to revision {}",
                        before.to_revision, before.failed, before.updated, next.to_revision
                    ),
                });
            }
            if next.phase != before.phase {
                out.notes.push(RolloutNote {
                    service: name.clone(),
                    action: kind_word(next.kind),
                    detail: describe(&next),
                });
            }
            if next != before {
                out.persist = true;
            }
            self.active.insert(name, next);
        }
        out
    }

    fn begin(
        &mut self,
        record: &ProjectRecord,
        history: &History,
        observed: &ObservedState,
        now: Time,
        out: &mut Drive,
    ) {
        for service in &record.services {
            let name = &service.spec.name;
            let wanted = service.spec.revision;
            if self
                .active
                .get(name)
                .is_some_and(|r| r.to_revision == wanted)
            {
                continue;
            }
            let Some(from) = outdated_revision(observed, name, wanted) else {
                continue;
            };
            let restored = history
                .get(name)
                .and_then(|h| h.get(wanted))
                .is_some_and(|r| r.restored_from.is_some());
            let previous = history
                .get(name)
                .and_then(|h| h.get(from))
                .map(|r| r.spec.spec.clone());
            let rollout = match previous {
                Some(current) if restored => Rollout::rollback(&current, &service.spec, now),
                _ => Rollout::update(&service.spec, from, now),
            };
            out.notes.push(RolloutNote {
                service: name.clone(),
                action: kind_word(rollout.kind),
                detail: describe(&rollout),
            });
            out.persist = true;
            self.active.insert(name.clone(), rollout);
        }
        // Services gone from the project take their rollouts with them.
        let before = self.active.len();
        self.active.retain(|s, _| record.service(s).is_some());
        out.persist |= self.active.len() != before;
    }

    pub fn save(&self, dir: &ProjectDir) {
        dir.save_rollouts(&self.active);
    }
}

/// The outcome of one `Rollouts::drive`.
#[derive(Debug, Default)]
pub struct Drive {
    pub actions: Vec<Action>,
    pub notes: Vec<RolloutNote>,
    /// `record` changed (an automatic rollback): save it.
    pub changed: bool,
    /// The rollouts changed: persist them.
    pub persist: bool,
}

#[cfg(test)]
#[path = "rollouts_tests.rs"]
mod tests;
