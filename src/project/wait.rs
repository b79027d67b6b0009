//! The waits of `up`, `scale`, `start` and `stop`: poll the records until
//! what was asked for is true or the timeout passes, telling `progress`
//! what is still awaited (after a second, then every five).

use std::time::{Duration, Instant};

use super::balancer_status::verdict;
use super::replicas::replica_labels;
use super::{ProjectDir, ProjectRecord};
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;

/// How a wait for a project to be up ended.
#[derive(Debug, Default)]
pub struct Waited {
    /// Services still short of replicas or of applied balancer rules.
    pub short: Vec<String>,
    /// `(service, reason)`: balancer rules that could not be applied.
    pub balancer_failed: Vec<(String, String)>,
}

impl Waited {
    pub fn is_up(&self) -> bool {
        self.short.is_empty() && self.balancer_failed.is_empty()
    }
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
        let short = short_of_replicas(instance, record);
        let balancers = verdict(record, &dir.load_balancer(), since);
        let mut waited = Waited {
            short: short.iter().map(|(name, ..)| name.clone()).collect(),
            balancer_failed: balancers.failed,
        };
        let held = dir.load_pending();
        let holds = |name: &str| {
            held.keys()
                .any(|k| k.rsplit_once('.').is_some_and(|(svc, _)| svc == name))
        };
        for name in balancers.pending {
            // Its balancer never counts the slots admission holds back.
            if !waited.short.contains(&name) && !holds(&name) {
                waited.short.push(name);
            }
        }
        if waited.is_up() || !waited.balancer_failed.is_empty() || start.elapsed() >= timeout {
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
fn short_of_replicas(instance: &Instance, record: &ProjectRecord) -> Vec<(String, usize, u32)> {
    let networks = crate::runtime::net::networks(&instance.root);
    let records = instance.containers.list().unwrap_or_default();
    let endpoints = networks.list().map(|s| s.endpoints).unwrap_or_default();
    let pending = ProjectDir::new(&instance.root, &record.name).load_pending();
    record
        .services
        .iter()
        .filter_map(|s| {
            let joined = |id: &str| {
                s.template.extra_networks.iter().all(|(network, _)| {
                    endpoints.contains_key(&crate::network::endpoint_key(id, network))
                })
            };
            let running = records
                .iter()
                .filter(|r| observed_status(&r.state) == Status::Running)
                .filter(|r| joined(&r.config.id))
                .filter_map(|r| replica_labels(r, &record.name))
                .filter(|(service, slot, _)| *service == s.spec.name && *slot <= s.spec.replicas)
                .count();
            // A slot admission holds back is settled: it starts when room frees.
            let held = pending
                .keys()
                .filter(|k| {
                    k.rsplit_once('.')
                        .is_some_and(|(svc, _)| svc == s.spec.name)
                })
                .count();
            (running + held < s.spec.replicas as usize)
                .then(|| (s.spec.name.clone(), running, s.spec.replicas))
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
