//! A plain container's health check, run by its monitor: at each probe
//! time it starts `rcorch exec ID CHECK...` (so the probe joins the
//! container as `exec` does), kills it at its timeout, feeds the result to
//! the supervisor's state machine (Docker's semantics), writes
//! `State.Health` to the container's `health.json` and logs a
//! `health_status` event on each change.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::container::events;
use crate::container::health::HealthConfig;
use crate::container::store::write_json_atomic;
use crate::container::ContainerConfig;
use crate::supervisor::health::{
    next_probe_at, on_probe_result, probe_deadline, HealthEvent, HealthState, ProbeResult,
};
use crate::supervisor::health_log::{
    probe_output, status_word, timeout_output, HealthReport, ProbeLog, MAX_OUTPUT,
};
use crate::supervisor::Time;
use crate::util::time::format_rfc3339;

/// The file `inspect` and `ps` read `State.Health` from.
pub const HEALTH_FILE: &str = "health.json";

struct InFlight {
    pid: i32,
    started: SystemTime,
    deadline: Time,
}

pub struct HealthRunner<'a> {
    config: &'a ContainerConfig,
    check: &'a HealthConfig,
    /// The instance root, for the probe's `rcorch --root R exec` and the events.
    root: PathBuf,
    dir: PathBuf,
    epoch: Instant,
    state: HealthState,
    report: HealthReport,
    probe: Option<InFlight>,
}

impl<'a> HealthRunner<'a> {
    /// For a container that just started; writes the `starting` report.
    pub fn start(config: &'a ContainerConfig, root: PathBuf, dir: PathBuf) -> Option<Self> {
        let check = config.health.as_ref()?;
        let runner = HealthRunner {
            config,
            check,
            root,
            dir,
            epoch: Instant::now(),
            state: HealthState::new(Time::ZERO),
            report: HealthReport::starting(),
            probe: None,
        };
        runner.save();
        Some(runner)
    }

    fn now(&self) -> Time {
        Time::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    /// How long the monitor may sleep before `tick` has work.
    pub fn wait(&self) -> Duration {
        let next = match &self.probe {
            Some(p) => p.deadline,
            None => next_probe_at(&self.check.spec, &self.state),
        };
        next.since(self.now())
    }

    /// Starts a probe that is due, or ends one past its timeout.
    pub fn tick(&mut self) {
        let now = self.now();
        match &self.probe {
            Some(p) if p.deadline <= now => {
                // The process group: the exec'd check goes with rcorch exec.
                let _ = nix::sys::signal::killpg(Pid::from_raw(p.pid), Signal::SIGKILL);
                let output = timeout_output(self.check.spec.timeout);
                self.finish(ProbeResult::Timeout, -1, output);
            }
            None if next_probe_at(&self.check.spec, &self.state) <= now => self.spawn(now),
            _ => {}
        }
    }

    /// A child the monitor reaped: true if it was the probe in flight.
    pub fn reaped(&mut self, pid: i32, exit_code: i32) -> bool {
        if self.probe.as_ref().is_none_or(|p| p.pid != pid) {
            return false;
        }
        let result = if exit_code == 0 {
            ProbeResult::Success
        } else {
            ProbeResult::Failure
        };
        let output = probe_output(&self.take_output());
        self.finish(result, exit_code, output);
        true
    }

    /// The container stopped: a probe still running goes with it.
    pub fn stop(&mut self) {
        if let Some(p) = self.probe.take() {
            let _ = nix::sys::signal::killpg(Pid::from_raw(p.pid), Signal::SIGKILL);
        }
        let _ = std::fs::remove_file(self.output_path());
    }

    fn output_path(&self) -> PathBuf {
        self.dir.join("probe.out")
    }

    fn spawn(&mut self, now: Time) {
        let started = SystemTime::now();
        let spawned = std::fs::File::create(self.output_path()).and_then(|out| {
            let err = out.try_clone()?;
            let exe = std::env::current_exe()?;
            let mut cmd = Command::new(exe);
            cmd.arg("--root")
                .arg(&self.root)
                .arg("--cgroup-parent")
                .arg(&self.config.cgroup_parent)
                .arg("exec")
                .arg(&self.config.id)
                .args(&self.check.argv)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .process_group(0);
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    super::monitor::unblock_all_signals();
                    Ok(())
                });
            }
            cmd.spawn()
        });
        match spawned {
            // Reaped by the monitor's waitpid, not by `Child`.
            Ok(child) => {
                self.probe = Some(InFlight {
                    pid: child.id() as i32,
                    started,
                    deadline: probe_deadline(&self.check.spec, now),
                })
            }
            Err(e) => {
                self.probe = Some(InFlight {
                    pid: 0,
                    started,
                    deadline: now,
                });
                self.finish(
                    ProbeResult::Failure,
                    -1,
                    format!("cannot start the check: {e}"),
                );
            }
        }
    }

    fn take_output(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        if let Ok(file) = std::fs::File::open(self.output_path()) {
            let _ = file.take(MAX_OUTPUT as u64).read_to_end(&mut bytes);
        }
        let _ = std::fs::remove_file(self.output_path());
        bytes
    }

    fn finish(&mut self, result: ProbeResult, exit_code: i32, output: String) {
        let Some(probe) = self.probe.take() else {
            return;
        };
        let (state, event) = on_probe_result(&self.check.spec, &self.state, result, self.now());
        let entry = ProbeLog {
            start: format_rfc3339(probe.started),
            end: format_rfc3339(SystemTime::now()),
            exit_code,
            output,
        };
        self.report = self.report.after_probe(&state, entry);
        self.state = state;
        self.save();
        if event != HealthEvent::Unchanged {
            let action = format!("health_status: {}", status_word(state.status));
            events::emit(&self.root, self.config, &action, &[]);
        }
    }

    fn save(&self) {
        let _ = write_json_atomic(&self.dir.join(HEALTH_FILE), &self.report);
    }
}
