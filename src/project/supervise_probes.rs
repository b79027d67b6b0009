//! The supervisor loop's health-probe shell: start the probes that are due
//! (each an `rcorch exec` child), reap them on SIGCHLD, and feed each result
//! into the replica's health state and the events log.

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use super::Loop;
use crate::project::history::definition;
use crate::project::probes::{ExecContext, Finished};
use crate::project::replicas;
use crate::supervisor::health::{on_probe_result, HealthEvent};
use crate::supervisor::health_log::HealthReport;
use crate::supervisor::{due_probes, DesiredState, Time};

impl Loop<'_, '_> {
    pub(super) fn start_probes(
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
            output_dir: &self.sup.project.dir,
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
            self.probes.start(&ctx, container, argv, now, spec.timeout);
        }
    }

    pub(super) fn reap_children(&mut self) {
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

    fn apply_probe(&mut self, finished: Finished, now: Time) {
        let Finished {
            container,
            result,
            log,
        } = finished;
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
        let parse = |t: &str| crate::util::time::parse_rfc3339(t);
        if let (Some(a), Some(b)) = (parse(&log.start), parse(&log.end)) {
            let took = b.duration_since(a).unwrap_or_default();
            self.metrics.counters.probed(&service, took);
        }
        let (next, event) = on_probe_result(&spec, &state, result, now);
        self.memory.health.insert(container.clone(), next);
        let report = self
            .memory
            .health_reports
            .get(&container)
            .cloned()
            .unwrap_or_else(HealthReport::starting)
            .after_probe(&next, log);
        self.memory.health_reports.insert(container.clone(), report);
        // Every probe changes the log `inspect` shows.
        self.sup.project.save_health(&self.memory.health_reports);
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
}
