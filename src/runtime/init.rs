//! The container's first process, between clone and exec. It joins its
//! cgroup, builds its filesystem, drops privileges and execs the command.
//! Any failure is written to the error pipe and the process exits; the
//! parent learns of success when the pipe closes on exec.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Gid, Pid, Uid};
use seccompiler::BpfProgram;

use super::caps;
use super::console;
use super::mounts::{self, MountPlan, RootfsPaths};
use crate::container::UserSpec;

/// Everything the child needs, prepared by the parent so the child does no
/// parsing or allocation-heavy work of its own. Both front ends (`rcorch
/// run` and the OCI runtime CLI) describe their containers with it.
pub struct InitPlan {
    /// None: the container shares the host's UTS namespace, so leave it.
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// Namespaces joined by path (setns), the mount namespace last.
    pub join: Vec<(CloneFlags, PathBuf)>,
    /// Unshare a cgroup namespace once in the cgroup.
    pub new_cgroup_ns: bool,
    pub cgroup_procs: Vec<PathBuf>,
    pub mounts: MountPlan,
    pub paths: RootfsPaths,
    pub working_dir: PathBuf,
    pub target: ExecTarget,
    pub stdio: [RawFd; 3],
    /// With `-t`: the console socket and the size for the pty made inside.
    pub console: Option<(RawFd, Option<nix::pty::Winsize>)>,
    pub reaper: bool,
    /// The container has its own network namespace (not `--network host`).
    pub own_network: bool,
    /// Written under /proc/sys once in the namespaces ("net.ipv4.ip_forward").
    pub sysctl: Vec<(String, String)>,
    pub rlimits: Vec<Rlimit>,
    /// `--oom-score-adj`: written for the init before it execs (inherited).
    pub oom_score_adj: Option<i32>,
    /// rcorch's monitor is the container's lifeline; an OCI caller is not
    /// the parent of the runtime, so there the init outlives it.
    pub die_with_parent: bool,
    /// OCI only: stop in the `created` state until `start`.
    pub oci: Option<OciHandshake>,
}

/// One `setrlimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: libc::c_int,
    pub soft: u64,
    pub hard: u64,
}

/// The OCI runtime's two stops: the hooks point before pivot_root (the
/// runtime runs its hooks, then sends the state for the container's own),
/// and the exec fifo, which `start` opens to let the process go.
pub struct OciHandshake {
    /// The fifo, opened O_PATH by the runtime (its path is outside the root).
    pub exec_fifo: RawFd,
    /// Descriptors 3.. handed over by the caller (LISTEN_FDS), kept open.
    pub preserve_fds: u32,
    /// In a user namespace (new, its maps written, or joined): become its root.
    pub user_ns: bool,
    pub create_container: Vec<super::hooks::Hook>,
    pub start_container: Vec<super::hooks::Hook>,
}

/// Messages the init sends on the error pipe in OCI mode (failures keep
/// their tags, see [`FailureKind`]).
pub const MSG_HOOKS: u8 = b'H';
pub const MSG_READY: u8 = b'R';

/// The process to exec and the privileges it runs with; shared by the
/// container's init and `rcorch exec`.
pub struct ExecTarget {
    pub user: UserSpec,
    /// Supplementary groups (setgroups).
    pub groups: Vec<u32>,
    pub umask: u32,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    /// The PATH entries from `env`, for finding argv[0].
    pub search_path: Vec<PathBuf>,
    pub capabilities: caps::CapSets,
    pub no_new_privs: bool,
    pub seccomp: Option<BpfProgram>,
    /// seccomp(2) flags for it (SECCOMP_FILTER_FLAG_LOG, …; OCI configs).
    pub seccomp_flags: u32,
}

/// Why the container could not start, as sent over the error pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Setup,
    CommandNotFound,
    NotExecutable,
}

impl FailureKind {
    /// Docker's exit codes: 125 for the runtime, 127 not found, 126 not executable.
    pub fn exit_code(self) -> i32 {
        match self {
            FailureKind::Setup => 125,
            FailureKind::CommandNotFound => 127,
            FailureKind::NotExecutable => 126,
        }
    }
    fn tag(self) -> u8 {
        match self {
            FailureKind::Setup => b'S',
            FailureKind::CommandNotFound => b'N',
            FailureKind::NotExecutable => b'X',
        }
    }
    pub fn from_tag(tag: u8) -> FailureKind {
        match tag {
            b'N' => FailureKind::CommandNotFound,
            b'X' => FailureKind::NotExecutable,
            _ => FailureKind::Setup,
        }
    }
}

pub(super) struct Failure(pub FailureKind, pub String);

pub(super) fn setup(what: &str) -> impl FnOnce(Errno) -> Failure + '_ {
    move |e| Failure(FailureKind::Setup, format!("{what}: {}", e.desc()))
}

/// Runs in the cloned child; never returns.
pub fn run(plan: &InitPlan, error_pipe: OwnedFd, go: Option<OwnedFd>) -> ! {
    if plan.die_with_parent {
        // The monitor is the container's lifeline: it records the exit and
        // collects the output. If it dies (even mid-setup), the container
        // goes with it rather than run on unsupervised.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    if let Some(go) = go {
        // Wait until the parent has prepared what it prepares (the network);
        // EOF without the byte means it gave up, and it reaps us.
        let mut byte = [0u8; 1];
        if !matches!(nix::unistd::read(go.as_raw_fd(), &mut byte), Ok(1)) {
            exit_now(125);
        }
    }
    // The host's /proc, for reopening the exec fifo once the container's
    // root is in place (which may have no /proc of its own).
    let proc_dir = super::init_setup::open_proc();
    let ready = prepare(plan, &error_pipe).and_then(|state| {
        if plan.oci.is_some() {
            check_program(&plan.target)?;
        }
        wait_for_start(plan, &error_pipe, &state, &proc_dir)
    });
    let failure = match ready {
        // The exec fifo stays open until exec closes it (O_CLOEXEC): `start`
        // reads to its end, so it returns once the process runs, as runc's.
        Ok(_fifo) => exec_target(&plan.target, plan.reaper, plan.die_with_parent, &error_pipe),
        Err(f) => f,
    };
    report_and_exit(failure, error_pipe)
}

/// Finds the program, drops privileges and execs; returns only on failure.
/// `lifeline`: the process dies with its parent (rcorch's monitor or exec).
pub(super) fn exec_target(
    target: &ExecTarget,
    reaper: bool,
    lifeline: bool,
    error_pipe: &OwnedFd,
) -> Failure {
    let result = find_program(target)
        .and_then(|program| finish_and_exec(target, reaper, lifeline, &program, error_pipe));
    match result {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

pub(super) fn report_and_exit(failure: Failure, error_pipe: OwnedFd) -> ! {
    let mut pipe = std::fs::File::from(error_pipe);
    let mut message = vec![failure.0.tag()];
    message.extend_from_slice(failure.1.as_bytes());
    if pipe.write_all(&message).is_err() {
        // OCI: after `create` returned nobody reads the pipe; the container's
        // stderr is the one place left to say why it did not run.
        // SAFETY: fd 2 is the container's stderr, open for the whole call.
        let stderr = unsafe { std::os::fd::BorrowedFd::borrow_raw(2) };
        let _ = nix::unistd::write(
            stderr,
            format!("rcorch-runtime: {}\n", failure.1).as_bytes(),
        );
    }
    // SAFETY: _exit skips destructors and atexit handlers that belong to the parent.
    unsafe { libc::_exit(failure.0.exit_code()) }
}

/// Everything that needs root and the host's view: cgroup, namespaces, mounts.
/// Returns the state the OCI runtime sent at the hooks point (else empty).
fn prepare(plan: &InitPlan, error_pipe: &OwnedFd) -> Result<Vec<u8>, Failure> {
    for procs in &plan.cgroup_procs {
        // Writing 0 moves the writer itself, on cgroup v1 and v2 alike.
        std::fs::write(procs, b"0").map_err(|e| {
            Failure(
                FailureKind::Setup,
                format!("join cgroup {}: {e}", procs.display()),
            )
        })?;
    }
    super::init_setup::join_namespaces(&plan.join)?;
    if plan.oci.as_ref().is_some_and(|o| o.user_ns) {
        super::init_setup::become_namespace_root()?;
    }
    if plan.new_cgroup_ns {
        // After joining, so the container sees its own cgroup as the root.
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(setup("unshare cgroup namespace"))?;
    }
    if let Some(hostname) = &plan.hostname {
        nix::unistd::sethostname(hostname).map_err(setup("sethostname"))?;
    }
    if let Some(domainname) = &plan.domainname {
        super::init_setup::set_domainname(domainname)?;
    }
    if plan.own_network {
        super::sys::loopback_up().map_err(setup("bring up lo"))?;
    }
    super::init_setup::write_sysctls(&plan.sysctl)?;
    super::init_setup::set_rlimits(&plan.rlimits)?;
    if let Some(adj) = plan.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| Failure(FailureKind::Setup, format!("oom_score_adj {adj}: {e}")))?;
    }
    // Device nodes and new files get exactly the modes we ask for.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let mount_failed = |e: mounts::MountError| Failure(FailureKind::Setup, e.to_string());
    mounts::apply_before_pivot(&plan.mounts, &plan.paths).map_err(mount_failed)?;
    let mut state = Vec::new();
    if let Some(oci) = &plan.oci {
        state = super::init_setup::hooks_point(error_pipe)?;
        super::init_setup::run_hooks("createContainer", &oci.create_container, &state)?;
    }
    mounts::pivot_and_finish(&plan.mounts, &plan.paths).map_err(mount_failed)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let stdio = match plan.console {
        Some((socket, size)) => {
            [console::create_in_container(socket, size, true).map_err(setup("console"))?; 3]
        }
        None => plan.stdio,
    };
    let preserved = plan.oci.as_ref().map_or(0, |o| o.preserve_fds);
    attach_stdio(&stdio, plan.console.is_some(), preserved)?;
    enter_working_dir(&plan.working_dir, plan.target.user)?;
    Ok(state)
}

/// OCI: tell the runtime we are ready, then block on the exec fifo until
/// `start` opens it, and run the startContainer hooks. Returns the fifo's
/// write end, open until exec.
fn wait_for_start(
    plan: &InitPlan,
    error_pipe: &OwnedFd,
    state: &[u8],
    proc_dir: &Option<OwnedFd>,
) -> Result<Option<OwnedFd>, Failure> {
    let Some(oci) = &plan.oci else {
        return Ok(None);
    };
    let _ = nix::unistd::write(error_pipe, &[MSG_READY]);
    let fifo = super::init_setup::wait_exec_fifo(proc_dir, oci.exec_fifo)?;
    super::init_setup::run_hooks("startContainer", &oci.start_container, state)?;
    Ok(Some(fifo))
}

/// `preserved` descriptors from 3 up stay open across exec (`--preserve-fds`).
pub(super) fn attach_stdio(stdio: &[RawFd; 3], tty: bool, preserved: u32) -> Result<(), Failure> {
    nix::unistd::setsid().map_err(setup("setsid"))?;
    for (target, fd) in stdio.iter().enumerate() {
        if *fd != target as RawFd {
            nix::unistd::dup2(*fd, target as RawFd).map_err(setup("dup2"))?;
        }
    }
    if tty {
        // SAFETY: TIOCSCTTY on our stdin, which the parent made a pty slave.
        Errno::result(unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) })
            .map_err(setup("set controlling terminal"))?;
    }
    // Only 0-2 (and what the caller preserves) survive exec.
    super::sys::cloexec_from(3 + preserved).map_err(setup("close_range"))
}

/// Docker creates a missing working directory, owned by the container user.
pub(super) fn enter_working_dir(dir: &Path, user: UserSpec) -> Result<(), Failure> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure(
                FailureKind::Setup,
                format!("create working directory {}: {e}", dir.display()),
            )
        })?;
        let _ = nix::unistd::chown(
            dir,
            Some(Uid::from_raw(user.uid)),
            Some(Gid::from_raw(user.gid)),
        );
    }
    nix::unistd::chdir(dir).map_err(|e| {
        Failure(
            FailureKind::Setup,
            format!("chdir {}: {}", dir.display(), e.desc()),
        )
    })
}

/// OCI: a missing or unexecutable program fails `create` (as runc checks
/// before the exec fifo), so a caller's `run -d` fails with 127/126
/// instead of starting a container that exits at once.
fn check_program(target: &ExecTarget) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let program = find_program(target)?;
    let meta = std::fs::metadata(&program);
    if meta.is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0) {
        return Ok(());
    }
    Err(Failure(
        FailureKind::NotExecutable,
        format!("exec: \"{}\": permission denied", program.display()),
    ))
}

/// argv[0] as given if it has a slash, else the first match on PATH.
fn find_program(target: &ExecTarget) -> Result<PathBuf, Failure> {
    let name = Path::new(std::ffi::OsStr::from_bytes_compat(
        target.argv[0].to_bytes(),
    ));
    let not_found = || {
        Failure(
            FailureKind::CommandNotFound,
            format!(
                "exec: \"{}\": executable file not found in $PATH",
                name.display()
            ),
        )
    };
    let candidate = if name.as_os_str().as_encoded_bytes().contains(&b'/') {
        name.to_path_buf()
    } else {
        target
            .search_path
            .iter()
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .ok_or_else(not_found)?
    };
    if !candidate.exists() {
        return Err(Failure(
            FailureKind::CommandNotFound,
            format!(
                "exec: \"{}\": no such file or directory",
                candidate.display()
            ),
        ));
    }
    Ok(candidate)
}

trait FromBytesCompat {
    fn from_bytes_compat(bytes: &[u8]) -> &std::ffi::OsStr;
}
impl FromBytesCompat for std::ffi::OsStr {
    fn from_bytes_compat(bytes: &[u8]) -> &std::ffi::OsStr {
        std::os::unix::ffi::OsStrExt::from_bytes(bytes)
    }
}

/// Drops privileges in Docker's order, optionally forks the reaper, and execs.
fn finish_and_exec(
    plan: &ExecTarget,
    reaper: bool,
    lifeline: bool,
    program: &Path,
    error_pipe: &OwnedFd,
) -> Result<std::convert::Infallible, Failure> {
    super::init_setup::drop_privileges(plan)?;
    if lifeline {
        die_with_the_monitor(error_pipe);
    }
    if reaper {
        let _ = SigSet::all().thread_block();
        // SAFETY: single-threaded; the child only execs.
        match unsafe { nix::unistd::fork() }.map_err(setup("fork for --init"))? {
            ForkResult::Parent { child } => reap_until(child, error_pipe),
            ForkResult::Child => {}
        }
    }
    if plan.no_new_privs {
        // Last, so the filter need not allow what setup still calls; without
        // no_new_privs it went in while privileged (drop_privileges).
        super::init_setup::install_seccomp(plan)?;
    }
    reset_signal_state();
    let c_program =
        CString::new(program.as_os_str().as_encoded_bytes()).expect("paths have no NUL");
    let errno = nix::unistd::execve(&c_program, &plan.argv, &plan.env).unwrap_err();
    let kind = match errno {
        Errno::ENOENT => FailureKind::CommandNotFound,
        Errno::EACCES | Errno::ENOEXEC | Errno::EISDIR => FailureKind::NotExecutable,
        _ => FailureKind::Setup,
    };
    Err(Failure(
        kind,
        format!("exec: \"{}\": {}", program.display(), errno.desc()),
    ))
}

/// Arms (again) the parent-death signal: the kernel clears it when the
/// effective uid or gid changes (`commit_creds`), so the one set at the top
/// of `run` was lost for every `-u` container, which then outlived a killed
/// monitor. The container dies with its monitor rather than being adopted:
/// only the monitor holds the pty/pipes its output goes to, the pidfd-free
/// wait that yields its exit code and the `--rm`/network clean-up, none of
/// which a later command can take over from a running process. If the
/// monitor died before this point, the error pipe's reader is gone
/// (POLLERR on our end): stop now, as the signal would have.
fn die_with_the_monitor(error_pipe: &OwnedFd) {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let mut pfd = libc::pollfd {
        fd: error_pipe.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n > 0 && pfd.revents & libc::POLLERR != 0 {
        exit_now(137);
    }
}

/// The command starts with default dispositions and nothing blocked: the
/// Rust runtime ignores SIGPIPE and the monitor blocks signals for its
/// signalfd, and ignored signals would otherwise survive exec.
fn reset_signal_state() {
    for signal in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: installing SIG_DFL runs no handler code of ours.
        let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) };
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// `--init`: PID 1 that forwards every signal to the command and reaps
/// orphans, exiting with the command's status.
fn reap_until(child: Pid, error_pipe: &OwnedFd) -> ! {
    // The reaper never execs, so close-on-exec does not apply: drop every
    // inherited descriptor (the error pipe, `run -d`'s ready pipe, …) or the
    // parent waiting for their EOF waits forever.
    let _ = error_pipe;
    // SAFETY: close_range only closes descriptors; 0-2 stay for the reaper.
    unsafe { libc::close_range(3, u32::MAX, 0) };
    super::sys::overwrite_cmdline("rcorch-init");
    let all = SigSet::all();
    loop {
        let Ok(signal) = all.wait() else { continue };
        if signal != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(child, signal);
            continue;
        }
        while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            match status {
                WaitStatus::Exited(pid, code) if pid == child => exit_now(code),
                WaitStatus::Signaled(pid, sig, _) if pid == child => exit_now(128 + sig as i32),
                WaitStatus::StillAlive => break,
                _ => {}
            }
        }
    }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: leaving without running the parent's destructors.
    unsafe { libc::_exit(code) }
}
