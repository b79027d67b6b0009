//! Containers whose monitor died. The monitor records the exit, honours
//! `--rm` and frees the network when its container ends; when it is
//! SIGKILLed, its container dies with it (parent-death signal, see
//! `init::die_with_the_monitor`) and nobody does that work. Every command
//! that reads containers first finishes it for them (`finish_orphans`):
//! the record then tells the truth, `--rm` happens, and the published
//! ports, lease, DNS names and load-balancer membership go.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::control::monitor_alive;
use super::sys;
use std::time::Duration;

use crate::container::restart::{decide, Decision, ExitFacts};
use crate::container::store::Record;
use crate::container::{exit_code_for_signal, ContainerState, Status};
use crate::instance::Instance;
use crate::util::time::now_rfc3339;

/// What is left to do for a container, given its record and what is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphan {
    /// Its monitor (or nobody, as it is not running) owns it.
    Supervised,
    /// The monitor is gone and so is the container: record the end, clean up.
    Finish,
    /// The monitor is gone, the container is not (it died too late, or was
    /// started by an rcorch whose children outlived it): kill it first.
    KillAndFinish,
}

/// Pure: `monitor` and `pid1` say whether those processes are alive.
pub fn judge(state: &ContainerState, monitor: bool, pid1: bool) -> Orphan {
    match (state.status(), monitor, pid1) {
        (Status::Running, false, false) => Orphan::Finish,
        (Status::Running, false, true) => Orphan::KillAndFinish,
        // Killed while waiting out a restart's backoff.
        (Status::Exited, false, _) if state.restarting => Orphan::Finish,
        _ => Orphan::Supervised,
    }
}

/// Pure: whether pids recorded in namespace `recorded` can be checked from
/// `ours` (unknown on either side: assume so, as records before this did).
pub fn same_namespace(recorded: Option<u64>, ours: Option<u64>) -> bool {
    match (recorded, ours) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// A `--restart` container its policy restarts (as Docker's daemon does
/// when it comes back): started again under a new monitor. True if it was.
fn adopt(instance: &Instance, record: &Record) -> bool {
    let (c, s) = (&record.config, &record.state);
    let facts = ExitFacts {
        exit_code: if s.restarting {
            s.exit_code.unwrap_or(0)
        } else {
            exit_code_for_signal(Signal::SIGKILL as i32)
        },
        restarts: s.restart_count,
        last_delay: None,
        ran_for: Duration::ZERO,
        stop_requested: instance.containers.stop_requested(&c.id),
    };
    if decide(&c.restart, &facts) == Decision::Stay {
        return false;
    }
    let mut ended = orphaned_state(s, now_rfc3339());
    ended.restart_count = s.restart_count;
    let _ = instance.containers.save_state(&c.id, &ended);
    super::relaunch::relaunch(instance, c, s.restart_count + 1).is_ok()
}

/// The state recorded for a container that ended with its monitor.
pub fn orphaned_state(previous: &ContainerState, now: String) -> ContainerState {
    ContainerState {
        status: Some(Status::Exited),
        exit_code: Some(exit_code_for_signal(Signal::SIGKILL as i32)),
        finished_at: Some(now),
        started_at: previous.started_at.clone(),
        error: Some(format!(
            "its monitor (pid {}) ended without recording the exit (killed, or it could not write); the container ended with it",
            previous.monitor_pid.unwrap_or(0)
        )),
        ..ContainerState::default()
    }
}

fn liveness(state: &ContainerState) -> Orphan {
    if !same_namespace(state.pid_namespace, sys::own_pid_namespace()) {
        return Orphan::Supervised; // its pids mean nothing here
    }
    let pid1 = state
        .pid
        .is_some_and(|pid| sys::same_process_alive(pid, state.pid_start_ticks));
    judge(state, monitor_alive(state), pid1)
}

/// Finishes every container whose monitor died; returns their names.
/// Best effort: what cannot be cleaned now is retried by the next command.
pub fn finish_orphans(instance: &Instance) -> Vec<String> {
    let Ok(records) = instance.containers.list() else {
        return Vec::new();
    };
    let orphans: Vec<Record> = records
        .into_iter()
        .filter(|r| liveness(&r.state) != Orphan::Supervised)
        .collect();
    if orphans.is_empty() {
        return Vec::new();
    }
    // Under the store's lock, re-read: a concurrent command may have
    // finished it already.
    let Ok(_lock) = instance.containers.lock() else {
        return Vec::new();
    };
    let mut finished = Vec::new();
    for record in orphans {
        let Ok(now) = instance.containers.load(&record.config.id) else {
            continue;
        };
        let verdict = liveness(&now.state);
        if verdict != Orphan::Supervised {
            finish(instance, &now, verdict);
            finished.push(now.config.name);
        }
    }
    finished
}

fn finish(instance: &Instance, record: &Record, verdict: Orphan) {
    let (c, s) = (&record.config, &record.state);
    // What the dead monitor was writing when it was killed.
    crate::util::atomic::sweep_dead_temps(&instance.containers.container_dir(&c.id));
    if verdict == Orphan::KillAndFinish {
        let _ = nix::sys::signal::kill(Pid::from_raw(s.pid.unwrap_or(0)), Signal::SIGKILL);
    }
    if let Ok(cgroup) = instance.container_cgroup(c) {
        let _ = cgroup.kill_all(Signal::SIGKILL);
        let _ = cgroup.destroy();
    }
    let _ = super::net::release(&instance.root, &c.id, false);
    if adopt(instance, record) {
        return;
    }
    if c.auto_remove {
        let _ = instance.containers.remove_dir(&c.id);
        let _ = super::control::remove_anonymous_volumes(instance, &c.id, &c.mounts);
    } else {
        let _ = instance
            .containers
            .save_state(&c.id, &orphaned_state(s, now_rfc3339()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> ContainerState {
        ContainerState {
            status: Some(Status::Running),
            pid: Some(10),
            monitor_pid: Some(9),
            started_at: Some("t0".into()),
            ..ContainerState::default()
        }
    }

    #[test]
    fn a_live_monitor_keeps_its_container_whatever_pid1_does() {
        assert_eq!(judge(&running(), true, true), Orphan::Supervised);
        assert_eq!(judge(&running(), true, false), Orphan::Supervised);
    }

    #[test]
    fn a_dead_monitor_leaves_its_container_to_be_finished_or_killed() {
        assert_eq!(judge(&running(), false, false), Orphan::Finish);
        assert_eq!(judge(&running(), false, true), Orphan::KillAndFinish);
    }

    #[test]
    fn only_running_records_can_be_orphans() {
        let exited = ContainerState {
            status: Some(Status::Exited),
            ..running()
        };
        assert_eq!(judge(&exited, false, false), Orphan::Supervised);
        assert_eq!(
            judge(&ContainerState::default(), false, false),
            Orphan::Supervised
        );
    }

    #[test]
    fn a_restart_wait_whose_monitor_died_is_an_orphan_too() {
        let waiting = ContainerState {
            status: Some(Status::Exited),
            restarting: true,
            ..running()
        };
        assert_eq!(judge(&waiting, false, false), Orphan::Finish);
        assert_eq!(judge(&waiting, true, false), Orphan::Supervised);
    }

    #[test]
    fn pids_of_another_pid_namespace_are_never_judged() {
        assert!(same_namespace(Some(7), Some(7)));
        assert!(!same_namespace(Some(7), Some(8)));
        assert!(same_namespace(None, Some(8)));
        assert!(same_namespace(Some(7), None));
    }

    #[test]
    fn an_orphan_ends_as_killed_and_says_why() {
        let state = orphaned_state(&running(), "t1".into());
        assert_eq!(state.status, Some(Status::Exited));
        assert_eq!(state.exit_code, Some(137));
        assert_eq!(state.started_at.as_deref(), Some("t0"));
        assert_eq!(state.finished_at.as_deref(), Some("t1"));
        assert!(state.error.unwrap().contains("monitor (pid 9) ended"));
        assert_eq!(state.monitor_pid, None);
    }
}
