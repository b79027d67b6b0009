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

use super::autoscaler::Autoscaler;
use super::balance::{BalancerChange, BalancerMemory};
use super::events::{self, Event};
use super::history::History;
use super::probes::Probes;
use super::proxy::Proxy;
use super::replicas::{self, ShellMemory};
use super::rollouts::Rollouts;
use super::{ProjectDir, ProjectRecord, Result};
use crate::instance::Instance;
use crate::network::ops::Networks;
use crate::runtime::sys;
use crate::supervisor::lb::{draining_for, DRAIN_DELAY};
use crate::supervisor::{next_wakeup, reconcile, Action, DesiredState, Time};

#[path = "supervise_act.rs"]
mod act;
#[path = "supervise_metrics.rs"]
mod metrics_endpoint;
#[path = "supervise_probes.rs"]
mod probes;

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
    /// Least-connections services' listeners, started on first need.
    proxy: Option<Proxy>,
    metrics: metrics_endpoint::Endpoint,
}

/// Runs until SIGTERM/SIGINT. Containers keep running when it stops: the next
/// supervisor adopts them.
pub fn run(sup: &mut Supervisor) -> Result<()> {
    let Some(_lock) = sup.project.try_lock_supervisor()? else {
        return Ok(()); // another supervisor keeps this project
    };
    // A killed supervisor's half-written records (it holds no lock now).
    crate::util::atomic::sweep_dead_temps(&sup.project.dir);
    let _ = crate::util::atomic::write_atomic(
        &sup.project.dir.join("supervisor.pid"),
        std::process::id().to_string().as_bytes(),
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
        proxy: None,
        metrics: metrics_endpoint::Endpoint::default(),
    };
    state.sync_metrics_server();
    loop {
        let began = Instant::now();
        let mut wait = state.pass();
        let took = began.elapsed().as_secs_f64();
        state.metrics.counters.loop_duration.observe(took);
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
        let mut event = Event::new(service, slot, action, container, detail);
        // The real name (a surge replica's has `-rREV`), while it exists.
        let store = &self.sup.instance.containers;
        if !container.is_empty() {
            if let Ok(record) = store.resolve(container).and_then(|id| store.load(&id)) {
                event.name = record.config.name;
            }
        }
        events::append(&self.sup.project.events_path(), &event);
    }

    fn reload(&mut self) {
        if let Ok(record) = self.sup.project.load() {
            self.record = record;
            self.history = self.sup.project.load_history();
            self.balancer.invalidate();
            self.sync_metrics_server();
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
            self.metrics.counters.autoscaled(&d.service, d.from, d.to);
            let _ = self.sup.project.save(&self.record);
            self.event(&d.service, 0, "autoscale", "", d.reason);
        }
        let records = self.sup.instance.containers.list().unwrap_or_default();
        let ours = |r: &&crate::container::store::Record| {
            replicas::replica_labels(r, &self.record.name).is_some()
        };
        let settling = records.iter().filter(ours).any(replicas::settling);
        let mut observed =
            replicas::observe(&records, &self.record, &self.history, &self.memory, now);
        self.record_exits(&observed, &records);
        observed.restarts = self.memory.histories.clone();
        let rolling = self.drive_rollouts(&observed, now);
        let desired = self.desired();
        let mut actions = reconcile(&desired, &observed, now);
        actions.extend(rolling);
        // A start changes what there is to observe (a new replica to probe):
        // look again at once instead of sleeping on stale deadlines.
        let started = self.rollouts.updating()
            || actions.iter().any(|a| {
                // A held or backing-off slot waits for its deadline.
                matches!(a, Action::Start { key, .. } if self.memory.start_due(key, now))
                    || matches!(a, Action::Restart { at, .. } if *at <= now)
            });
        // Stops no longer asked for (the replica recovered) end their drain.
        let stopping_now = draining_for(&actions);
        self.memory.draining.retain(|c, _| stopping_now.contains(c));
        self.balance(&records, &observed, &actions);
        // A slot no longer asked to start (scaled down, removed) is not pending.
        let stale: Vec<_> = self
            .memory
            .pending
            .keys()
            .filter(|k| {
                !actions
                    .iter()
                    .any(|a| matches!(a, Action::Start { key, .. } if key == *k))
            })
            .cloned()
            .collect();
        for key in stale {
            self.set_pending(&key, None);
        }
        for action in &actions {
            self.act(action, now);
        }
        self.kill_overdue(now);
        self.start_probes(&desired, &observed, now);
        self.notify_ready(&desired, &observed);
        self.publish_metrics(&desired, &observed, &records);
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
        let now = crate::util::time::now_rfc3339();
        let changes = self
            .balancer
            .sync(&self.networks, &self.record, observed, &draining, &now);
        if let Some(statuses) = self.balancer.take_changed_statuses() {
            self.sup.project.save_balancer(statuses);
        }
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
                BalancerChange::FlowsKept { service, error } => {
                    self.event(&service, 0, "conntrack-failed", "", error.to_string())
                }
            }
        }
        self.sync_lb_metrics();
        self.update_proxy();
    }

    /// Hands the least-connections services to the userspace proxy,
    /// starting it the first time one needs it (after the signal mask is
    /// set: its thread inherits the mask, so signals reach the signalfd only).
    fn update_proxy(&mut self) {
        let needed = self
            .balancer
            .entries()
            .any(|e| !crate::network::services::proxy_routes(e).is_empty());
        if self.proxy.is_none() && needed {
            match Proxy::start(self.metrics.lb.clone()) {
                Ok(proxy) => self.proxy = Some(proxy),
                Err(e) => return self.event("", 0, "proxy-failed", "", e.to_string()),
            }
        }
        let errors = match self.proxy.as_mut() {
            Some(proxy) => proxy.update(self.balancer.entries()),
            None => return,
        };
        for error in errors {
            self.event("", 0, "proxy-failed", "", error.to_string());
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
