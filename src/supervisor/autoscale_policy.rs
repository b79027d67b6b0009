//! What an autoscaled service measures and how the measurements become the
//! one metric the HPA computation in [`super::autoscale`] scales on. Pure.
//!
//! Each metric (CPU, connections) gives a usage ratio (average per replica
//! over its target); the service's metric is the largest ratio, scaled
//! against a target of 1.0. `ceil(n × max rᵢ) = max ceil(n × rᵢ)`, so this is
//! the HPA's "largest recommendation of all metrics".

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::autoscale::AutoscaleSpec;
use super::time::Time;

/// A service's autoscaling as the supervisor keeps it (`x-rcorch-autoscale`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoscalePolicy {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Average CPU per replica, as a fraction of one CPU (0.5 = 50 %).
    pub target_cpu: Option<f64>,
    /// Average established TCP connections per replica.
    pub target_connections: Option<f64>,
    pub scale_down_window: Duration,
    /// How often the metrics are sampled.
    pub interval: Duration,
}

impl AutoscalePolicy {
    /// The HPA spec the combined ratio is scaled with (target 1.0).
    pub fn spec(&self) -> AutoscaleSpec {
        AutoscaleSpec {
            scale_down_window: self.scale_down_window,
            ..AutoscaleSpec::new(self.min_replicas, self.max_replicas, 1.0)
        }
    }

    /// `replicas` within the bounds.
    pub fn clamp(&self, replicas: u32) -> u32 {
        replicas.clamp(self.min_replicas, self.max_replicas.max(self.min_replicas))
    }
}

/// One reading of a replica's cumulative CPU counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuSample {
    pub at: Time,
    /// cgroup CPU usage (v1 cpuacct.usage, v2 cpu.stat usage_usec × 1000).
    pub usage_ns: u64,
}

/// CPU used between two samples, as a fraction of one CPU; `None` without
/// elapsed time or if the counter went back (a different cgroup).
pub fn cpu_rate(before: CpuSample, after: CpuSample) -> Option<f64> {
    let wall_ms = after.at.as_millis().checked_sub(before.at.as_millis())?;
    let used = after.usage_ns.checked_sub(before.usage_ns)?;
    (wall_ms > 0).then(|| used as f64 / (wall_ms as f64 * 1e6))
}

/// The usage ratio (average over target) of a metric measured on some of
/// `replicas` replicas, the HPA's way: replicas without a value count as 0
/// when the measured ones ask for more, and as on target when they ask for
/// fewer; if that flips the direction, 1.0 (no change). `None`: no value.
pub fn usage_ratio(values: &[f64], replicas: u32, target: f64) -> Option<f64> {
    if values.is_empty() || !(target.is_finite() && target > 0.0) {
        return None;
    }
    let measured: f64 = values.iter().sum();
    let raw = measured / values.len() as f64 / target;
    let missing = f64::from(replicas).max(values.len() as f64) - values.len() as f64;
    if missing == 0.0 || raw == 1.0 {
        return Some(raw);
    }
    let fill = if raw > 1.0 { 0.0 } else { target };
    let ratio = (measured + missing * fill) / (values.len() as f64 + missing) / target;
    Some(if (raw > 1.0) == (ratio > 1.0) {
        ratio
    } else {
        1.0
    })
}

/// Per-replica measurements of one service at one sampling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurements {
    /// CPU fraction of each replica with two samples.
    pub cpu: Vec<f64>,
    /// Established connections of each replica that could be read.
    pub connections: Vec<f64>,
}

/// The service's metric for [`super::autoscale::decide`] with
/// [`AutoscalePolicy::spec`]: the largest usage ratio of its metrics.
pub fn combined_ratio(policy: &AutoscalePolicy, m: &Measurements, replicas: u32) -> Option<f64> {
    let cpu = policy
        .target_cpu
        .and_then(|t| usage_ratio(&m.cpu, replicas, t));
    let conns = policy
        .target_connections
        .and_then(|t| usage_ratio(&m.connections, replicas, t));
    match (cpu, conns) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Why a service goes from `from` to `to` replicas, for the event log.
pub fn describe(policy: &AutoscalePolicy, m: &Measurements, from: u32, to: u32) -> String {
    let mut parts = vec![format!("{from} -> {to} replicas")];
    let average = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    if let Some(target) = policy.target_cpu.filter(|_| !m.cpu.is_empty()) {
        parts.push(format!(
            "cpu {:.0}% (target {:.0}%)",
            average(&m.cpu) * 100.0,
            target * 100.0
        ));
    }
    if let Some(target) = policy
        .target_connections
        .filter(|_| !m.connections.is_empty())
    {
        parts.push(format!(
            "connections {:.1} (target {target})",
            average(&m.connections)
        ));
    }
    if m.cpu.is_empty() && m.connections.is_empty() {
        parts.push(format!(
            "bounds {}..{}",
            policy.min_replicas, policy.max_replicas
        ));
    }
    parts.join(", ")
}

/// Established TCP connections in a /proc/PID/net/tcp (or tcp6) text whose
/// local port is one of `ports` (any port if empty).
pub fn established_connections(text: &str, ports: &[u16]) -> usize {
    text.lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                return false;
            };
            let port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            *state == "01" && port.is_some_and(|p| ports.is_empty() || ports.contains(&p))
        })
        .count()
}

#[cfg(test)]
#[path = "autoscale_policy_tests.rs"]
mod tests;
