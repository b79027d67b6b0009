//! A new process in a running container, for `rcorch exec` and the OCI
//! runtime's `exec`. It joins the container's cgroup and namespaces, then
//! runs with the capabilities and seccomp profile it is given (for `rcorch
//! exec`, the container's own).

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use thiserror::Error;

use super::console;
use super::control::{observed_status, ControlError};
use super::init::{self, ExecTarget, Failure, FailureKind, Rlimit};
use super::stdio::ExecPty;
use super::{caps, seccomp};
use crate::container::build::{parse_user, BuildError};
use crate::container::events;
use crate::container::store::StoreError;
use crate::container::{exit_code_for_signal, Status};
use crate::instance::Instance;

/// Namespaces joined, in order; mnt last so /proc paths resolve until then.
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub interactive: bool,
    pub tty: bool,
}

#[derive(Debug, Error)]
pub enum ExecError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Caps(#[from] caps::CapsError),
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    #[error("container {name} is not running")]
    NotRunning { name: String },
    #[error("cannot open namespace {path}: {source}")]
    Namespace {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("exec failed: {source}")]
    Sys { source: nix::Error },
    #[error("{message}")]
    Start { exit_code: i32, message: String },
}

impl ExecError {
    /// The code of a command that could not be started (126/127); None
    /// for rcorch's own errors (a missing or stopped container).
    pub fn start_code(&self) -> Option<i32> {
        match self {
            ExecError::Start { exit_code, .. } => Some(*exit_code),
            _ => None,
        }
    }
}

/// Runs the command and returns its exit code.
pub fn exec(instance: &Instance, reference: &str, request: &ExecRequest) -> Result<i32, ExecError> {
    let record = instance
        .containers
        .load(&instance.containers.resolve(reference)?)?;
    if observed_status(&record.state) != Status::Running {
        return Err(ExecError::NotRunning {
            name: record.config.name,
        });
    }
    let pid = record.state.pid.unwrap_or(0);
    let proc_root = PathBuf::from(format!("/proc/{pid}/root"));
    let read = |rel: &str| std::fs::read_to_string(proc_root.join(rel)).ok();
    let user = match &request.user {
        Some(spec) => parse_user(
            spec,
            read("etc/passwd").as_deref(),
            read("etc/group").as_deref(),
        )?,
        None => record.config.user,
    };
    let mut env = record.config.env.clone();
    for entry in &request.env {
        let key = entry.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(entry.clone());
    }
    let search_path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or_default()
        .split(':')
        .map(PathBuf::from)
        .collect();
    let cstrings = |v: &[String]| {
        v.iter()
            .map(|s| CString::new(s.replace('\0', "")).expect("no NUL"))
            .collect()
    };
    let capabilities = caps::launch_set(&record.config.cap_add, &record.config.cap_drop)?;
    let target = ExecTarget {
        user,
        // `--group-add` reaches exec'd processes too, as in Docker.
        groups: std::iter::once(user.gid)
            .chain(record.config.extras.group_add.iter().copied())
            .collect(),
        umask: 0o022,
        argv: cstrings(&request.command),
        env: cstrings(&env),
        search_path,
        capabilities: caps::CapSets::docker(capabilities, user.uid),
        no_new_privs: true,
        seccomp: Some(seccomp::compile(&seccomp::default_profile())?),
        seccomp_flags: 0,
    };
    let namespaces = open_namespaces(pid)?;
    let cgroup = instance
        .container_cgroup(&record.config)
        .map_err(ControlError::from)?;
    let workdir = PathBuf::from(
        request
            .workdir
            .clone()
            .unwrap_or(record.config.working_dir.clone()),
    );
    let pty = match request.tty {
        true => Some(ExecPty::open(request.interactive).map_err(sys)?),
        false => None,
    };
    let joined = Joined {
        namespaces,
        cgroup_procs: cgroup.procs_files(),
        workdir,
        stdio: [if request.interactive { 0 } else { dev_null() }, 1, 2],
        console: pty.as_ref().map(ExecPty::console_request),
        rlimits: super::run::rlimits(&record.config.ulimits),
        preserve_fds: 0,
        lifeline: true,
    };
    // Docker's exec events: the action names the command.
    let exec_id = crate::container::names::random_id();
    let command = request.command.join(" ");
    let emit = |action: &str, extra: &[(&str, String)]| {
        let mut attributes = vec![("execID", exec_id.clone())];
        attributes.extend_from_slice(extra);
        let action = format!("{action}: {command}");
        events::emit(&instance.root, &record.config, &action, &attributes);
    };
    emit("exec_create", &[]);
    let spawned = spawn(&joined, &target, false)?;
    emit("exec_start", &[]);
    if let Some(pty) = pty {
        pty.relay();
    }
    let code = spawned.wait();
    if let Ok(code) = &code {
        emit("exec_die", &[("exitCode", code.to_string())]);
    }
    code
}

fn sys(source: nix::Error) -> ExecError {
    ExecError::Sys { source }
}

/// Where a new process goes: the container's namespaces and cgroups, its
/// working directory and stdio. Built by `rcorch exec` and by the OCI
/// runtime's `exec`.
pub struct Joined {
    pub namespaces: Vec<(OwnedFd, CloneFlags)>,
    pub cgroup_procs: Vec<PathBuf>,
    pub workdir: PathBuf,
    pub stdio: [i32; 3],
    /// With a terminal: the socket the pty master is sent over, and its size.
    pub console: Option<(i32, Option<nix::pty::Winsize>)>,
    pub rlimits: Vec<Rlimit>,
    /// Descriptors 3.. the caller hands to the process.
    pub preserve_fds: u32,
    /// The process dies with the one waiting for it (`rcorch exec`); a
    /// detached OCI exec is adopted by the caller instead.
    pub lifeline: bool,
}

/// A started process: its pid on the host and the middle process that
/// waits for it (gone already when detached).
pub struct Spawned {
    pub pid: i32,
    middle: Pid,
    detached: bool,
}

impl Spawned {
    /// The process's exit code (128+N for a signal), as the middle passes it on.
    pub fn wait(self) -> Result<i32, ExecError> {
        let status = waitpid(self.middle, None).map_err(sys)?;
        if self.detached {
            return Ok(0);
        }
        Ok(exit_code(status))
    }
}

fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => exit_code_for_signal(sig as i32),
        _ => 125,
    }
}

/// The container's namespaces the caller is not in already (entering one's
/// own mount namespace again would reset the root to the host's).
pub fn open_namespaces(pid: i32) -> Result<Vec<(OwnedFd, CloneFlags)>, ExecError> {
    let mut out = Vec::new();
    for (name, flag) in NAMESPACES {
        let path = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).ok();
        let theirs = std::fs::metadata(&path).ok();
        if let (Some(a), Some(b)) = (&ours, &theirs) {
            if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
                continue;
            }
        }
        let file =
            std::fs::File::open(&path).map_err(|source| ExecError::Namespace { path, source })?;
        out.push((OwnedFd::from(file), *flag));
    }
    Ok(out)
}

/// Forks a child that joins the container; joining the PID namespace takes
/// effect for the child's own child, which runs the command. The middle
/// process sends that pid back, then waits and passes the exit status on,
/// or with `detach` exits at once so the caller (a subreaper) adopts the
/// process. Returns once the command was exec'd (or failed to be).
pub fn spawn(joined: &Joined, target: &ExecTarget, detach: bool) -> Result<Spawned, ExecError> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys)?;
    let (pid_read, pid_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys)?;
    // SAFETY: the caller is single-threaded; the child only joins, forks and execs.
    match unsafe { nix::unistd::fork() }.map_err(sys)? {
        ForkResult::Child => {
            drop(read_end);
            drop(pid_read);
            middle_process(joined, target, detach, write_end, pid_write)
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            drop(pid_write);
            // The error pipe closes on exec; the pid comes before that.
            let mut report = Vec::new();
            let _ = std::fs::File::from(read_end).read_to_end(&mut report);
            let mut pid = Vec::new();
            let _ = std::fs::File::from(pid_read).read_to_end(&mut pid);
            if let Some((&tag, message)) = report.split_first() {
                let _ = waitpid(child, None);
                return Err(ExecError::Start {
                    exit_code: FailureKind::from_tag(tag).exit_code(),
                    message: String::from_utf8_lossy(message).into(),
                });
            }
            let pid = pid
                .get(..4)
                .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            Ok(Spawned {
                pid,
                middle: child,
                detached: detach,
            })
        }
    }
}

fn middle_process(
    joined: &Joined,
    target: &ExecTarget,
    detach: bool,
    error_pipe: OwnedFd,
    pid_pipe: OwnedFd,
) -> ! {
    if let Err(failure) = join(joined) {
        init::report_and_exit(failure, error_pipe);
    }
    // SAFETY: single-threaded child; the grandchild only execs.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            drop(pid_pipe);
            let failure = match prepare_process(joined) {
                Ok(()) => init::exec_target(target, false, joined.lifeline, &error_pipe),
                Err(f) => f,
            };
            init::report_and_exit(failure, error_pipe)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(error_pipe);
            let _ = nix::unistd::write(&pid_pipe, &child.as_raw().to_ne_bytes());
            drop(pid_pipe);
            let code = if detach {
                0
            } else {
                waitpid(child, None).map_or(125, exit_code)
            };
            // SAFETY: leaving the forked child without the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        Err(e) => init::report_and_exit(init::setup("fork")(e), error_pipe),
    }
}

/// In the process itself, before exec: its terminal, stdio and directory
/// (its limits were set in `join`, before entering the namespaces).
fn prepare_process(joined: &Joined) -> Result<(), Failure> {
    let stdio = match joined.console {
        Some((socket, size)) => console::create_in_container(socket, size, false)
            .map(|slave| [slave; 3])
            .map_err(init::setup("console"))?,
        None => joined.stdio,
    };
    init::attach_stdio(&stdio, joined.console.is_some(), joined.preserve_fds)?;
    nix::unistd::chdir(&joined.workdir).map_err(|e| {
        Failure(
            FailureKind::Setup,
            format!("chdir to cwd {}: {}", joined.workdir.display(), e.desc()),
        )
    })
}

fn join(joined: &Joined) -> Result<(), Failure> {
    // Before setns: raising a hard limit needs CAP_SYS_RESOURCE, which we
    // hold here in the host's user namespace.
    super::init_setup::set_rlimits(&joined.rlimits)?;
    for procs in &joined.cgroup_procs {
        std::fs::write(procs, b"0").map_err(|e| {
            Failure(
                FailureKind::Setup,
                format!("join cgroup {}: {e}", procs.display()),
            )
        })?;
    }
    for (fd, flag) in &joined.namespaces {
        nix::sched::setns(fd, *flag).map_err(init::setup("setns"))?;
    }
    nix::unistd::chdir(Path::new("/")).map_err(init::setup("chdir"))
}

/// /dev/null for a non-interactive exec's stdin; the fd is inherited by exec.
fn dev_null() -> i32 {
    std::fs::File::open("/dev/null")
        .map(|f| f.into_raw_fd())
        .unwrap_or(0)
}
