//! The waits of `up`, `scale`, `start` and `stop`: poll the records until
//! what was asked for is true or the timeout passes, telling `progress`
//! what is still awaited (after a second, then every five).

use std::time::{Duration, Instant};

use super::balancer_status::verdict;
use super::events::{self, Event};
use super::replicas::replica_labels;
use super::{ProjectDir, ProjectRecord};
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;
use crate::supervisor::restart::{DeployCondition, RestartRule};
use crate::supervisor::spec::Condition;

/// How a wait for a project to be up ended.
#[derive(Debug, Default)]
pub struct Waited {
    /// Services still short of replicas or of applied balancer rules.
    pub short: Vec<String>,
    /// `(service, reason)`: balancer rules that could not be applied.
    pub balancer_failed: Vec<(String, String)>,
    /// `(service, run's error)`: replicas whose command cannot be run
    /// (126/127): no retry can help, so the wait ends at once.
    pub cannot_run: Vec<(String, String)>,
}

impl Waited {
    pub fn is_up(&self) -> bool {
        self.short.is_empty() && self.balancer_failed.is_empty() && self.cannot_run.is_empty()
    }

    /// Whether waiting longer cannot help.
    fn failed(&self) -> bool {
        !self.balancer_failed.is_empty() || !self.cannot_run.is_empty()
    }
}

/// The services of `record` whose current revision failed to start at or
/// after `since` because its command cannot be executed or is not found
/// (126/127, as `run` exits), each once with `run`'s message. A start that
/// failed for another reason (a busy address, a transient setup error) is
/// left to the supervisor's retries.
pub fn cannot_run(events: &[Event], record: &ProjectRecord, since: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in events {
        let current = record
            .service(&e.service)
            .is_some_and(|s| e.revision == Some(s.spec.revision));
        let fatal = matches!(e.code, Some(126 | 127));
        let fresh = e.time.as_str() >= since && e.action == "start-failed";
        if fresh && fatal && current && !out.iter().any(|(s, _)| *s == e.service) {
            out.push((e.service.clone(), e.detail.clone()));
        }
    }
    out
}

/// Waits until every service has its replica count running and its
/// balancer rules applied for them (as the supervisor wrote at or after
/// `since`, RFC 3339), or a balancer failed, or `timeout`.
pub fn wait_until_up(
    instance: &Instance,
    record: &ProjectRecord,
    since: &str,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Waited {
    let start = Instant::now();
    let mut next_report = Duration::from_secs(1);
    let dir = ProjectDir::new(&instance.root, &record.name);
    loop {
        let tallies = tally_replicas(instance, record);
        let short: Vec<(String, usize, u32)> = tallies
            .iter()
            .filter(|t| t.short())
            .map(|t| (t.name.clone(), t.running, t.wanted))
            .collect();
        // A one-shot service's balancer never sees its completed replicas run.
        let one_shot = |name: &str| tallies.iter().any(|t| t.name == name && t.completed > 0);
        let balancers = verdict(record, &dir.load_balancer(), since);
        let mut waited = Waited {
            short: short.iter().map(|(name, ..)| name.clone()).collect(),
            balancer_failed: balancers.failed,
            cannot_run: Vec::new(),
        };
        // Only a wait still short has a start failure to look for.
        if !waited.short.is_empty() {
            waited.cannot_run = cannot_run(&events::read(&dir.events_path()), record, since);
        }
        let held = dir.load_pending();
        let holds = |name: &str| {
            held.keys()
                .any(|k| k.rsplit_once('.').is_some_and(|(svc, _)| svc == name))
        };
        for name in balancers.pending {
            // Its balancer never counts the slots admission holds back.
            if !waited.short.contains(&name) && !holds(&name) && !one_shot(&name) {
                waited.short.push(name);
            }
        }
        if waited.is_up() || waited.failed() || start.elapsed() >= timeout {
            return waited;
        }
        if start.elapsed() >= next_report {
            let what: Vec<String> = waited
                .short
                .iter()
                .map(|name| match short.iter().find(|(n, ..)| n == name) {
                    Some((_, running, wanted)) => format!("{name} {running}/{wanted} running"),
                    None => format!("{name}'s balancer rules"),
                })
                .collect();
            progress(&format!(
                "waiting for {} ({}s of {}s)",
                what.join(", "),
                start.elapsed().as_secs(),
                timeout.as_secs()
            ));
            next_report += Duration::from_secs(5);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `(service, running, wanted)` of the services short of replicas; a
/// replica counts once it has joined its extra networks too.
/// Each service's replicas: running, completed (one-shot, exit 0), held
/// back by admission, and wanted.
struct Tally {
    name: String,
    running: usize,
    completed: usize,
    held: usize,
    wanted: u32,
}

impl Tally {
    fn short(&self) -> bool {
        self.running + self.completed + self.held < self.wanted as usize
    }
}

fn tally_replicas(instance: &Instance, record: &ProjectRecord) -> Vec<Tally> {
    let networks = crate::runtime::net::networks(&instance.root);
    let records = instance.containers.list().unwrap_or_default();
    let endpoints = networks.list().map(|s| s.endpoints).unwrap_or_default();
    let pending = ProjectDir::new(&instance.root, &record.name).load_pending();
    record
        .services
        .iter()
        .map(|s| {
            let joined = |id: &str| {
                s.template.extra_networks.iter().all(|(network, _)| {
                    endpoints.contains_key(&crate::network::endpoint_key(id, network))
                })
            };
            let ours = |r: &&crate::container::store::Record| {
                replica_labels(r, &record.name).is_some_and(|(service, slot, _)| {
                    service == s.spec.name && slot <= s.spec.replicas
                })
            };
            let running = records
                .iter()
                .filter(|r| observed_status(&r.state) == Status::Running)
                .filter(|r| joined(&r.config.id))
                .filter(ours)
                .count();
            // A one-shot replica is done once it exited 0: one restarted only
            // on failure (a Job's), or one another service waits to complete
            // (an init container, a migration), as compose's `up --wait` takes it.
            let awaited = record.services.iter().any(|other| {
                other.spec.depends_on.iter().any(|d| {
                    d.service == s.spec.name
                        && d.condition == Condition::ServiceCompletedSuccessfully
                })
            });
            let one_shot = match &s.spec.restart.rule {
                RestartRule::Always | RestartRule::UnlessStopped => false,
                RestartRule::Deploy(d) => match d.condition {
                    DeployCondition::Any => false,
                    DeployCondition::OnFailure => true,
                    DeployCondition::None => awaited,
                },
                RestartRule::OnFailure { .. } => true,
                RestartRule::No => awaited,
            };
            let completed = records
                .iter()
                .filter(|r| one_shot && observed_status(&r.state) == Status::Exited)
                .filter(|r| r.state.exit_code == Some(0))
                .filter(ours)
                .count();
            // A slot admission holds back is settled: it starts when room frees.
            let held = pending
                .keys()
                .filter(|k| {
                    k.rsplit_once('.')
                        .is_some_and(|(svc, _)| svc == s.spec.name)
                })
                .count();
            Tally {
                name: s.spec.name.clone(),
                running,
                completed,
                held,
                wanted: s.spec.replicas,
            }
        })
        .collect()
}

/// Waits until none of `services` (all when empty) has a running replica.
pub fn wait_until_stopped(
    instance: &Instance,
    name: &str,
    services: &[String],
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> bool {
    let start = Instant::now();
    let mut next_report = Duration::from_secs(1);
    loop {
        let records = instance.containers.list().unwrap_or_default();
        let running: Vec<&str> = records
            .iter()
            .filter(|r| observed_status(&r.state) == Status::Running)
            .filter(|r| {
                replica_labels(r, name).is_some_and(|(service, _, _)| {
                    services.is_empty() || services.contains(&service)
                })
            })
            .map(|r| r.config.name.as_str())
            .collect();
        if running.is_empty() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        if start.elapsed() >= next_report {
            progress(&format!(
                "waiting for {} to stop ({}s of {}s)",
                running.join(", "),
                start.elapsed().as_secs(),
                timeout.as_secs()
            ));
            next_report += Duration::from_secs(5);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::ServiceRecord;
    use crate::supervisor::ServiceSpec;

    fn record() -> ProjectRecord {
        let service = |name: &str, revision| {
            let mut spec = ServiceSpec::new(name, 1);
            spec.revision = revision;
            ServiceRecord::plain(spec, Default::default())
        };
        ProjectRecord {
            name: "p".into(),
            services: vec![service("web", 2), service("db", 1)],
            ..ProjectRecord::default()
        }
    }

    fn failed(time: &str, service: &str, code: Option<i32>, revision: u64) -> Event {
        Event {
            time: time.into(),
            code,
            revision: Some(revision),
            ..Event::new(
                service,
                1,
                "start-failed",
                "",
                format!("{service} r{revision}"),
            )
        }
    }

    #[test]
    fn only_a_current_revision_that_cannot_execute_since_the_up_ends_the_wait() {
        let since = "2026-12-07T10:00:00Z";
        let events = [
            failed("2026-12-07T09:59:59Z", "web", Some(127), 2),
            failed("2026-12-07T10:00:01Z", "web", Some(127), 1),
            failed("2026-12-07T10:00:01Z", "db", Some(125), 1),
            failed("2026-12-07T10:00:01Z", "db", None, 1),
        ];
        assert!(cannot_run(&events, &record(), since).is_empty());
        let mut more = events.to_vec();
        more.push(failed("2026-12-07T10:00:02Z", "web", Some(127), 2));
        more.push(failed("2026-12-07T10:00:03Z", "web", Some(127), 2));
        more.push(failed("2026-12-07T10:00:03Z", "db", Some(126), 1));
        assert_eq!(
            cannot_run(&more, &record(), since),
            [
                ("web".to_string(), "web r2".to_string()),
                ("db".to_string(), "db r1".to_string())
            ]
        );
    }
}
