//! `create`, `start` and `run`. create clones the container's init as its
//! own child and exits once the init waits on the exec fifo: the init is
//! then reparented to the caller (a shim or conmon that set
//! PR_SET_CHILD_SUBREAPER), which reaps it. Nothing of ours stays behind.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::cli::{CreateArgs, Global};
use super::hooks::run_host_hooks;
use super::spec_map::map_spec;
use super::state::{check_id, state_json, Record, Status};
use super::{cgroup_extra, cgroup_v2};
use super::{io_error, sys_error, OciError};
use crate::cgroups::systemd::naming::{oci_scope, OciScope};
use crate::cgroups::systemd::SystemdManager;
use crate::cgroups::CgroupManager;
use crate::runtime::init::{self, MSG_HOOKS, MSG_READY};
use crate::runtime::sys;

/// Undoes a create that failed half-way: no process, cgroup or state
/// directory outlives it.
struct Undo {
    dir: PathBuf,
    cgroup: Option<Box<dyn CgroupManager>>,
    extra: Vec<PathBuf>,
    child: Option<Pid>,
    armed: bool,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(child) = self.child {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
        }
        if let Some(cgroup) = &self.cgroup {
            let _ = cgroup.destroy();
        }
        cgroup_extra::remove(&self.extra);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where a container's cgroup goes: its cgroupfs path, and the systemd
/// scope that holds it when systemd makes one.
#[derive(Debug, PartialEq, Eq)]
pub struct CgroupTarget {
    pub path: String,
    pub scope: Option<OciScope>,
    /// Said on stderr: what `--systemd-cgroup` could not do here.
    pub warning: Option<String>,
}

/// The container's cgroup from its config's cgroupsPath. Under
/// `--systemd-cgroup` a "slice:prefix:name" is a transient scope as runc
/// makes it (no path: "system.slice" and "rcorch-runtime-ID.scope", as
/// runc's "runc-ID.scope"); where systemd is not PID 1 the scope's path is
/// made under cgroupfs instead, with a warning.
pub fn cgroup_target(
    cgroups_path: Option<&str>,
    id: &str,
    systemd_cgroup: bool,
    systemd_running: bool,
) -> Result<CgroupTarget, OciError> {
    let plain = |path: String| CgroupTarget {
        path,
        scope: None,
        warning: None,
    };
    if !systemd_cgroup {
        return Ok(plain(cgroups_path.map_or_else(
            || format!("{}/{id}", super::spec_map::DEFAULT_CGROUP_PARENT),
            str::to_string,
        )));
    }
    let asked = cgroups_path.map_or_else(|| format!(":rcorch-runtime:{id}"), str::to_string);
    let scope = oci_scope(&asked).map_err(|e| OciError::InvalidConfig {
        message: format!("linux.cgroupsPath {asked:?}: {e}"),
    })?;
    let Some(scope) = scope else {
        return Ok(plain(asked));
    };
    let path = scope.cgroup_path().map_err(|e| OciError::InvalidConfig {
        message: format!("linux.cgroupsPath {asked:?}: {e}"),
    })?;
    if systemd_running {
        return Ok(CgroupTarget {
            path,
            scope: Some(scope),
            warning: None,
        });
    }
    Ok(CgroupTarget {
        warning: Some(format!(
            "--systemd-cgroup: systemd is not PID 1 here, so {} is no unit: \
             its cgroup {path} is made directly in cgroupfs",
            scope.unit
        )),
        path,
        scope: None,
    })
}

pub fn create(global: &Global, args: &CreateArgs) -> Result<Record, OciError> {
    check_id(&args.id)?;
    let bundle = std::fs::canonicalize(&args.bundle).map_err(io_error(&args.bundle))?;
    let spec: oci_spec::runtime::Spec = super::load_json(&bundle.join("config.json"))?;
    super::checks::check_oci_version(spec.version())?;
    for warning in super::checks::security_warnings(&spec, super::checks::HostSecurity::detect()) {
        eprintln!("rcorch-runtime: warning: {warning}");
    }
    let layout = crate::cgroups::detect(Path::new("/proc/self/mountinfo"))?;
    let mut mapped = map_spec(&spec, &bundle, &layout)?;
    let resources = spec.linux().as_ref().and_then(|l| l.resources().clone());
    let resources = resources.unwrap_or_default();
    cgroup_v2::check_page_sizes(&resources, &cgroup_v2::host_page_sizes())?;
    let asked_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let systemd = crate::cgroups::systemd::observe(Path::new("/run"));
    let target = cgroup_target(
        asked_path.as_deref().and_then(Path::to_str),
        &args.id,
        global.systemd_cgroup,
        systemd.booted && systemd.bus,
    )?;
    if let Some(warning) = &target.warning {
        eprintln!("rcorch-runtime: warning: {warning}");
    }
    let cgroups_path = target.path.clone();
    if !mapped.plan.new_cgroup_ns {
        let ops = &mut mapped.plan.mounts.before_pivot;
        super::mount_options::own_cgroup_views(ops, &layout, &cgroups_path);
    }
    std::fs::create_dir_all(&global.states.root).map_err(io_error(&global.states.root))?;
    let dir = global.states.dir(&args.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(OciError::Exists {
                id: args.id.clone(),
            })
        }
        Err(e) => return Err(io_error(&dir)(e)),
    }
    let mut undo = Undo {
        dir,
        cgroup: None,
        extra: Vec::new(),
        child: None,
        armed: true,
    };
    let fifo = global.states.fifo(&args.id);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(sys_error("mkfifo"))?;
    // Writable by all, past the umask: an init in a user namespace opens it
    // as an unprivileged host user (runc's mode too).
    std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .map_err(io_error(&fifo))?;
    let cgroup: Box<dyn CgroupManager> = match &target.scope {
        Some(scope) => Box::new(SystemdManager::for_scope(
            &layout,
            scope,
            format!("rcorch-runtime container {}", args.id),
        )?),
        None => crate::cgroups::manager_at(&layout, &cgroups_path)?,
    };
    cgroup.apply_limits(&mapped.limits)?;
    undo.cgroup = Some(cgroup);
    let devices = spec.linux().as_ref().and_then(|l| l.devices().clone());
    let devices = devices.unwrap_or_default();
    let fifo_fd = nix::fcntl::open(
        &fifo,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(sys_error("open the exec fifo"))?;
    let console = console_socket(&spec, args.console_socket.as_deref())?;
    if let Some(oci) = mapped.plan.oci.as_mut() {
        oci.exec_fifo = fifo_fd;
        oci.preserve_fds = args.preserve_fds;
    }
    mapped.plan.console = console
        .as_ref()
        .map(|s| (s.as_raw_fd(), console_size(&spec)));
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(sys_error("socketpair"))?;
    if let Some(path) = &mapped.pid_ns_path {
        // setns(CLONE_NEWPID) applies to the children we make from now on.
        let file = std::fs::File::open(path).map_err(io_error(path))?;
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(sys_error("join the PID namespace"))?;
    }
    let (go_read, go_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys_error("pipe"))?;
    // SAFETY: rcorch-runtime is single-threaded; the child only sets up and execs.
    let pid = unsafe { sys::clone_fork(mapped.clone_flags.bits()) }.map_err(sys_error("clone"))?;
    if pid == 0 {
        drop(ours);
        drop(go_write);
        init::run(&mapped.plan, theirs, Some(go_read));
    }
    drop(theirs);
    drop(go_read);
    drop(console);
    let child = Pid::from_raw(pid);
    undo.child = Some(child);
    // The runtime moves the init into its cgroups (a process in a new user
    // namespace may not write the host's cgroup files itself); a systemd
    // scope is made around it. The rest of linux.resources goes into the
    // cgroups that then exist, before the init is let go.
    let cgroup = undo.cgroup.as_ref().expect("made above");
    match cgroup.needs_pid() {
        true => cgroup.enter(pid)?,
        false => join(&cgroup.procs_files(), pid)?,
    }
    let extra_cgroups =
        beyond_the_manager(&layout, &cgroups_path, &resources, &devices, &mut undo)?;
    join(&extra_cgroups.procs, pid)?;
    let extra_cgroups = extra_cgroups.made;
    if let Some((uid_map, gid_map)) = &mapped.id_maps {
        for (file, map) in [("uid_map", uid_map), ("gid_map", gid_map)] {
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, map).map_err(io_error(path))?;
        }
    }
    nix::unistd::write(&go_write, b"g").map_err(sys_error("release the init"))?;
    drop(go_write);
    if let Some(score) = mapped.oom_score_adj {
        let path = format!("/proc/{pid}/oom_score_adj");
        std::fs::write(&path, score.to_string()).map_err(io_error(path))?;
    }
    let record = Record {
        id: args.id.clone(),
        pid,
        start_ticks: sys::process_start_ticks(pid),
        bundle: bundle.clone(),
        rootfs: mapped.plan.paths.rootfs.clone(),
        created: crate::util::time::now_rfc3339(),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroups_path,
        extra_cgroups,
        hooks: mapped.hooks.clone(),
        systemd_scope: target.scope.clone(),
    };
    follow_init(&ours, &record, &mapped.hooks)?;
    global.states.save(&record)?;
    if let Some(pid_file) = &args.pid_file {
        write_pid_file(pid_file, pid)?;
    }
    undo.armed = false;
    Ok(record)
}

/// The cgroups and writes of `linux.resources` that rcorch's manager does
/// not cover: the other v1 hierarchies, and cgroup2 (all of a unified
/// host, a hybrid host's controllers v1 lacks). What is made is recorded
/// in `undo` before anything is written, so a failing write is undone.
struct Extra {
    made: Vec<PathBuf>,
    procs: Vec<PathBuf>,
}

fn beyond_the_manager(
    layout: &crate::cgroups::Layout,
    cgroups_path: &str,
    resources: &oci_spec::runtime::LinuxResources,
    devices: &[oci_spec::runtime::LinuxDevice],
    undo: &mut Undo,
) -> Result<Extra, OciError> {
    let mut extra = Extra {
        made: Vec::new(),
        procs: Vec::new(),
    };
    if matches!(layout, crate::cgroups::Layout::V1 { .. }) {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mounts = cgroup_extra::v1_mounts(&mountinfo);
        let writes = cgroup_extra::plan_writes(resources, devices);
        let made = cgroup_extra::apply(&mounts, cgroups_path, &[])?;
        undo.extra.extend(made.iter().cloned());
        cgroup_extra::apply(&mounts, cgroups_path, &writes)?;
        extra
            .procs
            .extend(made.iter().map(|d| d.join("cgroup.procs")));
        extra.made = made;
    }
    if let crate::cgroups::Layout::V2 { root } = layout {
        let dir = root.join(cgroups_path.trim_start_matches('/'));
        cgroup_v2::devices(&dir, resources, devices)?;
    }
    if let Some((root, writes)) = cgroup_v2::share(layout, resources)? {
        let made = cgroup_v2::prepare(&root, cgroups_path, &writes)?;
        undo.extra.extend(made.iter().cloned());
        let dir = root.join(cgroups_path.trim_start_matches('/'));
        cgroup_v2::write(&dir, &writes)?;
        if matches!(layout, crate::cgroups::Layout::V1 { .. }) {
            // Hybrid: the manager's cgroups are v1's; join this one too.
            extra.procs.push(dir.join("cgroup.procs"));
        }
        extra.made.extend(made);
    }
    if matches!(layout, crate::cgroups::Layout::V1 { .. }) {
        // Hybrid: runc joins the cgroup2 hierarchy too, limits or not (a
        // hybrid systemd tracks units there).
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        if let Some(root) = cgroup_v2::unified_mount(&mountinfo) {
            let procs = root
                .join(cgroups_path.trim_start_matches('/'))
                .join("cgroup.procs");
            if !extra.procs.contains(&procs) {
                let made = cgroup_v2::prepare(&root, cgroups_path, &[])?;
                undo.extra.extend(made.iter().cloned());
                extra.procs.push(procs);
                extra.made.extend(made);
            }
        }
    }
    Ok(extra)
}

fn join(procs_files: &[PathBuf], pid: i32) -> Result<(), OciError> {
    for procs in procs_files {
        std::fs::write(procs, pid.to_string()).map_err(io_error(procs))?;
    }
    Ok(())
}

/// Answers the init's hooks point and waits until it is ready (or failed).
fn follow_init(
    channel: &OwnedFd,
    record: &Record,
    hooks: &super::spec_map::HostHooks,
) -> Result<(), OciError> {
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = nix::unistd::read(channel.as_raw_fd(), &mut buffer)
            .map_err(sys_error("read from the container's init"))?;
        match buffer[..n].first() {
            None => {
                return Err(OciError::Start(
                    "the container's init exited during setup".into(),
                ))
            }
            Some(&MSG_HOOKS) => {
                // runc and crun hand the hooks "created" here, which callers check.
                let state = state_json(record, Status::Created).to_string();
                run_host_hooks("prestart", &hooks.prestart, state.as_bytes())?;
                run_host_hooks("createRuntime", &hooks.create_runtime, state.as_bytes())?;
                nix::unistd::write(channel, state.as_bytes())
                    .map_err(sys_error("write to the container's init"))?;
            }
            Some(&MSG_READY) => return Ok(()),
            Some(_) => {
                let message = String::from_utf8_lossy(&buffer[1..n]).to_string();
                return Err(OciError::Start(message));
            }
        }
    }
}

fn console_socket(
    spec: &oci_spec::runtime::Spec,
    path: Option<&Path>,
) -> Result<Option<UnixStream>, OciError> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    match (terminal, path) {
        (false, _) => Ok(None),
        (true, None) => Err(OciError::InvalidConfig {
            message: "process.terminal is true: pass --console-socket".into(),
        }),
        (true, Some(path)) => UnixStream::connect(path).map(Some).map_err(io_error(path)),
    }
}

fn console_size(spec: &oci_spec::runtime::Spec) -> Option<nix::pty::Winsize> {
    let size = spec.process().as_ref()?.console_size()?;
    Some(nix::pty::Winsize {
        ws_row: size.height() as u16,
        ws_col: size.width() as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    })
}

/// Atomically, so a caller polling for the file never reads half of it.
pub(super) fn write_pid_file(path: &Path, pid: i32) -> Result<(), OciError> {
    let tmp = path.with_extension("rcorch-tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io_error(path))
}

/// `run`: create and start; in the foreground also wait and delete.
pub fn run(global: &Global, args: &CreateArgs, detach: bool, keep: bool) -> Result<i32, OciError> {
    let record = create(global, args)?;
    if let Err(e) = super::start::start(global, &record.id) {
        let _ = super::ops::delete(global, &record.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let status = waitpid(Pid::from_raw(record.pid), None).map_err(sys_error("wait"))?;
    if !keep {
        super::ops::delete(global, &record.id, true)?;
    }
    Ok(match status {
        nix::sys::wait::WaitStatus::Exited(_, code) => code,
        nix::sys::wait::WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        _ => 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_systemd_cgroup_the_path_is_cgroupfs() {
        let t = cgroup_target(Some("/a/b"), "c1", false, true).unwrap();
        assert_eq!((t.path.as_str(), t.scope, t.warning), ("/a/b", None, None));
        let t = cgroup_target(Some("a:b:c"), "c1", false, true).unwrap();
        assert_eq!(t.path, "a:b:c");
        let t = cgroup_target(None, "c1", false, true).unwrap();
        assert_eq!(t.path, "/rcorch-runtime/c1");
    }

    #[test]
    fn systemd_cgroup_makes_the_scope_runc_would_make() {
        let t = cgroup_target(Some("machine.slice:libpod:abc"), "abc", true, true).unwrap();
        assert_eq!(t.path, "/machine.slice/libpod-abc.scope");
        let scope = t.scope.unwrap();
        assert_eq!(
            (scope.slice.as_str(), scope.unit.as_str()),
            ("machine.slice", "libpod-abc.scope")
        );
        assert_eq!(t.warning, None);
        let t = cgroup_target(None, "c1", true, true).unwrap();
        assert_eq!(t.path, "/system.slice/rcorch-runtime-c1.scope");
        assert_eq!(t.scope.unwrap().unit, "rcorch-runtime-c1.scope");
        // Not of that form: a cgroupfs path, as before.
        let t = cgroup_target(Some("/a/b"), "c1", true, true).unwrap();
        assert_eq!((t.path.as_str(), t.scope), ("/a/b", None));
        let e = cgroup_target(Some("no-slice:p:n"), "c1", true, true).unwrap_err();
        assert!(e.to_string().contains("no-slice:p:n"), "{e}");
    }

    #[test]
    fn without_systemd_as_pid_1_the_scope_path_is_made_in_cgroupfs_and_said() {
        let t = cgroup_target(Some("user-1000.slice:crio:x"), "x", true, false).unwrap();
        assert_eq!(t.path, "/user.slice/user-1000.slice/crio-x.scope");
        assert_eq!(t.scope, None);
        let warning = t.warning.unwrap();
        assert!(
            warning.contains("crio-x.scope") && warning.contains("not PID 1"),
            "{warning}"
        );
    }
}
