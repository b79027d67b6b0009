//! `rcorch run`: validate everything, create the record, the cgroup and the
//! files, then hand over to the monitor. Any failure before the monitor owns
//! the container undoes what was done (`CreateGuard`).

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use thiserror::Error;

use super::init::{ExecTarget, InitPlan};
use super::monitor::{Monitor, StartFailure};
use super::mounts::{cgroup_mounts, plan_mounts, MountPlan, RootfsPaths};
use super::stdio::{detach_standard_streams, ContainerStdio, StdioRequest};
use super::{caps, seccomp};
use crate::cgroups::{CgroupError, CgroupManager};
use crate::container::build::{
    build_config, find_in_layers, BuildError, HostFacts, ImageDefaults, RunRequest,
};
use crate::container::store::StoreError;
use crate::container::{names, ContainerConfig, MountKind, NetworkMode};
use crate::image::{ImageError, ImageStore};
use crate::instance::{Instance, InstanceError};
use crate::util::time::now_rfc3339;
use crate::volume::store::VolumeStore;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Caps(#[from] caps::CapsError),
    #[error(transparent)]
    Seccomp(#[from] seccomp::SeccompError),
    #[error(transparent)]
    Network(#[from] super::net::NetSetupError),
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    #[error("bind source path does not exist: {path}; create it first or fix the -v argument")]
    BindSource { path: PathBuf },
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the monitor: {0}")]
    Fork(nix::Error),
    /// The container process could not be started; carries Docker's exit code.
    #[error("{message}")]
    Start { exit_code: i32, message: String },
}

impl RunError {
    /// The code of a command that could not be started (126/127, or 125
    /// when its setup failed); None for rcorch's own errors.
    pub fn start_code(&self) -> Option<i32> {
        match self {
            RunError::Start { exit_code, .. } => Some(*exit_code),
            _ => None,
        }
    }
}

pub enum RunOutcome {
    /// Foreground: the container's exit code.
    Exited(i32),
    /// Detached: the id of the running container.
    Detached(String),
}

pub fn run(
    instance: &Instance,
    request: &RunRequest,
    detach: bool,
) -> Result<RunOutcome, RunError> {
    let images = instance.images()?;
    let image = image_defaults(&images, &request.image)?;
    let id = names::random_id();
    let echo = !detach;
    run_image(instance, request, image, (id, detach, echo))
}

/// A build step: runs `request` in the foreground on explicit layers (the
/// build's own, not yet an image), its output logged and echoed only when
/// `echo`; the container is kept so the caller can read its upper dir and
/// remove it. Returns the exit code.
pub fn run_step(
    instance: &Instance,
    request: &RunRequest,
    image: ImageDefaults,
    id: String,
    echo: bool,
) -> Result<i32, RunError> {
    match run_image(instance, request, image, (id, false, echo))? {
        RunOutcome::Exited(code) => Ok(code),
        RunOutcome::Detached(_) => unreachable!("a build step runs in the foreground"),
    }
}

fn run_image(
    instance: &Instance,
    request: &RunRequest,
    image: ImageDefaults,
    (id, detach, echo): (String, bool, bool),
) -> Result<RunOutcome, RunError> {
    let images = instance.images()?;
    let lookup_env = |key: &str| std::env::var(key).ok();
    let host = HostFacts {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        lookup_env: &lookup_env,
        cgroup_parent: &instance.cgroup_parent,
        now: now_rfc3339(),
    };
    let mut config = build_config(request, &image, &host, &id)?;
    check_host_paths(&config)?;
    let caps = caps::effective_set(&config.cap_add, &config.cap_drop)?;
    let seccomp = seccomp::compile(&seccomp::default_profile())?;
    let layout = instance.cgroup_layout()?;
    let ports = super::net::check_ports(instance, &config, &images)?;

    let cgroup = crate::cgroups::manager_for(&layout, &config.cgroup_parent, &config.id)?;
    let (dir, anonymous) = {
        // Volumes first, under their lock until the record exists, so a
        // concurrent `volume rm` sees this container as a user.
        let volumes = VolumeStore::open(&instance.root);
        let volumes_lock = volumes.lock()?;
        let labels = crate::volume::anonymous_labels(&config.id, &config.labels);
        let anonymous = volumes.attach(&volumes_lock, &mut config.mounts, &labels, &host.now)?;
        let lock = instance.containers.lock()?;
        match instance.containers.create(&lock, &config) {
            Ok(dir) => {
                crate::container::events::emit(&instance.root, &config, "create", &[]);
                (dir, anonymous)
            }
            Err(e) => {
                let _ = volumes.remove_anonymous(&volumes_lock, &config.id, &config.mounts, &[]);
                return Err(e.into());
            }
        }
    };
    let mut guard = CreateGuard {
        instance,
        id: &config.id,
        cgroup: Some(cgroup.as_ref()),
        anonymous,
        mounts: &config.mounts,
    };
    let mut network = super::net::attach(instance, &config, ports)?;
    cgroup.apply_limits(&config.limits)?;
    let paths = prepare_container_dir(&dir, &config)?;
    if let Some(net) = &network {
        net.write_files(&paths, &config.hostname)?;
    }
    let plug = |pid| network.as_ref().map_or(Ok(()), |n| n.plug(pid));
    let mounts = plan_mounts(&config, &paths, cgroup_mounts(&layout));
    let mut plan = init_plan(
        &config,
        paths,
        mounts,
        cgroup.as_ref(),
        (caps, Some(seccomp)),
    );
    let volume_store = VolumeStore::open(&instance.root);
    let monitor = Monitor {
        store: &instance.containers,
        volumes: &volume_store,
        config: &config,
        cgroup: cgroup.as_ref(),
        namespaces: namespaces(&config),
        before_setup: network.is_some().then_some(&plug as &dyn Fn(_) -> _),
    };
    let stdio_request = StdioRequest {
        tty: config.tty,
        interactive: config.interactive,
        foreground: !detach,
        echo,
    };
    // The container's network is freed once it exits (or fails to start).
    let release_network = || {
        if let Some(net) = &network {
            let _ = super::net::release(&instance.root, &net.endpoint.container_id, true);
        }
    };
    if detach {
        let outcome = spawn_detached_monitor(&monitor, &mut plan, &stdio_request, &release_network);
        if !matches!(outcome, Err(RunError::Fork(_))) {
            guard.disarm(); // the monitor owns the container now, and cleans up after it
        }
        if outcome.is_ok() {
            if let Some(net) = network.as_mut() {
                net.started();
                net.disarm();
            }
        }
        return outcome.map(|()| RunOutcome::Detached(config.id.clone()));
    }
    let stdio = ContainerStdio::open(&stdio_request).map_err(|e| RunError::Io {
        path: "stdio".into(),
        source: e.into(),
    })?;
    guard.disarm();
    let mut start_error = None;
    let code = monitor.run(&mut plan, stdio, |result| {
        if result.is_ok() {
            network.as_ref().map(super::net::NetGuard::started);
        }
        start_error = result.err().map(|f| RunError::Start {
            exit_code: f.exit_code,
            message: f.message.clone(),
        })
    });
    release_network();
    if let Some(net) = network.as_mut() {
        net.disarm();
    }
    match start_error {
        Some(error) => Err(error),
        None => Ok(RunOutcome::Exited(code)),
    }
}

/// The image's defaults for a container, with its layers' paths.
pub fn image_defaults(images: &ImageStore, reference: &str) -> Result<ImageDefaults, ImageError> {
    let record = images.resolve(reference)?;
    let layers = images.layer_dirs(&record);
    let read = |rel: &str| {
        find_in_layers(&layers, Path::new(rel)).and_then(|p| std::fs::read_to_string(p).ok())
    };
    let cfg = &record.config;
    Ok(ImageDefaults {
        reference: reference.to_string(),
        id: record.id.clone(),
        entrypoint: cfg.entrypoint.clone().unwrap_or_default(),
        cmd: cfg.cmd.clone().unwrap_or_default(),
        env: cfg.env.clone().unwrap_or_default(),
        working_dir: cfg.working_dir.clone(),
        user: cfg.user.clone(),
        stop_signal: cfg.stop_signal.clone(),
        volumes: cfg.volumes.iter().flat_map(|v| v.keys().cloned()).collect(),
        passwd: read("etc/passwd"),
        group: read("etc/group"),
        healthcheck: cfg.healthcheck.clone(),
        layers,
    })
}

/// Bind sources must exist: Docker's `-v` would create them, but a typo
/// silently creating an empty host directory is the worse surprise.
fn check_host_paths(config: &ContainerConfig) -> Result<(), RunError> {
    for m in config.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
        if !m.source.exists() {
            return Err(RunError::BindSource {
                path: m.source.clone(),
            });
        }
    }
    Ok(())
}

fn namespaces(config: &ContainerConfig) -> libc::c_int {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if config.network != NetworkMode::Host {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    flags.bits()
}

fn prepare_container_dir(dir: &Path, config: &ContainerConfig) -> Result<RootfsPaths, RunError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Io { path, source }
    };
    let paths = RootfsPaths {
        rootfs: dir.join("rootfs"),
        upper: dir.join("upper"),
        work: dir.join("work"),
        hosts: dir.join("hosts"),
        hostname: dir.join("hostname"),
        resolv_conf: dir.join("resolv.conf"),
        files: dir.join("files"),
    };
    for d in [&paths.rootfs, &paths.upper, &paths.work] {
        std::fs::create_dir(d).map_err(io(d))?;
    }
    let hosts = match config.network {
        NetworkMode::Host => std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
        NetworkMode::None | NetworkMode::Bridge(_) => {
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string()
        }
    };
    std::fs::write(&paths.hosts, hosts).map_err(io(&paths.hosts))?;
    std::fs::write(&paths.hostname, format!("{}\n", config.hostname))
        .map_err(io(&paths.hostname))?;
    let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(&paths.resolv_conf, resolv).map_err(io(&paths.resolv_conf))?;
    if !config.files.is_empty() {
        super::files::copy_in(&paths.files, &config.files)?;
    }
    Ok(paths)
}

fn init_plan(
    config: &ContainerConfig,
    paths: RootfsPaths,
    mounts: MountPlan,
    cgroup: &dyn CgroupManager,
    (capabilities, seccomp): (::caps::CapsHashSet, Option<seccompiler::BpfProgram>),
) -> InitPlan {
    let cstrings = |items: &[String]| -> Vec<CString> {
        items
            .iter()
            .map(|s| CString::new(s.replace('\0', "")).expect("NULs removed"))
            .collect()
    };
    let search_path = config
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(&crate::container::build::DEFAULT_PATH["PATH=".len()..])
        .split(':')
        .map(PathBuf::from)
        .collect();
    InitPlan {
        hostname: Some(config.hostname.clone()),
        domainname: None,
        join: Vec::new(),
        new_cgroup_ns: true,
        cgroup_procs: cgroup.procs_files(),
        mounts,
        paths,
        working_dir: PathBuf::from(&config.working_dir),
        target: ExecTarget {
            user: config.user,
            groups: vec![config.user.gid],
            umask: 0o022,
            argv: cstrings(&config.args),
            env: cstrings(&config.env),
            search_path,
            capabilities: caps::CapSets::docker(capabilities, config.user.uid),
            no_new_privs: true,
            seccomp,
        },
        stdio: [0, 1, 2],
        console: None,
        reaper: config.init,
        own_network: config.network != NetworkMode::Host,
        sysctl: Vec::new(),
        rlimits: rlimits(&config.ulimits),
        die_with_parent: true,
        oci: None,
    }
}

/// The container's `--ulimit`s as setrlimit calls: for its PID 1, and for
/// every `exec` (as `docker exec` inherits them).
pub(super) fn rlimits(ulimits: &[crate::container::ulimit::Ulimit]) -> Vec<super::init::Rlimit> {
    ulimits
        .iter()
        .map(|u| super::init::Rlimit {
            resource: u.resource() as libc::c_int,
            soft: u.soft,
            hard: u.hard,
        })
        .collect()
}

/// Forks the monitor into its own session and waits until it reports the
/// container started (or why it did not).
fn spawn_detached_monitor(
    monitor: &Monitor,
    plan: &mut InitPlan,
    stdio: &StdioRequest,
    after_exit: &dyn Fn(),
) -> Result<(), RunError> {
    let (ready_read, ready_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(RunError::Fork)?;
    // SAFETY: rcorch is single-threaded; the child runs the monitor and exits.
    match unsafe { nix::unistd::fork() }.map_err(RunError::Fork)? {
        nix::unistd::ForkResult::Child => {
            drop(ready_read);
            super::sys::close_fds_except(ready_write.as_raw_fd());
            let _ = nix::unistd::setsid();
            detach_standard_streams();
            let _ = std::env::set_current_dir("/");
            run_monitor_and_exit(monitor, plan, stdio, ready_write, after_exit)
        }
        nix::unistd::ForkResult::Parent { .. } => {
            drop(ready_write);
            let mut report = String::new();
            let _ = std::fs::File::from(ready_read).read_to_string(&mut report);
            parse_ready_report(&report)
        }
    }
}

fn run_monitor_and_exit(
    monitor: &Monitor,
    plan: &mut InitPlan,
    stdio: &StdioRequest,
    ready: OwnedFd,
    after_exit: &dyn Fn(),
) -> ! {
    let mut ready = Some(std::fs::File::from(ready));
    let report = |result: Result<(), &StartFailure>, ready: &mut Option<std::fs::File>| {
        if let Some(mut pipe) = ready.take() {
            let _ = match result {
                Ok(()) => pipe.write_all(b"OK"),
                Err(f) => pipe.write_all(format!("E{}\n{}", f.exit_code, f.message).as_bytes()),
            };
        }
    };
    match ContainerStdio::open(stdio) {
        Ok(stdio) => {
            monitor.run(plan, stdio, |result| report(result, &mut ready));
        }
        Err(e) => report(
            Err(&StartFailure {
                exit_code: 125,
                message: format!("stdio: {e}"),
            }),
            &mut ready,
        ),
    }
    after_exit();
    // SAFETY: the monitor's work is done; skip destructors shared with the parent.
    unsafe { libc::_exit(0) }
}

fn parse_ready_report(report: &str) -> Result<(), RunError> {
    if report == "OK" {
        return Ok(());
    }
    let Some(rest) = report.strip_prefix('E') else {
        return Err(RunError::Start {
            exit_code: 125,
            message: "the monitor exited before starting the container".into(),
        });
    };
    let (code, message) = rest.split_once('\n').unwrap_or((rest, ""));
    Err(RunError::Start {
        exit_code: code.parse().unwrap_or(125),
        message: message.to_string(),
    })
}

/// Undoes a half-made container: its cgroup, its directory and the
/// anonymous volumes made for it.
struct CreateGuard<'a> {
    instance: &'a Instance,
    id: &'a str,
    cgroup: Option<&'a dyn CgroupManager>,
    anonymous: Vec<String>,
    mounts: &'a [crate::container::MountSpec],
}

impl CreateGuard<'_> {
    fn disarm(&mut self) {
        self.id = "";
    }
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        if self.id.is_empty() {
            return;
        }
        if let Some(cgroup) = self.cgroup {
            let _ = cgroup.destroy();
        }
        let _ = self.instance.containers.remove_dir(self.id);
        if !self.anonymous.is_empty() {
            let _ = super::control::remove_anonymous_volumes(self.instance, self.id, self.mounts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reports_parse() {
        assert!(parse_ready_report("OK").is_ok());
        match parse_ready_report("E127\nexec: \"nope\": not found") {
            Err(RunError::Start { exit_code, message }) => {
                assert_eq!(exit_code, 127);
                assert!(message.contains("nope"));
            }
            _ => panic!("expected a start error"),
        }
        assert!(matches!(
            parse_ready_report(""),
            Err(RunError::Start { exit_code: 125, .. })
        ));
    }
}
