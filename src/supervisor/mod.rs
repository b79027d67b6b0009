//! The supervisor's pure decision core: restart policy and backoff, health
//! checks, reconciliation of desired against observed replicas, rolling
//! updates, autoscaling and load-balancer membership.
//!
//! Nothing here performs I/O or reads a clock: time is a parameter (`Time`),
//! and every decision returns data (actions, deadlines, new state values)
//! that the imperative shell carries out.

pub mod action;
pub mod autoscale;
pub mod deps;
pub mod health;
pub mod lb;
pub mod lb_nft;
pub mod observed;
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
pub use spec::{replica_name, Condition, Dependency, DesiredState, RunState, ServiceSpec};
pub use time::Time;

#[cfg(test)]
mod test_fixtures;
