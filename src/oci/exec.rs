//! `exec`: another process in a running container, through the same path
//! as `rcorch exec` (runtime::exec). The process is described by
//! `--process FILE` (what conmon and containerd's shim pass) or, as runc
//! does, by the container's own config.json process with the command line
//! and flags laid over it. With `--detach` the runtime exits once the
//! process runs, and the caller (a subreaper) adopts it.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Process, Spec};

use super::cli::Global;
use super::resources::rlimits;
use super::spec_map::{exec_target, invalid};
use super::state::Status;
use super::{io_error, sys_error, OciError};
use crate::runtime::exec::{open_namespaces, spawn, Joined};
use crate::runtime::stdio::ExecPty;

#[derive(clap::Args, Default)]
pub struct ExecArgs {
    /// The process.json to run (runtime-spec `process`); the flags below
    /// then do not apply.
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    #[arg(long, short = 't')]
    pub tty: bool,
    #[arg(long, short = 'd')]
    pub detach: bool,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// UID[:GID], or names from the container's /etc/passwd and /etc/group.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    #[arg(long, short = 'g')]
    pub additional_gids: Vec<u32>,
    #[arg(long, short = 'c')]
    pub cap: Vec<String>,
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for compatibility; this host has neither.
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
    #[arg(long, hide = true)]
    pub process_label: Option<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn exec(global: &Global, args: &ExecArgs) -> Result<i32, OciError> {
    let record = global.states.load(&args.id)?;
    let status = global
        .states
        .status(&record, super::update::is_paused(&record));
    if matches!(status, Status::Stopped | Status::Paused) {
        return Err(OciError::WrongState {
            id: args.id.clone(),
            status: status.as_str(),
            wanted: "exec needs a created or running container",
        });
    }
    let spec = load_spec(&record.bundle)?;
    let rootfs = PathBuf::from(format!("/proc/{}/root", record.pid));
    let process = match &args.process {
        Some(path) => read_process(path)?,
        None => from_flags(&spec, args, &rootfs)?,
    };
    let default_linux = oci_spec::runtime::Linux::default();
    let linux = spec.linux().as_ref().unwrap_or(&default_linux);
    let mut target = exec_target(&process, linux)?;
    add_caps(&mut target.capabilities, &args.cap)?;
    let terminal = process.terminal().unwrap_or(false);
    let console =
        match (terminal, &args.console_socket) {
            (false, _) => None,
            (true, Some(path)) => Some(UnixStream::connect(path).map_err(io_error(path))?),
            (true, None) if args.detach => return Err(invalid(
                "a detached process with a terminal needs --console-socket to hand the terminal to",
            )),
            (true, None) => None,
        };
    // runc's foreground -t without a socket: we hold the pty's master and
    // copy between it and our own stdio until the process exits.
    let relay = match (terminal, &console) {
        (true, None) => Some(ExecPty::open(true).map_err(sys_error("open a terminal"))?),
        _ => None,
    };
    let mut cgroup_procs = super::ops::cgroup(&record)?.procs_files();
    cgroup_procs.extend(record.extra_cgroups.iter().map(|d| d.join("cgroup.procs")));
    let joined = Joined {
        namespaces: open_namespaces(record.pid)?,
        cgroup_procs,
        workdir: process.cwd().clone(),
        stdio: [0, 1, 2],
        console: match &relay {
            Some(pty) => Some(pty.console_request()),
            None => console
                .as_ref()
                .map(|s| (s.as_raw_fd(), console_size(&process))),
        },
        rlimits: rlimits(&process)?,
        preserve_fds: args.preserve_fds,
        lifeline: false,
    };
    let spawned = spawn(&joined, &target, args.detach)?;
    drop(console);
    if let Some(path) = &args.pid_file {
        super::create::write_pid_file(path, spawned.pid)?;
    }
    if let Some(pty) = relay {
        pty.relay();
    }
    Ok(spawned.wait()?)
}

fn load_spec(bundle: &Path) -> Result<Spec, OciError> {
    let path = bundle.join("config.json");
    super::load_json(&path)
}

fn read_process(path: &Path) -> Result<Process, OciError> {
    super::load_json(path)
}

/// runc's exec without --process: the container's process with the command
/// line, --cwd, --env (a key given again replaces it), --tty, --user,
/// --additional-gids and --no-new-privs laid over it.
fn from_flags(spec: &Spec, args: &ExecArgs, rootfs: &Path) -> Result<Process, OciError> {
    if args.command.is_empty() {
        return Err(invalid(
            "exec needs a command after the container id, or --process FILE",
        ));
    }
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    let mut env = process.env().clone().unwrap_or_default();
    for entry in &args.env {
        let key = entry.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(entry.clone());
    }
    process.set_env(Some(env));
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    let mut user = process.user().clone();
    if let Some(spec) = &args.user {
        let read = |rel: &str| std::fs::read_to_string(rootfs.join(rel)).ok();
        let parsed = crate::container::build::parse_user(
            spec,
            read("etc/passwd").as_deref(),
            read("etc/group").as_deref(),
        )
        .map_err(|e| invalid(&format!("--user {spec}: {e}")))?;
        user.set_uid(parsed.uid);
        user.set_gid(parsed.gid);
    }
    if !args.additional_gids.is_empty() {
        user.set_additional_gids(Some(args.additional_gids.clone()));
    }
    process.set_user(user);
    Ok(process)
}

/// --cap joins the bounding, effective and permitted sets, as in runc.
fn add_caps(sets: &mut crate::runtime::caps::CapSets, names: &[String]) -> Result<(), OciError> {
    for name in names {
        let cap = crate::runtime::caps::parse_capability(name)?;
        sets.bounding.insert(cap);
        sets.effective.insert(cap);
        sets.permitted.insert(cap);
    }
    Ok(())
}

fn console_size(process: &Process) -> Option<nix::pty::Winsize> {
    let size = process.console_size()?;
    Some(nix::pty::Winsize {
        ws_row: size.height() as u16,
        ws_col: size.width() as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        let mut spec = Spec::default();
        let mut process = Process::default();
        process.set_env(Some(vec!["PATH=/bin".into(), "A=1".into()]));
        spec.set_process(Some(process));
        spec
    }

    #[test]
    fn flags_lay_over_the_containers_process() {
        let args = ExecArgs {
            command: vec!["sh".into(), "-c".into(), "id".into()],
            env: vec!["A=2".into(), "B=3".into()],
            cwd: Some("/tmp".into()),
            user: Some("5:6".into()),
            additional_gids: vec![7],
            no_new_privs: true,
            tty: true,
            ..ExecArgs::default()
        };
        let p = from_flags(&spec(), &args, Path::new("/nonexistent")).unwrap();
        assert_eq!(p.args().as_deref().unwrap(), ["sh", "-c", "id"]);
        assert_eq!(p.env().as_deref().unwrap(), ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!((p.user().uid(), p.user().gid()), (5, 6));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[7][..]));
        assert_eq!(p.no_new_privileges(), Some(true));
        assert_eq!(p.terminal(), Some(true));
    }

    #[test]
    fn exec_without_a_command_or_process_file_is_refused() {
        let e = from_flags(&spec(), &ExecArgs::default(), Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("--process"), "{e}");
    }

    #[test]
    fn cap_flags_join_three_sets() {
        let mut sets = crate::runtime::caps::CapSets::default();
        add_caps(&mut sets, &["CAP_NET_ADMIN".into()]).unwrap();
        let cap = ::caps::Capability::CAP_NET_ADMIN;
        assert!(sets.bounding.contains(&cap) && sets.effective.contains(&cap));
        assert!(sets.permitted.contains(&cap) && !sets.ambient.contains(&cap));
        assert!(add_caps(&mut sets, &["CAP_NOPE".into()]).is_err());
    }
}
