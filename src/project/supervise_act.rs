//! The supervisor loop's hands on replicas: carry out the decided actions
//! (start, restart, drain then stop, remove), record exits into the restart
//! histories, and SIGKILL what outlived its grace period.

use std::time::Duration;

use super::Loop;
use crate::container::store::Record;
use crate::project::balance::balanced_network;
use crate::project::events::{self, Event};
use crate::project::metrics::restart_reason;
use crate::project::replicas;
use crate::supervisor::lb::stop_signal_at;
use crate::supervisor::restart::{record_exit, record_start, ExitCause, StartKind};
use crate::supervisor::{Action, ObservedReplica, Reason, ReplicaStatus, SlotKey, Time};

impl Loop<'_, '_> {
    pub(super) fn record_exits(
        &mut self,
        observed: &crate::supervisor::ObservedState,
        records: &[Record],
    ) {
        for replica in &observed.replicas {
            if let ReplicaStatus::Exited(exit) = &replica.status {
                if self.memory.exits_recorded.insert(replica.container.clone()) {
                    let oom = records
                        .iter()
                        .any(|r| r.config.id == replica.container && r.state.oom_killed);
                    if oom {
                        self.oom_killed(replica);
                    }
                    let history = self
                        .memory
                        .histories
                        .entry(replica.key.clone())
                        .or_default();
                    *history = record_exit(history, *exit);
                    self.memory.stopping.remove(&replica.container);
                    self.memory.health.remove(&replica.container);
                    self.event(
                        &replica.key.service,
                        replica.key.slot,
                        "exited",
                        &replica.container[..12],
                        format!(
                            "code {}{}",
                            exit.code,
                            if oom { " (OOMKilled)" } else { "" }
                        ),
                    );
                }
            }
        }
    }

    pub(super) fn act(&mut self, action: &Action, now: Time) {
        let key = action.key().clone();
        match action {
            Action::Start { revision, .. } => {
                if self
                    .memory
                    .start_backoff
                    .get(&key)
                    .is_some_and(|(at, _)| *at > now)
                {
                    return;
                }
                self.start(&key.service, key.slot, *revision, now, StartKind::Fresh);
            }
            Action::Restart { container, at, .. } if *at <= now => {
                // The delay the policy chose (not how late we are), so the
                // next one doubles from it.
                let exited = self
                    .memory
                    .histories
                    .get(&key)
                    .and_then(|h| h.last_exit)
                    .map(|e| e.at);
                let delay = Duration::from_millis(
                    at.as_millis()
                        .saturating_sub(exited.unwrap_or(*at).as_millis()),
                );
                self.count_restart(&key, container, delay);
                self.set_restarting(container, false);
                let _ = replicas::remove(self.sup.instance, container);
                self.forget(container);
                self.start(&key.service, key.slot, 0, now, StartKind::Restart { delay });
            }
            Action::Restart { container, .. } => self.set_restarting(container, true),
            Action::Stop {
                container,
                grace,
                reason,
                ..
            } => {
                if self.memory.stopping.contains_key(container)
                    || !self.drained(&key, container, now)
                {
                    return;
                }
                let cause = if *reason == Reason::Unhealthy {
                    ExitCause::StoppedUnhealthy
                } else {
                    ExitCause::StoppedOnRequest
                };
                replicas::signal_stop(self.sup.instance, container);
                self.memory.stopping.insert(
                    container.clone(),
                    (
                        Time::from_millis(now.as_millis() + grace.as_millis() as u64),
                        cause,
                    ),
                );
                self.memory.causes.insert(container.clone(), cause);
                self.event(
                    &key.service,
                    key.slot,
                    "stop",
                    &container[..12.min(container.len())],
                    format!("{reason:?}"),
                );
            }
            Action::Remove {
                container, reason, ..
            } => {
                let _ = replicas::remove(self.sup.instance, container);
                self.forget(container);
                self.event(
                    &key.service,
                    key.slot,
                    "remove",
                    &container[..12.min(container.len())],
                    format!("{reason:?}"),
                );
            }
            Action::WaitForDependency {
                dependency,
                condition,
                ..
            } => {
                let _ = (dependency, condition); // shown by `ps` as waiting; not an event per pass
            }
        }
    }

    /// Whether `container`, out of the balancer since the first pass that
    /// asked for its stop, has drained long enough to be signalled.
    fn drained(&mut self, key: &crate::supervisor::SlotKey, container: &str, now: Time) -> bool {
        let balanced = self
            .record
            .service(&key.service)
            .is_some_and(|s| balanced_network(s).is_some());
        let since = *self
            .memory
            .draining
            .entry(container.to_string())
            .or_insert(now);
        stop_signal_at(since, balanced) <= now
    }

    /// Docker's `oom` event; counted per service.
    fn oom_killed(&mut self, replica: &ObservedReplica) {
        self.memory.oom_exits.insert(replica.container.clone());
        self.metrics.counters.oom_killed(&replica.key.service);
        self.event(
            &replica.key.service,
            replica.key.slot,
            "oom",
            &replica.container[..12.min(replica.container.len())],
            "killed by the kernel OOM killer (memory limit reached)".into(),
        );
    }

    /// A `restart` event with its reason (exit, oom, unhealthy) and backoff,
    /// counted for `rcorch_service_restarts_total`; a start the user asked
    /// for is neither.
    fn count_restart(&mut self, key: &SlotKey, container: &str, delay: Duration) {
        let cause = self
            .memory
            .histories
            .get(key)
            .and_then(|h| h.last_exit)
            .map(|e| e.cause)
            .unwrap_or(ExitCause::Exited);
        let oom = self.memory.oom_exits.contains(container);
        let Some(reason) = restart_reason(cause, oom) else {
            return;
        };
        self.metrics.counters.restarted(&key.service, reason);
        let detail = format!("reason {reason}, backoff {}ms", delay.as_millis());
        self.event(
            &key.service,
            key.slot,
            "restart",
            &container[..12.min(container.len())],
            detail,
        );
    }

    /// Self-heal time: from the replica's exit (a crash, OOM kill or
    /// unhealthy stop) to its replacement running, which it is once
    /// `replicas::start` returns.
    fn count_heal(&mut self, key: &SlotKey) {
        let exit = self.memory.histories.get(key).and_then(|h| h.last_exit);
        if let Some(e) = exit.filter(|e| e.cause != ExitCause::StoppedOnRequest) {
            let took = self.now().since(e.at);
            self.metrics.counters.healed(&key.service, took);
        }
    }

    /// Marks an exited replica as waiting for its restart, for `ps`.
    fn set_restarting(&mut self, container: &str, waiting: bool) {
        let changed = if waiting {
            self.memory.restarting.insert(container.to_string())
        } else {
            self.memory.restarting.remove(container)
        };
        if changed {
            self.sup.project.save_restarting(&self.memory.restarting);
        }
    }

    /// Records (and reports once per reason) a slot admission holds back;
    /// None: the slot may start.
    pub(super) fn set_pending(&mut self, key: &SlotKey, reason: Option<String>) {
        let changed = match &reason {
            Some(r) => self.memory.pending.insert(key.clone(), r.clone()).as_ref() != Some(r),
            None => self.memory.pending.remove(key).is_some(),
        };
        if !changed {
            return;
        }
        self.sup.project.save_pending(&self.memory.pending);
        if let Some(reason) = reason {
            self.event(&key.service, key.slot, "pending", "", reason);
        }
    }

    fn forget(&mut self, container: &str) {
        self.set_restarting(container, false);
        if self.memory.health_reports.remove(container).is_some() {
            self.sup.project.save_health(&self.memory.health_reports);
        }
        self.memory.oom_exits.remove(container);
        self.memory.draining.remove(container);
        self.memory.stopping.remove(container);
        self.memory.causes.remove(container);
        self.memory.health.remove(container);
        self.memory.exits_recorded.remove(container);
    }

    fn start(&mut self, service: &str, slot: u32, _revision: u64, now: Time, kind: StartKind) {
        let Some(record) = self.record.service(service).cloned() else {
            return;
        };
        let key = crate::supervisor::SlotKey::new(service, slot);
        let template = &record.template;
        let refusal = crate::project::admit::refusal(
            self.sup.instance,
            &template.reservation,
            &template.constraints,
        );
        let held = refusal.is_some();
        self.set_pending(&key, refusal);
        if held {
            return;
        }
        match replicas::start(self.sup.instance, &self.record.name, &record, slot) {
            Ok(id) => {
                self.memory.start_backoff.remove(&key);
                if let StartKind::Restart { .. } = kind {
                    self.count_heal(&key);
                }
                let history = self.memory.histories.entry(key).or_default();
                *history = record_start(history, now, kind);
                self.event(
                    service,
                    slot,
                    "start",
                    &id[..12],
                    format!("revision {}", record.spec.revision),
                );
            }
            Err(failure) => {
                // Failed before a container existed (bad image, bad option):
                // retry with the same doubling backoff as a crash.
                let delay = self
                    .memory
                    .start_backoff
                    .get(&key)
                    .map(|(_, d)| (*d * 2).min(Duration::from_secs(60)))
                    .unwrap_or(Duration::from_millis(100));
                self.memory.start_backoff.insert(
                    key,
                    (
                        Time::from_millis(now.as_millis() + delay.as_millis() as u64),
                        delay,
                    ),
                );
                let mut event = Event::new(service, slot, "start-failed", "", failure.message);
                event.code = failure.code;
                event.revision = Some(record.spec.revision);
                events::append(&self.sup.project.events_path(), &event);
            }
        }
    }

    pub(super) fn kill_overdue(&mut self, now: Time) {
        let overdue: Vec<String> = self
            .memory
            .stopping
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(c, _)| c.clone())
            .collect();
        for container in overdue {
            replicas::kill(self.sup.instance, &container);
        }
    }
}
