//! The supervisor process of one project: observe, decide (pure, in
//! `crate::supervisor`), act, and sleep until something happens — a replica
//! exits (pidfd), a probe finishes (SIGCHLD), the desired state changes
//! (SIGHUP from `scale`/`up`), or the next deadline comes.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use super::autoscaler::Autoscaler;
use super::balance::{balanced_network, BalancerChange, BalancerMemory};
use super::events::{self, Event};
use super::history::{definition, History};
use super::probes::{ExecContext, Probes};
use super::replicas::{self, ShellMemory};
use super::rollouts::Rollouts;
use super::{ProjectDir, ProjectRecord, Result};
use crate::instance::Instance;
use crate::network::ops::Networks;
use crate::runtime::sys;
use crate::supervisor::health::{on_probe_result, probe_deadline, HealthEvent, ProbeResult};
use crate::supervisor::lb::{draining_for, stop_signal_at, DRAIN_DELAY};
use crate::supervisor::restart::{record_exit, record_start, ExitCause, StartKind};
use crate::supervisor::{
    due_probes, next_wakeup, reconcile, Action, DesiredState, Reason, ReplicaStatus, Time,
};

/// Longest sleep without a deadline: a safety net, not the way events arrive.
const MAX_SLEEP: Duration = Duration::from_secs(5);

pub struct Supervisor<'a> {
    pub instance: &'a Instance,
    pub project: ProjectDir,
    pub exe: PathBuf,
    /// Called once every service has its replicas running (sd_notify READY=1).
    pub on_ready: Option<Box<dyn FnMut() + 'a>>,
}

struct Loop<'a, 'b> {
    sup: &'b mut Supervisor<'a>,
    record: ProjectRecord,
    memory: ShellMemory,
    balancer: BalancerMemory,
    networks: Networks,
    rollouts: Rollouts,
    history: History,
    probes: Probes,
    epoch: Instant,
    ready_sent: bool,
    autoscaler: Autoscaler,
}

/// Runs until SIGTERM/SIGINT. Containers keep running when it stops: the next
/// supervisor adopts them.
pub fn run(sup: &mut Supervisor) -> Result<()> {
    let Some(_lock) = sup.project.try_lock_supervisor()? else {
        return Ok(()); // another supervisor keeps this project
    };
    let _ = std::fs::write(
        sup.project.dir.join("supervisor.pid"),
        std::process::id().to_string(),
    );
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        mask.add(s);
    }
    let _ = mask.thread_block();
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| super::ProjectError::Io {
            path: "signalfd".into(),
            source: e.into(),
        })?;
    let record = sup.project.load()?;
    let watchdog = crate::systemd::watchdog_interval();
    let networks = crate::runtime::net::networks(&sup.instance.root);
    let rollouts = Rollouts::load(&sup.project, Time::ZERO);
    let history = sup.project.load_history();
    let mut state = Loop {
        sup,
        record,
        memory: ShellMemory::default(),
        balancer: BalancerMemory::default(),
        networks,
        rollouts,
        history,
        probes: Probes::default(),
        epoch: Instant::now(),
        ready_sent: false,
        autoscaler: Autoscaler::default(),
    };
    loop {
        let mut wait = state.pass();
        if let Some(interval) = watchdog {
            crate::systemd::notify("WATCHDOG=1");
            wait = wait.min(interval);
        }
        let pidfds = state.replica_pidfds();
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            pidfds
                .iter()
                .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN)),
        );
        let timeout =
            PollTimeout::try_from(wait.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::NONE);
        let _ = poll(&mut fds, timeout);
        while let Ok(Some(info)) = signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => {
                    let _ = std::fs::remove_file(state.sup.project.dir.join("supervisor.pid"));
                    return Ok(());
                }
                Ok(Signal::SIGHUP) => state.reload(),
                _ => state.reap_children(),
            }
        }
    }
}

impl Loop<'_, '_> {
    fn now(&self) -> Time {
        Time::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    fn event(&self, service: &str, slot: u32, action: &str, container: &str, detail: String) {
        events::append(
            &self.sup.project.events_path(),
            &Event::new(service, slot, action, container, detail),
        );
    }

    fn reload(&mut self) {
        if let Ok(record) = self.sup.project.load() {
            self.record = record;
            self.history = self.sup.project.load_history();
            self.balancer.invalidate();
        }
    }

    fn desired(&self) -> DesiredState {
        DesiredState {
            project: self.record.name.clone(),
            services: self
                .record
                .services
                .iter()
                .map(|s| s.spec.clone())
                .collect(),
            claimed: self.rollouts.claimed(),
        }
    }

    /// One observe-decide-act pass; returns how long to sleep at most.
    fn pass(&mut self) -> Duration {
        let now = self.now();
        for d in self
            .autoscaler
            .evaluate(self.sup.instance, &self.record, now)
        {
            d.apply_to(&mut self.record);
            let _ = self.sup.project.save(&self.record);
            self.event(&d.service, 0, "autoscale", "", d.reason);
        }
        let records = self.sup.instance.containers.list().unwrap_or_default();
        let settling = records.iter().any(replicas::settling);
        let mut observed =
            replicas::observe(&records, &self.record, &self.history, &self.memory, now);
        self.record_exits(&observed);
        observed.restarts = self.memory.histories.clone();
        let rolling = self.drive_rollouts(&observed, now);
        let desired = self.desired();
        let mut actions = reconcile(&desired, &observed, now);
        actions.extend(rolling);
        // A start changes what there is to observe (a new replica to probe):
        // look again at once instead of sleeping on stale deadlines.
        let started = self.rollouts.updating()
            || actions.iter().any(|a| {
                matches!(a, Action::Start { .. })
                    || matches!(a, Action::Restart { at, .. } if *at <= now)
            });
        // Stops no longer asked for (the replica recovered) end their drain.
        let stopping_now = draining_for(&actions);
        self.memory.draining.retain(|c, _| stopping_now.contains(c));
        self.balance(&records, &observed, &actions);
        for action in &actions {
            self.act(action, now);
        }
        self.kill_overdue(now);
        self.start_probes(&desired, &observed, now);
        self.notify_ready(&desired, &observed);
        let mut deadlines: Vec<Time> = next_wakeup(&desired, &observed, now).into_iter().collect();
        deadlines.extend(self.probes.next_deadline());
        deadlines.extend(self.rollouts.next_wakeup(now));
        deadlines.extend(self.autoscaler.next_deadline());
        deadlines.extend(self.memory.stopping.values().map(|(t, _)| *t));
        deadlines.extend(
            self.memory
                .draining
                .values()
                .map(|t| *t + DRAIN_DELAY)
                .filter(|t| *t > now),
        );
        deadlines.extend(self.memory.start_backoff.values().map(|(t, _)| *t));
        let next = deadlines
            .into_iter()
            .min()
            .map(|t| Duration::from_millis(t.as_millis().saturating_sub(now.as_millis())));
        let wait = next.unwrap_or(MAX_SLEEP).min(MAX_SLEEP);
        // A replica whose exit is being written: look again very soon.
        if settling || started {
            wait.min(Duration::from_millis(10))
        } else {
            wait.max(Duration::from_millis(1))
        }
    }

    /// Rolling updates: start, step, follow an automatic rollback; returns
    /// the rollouts' actions (their slots are claimed from the reconciler).
    fn drive_rollouts(
        &mut self,
        observed: &crate::supervisor::ObservedState,
        now: Time,
    ) -> Vec<Action> {
        let drive = self
            .rollouts
            .drive(&mut self.record, &self.history, observed, now);
        if drive.changed {
            let _ = self.sup.project.save(&self.record);
            self.balancer.invalidate();
        }
        if drive.persist {
            self.rollouts.save(&self.sup.project);
        }
        for note in &drive.notes {
            self.event(&note.service, 0, note.action, "", note.detail.clone());
        }
        drive.actions
    }

    /// Updates the load balancer before acting: replicas about to stop,
    /// stopping, or whose PID 1 just died take no new connections.
    fn balance(
        &mut self,
        records: &[crate::container::store::Record],
        observed: &crate::supervisor::ObservedState,
        actions: &[Action],
    ) {
        let mut draining = draining_for(actions);
        draining.extend(self.memory.stopping.keys().cloned());
        draining.extend(
            records
                .iter()
                .filter(|r| replicas::settling(r))
                .map(|r| r.config.id.clone()),
        );
        let changes = self
            .balancer
            .sync(&self.networks, &self.record, observed, &draining);
        for change in changes {
            match change {
                BalancerChange::Members { service, members } => {
                    let ids: Vec<&str> = members.iter().map(|m| &m[..12.min(m.len())]).collect();
                    let detail = format!("members [{}]", ids.join(" "));
                    self.event(&service, 0, "balancer", "", detail);
                }
                BalancerChange::Failed { service, error } => {
                    self.event(&service, 0, "balancer-failed", "", error.to_string())
                }
            }
        }
    }

    fn record_exits(&mut self, observed: &crate::supervisor::ObservedState) {
        for replica in &observed.replicas {
            if let ReplicaStatus::Exited(exit) = &replica.status {
                if self.memory.exits_recorded.insert(replica.container.clone()) {
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
                        format!("code {}", exit.code),
                    );
                }
            }
        }
    }

    fn act(&mut self, action: &Action, now: Time) {
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
                let _ = replicas::remove(self.sup.instance, container);
                self.forget(container);
                self.start(&key.service, key.slot, 0, now, StartKind::Restart { delay });
            }
            Action::Restart { .. } => {}
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

    fn forget(&mut self, container: &str) {
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
        match replicas::start(self.sup.instance, &self.record.name, &record, slot) {
            Ok(id) => {
                self.memory.start_backoff.remove(&key);
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
            Err(message) => {
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
                self.event(service, slot, "start-failed", "", message);
            }
        }
    }

    fn kill_overdue(&mut self, now: Time) {
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

    fn start_probes(
        &mut self,
        desired: &DesiredState,
        observed: &crate::supervisor::ObservedState,
        now: Time,
    ) {
        for result in self.probes.expire(now) {
            self.apply_probe(result, now);
        }
        let exe = self.sup.exe.clone();
        let ctx = ExecContext {
            exe: &exe,
            root: &self.sup.instance.root,
            cgroup_parent: &self.sup.instance.cgroup_parent,
        };
        for container in due_probes(desired, observed, now) {
            if self.probes.in_flight(container) {
                continue;
            }
            let Some(replica) = observed.replicas.iter().find(|r| r.container == container) else {
                continue;
            };
            let Some(service) = definition(
                &self.record,
                &self.history,
                &replica.key.service,
                replica.revision,
            ) else {
                continue;
            };
            let (Some(spec), Some(argv)) = (&service.spec.health, &service.health_command) else {
                continue;
            };
            if let Some(state) = &replica.health {
                self.memory
                    .health
                    .entry(container.to_string())
                    .or_insert(*state);
            }
            self.probes
                .start(&ctx, container, argv, probe_deadline(spec, now));
        }
    }

    fn reap_children(&mut self) {
        let now = self.now();
        while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            let (pid, code) = match status {
                WaitStatus::Exited(pid, code) => (pid, code),
                WaitStatus::Signaled(pid, sig, _) => (pid, 128 + sig as i32),
                _ => break,
            };
            if let Some(result) = self.probes.finished(pid.as_raw(), code) {
                self.apply_probe(result, now);
            }
        }
    }

    fn apply_probe(&mut self, (container, result): (String, ProbeResult), now: Time) {
        let records = self.sup.instance.containers.load(&container);
        let Ok(record) = records else { return };
        let Some((service, slot, revision)) = replicas::replica_labels(&record, &self.record.name)
        else {
            return;
        };
        let own = definition(&self.record, &self.history, &service, revision);
        let Some(spec) = own.and_then(|s| s.spec.health) else {
            return;
        };
        let Some(state) = self.memory.health.get(&container).cloned() else {
            return;
        };
        let (next, event) = on_probe_result(&spec, &state, result, now);
        self.memory.health.insert(container.clone(), next);
        if event != HealthEvent::Unchanged {
            let statuses = self
                .memory
                .health
                .iter()
                .map(|(c, h)| (c.clone(), h.status))
                .collect();
            self.sup.project.save_health(&statuses);
        }
        match event {
            HealthEvent::BecameHealthy => {
                self.event(&service, slot, "healthy", &container[..12], String::new())
            }
            HealthEvent::BecameUnhealthy => self.event(
                &service,
                slot,
                "unhealthy",
                &container[..12],
                format!("{result:?}"),
            ),
            HealthEvent::Unchanged => {}
        }
    }

    /// pidfds of every running replica's PID 1: readable the moment it exits.
    fn replica_pidfds(&self) -> Vec<OwnedFd> {
        let records = self.sup.instance.containers.list().unwrap_or_default();
        records
            .iter()
            .filter(|r| replicas::replica_labels(r, &self.record.name).is_some())
            .filter_map(|r| {
                r.state
                    .pid
                    .filter(|_| r.state.status() == crate::container::Status::Running)
            })
            .filter_map(|pid| sys::pidfd_open(pid).ok())
            .collect()
    }

    fn notify_ready(
        &mut self,
        desired: &DesiredState,
        observed: &crate::supervisor::ObservedState,
    ) {
        if self.ready_sent {
            return;
        }
        let counts: BTreeMap<&str, usize> = desired
            .services
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    observed
                        .of_service(&s.name)
                        .filter(|r| r.is_running())
                        .count(),
                )
            })
            .collect();
        if desired
            .services
            .iter()
            .all(|s| counts.get(s.name.as_str()).copied().unwrap_or(0) >= s.replicas as usize)
        {
            self.ready_sent = true;
            if let Some(ready) = self.sup.on_ready.as_mut() {
                ready();
            }
        }
    }
}
