//! What the decisions ask the shell to do.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::observed::SlotKey;
use super::spec::Condition;
use super::time::Time;

/// Why a container is stopped or removed (shown by `events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// The slot is above the service's replica count.
    ScaleDown,
    /// The health check failed `retries` times; the slot will be restarted.
    Unhealthy,
    /// No desired service owns the container.
    Orphan,
    /// Another container holds the same slot.
    Duplicate,
    /// The user stopped the service.
    ServiceStopped,
    /// A rolling update or rollback replaces it.
    Rollout,
}

/// One step for the shell. Actions with an `at` must not run before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Create and start a container for the slot from `revision`. A `surge`
    /// replica shares its slot with the old one during a start-first update:
    /// the shell gives it a name of its own (`container_name_for`) and the
    /// same slot and revision labels.
    Start {
        key: SlotKey,
        revision: u64,
        surge: bool,
    },
    /// Start the exited container again, not before `at` (the backoff deadline).
    Restart {
        key: SlotKey,
        container: String,
        at: Time,
    },
    /// Take it out of the load balancer, send the stop signal, SIGKILL after `grace`.
    Stop {
        key: SlotKey,
        container: String,
        grace: Duration,
        reason: Reason,
    },
    /// Delete an exited container.
    Remove {
        key: SlotKey,
        container: String,
        reason: Reason,
    },
    /// The slot would start but `dependency` does not meet `condition` yet.
    WaitForDependency {
        key: SlotKey,
        dependency: String,
        condition: Condition,
    },
}

impl Action {
    /// The slot the action concerns.
    pub fn key(&self) -> &SlotKey {
        match self {
            Action::Start { key, .. }
            | Action::Restart { key, .. }
            | Action::Stop { key, .. }
            | Action::Remove { key, .. }
            | Action::WaitForDependency { key, .. } => key,
        }
    }

    /// Whether the shell may run it at `now` (only a restart can be deferred).
    pub fn is_due(&self, now: Time) -> bool {
        match self {
            Action::Restart { at, .. } => *at <= now,
            Action::WaitForDependency { .. } => false,
            _ => true,
        }
    }
}
