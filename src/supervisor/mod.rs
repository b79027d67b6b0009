//! The supervisor's pure decision core: restart policy and backoff, health
//! checks, reconciliation of desired against observed replicas, rolling
//! updates, autoscaling and load-balancer membership.
//!
//! Nothing here performs I/O or reads a clock: time is a parameter (`Time`),
//! and every decision returns data (actions, deadlines, new state values)
//! that the imperative shell carries out. The shell's side of the contract:
//!
//! - Call `reconcile` (and `rollout::step` for a service being updated) after
//!   every observed change and at `next_wakeup`/`Rollout::next_wakeup`; run only
//!   actions that are `is_due`, and treat actions as idempotent requests
//!   (ignore one already in progress for the same container).
//! - Keep `ObservedState::restarts` per slot with `restart::record_start` /
//!   `record_exit`; report an exit caused by a `Stop` as
//!   `ExitCause::StoppedUnhealthy` when its reason was `Reason::Unhealthy`,
//!   `StoppedOnRequest` otherwise, and a container that failed to start as an
//!   exit with a non-zero code.
//! - Drain `lb::draining_for(&actions)` from the balancer before stopping.
//! - Put `Rollout::claimed_slots` into `DesiredState::claimed`, and make the
//!   desired spec follow `Rollout::to_revision` (it flips on automatic rollback).
//! - Run health probes listed by `due_probes` and feed results to
//!   `health::on_probe_result`.

pub mod action;
pub mod admission;
pub mod autoscale;
pub mod autoscale_policy;
pub mod cpu_placement;
pub mod deps;
pub mod health;
pub mod health_log;
pub mod lb;
pub mod observed;
pub mod placement;
pub mod reconcile;
pub mod restart;
pub mod revisions;
pub mod rollout;
pub mod spec;
pub mod time;
pub mod update_config;

pub use action::{Action, Reason};
pub use observed::{ObservedReplica, ObservedState, ReplicaStatus, SlotKey};
pub use reconcile::{due_probes, next_wakeup, reconcile};
pub use spec::{
    container_name_for, replica_name, Condition, Dependency, DesiredState, RunState, ServiceSpec,
};
pub use time::Time;

#[cfg(test)]
pub(crate) mod test_fixtures;
