//! `deploy.update_config` and `deploy.rollback_config`, with Swarm's defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `deploy.update_config.order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Order {
    /// Stop the old replica, then start the new one (Swarm's default).
    #[default]
    StopFirst,
    /// Start the new replica, then stop the old one once the new one is ready.
    StartFirst,
}

/// `deploy.update_config.failure_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FailureAction {
    #[default]
    Pause,
    Continue,
    Rollback,
}

/// `deploy.update_config` / `deploy.rollback_config`, with Swarm's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UpdateConfig {
    /// Replicas replaced at a time; 0 means all at once.
    pub parallelism: u32,
    /// Wait between one batch being up and the next starting.
    pub delay: Duration,
    pub order: Order,
    /// A new replica that fails within this time after it is up counts as failed.
    pub monitor: Duration,
    /// Failures tolerated, as a fraction of the replicas updated so far.
    pub max_failure_ratio: f64,
    pub failure_action: FailureAction,
}

impl Default for UpdateConfig {
    fn default() -> UpdateConfig {
        UpdateConfig {
            parallelism: 1,
            delay: Duration::ZERO,
            order: Order::StopFirst,
            monitor: Duration::from_secs(5),
            max_failure_ratio: 0.0,
            failure_action: FailureAction::Pause,
        }
    }
}
