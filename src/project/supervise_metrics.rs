//! The supervisor's side of `/metrics`: the counters it keeps, the
//! snapshot it publishes after each pass, and the server it (re)starts
//! when the desired address changes. Scrapes run on the server's thread.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::Loop;
use crate::container::store::Record;
use crate::metrics::http::{self, Server};
use crate::metrics::lb::LbStats;
use crate::metrics::supervisor::{RolloutFigures, Snapshot};
use crate::project::lb_watch::{self, KernelWatch};
use crate::project::metrics::{self, Counters};
use crate::supervisor::rollout::{Phase, Rollout, RolloutKind, SlotStep};
use crate::supervisor::{DesiredState, ObservedState};

#[derive(Default)]
pub(super) struct Endpoint {
    pub counters: Counters,
    /// Bumped by the userspace proxy and `kernel`, read by scrapes.
    pub lb: LbStats,
    /// Counts the kernel balancer's choices while the server runs.
    kernel: Option<KernelWatch>,
    snapshot: Arc<Mutex<Snapshot>>,
    server: Option<Server>,
    /// The address last asked for, so a change (or a failure) is acted on once.
    wanted: Option<String>,
}

impl Loop<'_, '_> {
    /// Starts, moves or stops the server to match the desired state. Called
    /// after the signal mask is set: the thread inherits it, so signals
    /// still reach the loop's signalfd only.
    pub(super) fn sync_metrics_server(&mut self) {
        let wanted = self.record.metrics.clone();
        if wanted == self.metrics.wanted {
            return;
        }
        self.metrics.wanted = wanted.clone();
        // Dropping the old server frees its port before the new bind.
        self.metrics.server = None;
        self.metrics.kernel = None;
        let Some(text) = wanted else { return };
        let started = http::parse_addr(&text)
            .map_err(crate::project::ProjectError::from)
            .and_then(|addr| {
                metrics::serve(
                    self.sup.instance.root.clone(),
                    self.record.name.clone(),
                    addr,
                    self.metrics.snapshot.clone(),
                    self.metrics.lb.clone(),
                )
            });
        match started {
            Ok(server) => {
                self.metrics.server = Some(server);
                self.event("", 0, "metrics", "", format!("serving /metrics on {text}"));
                match KernelWatch::start(self.metrics.lb.clone()) {
                    Ok(watch) => self.metrics.kernel = Some(watch),
                    Err(e) => self.event("", 0, "lb-metrics-failed", "", e.to_string()),
                }
                self.sync_lb_metrics();
            }
            Err(e) => self.event("", 0, "metrics-failed", "", e.to_string()),
        }
    }

    /// Keeps one series per balancer member, and tells the kernel watch
    /// whom to count.
    pub(super) fn sync_lb_metrics(&self) {
        let members = lb_watch::backends_of(self.balancer.entries());
        lb_watch::sync_stats(&self.metrics.lb, &members);
        if let Some(watch) = &self.metrics.kernel {
            watch.set_backends(lb_watch::kernel_backends(self.balancer.entries()));
        }
    }

    /// Replaces the snapshot scrapes read (a clone under a short lock).
    pub(super) fn publish_metrics(
        &self,
        desired: &DesiredState,
        observed: &ObservedState,
        records: &[Record],
    ) {
        if self.metrics.server.is_none() {
            return;
        }
        let names: BTreeMap<String, String> = records
            .iter()
            .map(|r| (r.config.id.clone(), r.config.name.clone()))
            .collect();
        let mut snap = metrics::snapshot(desired, observed, &names, &self.metrics.counters);
        snap.rollouts = self
            .rollouts
            .active
            .iter()
            .map(|(service, r)| (service.clone(), rollout_figures(r)))
            .collect();
        for key in self.memory.pending.keys() {
            if let Some(service) = snap.services.get_mut(&key.service) {
                service.pending += 1;
            }
        }
        if let Ok(mut shared) = self.metrics.snapshot.lock() {
            *shared = snap;
        }
    }
}

/// A rollout as the metrics show it.
fn rollout_figures(r: &Rollout) -> RolloutFigures {
    RolloutFigures {
        kind: match r.kind {
            RolloutKind::Update => "update",
            RolloutKind::Rollback => "rollback",
        },
        state: match r.phase {
            Phase::Updating => "updating",
            Phase::Paused(_) => "paused",
            Phase::Completed => "completed",
        },
        to_revision: r.to_revision,
        done: r
            .slots
            .values()
            .filter(|s| matches!(s, SlotStep::Done))
            .count() as u32,
        total: r.slots.len() as u32,
        failed: r.failed,
    }
}
