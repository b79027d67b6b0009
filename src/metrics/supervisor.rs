//! rcorch's own families, from a snapshot the supervisor loop publishes
//! after each pass (so a scrape reads a copy and never waits on the loop).

use std::collections::BTreeMap;

use super::histogram::{Histogram, SECONDS};
use super::{Family, Kind};

/// Why the supervisor restarted a replica.
pub const RESTART_REASONS: [&str; 3] = ["exit", "oom", "unhealthy"];
/// The health states a replica with a check can be in.
pub const HEALTH_STATES: [&str; 3] = ["starting", "healthy", "unhealthy"];

/// One service's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFigures {
    pub desired: u32,
    pub running: u32,
    /// Restarts so far by reason (one of `RESTART_REASONS`).
    pub restarts: BTreeMap<&'static str, u64>,
    pub oom_kills: u64,
    /// Replicas admission holds back (reservations or constraints).
    pub pending: u32,
}

/// A service's rollout in progress (or last finished): `state` is one of
/// `ROLLOUT_STATES`, `kind` update or rollback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutFigures {
    pub kind: &'static str,
    pub state: &'static str,
    pub to_revision: u64,
    pub done: u32,
    pub total: u32,
    pub failed: u32,
}

pub const ROLLOUT_STATES: [&str; 3] = ["updating", "paused", "completed"];

/// The autoscaler's decisions for one service so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoscaleFigures {
    /// Decisions by direction ("up", "down").
    pub decisions: BTreeMap<&'static str, u64>,
    /// The replica count of the latest decision.
    pub last_target: u32,
}

/// What the supervisor knows, as of its last pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub project: String,
    pub services: BTreeMap<String, ServiceFigures>,
    /// Replica name → (service, health state), for replicas with a check.
    pub health: BTreeMap<String, (String, &'static str)>,
    /// How long each observe-decide-act pass took.
    pub loop_duration: Histogram,
    /// Health probe run time (start to exit or timeout), by service.
    pub probe_duration: BTreeMap<String, Histogram>,
    /// Exit to replacement running, by service.
    pub heal_duration: BTreeMap<String, Histogram>,
    pub rollouts: BTreeMap<String, RolloutFigures>,
    pub autoscale: BTreeMap<String, AutoscaleFigures>,
}

impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot {
            project: String::new(),
            services: BTreeMap::new(),
            health: BTreeMap::new(),
            loop_duration: Histogram::new(SECONDS),
            probe_duration: BTreeMap::new(),
            heal_duration: BTreeMap::new(),
            rollouts: BTreeMap::new(),
            autoscale: BTreeMap::new(),
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn families(s: &Snapshot) -> Vec<Family> {
    use Kind::{Counter, Gauge};
    let mut desired = Family::new(
        "rcorch_service_desired_replicas",
        Gauge,
        "Replicas the service should have.",
    );
    let mut running = Family::new(
        "rcorch_service_running_replicas",
        Gauge,
        "Replicas of the service running now.",
    );
    let mut restarts = Family::new(
        "rcorch_service_restarts_total",
        Counter,
        "Replicas restarted by the supervisor, by reason (exit, oom, unhealthy).",
    );
    let mut ooms = Family::new(
        "rcorch_service_oom_kills_total",
        Counter,
        "Replicas of the service killed by the kernel OOM killer.",
    );
    let mut pending = Family::new(
        "rcorch_service_pending_replicas",
        Gauge,
        "Replicas admission holds back: not enough unreserved room, or a placement constraint this host does not meet.",
    );
    let mut health = Family::new(
        "rcorch_replica_health_status",
        Gauge,
        "1 for the replica's current health state (starting, healthy, unhealthy), else 0.",
    );
    let p = s.project.as_str();
    for (name, fig) in &s.services {
        let base = [("project", p), ("service", name.as_str())];
        desired.push(labels(&base), fig.desired as f64);
        running.push(labels(&base), fig.running as f64);
        pending.push(labels(&base), fig.pending as f64);
        ooms.push(labels(&base), fig.oom_kills as f64);
        // Every reason from the start, so rate() sees the first restart.
        for reason in RESTART_REASONS {
            let n = fig.restarts.get(reason).copied().unwrap_or(0);
            restarts.push(labels(&[base[0], base[1], ("reason", reason)]), n as f64);
        }
    }
    for (replica, (service, state)) in &s.health {
        for candidate in HEALTH_STATES {
            let l = [
                ("project", p),
                ("service", service),
                ("name", replica),
                ("status", candidate),
            ];
            health.push(labels(&l), f64::from(u8::from(*state == candidate)));
        }
    }
    let mut families = vec![desired, running, pending, restarts, ooms, health];
    families.extend(timings(s));
    families.extend(rollouts(s));
    families.extend(autoscale(s));
    families
}

fn rollouts(s: &Snapshot) -> [Family; 3] {
    let p = s.project.as_str();
    let mut state = Family::new(
        "rcorch_rollout_state",
        Kind::Gauge,
        "1 for the state (updating, paused, completed) of the service's latest rollout, else 0.",
    );
    let mut done = Family::new(
        "rcorch_rollout_replicas_updated",
        Kind::Gauge,
        "Replicas of the service's latest rollout at the target revision.",
    );
    let mut failed = Family::new(
        "rcorch_rollout_replicas_failed",
        Kind::Gauge,
        "New replicas of the service's latest rollout that failed.",
    );
    for (service, r) in &s.rollouts {
        let revision = r.to_revision.to_string();
        let base = [
            ("project", p),
            ("service", service.as_str()),
            ("kind", r.kind),
            ("revision", revision.as_str()),
        ];
        for candidate in ROLLOUT_STATES {
            let mut l = labels(&base);
            l.push(("state".into(), candidate.into()));
            state.push(l, f64::from(u8::from(r.state == candidate)));
        }
        done.push(labels(&base), f64::from(r.done));
        failed.push(labels(&base), f64::from(r.failed));
    }
    [state, done, failed]
}

fn autoscale(s: &Snapshot) -> [Family; 2] {
    let p = s.project.as_str();
    let mut decisions = Family::new(
        "rcorch_autoscaler_decisions_total",
        Kind::Counter,
        "Replica count changes the autoscaler made, by direction (up, down).",
    );
    let mut target = Family::new(
        "rcorch_autoscaler_target_replicas",
        Kind::Gauge,
        "The replica count of the autoscaler's latest decision.",
    );
    for (service, a) in &s.autoscale {
        let base = [("project", p), ("service", service.as_str())];
        for direction in ["up", "down"] {
            let n = a.decisions.get(direction).copied().unwrap_or(0);
            let mut l = labels(&base);
            l.push(("direction".into(), direction.into()));
            decisions.push(l, n as f64);
        }
        target.push(labels(&base), f64::from(a.last_target));
    }
    [decisions, target]
}

fn timings(s: &Snapshot) -> [Family; 3] {
    let p = s.project.as_str();
    let mut loop_duration = Family::new(
        "rcorch_supervisor_loop_duration_seconds",
        Kind::Histogram,
        "Time the supervisor took for one observe-decide-act pass.",
    );
    loop_duration.push_histogram(labels(&[("project", p)]), &s.loop_duration);
    let mut probes = Family::new(
        "rcorch_health_probe_duration_seconds",
        Kind::Histogram,
        "Time a health probe ran, from its start to its exit or timeout.",
    );
    for (service, h) in &s.probe_duration {
        probes.push_histogram(labels(&[("project", p), ("service", service)]), h);
    }
    let mut heal = Family::new(
        "rcorch_self_heal_duration_seconds",
        Kind::Histogram,
        "Time from a replica's exit (crash, OOM kill, unhealthy stop) to its replacement running.",
    );
    for (service, h) in &s.heal_duration {
        heal.push_histogram(labels(&[("project", p), ("service", service)]), h);
    }
    [loop_duration, probes, heal]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{render, Format};

    #[test]
    fn rollouts_and_autoscaler_decisions() {
        let mut s = Snapshot {
            project: "shop".into(),
            ..Snapshot::default()
        };
        s.rollouts.insert(
            "web".into(),
            RolloutFigures {
                kind: "update",
                state: "paused",
                to_revision: 3,
                done: 1,
                total: 4,
                failed: 1,
            },
        );
        let mut a = AutoscaleFigures {
            last_target: 5,
            ..AutoscaleFigures::default()
        };
        a.decisions.insert("up", 2);
        s.autoscale.insert("web".into(), a);
        let text = render(&families(&s), Format::Text);
        let base = "project=\"shop\",service=\"web\"";
        let r = format!("{base},kind=\"update\",revision=\"3\"");
        for line in [
            format!("rcorch_rollout_state{{{r},state=\"paused\"}} 1"),
            format!("rcorch_rollout_state{{{r},state=\"updating\"}} 0"),
            format!("rcorch_rollout_replicas_updated{{{r}}} 1"),
            format!("rcorch_rollout_replicas_failed{{{r}}} 1"),
            format!("rcorch_autoscaler_decisions_total{{{base},direction=\"up\"}} 2"),
            format!("rcorch_autoscaler_decisions_total{{{base},direction=\"down\"}} 0"),
            format!("rcorch_autoscaler_target_replicas{{{base}}} 5"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn loop_and_probe_timings_are_histograms() {
        let mut s = Snapshot {
            project: "shop".into(),
            ..Snapshot::default()
        };
        s.loop_duration.observe(0.003);
        let mut probe = Histogram::new(SECONDS);
        probe.observe(0.2);
        s.probe_duration.insert("web".into(), probe.clone());
        s.heal_duration.insert("web".into(), probe);
        let text = render(&families(&s), Format::Text);
        for line in [
            "# TYPE rcorch_supervisor_loop_duration_seconds histogram",
            "rcorch_supervisor_loop_duration_seconds_bucket{project=\"shop\",le=\"0.005\"} 1",
            "rcorch_supervisor_loop_duration_seconds_count{project=\"shop\"} 1",
            "rcorch_health_probe_duration_seconds_bucket{project=\"shop\",service=\"web\",le=\"0.1\"} 0",
            "rcorch_health_probe_duration_seconds_bucket{project=\"shop\",service=\"web\",le=\"0.25\"} 1",
            "rcorch_health_probe_duration_seconds_sum{project=\"shop\",service=\"web\"} 0.2",
            "rcorch_self_heal_duration_seconds_count{project=\"shop\",service=\"web\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn snapshot_renders_counts_reasons_and_health() {
        let mut web = ServiceFigures {
            desired: 3,
            running: 2,
            oom_kills: 1,
            pending: 1,
            ..ServiceFigures::default()
        };
        web.restarts.insert("oom", 1);
        web.restarts.insert("exit", 4);
        let mut s = Snapshot {
            project: "shop".into(),
            ..Snapshot::default()
        };
        s.services.insert("web".into(), web);
        s.health
            .insert("shop-web-1".into(), ("web".into(), "healthy"));
        let text = render(&families(&s), Format::Text);
        for line in [
            "rcorch_service_desired_replicas{project=\"shop\",service=\"web\"} 3",
            "rcorch_service_running_replicas{project=\"shop\",service=\"web\"} 2",
            "rcorch_service_pending_replicas{project=\"shop\",service=\"web\"} 1",
            "rcorch_service_restarts_total{project=\"shop\",service=\"web\",reason=\"exit\"} 4",
            "rcorch_service_restarts_total{project=\"shop\",service=\"web\",reason=\"oom\"} 1",
            "rcorch_service_restarts_total{project=\"shop\",service=\"web\",reason=\"unhealthy\"} 0",
            "rcorch_service_oom_kills_total{project=\"shop\",service=\"web\"} 1",
            "rcorch_replica_health_status{project=\"shop\",service=\"web\",name=\"shop-web-1\",status=\"healthy\"} 1",
            "rcorch_replica_health_status{project=\"shop\",service=\"web\",name=\"shop-web-1\",status=\"starting\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }
}
