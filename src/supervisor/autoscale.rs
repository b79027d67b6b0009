//! Horizontal autoscaling with Kubernetes' HPA algorithm, pure over a history.
//!
//! `desired = ceil(current × metric / target)`, unchanged while the ratio is
//! within the tolerance; scale-down is stabilised by taking the highest
//! recommendation of the window (300 s), so a brief dip does not remove
//! replicas that a moment later are needed again. The result goes through the
//! normal scaling path (the service's replica count).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::time::Time;

/// Errors in an autoscaling configuration.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AutoscaleError {
    /// `min_replicas` above `max_replicas`.
    #[error("autoscale min_replicas {min} is above max_replicas {max}")]
    MinAboveMax { min: u32, max: u32 },
    /// The target must be a positive number.
    #[error("autoscale target {target} must be positive")]
    BadTarget { target: f64 },
    /// The tolerance must be in [0, 1).
    #[error("autoscale tolerance {tolerance} must be at least 0 and below 1")]
    BadTolerance { tolerance: f64 },
}

/// An autoscaled service's bounds and target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoscaleSpec {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Target of the per-replica metric (e.g. CPU utilisation 0.7, or connections).
    pub target: f64,
    /// No change while `|metric / target - 1|` is at most this (HPA: 0.1).
    pub tolerance: f64,
    /// Scale down to the highest recommendation of this window (HPA: 300 s).
    pub scale_down_window: Duration,
    /// Scale up to the lowest recommendation of this window (HPA: 0, i.e. at once).
    pub scale_up_window: Duration,
}

impl AutoscaleSpec {
    /// Bounds and target with the HPA's defaults for the rest.
    pub fn new(min_replicas: u32, max_replicas: u32, target: f64) -> AutoscaleSpec {
        AutoscaleSpec {
            min_replicas,
            max_replicas,
            target,
            tolerance: 0.1,
            scale_down_window: Duration::from_secs(300),
            scale_up_window: Duration::ZERO,
        }
    }

    pub fn validate(&self) -> Result<(), AutoscaleError> {
        if self.min_replicas > self.max_replicas {
            return Err(AutoscaleError::MinAboveMax {
                min: self.min_replicas,
                max: self.max_replicas,
            });
        }
        if !(self.target.is_finite() && self.target > 0.0) {
            return Err(AutoscaleError::BadTarget {
                target: self.target,
            });
        }
        if !(0.0..1.0).contains(&self.tolerance) {
            return Err(AutoscaleError::BadTolerance {
                tolerance: self.tolerance,
            });
        }
        Ok(())
    }
}

/// One raw (unstabilised, unclamped) recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub at: Time,
    pub replicas: u32,
}

/// Recent recommendations of one service, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AutoscaleHistory {
    pub recommendations: Vec<Recommendation>,
}

/// The HPA's raw recommendation for `current` replicas whose average metric is `metric`.
pub fn recommend(spec: &AutoscaleSpec, current: u32, metric: f64) -> u32 {
    let ratio = metric / spec.target;
    if !ratio.is_finite() || (ratio - 1.0).abs() <= spec.tolerance {
        return current;
    }
    // The epsilon keeps float noise (2 × 1.5000000001) from adding a replica.
    let desired = (f64::from(current) * ratio - 1e-9).ceil().max(0.0);
    if desired >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        desired as u32
    }
}

/// Decides the replica count at `now` from the current count and metric
/// (`None`: no metric this round, so no change). Returns the new history.
pub fn decide(
    spec: &AutoscaleSpec,
    history: &AutoscaleHistory,
    current: u32,
    metric: Option<f64>,
    now: Time,
) -> (AutoscaleHistory, u32) {
    let Some(metric) = metric else {
        return (history.clone(), clamp(spec, current));
    };
    let raw = recommend(spec, current, metric);
    let (mut up, mut down) = (raw, raw);
    for r in &history.recommendations {
        if now.since(r.at) < spec.scale_up_window {
            up = up.min(r.replicas);
        }
        if now.since(r.at) < spec.scale_down_window {
            down = down.max(r.replicas);
        }
    }
    // Move only as far as every recommendation in the windows agrees.
    let stabilised = current.max(up).min(down);
    let longest = spec.scale_down_window.max(spec.scale_up_window);
    let mut recommendations: Vec<Recommendation> = history
        .recommendations
        .iter()
        .copied()
        .filter(|r| now.since(r.at) < longest)
        .collect();
    recommendations.push(Recommendation {
        at: now,
        replicas: raw,
    });
    (
        AutoscaleHistory { recommendations },
        clamp(spec, stabilised),
    )
}

fn clamp(spec: &AutoscaleSpec, replicas: u32) -> u32 {
    replicas.clamp(spec.min_replicas, spec.max_replicas.max(spec.min_replicas))
}

#[cfg(test)]
#[path = "autoscale_tests.rs"]
mod tests;
