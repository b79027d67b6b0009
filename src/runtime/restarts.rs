//! `run --restart`: the monitor keeps its container, restarting it by its
//! policy with Docker's backoff (`container::restart` decides). A
//! foreground `run` returns the first exit code, as `docker run` does, and
//! hands the container to a forked monitor that goes on restarting it.
//! `stop`, `kill` (stop signal or SIGKILL) and `rm -f` leave a stop request
//! first, which ends the restarting.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::init::InitPlan;
use super::monitor::{Monitor, ParentSide, StartFailure};
use super::stdio::{detach_standard_streams, ContainerStdio, StdioRequest};
use super::sys;
use crate::container::restart::{decide, Decision, ExitFacts};
use crate::container::{ContainerState, Status};
use crate::util::time::now_rfc3339;

/// How a monitor's work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The container stays down with this exit code; everything is cleaned up.
    Finished(i32),
    /// A foreground `run`: the container exited with this code and a forked
    /// monitor restarts it, and frees what it holds in the end.
    HandedOff(i32),
}

impl Ended {
    pub fn code(self) -> i32 {
        match self {
            Ended::Finished(code) | Ended::HandedOff(code) => code,
        }
    }
}

/// What the monitor needs to restart its container.
pub struct RestartContext<'a> {
    /// True for the foreground `run` (the monitor is rcorch run itself).
    pub foreground: bool,
    /// Run by a monitor forked off a foreground `run` once the container
    /// stays down (the detached monitor's caller does it otherwise).
    pub after_exit: Option<&'a dyn Fn()>,
}

impl Monitor<'_> {
    pub(super) fn supervise_with_restarts(
        &self,
        plan: &mut InitPlan,
        signals: &SignalFd,
        first_child: Pid,
        first_side: ParentSide,
    ) -> Ended {
        let (mut child, mut side) = (first_child, first_side);
        let (mut restarts, mut last_delay) = (self.restarts, None);
        let mut handed_off = false;
        loop {
            let started = Instant::now();
            let code = self.supervise_once(child, signals, side);
            let facts = ExitFacts {
                exit_code: code,
                restarts,
                last_delay,
                ran_for: started.elapsed(),
                stop_requested: self.store.stop_requested(&self.config.id),
            };
            let Decision::RestartAfter(delay) = decide(&self.current_policy(), &facts) else {
                return self.finished(self.finish(code), handed_off);
            };
            if self.restart.foreground && !handed_off {
                match self.hand_off(code, restarts) {
                    Some(parent_result) => return parent_result,
                    None => handed_off = true,
                }
            } else {
                self.record_restarting(code, restarts, std::process::id() as i32);
            }
            if !self.wait_out(signals, delay) {
                return self.finished(self.finish(code), handed_off);
            }
            restarts += 1;
            last_delay = Some(delay);
            match self.start_again(plan) {
                Ok((pid, parent_side)) => (child, side) = (pid, parent_side),
                Err(failure) => {
                    let code = self.finish_failed(&failure);
                    return self.finished(code, handed_off);
                }
            }
            self.record_running(child, restarts);
        }
    }

    /// The policy as `update --restart` may have changed it since start.
    fn current_policy(&self) -> crate::container::restart::RestartPolicy {
        self.store
            .load(&self.config.id)
            .map_or(self.config.restart, |r| r.config.restart)
    }

    /// Forks the monitor that goes on restarting the container; the
    /// foreground `run` (the parent) returns the exit code. None in the child.
    fn hand_off(&self, code: i32, restarts: u32) -> Option<Ended> {
        // SAFETY: the monitor is single-threaded; the child goes on as it.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                // Before returning: a monitor-less record would be finished
                // as an orphan by the next command.
                self.record_restarting(code, restarts, child.as_raw());
                Some(Ended::HandedOff(code))
            }
            Ok(nix::unistd::ForkResult::Child) => {
                let _ = nix::unistd::setsid();
                detach_standard_streams();
                let _ = std::env::set_current_dir("/");
                None
            }
            // Cannot restart it: it stays down.
            Err(_) => Some(Ended::Finished(self.finish(code))),
        }
    }

    /// In a monitor forked off the foreground `run`, nobody returns to: it
    /// frees what the container held and exits.
    fn finished(&self, code: i32, handed_off: bool) -> Ended {
        if !handed_off {
            return Ended::Finished(code);
        }
        if let Some(after_exit) = self.restart.after_exit {
            after_exit();
        }
        // SAFETY: the forked monitor's work is done; skip destructors shared with the parent.
        unsafe { libc::_exit(0) }
    }

    /// Exited, restarting: `monitor` waits out the backoff.
    fn record_restarting(&self, code: i32, restarts: u32, monitor: i32) {
        let previous = self
            .store
            .load(&self.config.id)
            .map(|r| r.state)
            .unwrap_or_default();
        let oom_killed = self.cgroup.oom_killed().unwrap_or(false);
        if oom_killed {
            self.event("oom", &[]);
        }
        // As Docker: every exit is a die event, restarted or not.
        self.event("die", &[("exitCode", code.to_string())]);
        let state = ContainerState {
            status: Some(Status::Exited),
            exit_code: Some(code),
            started_at: previous.started_at,
            finished_at: Some(now_rfc3339()),
            oom_killed,
            monitor_pid: Some(monitor),
            monitor_start_ticks: sys::process_start_ticks(monitor),
            pid_namespace: sys::own_pid_namespace(),
            restart_count: restarts,
            restarting: true,
            ..ContainerState::default()
        };
        let _ = self.store.save_state(&self.config.id, &state);
    }

    /// Sleeps `delay`, woken by signals (`stop` sends one) to see whether a
    /// stop was requested; false if it was.
    fn wait_out(&self, signals: &SignalFd, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        loop {
            if self.store.stop_requested(&self.config.id) {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(ms));
            while let Ok(Some(_)) = signals.read_signal() {}
            // Nothing of ours is left to reap but stray zombies.
            while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                if status == WaitStatus::StillAlive {
                    break;
                }
            }
        }
    }

    /// A new PID 1 on the same record, rootfs, cgroup and network lease;
    /// its streams are detached (nobody is attached to a restarted run).
    fn start_again(&self, plan: &mut InitPlan) -> Result<(Pid, ParentSide), StartFailure> {
        let dir = self.store.container_dir(&self.config.id);
        let request = StdioRequest::detached(self.config, &dir);
        let stdio = ContainerStdio::open(&request).map_err(|e| StartFailure {
            exit_code: 125,
            message: format!("stdio: {e}"),
        })?;
        plan.stdio = stdio.child_fds();
        plan.console = stdio.console_request();
        let pid = self.start(plan)?;
        Ok((pid, stdio.into_parent_side()))
    }
}
