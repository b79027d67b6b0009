//! A minimal simulated shell for the rollout tests.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::supervisor::health::HealthStatus;
use crate::supervisor::restart::{ExitCause, ExitInfo};
use crate::supervisor::test_fixtures::{running, with_health};

/// How a new replica of a revision behaves in the simulated shell.
#[derive(Clone, Copy, PartialEq)]
pub enum Outcome {
    Ready,
    Crash,
    Unhealthy,
}

/// A minimal shell: carries out actions at once on the observed state.
pub struct Sim {
    pub observed: ObservedState,
    pub now: Time,
    pub outcomes: BTreeMap<u64, Outcome>,
    serial: u32,
}

impl Sim {
    pub fn new(replicas: u32, revision: u64) -> Sim {
        let mut observed = ObservedState::default();
        for slot in 1..=replicas {
            let mut r = running("web", slot, &format!("web{slot}-r{revision}"));
            r.revision = revision;
            observed.replicas.push(r);
        }
        Sim {
            observed,
            now: Time::ZERO,
            outcomes: BTreeMap::new(),
            serial: 0,
        }
    }

    pub fn apply(&mut self, actions: &[Action]) {
        for a in actions {
            match a {
                Action::Start { key, revision, .. } => {
                    self.serial += 1;
                    let name = format!("web{}-r{revision}-{}", key.slot, self.serial);
                    let mut r = running("web", key.slot, &name);
                    r.revision = *revision;
                    match self
                        .outcomes
                        .get(revision)
                        .copied()
                        .unwrap_or(Outcome::Ready)
                    {
                        Outcome::Ready => {}
                        Outcome::Crash => r.status = exit(1, self.now, ExitCause::Exited),
                        Outcome::Unhealthy => r = with_health(r, HealthStatus::Unhealthy),
                    }
                    self.observed.replicas.push(r);
                }
                Action::Stop { container, .. } => {
                    let now = self.now;
                    self.find(container).status = exit(143, now, ExitCause::StoppedOnRequest);
                }
                Action::Remove { container, .. } => {
                    self.observed.replicas.retain(|r| &r.container != container)
                }
                other => panic!("unexpected action {other:?}"),
            }
        }
    }

    pub fn find(&mut self, container: &str) -> &mut ObservedReplica {
        self.observed
            .replicas
            .iter_mut()
            .find(|r| r.container == container)
            .expect("container exists")
    }

    /// One step then carry out its actions; returns the actions.
    pub fn step(&mut self, r: &mut Rollout) -> Vec<Action> {
        let (next, actions) = step(r, &self.observed, self.now);
        *r = next;
        self.apply(&actions);
        actions
    }

    /// Steps once per second until the rollout stops updating; returns the steps taken.
    pub fn run(&mut self, r: &mut Rollout, parallelism: usize) -> usize {
        for n in 0..200 {
            if r.phase != Phase::Updating {
                return n;
            }
            self.step(r);
            let replacing = r
                .slots
                .values()
                .filter(|s| **s == SlotStep::Replacing)
                .count();
            assert!(
                replacing <= parallelism,
                "{replacing} slots replaced at once"
            );
            self.now = self.now + Duration::from_secs(1);
        }
        panic!("rollout did not finish: {r:#?}");
    }

    pub fn revisions(&self) -> Vec<(u32, u64, bool)> {
        let mut v: Vec<_> = self
            .observed
            .replicas
            .iter()
            .map(|r| (r.key.slot, r.revision, r.is_ready()))
            .collect();
        v.sort();
        v
    }
}

pub fn exit(code: i32, at: Time, cause: ExitCause) -> ReplicaStatus {
    ReplicaStatus::Exited(ExitInfo { code, at, cause })
}
