//! `rcorch run`: validate everything, create the record, the cgroup and the
//! files, then hand over to the monitor. Any failure before the monitor owns
//! the container undoes what was done (`CreateGuard`).

use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use thiserror::Error;

use super::echo::Echo;
use super::init::{ExecTarget, InitPlan};
use super::monitor::{Ended, Monitor};
use super::mounts::{cgroup_mounts, plan_mounts, MountPlan, RootfsPaths};
use super::restarts::RestartContext;
use super::stdio::{ContainerStdio, StdioRequest};
use super::{caps, seccomp};
use crate::cgroups::{CgroupError, CgroupManager};
use crate::container::build::{
    build_config, find_in_layers, BuildError, ImageDefaults, RunRequest,
};
use crate::container::store::StoreError;
use crate::container::{names, ContainerConfig, NetworkMode};
use crate::image::{ImageError, ImageStore};
use crate::instance::{Instance, InstanceError};
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
    #[error("cannot bind {path} onto {target}: {reason}; bind a path of the same type or pick another target", path = .path.display(), target = .target.display())]
    BindType {
        path: PathBuf,
        target: PathBuf,
        reason: &'static str,
    },
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--add-host {name}:host-gateway needs a network: not --network none")]
    HostGateway { name: String },
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
    let image = request_image(&images, request)?;
    let id = names::random_id();
    let echo = Echo::from(!detach);
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
    echo: Echo,
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
    (id, detach, echo): (String, bool, Echo),
) -> Result<RunOutcome, RunError> {
    let created = create_record(instance, request, &image, id)?;
    let mut guard = RecordGuard {
        instance,
        id: &created.config.id,
        anonymous: created.anonymous.clone(),
        mounts: &created.config.mounts,
        cidfile: created.cidfile.as_deref(),
    };
    launch(instance, &created.config, (detach, echo), &mut || {
        guard.disarm()
    })
}

/// A container whose record exists but that never ran (`create`).
pub struct Created {
    pub config: ContainerConfig,
    /// The anonymous volumes made for it.
    pub anonymous: Vec<String>,
    /// The `--cidfile` this call wrote (removed again if it fails).
    pub cidfile: Option<PathBuf>,
}

/// `rcorch create`: everything `run` checks and records, nothing started.
pub fn create(instance: &Instance, request: &RunRequest) -> Result<String, RunError> {
    let images = instance.images()?;
    let image = request_image(&images, request)?;
    let created = create_record(instance, request, &image, names::random_id())?;
    // The ports are checked now (as Docker's create does), taken at start.
    let check = super::net::check_ports(instance, &created.config, &images);
    if let Err(e) = check {
        drop(RecordGuard {
            instance,
            id: &created.config.id,
            anonymous: created.anonymous.clone(),
            mounts: &created.config.mounts,
            cidfile: created.cidfile.as_deref(),
        });
        return Err(e.into());
    }
    Ok(created.config.id)
}

/// Starts a created or exited container again, as `start` does: its
/// record, writable layer and logs are kept; a failure leaves it as it was
/// (exited, with the error recorded once the monitor tried).
pub fn start_existing(
    instance: &Instance,
    config: &ContainerConfig,
    (foreground, echo): (bool, bool),
) -> Result<RunOutcome, RunError> {
    launch(instance, config, (!foreground, echo.into()), &mut || {})
}

/// Validates the request and writes the container's record (with its
/// volumes attached): the `create` half of `run`.
fn create_record(
    instance: &Instance,
    request: &RunRequest,
    image: &ImageDefaults,
    id: String,
) -> Result<Created, RunError> {
    let lookup_env = |key: &str| std::env::var(key).ok();
    let host = super::check::host_facts(instance, &lookup_env);
    let mut config = build_config(request, image, &host, &id)?;
    super::check::host_paths(&config, &image.layers)?;
    config.extras.devices =
        crate::container::devices::resolve(&request.extras.device).map_err(BuildError::Extras)?;
    caps::effective_set(&config.cap_add, &config.cap_drop)?;
    // Volumes first, under their lock until the record exists, so a
    // concurrent `volume rm` sees this container as a user.
    let volumes = VolumeStore::open(&instance.root);
    let volumes_lock = volumes.lock()?;
    let labels = crate::volume::anonymous_labels(&config.id, &config.labels);
    let anonymous = volumes.attach(&volumes_lock, &mut config.mounts, &labels, &host.now)?;
    let lock = instance.containers.lock()?;
    if let Err(e) = instance.containers.create(&lock, &config) {
        let _ = volumes.remove_anonymous(&volumes_lock, &config.id, &config.mounts, &[]);
        return Err(e.into());
    }
    crate::container::events::emit(&instance.root, &config, "create", &[]);
    drop(lock);
    drop(volumes_lock);
    let mut created = Created {
        config,
        anonymous,
        cidfile: None,
    };
    if let Some(path) = &request.cidfile {
        if let Err(e) = write_cidfile(path, &created.config.id) {
            drop(RecordGuard {
                instance,
                id: &created.config.id,
                anonymous: created.anonymous.clone(),
                mounts: &created.config.mounts,
                cidfile: None,
            });
            return Err(e);
        }
        created.cidfile = Some(path.clone()); // only ours is removed on failure
    }
    Ok(created)
}

/// The `start` half of `run`: cgroup, network, files and the monitor.
/// `owned` is called once the monitor owns the container (it cleans up
/// after it from then on).
fn launch(
    instance: &Instance,
    config: &ContainerConfig,
    (detach, echo): (bool, Echo),
    owned: &mut dyn FnMut(),
) -> Result<RunOutcome, RunError> {
    let images = instance.images()?;
    let caps = caps::launch_set(&config.cap_add, &config.cap_drop)?;
    let seccomp = seccomp_filter(config)?;
    let layout = instance.cgroup_layout()?;
    let ports = super::net::check_ports(instance, config, &images)?;
    let dir = instance.containers.container_dir(&config.id);
    let cgroup = crate::cgroups::container_manager(
        &layout,
        config.cgroup_manager,
        &config.cgroup_parent,
        &config.id,
    )?;
    let mut guard = CgroupGuard(Some(cgroup.as_ref()));
    let mut network = super::net::attach(instance, config, ports)?;
    cgroup.apply_limits(&config.limits)?;
    cgroup.set_devices(&device_access(config))?;
    let paths = prepare_container_dir(&dir, config)?;
    if let Some(net) = &network {
        net.write_files(&paths, &config.hostname)?;
    }
    add_hosts(&paths, config, network.as_ref())?;
    let plug = |pid| network.as_ref().map_or(Ok(()), |n| n.plug(pid));
    let mut mounts = plan_mounts(config, &paths, cgroup_mounts(&layout));
    let host_devices = super::mounts_devices::host_devices_for(config);
    super::mounts_devices::adjust(&mut mounts, config, &host_devices);
    let mut plan = init_plan(config, paths, mounts, cgroup.as_ref(), (caps, seccomp));
    plan.target
        .env
        .extend(downward_env(config, network.as_ref()));
    let volume_store = VolumeStore::open(&instance.root);
    // The container's network is freed once it exits (or fails to start).
    let release_network = || {
        if let Some(net) = &network {
            let _ = super::net::release(&instance.root, &net.endpoint.container_id, true);
        }
    };
    let monitor = Monitor {
        store: &instance.containers,
        volumes: &volume_store,
        config,
        cgroup: cgroup.as_ref(),
        namespaces: namespaces(config),
        before_setup: network.is_some().then_some(&plug as &dyn Fn(_) -> _),
        restart: RestartContext {
            foreground: !detach,
            after_exit: Some(&release_network),
        },
        restarts: 0,
    };
    let fifo = dir.join(super::stdio::STDIN_FIFO);
    if !detach {
        let _ = std::fs::remove_file(&fifo); // a foreground run's stdin is ours
    }
    let stdio_request = StdioRequest {
        tty: config.tty,
        interactive: config.interactive,
        foreground: !detach,
        echo,
        stdin_fifo: (detach && config.interactive).then_some(fifo),
    };
    if detach {
        let outcome = super::detach::spawn_detached_monitor(
            &monitor,
            &mut plan,
            &stdio_request,
            &release_network,
        );
        if !matches!(outcome, Err(RunError::Fork(_))) {
            // The monitor owns the container now, and cleans up after it.
            guard.0 = None;
            owned();
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
    guard.0 = None;
    owned();
    let mut start_error = None;
    let ended = monitor.run(&mut plan, stdio, |result| {
        if result.is_ok() {
            network.as_ref().map(super::net::NetGuard::started);
        }
        start_error = result.err().map(|f| RunError::Start {
            exit_code: f.exit_code,
            message: f.message.clone(),
        })
    });
    let code = ended.code();
    if ended == Ended::Finished(code) {
        release_network();
    }
    if let Some(net) = network.as_mut() {
        net.disarm();
    }
    match start_error {
        Some(error) => Err(error),
        None => Ok(RunOutcome::Exited(code)),
    }
}

/// The `kube play` fields only known now (name, IP, node), for PID 1.
fn downward_env(config: &ContainerConfig, network: Option<&super::net::NetGuard>) -> Vec<CString> {
    // The monitor still runs in the host's UTS namespace: its name is the node's.
    let node = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let facts = crate::container::downward::Facts {
        name: &config.name,
        ip: network.map(|n| n.endpoint.ip),
        node: &node,
    };
    crate::container::downward::env(&config.labels, &facts)
        .into_iter()
        .filter_map(|e| CString::new(e).ok())
        .collect()
}

/// The image `request` runs: its pinned id's, recorded under its name, or
/// the one its name resolves to.
pub fn request_image(
    images: &ImageStore,
    request: &RunRequest,
) -> Result<ImageDefaults, ImageError> {
    let Some(pin) = &request.image_pin else {
        return image_defaults(images, &request.image);
    };
    let mut image = image_defaults(images, pin)?;
    image.reference = request.image.clone();
    Ok(image)
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

pub(super) fn namespaces(config: &ContainerConfig) -> libc::c_int {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if config.network != NetworkMode::Host {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    flags.bits()
}

/// `--cidfile`: created new, as Docker refuses to overwrite one.
fn write_cidfile(path: &Path, id: &str) -> Result<(), RunError> {
    let io = |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    file.write_all(id.as_bytes()).map_err(io)
}

/// The devices cgroup's rules: the container's own devices, or all.
pub(super) fn device_access(config: &ContainerConfig) -> crate::cgroups::devices::DeviceAccess {
    crate::cgroups::devices::DeviceAccess {
        all: config.extras.privileged,
        allowed: config
            .extras
            .devices
            .iter()
            .map(|d| d.cgroup_rule())
            .collect(),
    }
}

/// The default profile, or none with `--security-opt seccomp=unconfined`.
pub(super) fn seccomp_filter(
    config: &ContainerConfig,
) -> Result<Option<seccompiler::BpfProgram>, RunError> {
    if config.extras.seccomp_unconfined {
        return Ok(None);
    }
    Ok(Some(seccomp::compile(&seccomp::default_profile())?))
}

/// `--add-host` lines after the network's own; `host-gateway` is the
/// bridge's gateway (the host as the container reaches it), or the
/// loopback with the host's network.
pub(super) fn add_hosts(
    paths: &RootfsPaths,
    config: &ContainerConfig,
    network: Option<&super::net::NetGuard>,
) -> Result<(), RunError> {
    let hosts = &config.extras.extra_hosts;
    if hosts.is_empty() {
        return Ok(());
    }
    let gateway = match (network, &config.network) {
        (Some(net), _) => Some(net.network.gateway.to_string()),
        (None, NetworkMode::Host) => Some("127.0.0.1".to_string()),
        (None, _) => None,
    };
    let mut text = std::fs::read_to_string(&paths.hosts).unwrap_or_default();
    for (name, ip) in hosts {
        let ip = match (ip.as_str(), &gateway) {
            (crate::container::extras::HOST_GATEWAY, Some(gw)) => gw.as_str(),
            (crate::container::extras::HOST_GATEWAY, None) => {
                return Err(RunError::HostGateway { name: name.clone() })
            }
            (ip, _) => ip,
        };
        text.push_str(&format!("{ip}\t{name}\n"));
    }
    std::fs::write(&paths.hosts, text).map_err(|source| RunError::Io {
        path: paths.hosts.clone(),
        source,
    })
}

/// Where a container's rootfs, overlay dirs and files live in its directory.
pub(super) fn container_paths(dir: &Path) -> RootfsPaths {
    RootfsPaths {
        rootfs: dir.join("rootfs"),
        upper: dir.join("upper"),
        work: dir.join("work"),
        hosts: dir.join("hosts"),
        hostname: dir.join("hostname"),
        resolv_conf: dir.join("resolv.conf"),
        files: dir.join("files"),
    }
}

fn prepare_container_dir(dir: &Path, config: &ContainerConfig) -> Result<RootfsPaths, RunError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Io { path, source }
    };
    let paths = container_paths(dir);
    // They exist when a stopped container starts again: its layer stays.
    for d in [&paths.rootfs, &paths.upper, &paths.work] {
        std::fs::create_dir_all(d).map_err(io(d))?;
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
    if !config.files.is_empty() && !paths.files.exists() {
        super::files::copy_in(&paths.files, &config.files)?;
    }
    Ok(paths)
}

pub(super) fn init_plan(
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
            groups: std::iter::once(config.user.gid)
                .chain(config.extras.group_add.iter().copied())
                .collect(),
            umask: 0o022,
            argv: cstrings(&config.args),
            env: cstrings(&config.env),
            search_path,
            capabilities: caps::CapSets::docker(capabilities, config.user.uid),
            no_new_privs: !config.extras.new_privileges,
            seccomp,
            seccomp_flags: 0,
        },
        stdio: [0, 1, 2],
        console: None,
        reaper: config.init,
        own_network: config.network != NetworkMode::Host,
        sysctl: config.extras.sysctls.clone().into_iter().collect(),
        rlimits: rlimits(&config.ulimits),
        oom_score_adj: config.extras.oom_score_adj,
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

/// Undoes a half-made container's record: its directory and the
/// anonymous volumes made for it.
struct RecordGuard<'a> {
    instance: &'a Instance,
    id: &'a str,
    anonymous: Vec<String>,
    mounts: &'a [crate::container::MountSpec],
    cidfile: Option<&'a Path>,
}

impl RecordGuard<'_> {
    fn disarm(&mut self) {
        self.id = "";
    }
}

impl Drop for RecordGuard<'_> {
    fn drop(&mut self) {
        if self.id.is_empty() {
            return;
        }
        let _ = self.instance.containers.remove_dir(self.id);
        if let Some(cidfile) = self.cidfile {
            let _ = std::fs::remove_file(cidfile);
        }
        if !self.anonymous.is_empty() {
            let _ = super::control::remove_anonymous_volumes(self.instance, self.id, self.mounts);
        }
    }
}

/// Removes the cgroup of a container that did not start.
struct CgroupGuard<'a>(Option<&'a dyn CgroupManager>);

impl Drop for CgroupGuard<'_> {
    fn drop(&mut self) {
        if let Some(cgroup) = self.0 {
            let _ = cgroup.destroy();
        }
    }
}
