//! The per-container monitor: the parent of the container's PID 1. It starts
//! the container, records what happens to it, copies its output to the log
//! (and to the terminal in the foreground), reaps it and cleans up. One small
//! process per container, no daemon: `rcorch run` itself in the foreground,
//! a detached fork of it with `-d`.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::health_probe::HealthRunner;
use super::init::{self, FailureKind, InitPlan};
use super::logs::{LogWriter, Stream, LOG_FILE};
pub use super::restarts::Ended;
use super::stdio::{ContainerStdio, TerminalGuard};
use super::sys;
use crate::cgroups::CgroupManager;
use crate::container::events;
use crate::container::store::ContainerStore;
use crate::container::{exit_code_for_signal, ContainerConfig, ContainerState, MountKind, Status};
use crate::util::time::now_rfc3339;
use crate::volume::store::VolumeStore;

/// Signals the monitor handles itself: SIGCHLD to reap, the rest forwarded.
const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

pub struct Monitor<'a> {
    pub store: &'a ContainerStore,
    /// For `--rm`: the container's anonymous volumes go with it.
    pub volumes: &'a VolumeStore,
    pub config: &'a ContainerConfig,
    pub cgroup: &'a dyn CgroupManager,
    pub namespaces: libc::c_int,
    /// Runs between clone and the container's own setup, with the child's
    /// PID (its namespaces exist, nothing runs in them yet): where the
    /// network is plugged in. An error aborts the start.
    pub before_setup: Option<&'a dyn Fn(Pid) -> Result<(), String>>,
    /// `--restart`: how the next runs' streams are opened (detached), and
    /// what a monitor that took over from a foreground `run` frees once
    /// the container stays down (its network).
    pub restart: super::restarts::RestartContext<'a>,
    /// Restarts before this monitor took over (an adopted container).
    pub restarts: u32,
}

/// How a start attempt ended before supervision began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailure {
    pub exit_code: i32,
    pub message: String,
}

impl Monitor<'_> {
    /// Starts the container and supervises it until it exits. `on_started`
    /// runs once the command is exec'd (or failed to be), so `run -d` can
    /// return. Returns the container's exit code.
    pub fn run(
        &self,
        plan: &mut InitPlan,
        stdio: ContainerStdio,
        on_started: impl FnOnce(Result<(), &StartFailure>),
    ) -> Ended {
        // The monitor outlives its readers (`run ... | head -1`): a write
        // to a closed pipe fails (and is ignored), it never kills it.
        // SAFETY: installs SIG_IGN; no handler code runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let mask = monitor_signals();
        let _ = mask.thread_block();
        let Ok(signals) =
            SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        else {
            let failure = StartFailure {
                exit_code: 125,
                message: "signalfd failed".into(),
            };
            on_started(Err(&failure));
            return Ended::Finished(self.finish_failed(&failure));
        };
        plan.stdio = stdio.child_fds();
        plan.console = stdio.console_request();
        let child = match self.start(plan) {
            Ok(pid) => pid,
            Err(failure) => {
                // Clean up first, so `run -d --rm` returns with nothing left.
                let code = self.finish_failed(&failure);
                on_started(Err(&failure));
                return Ended::Finished(code);
            }
        };
        let parent_side = stdio.into_parent_side();
        self.record_running(child, self.restarts);
        on_started(Ok(()));
        sys::release_startup_pages();
        self.supervise_with_restarts(plan, &signals, child, parent_side)
    }

    /// The container's log (`--log-driver none`: none, the output is dropped).
    fn log_writer(&self, dir: &std::path::Path) -> Option<LogWriter> {
        use crate::container::logging::LogDriver;
        let log = &self.config.log;
        match log.driver {
            LogDriver::None => None,
            LogDriver::JsonFile => LogWriter::create(&dir.join(LOG_FILE), log.rotation())
                .ok()
                .map(|w| w.with_partials(self.config.tty)),
        }
    }

    /// Supervises one run of the container's PID 1 until it exits, probing
    /// its health meanwhile.
    pub(super) fn supervise_once(&self, child: Pid, signals: &SignalFd, side: ParentSide) -> i32 {
        let dir = self.store.container_dir(&self.config.id);
        let mut health = HealthRunner::start(self.config, self.store.root().into(), dir.clone());
        let status = supervise(
            child,
            (signals, self.cgroup),
            side,
            (self.log_writer(&dir), health.as_mut()),
        );
        if let Some(h) = health.as_mut() {
            h.stop();
        }
        match status {
            WaitStatus::Exited(_, code) => code,
            WaitStatus::Signaled(_, signal, _) => exit_code_for_signal(signal as i32),
            _ => 125,
        }
    }

    /// Clones the container's PID 1 and waits for its exec (the error pipe
    /// closes) or its error report.
    pub(super) fn start(&self, plan: &InitPlan) -> Result<Pid, StartFailure> {
        let setup_failed = |message: String| StartFailure {
            exit_code: 125,
            message,
        };
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| setup_failed(format!("pipe: {e}")))?;
        // The child waits at a gate while we prepare what needs its pid:
        // its network, its systemd scope.
        let gated = self.before_setup.is_some() || self.cgroup.needs_pid();
        let gate = match gated {
            true => Some(
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(|e| setup_failed(format!("pipe: {e}")))?,
            ),
            false => None,
        };
        // SAFETY: rcorch is single-threaded here; the child only sets up and execs.
        let pid = unsafe { sys::clone_fork(self.namespaces) }
            .map_err(|e| setup_failed(format!("clone: {}", e.desc())))?;
        if pid == 0 {
            drop(read_end);
            let go = gate.map(|(go_read, go_write)| {
                drop(go_write);
                go_read
            });
            init::run(plan, write_end, go);
        }
        drop(write_end);
        if let Some((go_read, go_write)) = gate {
            drop(go_read);
            let prepared = self
                .cgroup
                .enter(pid)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    self.before_setup
                        .map_or(Ok(()), |hook| hook(Pid::from_raw(pid)))
                });
            if let Err(message) = prepared {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = waitpid(Pid::from_raw(pid), None);
                return Err(setup_failed(message));
            }
            let _ = nix::unistd::write(&go_write, b"g");
        }
        let mut report = Vec::new();
        let _ = std::fs::File::from(read_end).read_to_end(&mut report);
        let child = Pid::from_raw(pid);
        if let Some((&tag, message)) = report.split_first() {
            let _ = waitpid(child, None);
            let kind = FailureKind::from_tag(tag);
            return Err(StartFailure {
                exit_code: kind.exit_code(),
                message: String::from_utf8_lossy(message).into(),
            });
        }
        Ok(child)
    }

    pub(super) fn record_running(&self, child: Pid, restart_count: u32) {
        let state = ContainerState {
            restart_count,
            status: Some(Status::Running),
            pid: Some(child.as_raw()),
            pid_start_ticks: sys::process_start_ticks(child.as_raw()),
            monitor_pid: Some(std::process::id() as i32),
            monitor_start_ticks: sys::process_start_ticks(std::process::id() as i32),
            pid_namespace: sys::own_pid_namespace(),
            started_at: Some(now_rfc3339()),
            ..ContainerState::default()
        };
        let _ = self.store.save_state(&self.config.id, &state);
        self.event("start", &[]);
    }

    pub(super) fn event(&self, action: &str, extra: &[(&str, String)]) {
        events::emit(self.store.root(), self.config, action, extra);
    }

    pub(super) fn finish_failed(&self, failure: &StartFailure) -> i32 {
        self.event("die", &[("exitCode", failure.exit_code.to_string())]);
        self.cleanup(ContainerState {
            status: Some(Status::Exited),
            exit_code: Some(failure.exit_code),
            finished_at: Some(now_rfc3339()),
            error: Some(failure.message.clone()),
            ..ContainerState::default()
        });
        failure.exit_code
    }

    pub(super) fn finish(&self, exit_code: i32) -> i32 {
        let previous = self
            .store
            .load(&self.config.id)
            .map(|r| r.state)
            .unwrap_or_default();
        let oom_killed = self.cgroup.oom_killed().unwrap_or(false);
        if oom_killed {
            self.event("oom", &[]);
        }
        self.event("die", &[("exitCode", exit_code.to_string())]);
        self.cleanup(ContainerState {
            status: Some(Status::Exited),
            exit_code: Some(exit_code),
            finished_at: Some(now_rfc3339()),
            oom_killed,
            started_at: previous.started_at,
            restart_count: previous.restart_count,
            ..ContainerState::default()
        });
        exit_code
    }

    /// The container's processes are gone (its PID 1 exited, which ends its
    /// PID namespace); its mounts went with its mount namespace. What is left
    /// on the host is the cgroup and, for `--rm`, the directory.
    fn cleanup(&self, state: ContainerState) {
        let _ = self.cgroup.kill_all(Signal::SIGKILL);
        let _ = self.cgroup.destroy();
        if self.config.auto_remove {
            let _ = self.store.remove_dir(&self.config.id);
            self.remove_anonymous_volumes();
            self.event("destroy", &[]);
        } else {
            let _ = self.store.save_state(&self.config.id, &state);
        }
    }
}

impl Monitor<'_> {
    /// Best effort, as the rest of the cleanup: a volume another container
    /// uses stays.
    fn remove_anonymous_volumes(&self) {
        let c = self.config;
        if !c.mounts.iter().any(|m| m.kind == MountKind::Volume) {
            return;
        }
        let Ok(lock) = self.volumes.lock() else {
            return;
        };
        let Ok(others) = self.store.configs() else {
            return;
        };
        let _ = self
            .volumes
            .remove_anonymous(&lock, &c.id, &c.mounts, &others);
    }
}

fn monitor_signals() -> SigSet {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.add(Signal::SIGWINCH);
    for s in FORWARDED {
        mask.add(*s);
    }
    mask
}

/// The fds the monitor copies between, on its side.
pub struct ParentSide {
    /// Container output: (fd, stream). With a terminal, one fd: the pty master.
    pub outputs: Vec<(OwnedFd, Stream)>,
    /// Where to echo output (the user's terminal) in the foreground.
    pub echo: super::echo::Echo,
    /// Our stdin, copied into the pty master (`-it`).
    pub stdin_to_master: Option<RawFd>,
    pub terminal: Option<TerminalGuard>,
}

/// Copies output and forwards signals until the container's PID 1 exits,
/// reading the cgroup's events when they change and when PID 1 exits.
fn supervise(
    child: Pid,
    (signals, cgroup): (&SignalFd, &dyn CgroupManager),
    mut side: ParentSide,
    (mut log, mut health): (Option<LogWriter>, Option<&mut HealthRunner>),
) -> WaitStatus {
    let mut buf = vec![0u8; 32 * 1024];
    let mut exited: Option<WaitStatus> = None;
    let mut stdin_open = side.stdin_to_master.is_some();
    loop {
        if exited.is_some() && side.outputs.is_empty() {
            break;
        }
        let mut fds: Vec<PollFd> = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        fds.extend(
            side.outputs
                .iter()
                .map(|(fd, _)| PollFd::new(fd.as_fd(), PollFlags::POLLIN)),
        );
        let stdin_fd = side.stdin_to_master.filter(|_| stdin_open);
        // SAFETY: stdin stays open for the life of the process.
        let stdin_borrow = stdin_fd.map(|fd| unsafe { BorrowedFd::borrow_raw(fd) });
        if let Some(fd) = &stdin_borrow {
            fds.push(PollFd::new(*fd, PollFlags::POLLIN));
        }
        let events_fd = cgroup.events_fd().filter(|_| exited.is_none());
        // SAFETY: the manager keeps the watch open while the container runs.
        let events_borrow = events_fd.map(|fd| unsafe { BorrowedFd::borrow_raw(fd) });
        if let Some(fd) = &events_borrow {
            fds.push(PollFd::new(*fd, PollFlags::POLLIN));
        }
        // Once PID 1 is gone, wait only briefly for the last output.
        let timeout = match (&exited, &health) {
            (Some(_), _) => PollTimeout::from(500u16),
            (None, Some(h)) => probe_wait(h.wait()),
            (None, None) => PollTimeout::NONE,
        };
        // A live build view's clock moves while its step is silent.
        let timeout = match side.echo.tick_every() {
            Some(tick)
                if exited.is_none()
                    && (timeout.is_none() || timeout.duration().is_some_and(|t| t > tick)) =>
            {
                probe_wait(tick)
            }
            _ => timeout,
        };
        match poll(&mut fds, timeout) {
            Ok(0) if exited.is_some() => break,
            Ok(_) => {}
            Err(_) => continue,
        }
        if let (None, Some(h)) = (&exited, health.as_mut()) {
            h.tick();
        }
        side.echo.tick();
        let mut ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
        drop(fds);
        if events_fd.is_some() && ready.pop() == Some(true) {
            cgroup.note_events();
        }
        if ready[0] {
            let mut others = Vec::new();
            if let Some(status) = handle_signals(child, signals, &side, &mut others) {
                // Before the output is drained: the cgroup may go meanwhile.
                cgroup.note_events();
                exited = Some(status);
            }
            if let Some(h) = health.as_mut() {
                for (pid, code) in others {
                    h.reaped(pid, code);
                }
            }
        }
        let mut closed = Vec::new();
        for (i, (fd, stream)) in side.outputs.iter().enumerate() {
            if !ready[1 + i] {
                continue;
            }
            match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                Ok(0) | Err(_) => closed.push(i),
                Ok(n) => copy_out(&buf[..n], *stream, &mut side.echo, log.as_mut()),
            }
        }
        for i in closed.into_iter().rev() {
            side.outputs.remove(i);
        }
        if stdin_fd.is_some() && *ready.last().unwrap_or(&false) {
            stdin_open = forward_stdin(&mut buf, &side);
        }
    }
    if let Some(log) = log.as_mut() {
        let _ = log.finish();
    }
    side.echo.finish();
    drop(side.terminal);
    exited.unwrap_or_else(|| waitpid(child, None).unwrap_or(WaitStatus::StillAlive))
}

fn copy_out(
    bytes: &[u8],
    stream: Stream,
    echo: &mut super::echo::Echo,
    log: Option<&mut LogWriter>,
) {
    echo.write(stream, bytes);
    if let Some(log) = log {
        let _ = log.write(stream, bytes);
    }
}

fn forward_stdin(buf: &mut [u8], side: &ParentSide) -> bool {
    let (Some(stdin), Some((master, _))) = (side.stdin_to_master, side.outputs.first()) else {
        return false;
    };
    match nix::unistd::read(stdin, buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            // SAFETY: the master stays open while it is in `outputs`.
            let master = unsafe { BorrowedFd::borrow_raw(master.as_raw_fd()) };
            let _ = nix::unistd::write(master, &buf[..n]);
            true
        }
    }
}

/// At most `wait` (poll takes milliseconds up to i32::MAX), at least 1 ms.
fn probe_wait(wait: std::time::Duration) -> PollTimeout {
    let ms = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// Reaps on SIGCHLD (other children's exit codes go to `others`: the
/// health probes), resizes on SIGWINCH, forwards the rest to PID 1.
fn handle_signals(
    child: Pid,
    signals: &SignalFd,
    side: &ParentSide,
    others: &mut Vec<(i32, i32)>,
) -> Option<WaitStatus> {
    let mut exited = None;
    while let Ok(Some(info)) = signals.read_signal() {
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGCHLD) => {
                while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    match status {
                        WaitStatus::StillAlive => break,
                        s if s.pid() == Some(child) => exited = Some(s),
                        WaitStatus::Exited(pid, code) => others.push((pid.as_raw(), code)),
                        WaitStatus::Signaled(pid, sig, _) => {
                            others.push((pid.as_raw(), exit_code_for_signal(sig as i32)))
                        }
                        _ => {}
                    }
                }
            }
            Ok(Signal::SIGWINCH) => {
                if let (Some(term), Some((master, _))) = (&side.terminal, side.outputs.first()) {
                    term.copy_size_to(master.as_raw_fd());
                }
            }
            Ok(signal) => {
                let _ = nix::sys::signal::kill(child, signal);
            }
            Err(_) => {}
        }
    }
    exited
}

/// Restores the default signal mask (for a process forked off the monitor).
pub fn unblock_all_signals() {
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}
