//! `rcorch exec`: a new process in a running container. It joins the
//! container's cgroup and every namespace, then runs with the same
//! capabilities and seccomp profile as the container's own command.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;
use thiserror::Error;

use super::console;
use super::control::{observed_status, ControlError};
use super::init::{self, ExecTarget, Failure, FailureKind};
use super::stdio::ExecPty;
use super::{caps, seccomp};
use crate::container::build::{parse_user, BuildError};
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
    let capabilities = caps::effective_set(&record.config.cap_add, &record.config.cap_drop)?;
    let target = ExecTarget {
        user,
        groups: vec![user.gid],
        umask: 0o022,
        argv: cstrings(&request.command),
        env: cstrings(&env),
        search_path,
        capabilities: caps::CapSets::docker(capabilities, user.uid),
        no_new_privs: true,
        seccomp: Some(seccomp::compile(&seccomp::default_profile())?),
    };
    let namespaces = open_namespaces(pid)?;
    let cgroup = instance
        .cgroup(&record.config.cgroup_parent, &record.config.id)
        .map_err(ControlError::from)?;
    let workdir = PathBuf::from(
        request
            .workdir
            .clone()
            .unwrap_or(record.config.working_dir.clone()),
    );
    let pty = match request.tty {
        true => {
            Some(ExecPty::open(request.interactive).map_err(|source| ExecError::Sys { source })?)
        }
        false => None,
    };
    let joined = Joined {
        namespaces,
        cgroup_procs: cgroup.procs_files(),
        workdir,
        stdio: [if request.interactive { 0 } else { dev_null() }, 1, 2],
        console: pty.as_ref().map(ExecPty::console_request),
        rlimits: super::run::rlimits(&record.config.ulimits),
    };
    run_in_container(&joined, &target, pty)
}

struct Joined {
    namespaces: Vec<(OwnedFd, CloneFlags)>,
    cgroup_procs: Vec<PathBuf>,
    workdir: PathBuf,
    stdio: [i32; 3],
    /// With `-t`: the pty is made inside the container (see `console`).
    console: Option<(i32, Option<nix::pty::Winsize>)>,
    /// The container's ulimits: the exec'd command gets them as PID 1 did.
    rlimits: Vec<init::Rlimit>,
}

fn open_namespaces(pid: i32) -> Result<Vec<(OwnedFd, CloneFlags)>, ExecError> {
    NAMESPACES
        .iter()
        .map(|(name, flag)| {
            let path = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
            let file = std::fs::File::open(&path)
                .map_err(|source| ExecError::Namespace { path, source })?;
            Ok((OwnedFd::from(file), *flag))
        })
        .collect()
}

/// Forks a child that joins the container; joining the PID namespace takes
/// effect for the child's own child, which runs the command. The middle
/// process waits and passes the exit status through.
fn run_in_container(
    joined: &Joined,
    target: &ExecTarget,
    pty: Option<ExecPty>,
) -> Result<i32, ExecError> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|source| ExecError::Sys { source })?;
    // SAFETY: rcorch is single-threaded; the child only joins, forks and execs.
    match unsafe { nix::unistd::fork() }.map_err(|source| ExecError::Sys { source })? {
        ForkResult::Child => {
            drop(read_end);
            middle_process(joined, target, write_end)
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            if let Some(pty) = pty {
                pty.relay();
            }
            let mut report = Vec::new();
            let _ = std::fs::File::from(read_end).read_to_end(&mut report);
            let status = waitpid(child, None).map_err(|source| ExecError::Sys { source })?;
            if let Some((&tag, message)) = report.split_first() {
                let kind = FailureKind::from_tag(tag);
                return Err(ExecError::Start {
                    exit_code: kind.exit_code(),
                    message: String::from_utf8_lossy(message).into(),
                });
            }
            Ok(match status {
                WaitStatus::Exited(_, code) => code,
                WaitStatus::Signaled(_, sig, _) => exit_code_for_signal(sig as i32),
                _ => 125,
            })
        }
    }
}

fn middle_process(joined: &Joined, target: &ExecTarget, error_pipe: OwnedFd) -> ! {
    if let Err(failure) = join(joined) {
        init::report_and_exit(failure, error_pipe);
    }
    // SAFETY: single-threaded child; the grandchild only execs.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            let stdio = match joined.console {
                Some((socket, size)) => console::create_in_container(socket, size, false)
                    .map(|slave| [slave; 3])
                    .map_err(init::setup("console")),
                None => Ok(joined.stdio),
            };
            let attached =
                stdio.and_then(|fds| init::attach_stdio(&fds, joined.console.is_some(), 0));
            let failure = match attached.and_then(|_| {
                nix::unistd::chdir(&joined.workdir)
                    .map_err(init::setup("chdir to working directory"))
            }) {
                Ok(()) => init::exec_target(target, false, true, &error_pipe),
                Err(f) => f,
            };
            init::report_and_exit(failure, error_pipe)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(error_pipe);
            let code = match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => code,
                Ok(WaitStatus::Signaled(_, sig, _)) => exit_code_for_signal(sig as i32),
                _ => 125,
            };
            // SAFETY: leaving the forked child without the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        Err(e) => init::report_and_exit(init::setup("fork")(e), error_pipe),
    }
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
