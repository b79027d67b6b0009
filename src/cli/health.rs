//! Replica health and restart waits from each project's supervisor, as `ps`
//! (`Up 5 seconds (healthy)`, `Restarting (1) 2 seconds ago`) and `inspect`
//! (`State.Health`) show them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::containers::{ago, status_text};
use super::ps_format::state_word as ps_state_word;
use crate::container::store::{read_json, Record};
use crate::container::Status;
use crate::instance::Instance;
use crate::project::{ProjectDir, LABEL_PROJECT, LABEL_SERVICE};
use crate::runtime::control::observed_status;
use crate::runtime::health_probe::HEALTH_FILE;
use crate::supervisor::health::HealthStatus;
use crate::supervisor::health_log::{status_word, HealthReport};

pub struct ProjectHealth {
    reports: BTreeMap<String, HealthReport>,
    /// "project/service" of the services with a health check.
    checked: BTreeSet<String>,
    restarting: BTreeSet<String>,
    /// Running containers whose processes are frozen.
    paused: BTreeSet<String>,
}

impl ProjectHealth {
    pub fn load(instance: &Instance, records: &[Record]) -> ProjectHealth {
        let mut health = ProjectHealth {
            reports: BTreeMap::new(),
            checked: BTreeSet::new(),
            restarting: BTreeSet::new(),
            paused: BTreeSet::new(),
        };
        let running = records
            .iter()
            .filter(|r| observed_status(&r.state) == Status::Running);
        health.paused = running
            .filter(|r| crate::runtime::pause::is_paused(instance, r))
            .map(|r| r.config.id.clone())
            .collect();
        // Plain containers: their monitor writes State.Health.
        for r in records.iter().filter(|r| r.config.health.is_some()) {
            let path = instance
                .containers
                .container_dir(&r.config.id)
                .join(HEALTH_FILE);
            if let Ok(report) = read_json::<HealthReport>(&path) {
                health.reports.insert(r.config.id.clone(), report);
            }
        }
        let projects: BTreeSet<String> = records.iter().map(|r| label(r, LABEL_PROJECT)).collect();
        for name in projects.iter().filter(|p| !p.is_empty()) {
            let dir = ProjectDir::new(&instance.root, name);
            health.reports.extend(dir.load_health());
            health.restarting.extend(dir.load_restarting());
            if let Ok(record) = dir.load() {
                health.checked.extend(
                    record
                        .services
                        .iter()
                        .filter(|s| s.spec.health.is_some())
                        .map(|s| format!("{name}/{}", s.spec.name)),
                );
            }
        }
        health
    }

    /// `State.Health` of a container whose service has a check.
    pub fn report(&self, r: &Record) -> Option<HealthReport> {
        let service = format!("{}/{}", label(r, LABEL_PROJECT), label(r, LABEL_SERVICE));
        if !self.checked.contains(&service) && r.config.health.is_none() {
            return None;
        }
        let report = self.reports.get(&r.config.id).cloned();
        Some(report.unwrap_or_else(HealthReport::starting))
    }

    /// `ps --filter health=`'s word: starting, healthy, unhealthy, or none
    /// without a check.
    pub fn word(&self, r: &Record) -> &'static str {
        self.report(r).map_or("none", |h| status_word(h.status))
    }

    /// An exited replica its supervisor restarts once the backoff ends, or a
    /// `--restart` container its monitor does.
    pub fn restarting(&self, r: &Record) -> bool {
        let by_supervisor = || self.restarting.contains(&r.config.id);
        observed_status(&r.state) == Status::Exited
            && (crate::runtime::control::restarting(&r.state) || by_supervisor())
    }

    /// `ps`'s STATUS column.
    pub fn status(&self, r: &Record) -> String {
        if self.restarting(r) {
            let code = r.state.exit_code.unwrap_or_default();
            return restarting_text(code, &ago(r.state.finished_at.as_deref()));
        }
        if self.paused.contains(&r.config.id) {
            // As Docker: the pause hides the health.
            return format!("{} (Paused)", status_text(r));
        }
        let running = observed_status(&r.state) == Status::Running;
        let health = self.report(r).filter(|_| running).map(|h| h.status);
        decorate(status_text(r), health)
    }

    /// `ps`'s State (and `--filter status=`'s word): Docker's "restarting"
    /// for a restart wait, "paused" for a frozen container.
    pub fn state_word(&self, r: &Record) -> &'static str {
        if self.restarting(r) {
            "restarting"
        } else if self.paused.contains(&r.config.id) {
            "paused"
        } else {
            ps_state_word(observed_status(&r.state))
        }
    }
}

/// Docker's `Restarting (1) 2 seconds ago`.
pub fn restarting_text(exit_code: i32, ago: &str) -> String {
    format!("Restarting ({exit_code}) {ago} ago")
}

/// A running container's status with its health, as Docker adds it.
pub fn decorate(status: String, health: Option<HealthStatus>) -> String {
    match health {
        None => status,
        Some(HealthStatus::Starting) => format!("{status} (health: starting)"),
        Some(h) => format!("{status} ({})", status_word(h)),
    }
}

/// inspect's `State.Health`, Docker's shape.
pub fn health_json(report: &HealthReport) -> Value {
    json!({
        "Status": status_word(report.status),
        "FailingStreak": report.failing_streak,
        "Log": report.log,
    })
}

fn label(r: &Record, key: &str) -> String {
    r.config.labels.get(key).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::health_log::ProbeLog;

    #[test]
    fn ps_status_carries_health_as_docker_does() {
        let up = || "Up 2 minutes".to_string();
        assert_eq!(decorate(up(), None), "Up 2 minutes");
        assert_eq!(
            decorate(up(), Some(HealthStatus::Healthy)),
            "Up 2 minutes (healthy)"
        );
        assert_eq!(
            decorate(up(), Some(HealthStatus::Unhealthy)),
            "Up 2 minutes (unhealthy)"
        );
        assert_eq!(
            decorate(up(), Some(HealthStatus::Starting)),
            "Up 2 minutes (health: starting)"
        );
        assert_eq!(
            restarting_text(137, "3 seconds"),
            "Restarting (137) 3 seconds ago"
        );
    }

    #[test]
    fn inspect_health_has_dockers_fields() {
        let report = HealthReport {
            status: HealthStatus::Unhealthy,
            failing_streak: 3,
            log: vec![ProbeLog {
                start: "2026-12-06T23:00:00.000000000Z".into(),
                end: "2026-12-06T23:00:00.200000000Z".into(),
                exit_code: 1,
                output: "no\n".into(),
            }],
        };
        let v = health_json(&report);
        assert_eq!(v["Status"], "unhealthy");
        assert_eq!(v["FailingStreak"], 3);
        assert_eq!(v["Log"][0]["ExitCode"], 1);
        assert_eq!(v["Log"][0]["Output"], "no\n");
        assert_eq!(v["Log"][0]["End"], "2026-12-06T23:00:00.200000000Z");
        let starting = health_json(&HealthReport::starting());
        assert_eq!(starting["Status"], "starting");
        assert_eq!(starting["Log"], json!([]));
    }
}
