//! Turns a `run` request and an image's defaults into a `ContainerConfig`.
//! Pure: every input arrives as data, so each rule is unit-tested without root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::{names, BridgeSpec, ContainerConfig, MountKind, MountSpec, NetworkMode, UserSpec};
use crate::cgroups::convert::{parse_cpus, parse_memory, parse_pids_limit, ConvertError};
use crate::cgroups::Limits;

/// The PATH a container gets when its image sets none (one definition, the image store's).
pub use crate::image::DEFAULT_PATH_ENV as DEFAULT_PATH;
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;

/// What the user asked for on the command line, as plain strings.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub image: String,
    /// The image id to run, `image` being only the name recorded for it: a
    /// compose replica runs its revision's image even after a rebuild or a
    /// pull moved the tag (what makes `rollback` bring the old image back).
    pub image_pin: Option<String>,
    pub command: Vec<String>,
    pub entrypoint: Option<String>,
    pub name: Option<String>,
    pub env: Vec<String>,
    /// Contents of each `--env-file`, in order.
    pub env_files: Vec<(PathBuf, String)>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub volumes: Vec<String>,
    pub tmpfs: Vec<String>,
    /// `--ulimit NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    pub read_only: bool,
    pub memory: Option<String>,
    pub cpus: Option<String>,
    pub pids_limit: Option<String>,
    /// `--memory-swap`, `--memory-reservation`, `--cpuset-*`, `--cpu-shares`, `--blkio-weight`.
    pub tuning: crate::cgroups::tuning::TuningRequest,
    pub network: Option<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub init: bool,
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub labels: Vec<String>,
    /// `--ip`, `--dns`, `--network-alias`, `-p`, `-P` (bridge networks only).
    pub ip: Option<String>,
    pub dns: Vec<String>,
    pub network_aliases: Vec<String>,
    pub publish: Vec<String>,
    pub publish_all: bool,
    /// Secrets and configs to copy in and mount read-only.
    pub files: Vec<super::FileMount>,
    /// `--restart no|always|on-failure[:N]|unless-stopped`.
    pub restart: Option<String>,
    /// `--mount type=…,…`.
    pub mounts: Vec<String>,
    pub extras: super::extras::ExtrasRequest,
    /// `--cidfile`: written with the id once the container exists.
    pub cidfile: Option<PathBuf>,
    /// `--health-cmd`, `--health-interval`, ..., `--no-healthcheck`.
    pub health: super::health::HealthRequest,
    /// `--log-driver`, `--log-opt KEY=VALUE`.
    pub log_driver: Option<String>,
    pub log_opts: Vec<String>,
}

/// The parts of an image that shape a container.
#[derive(Debug, Clone, Default)]
pub struct ImageDefaults {
    pub reference: String,
    pub id: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub stop_signal: Option<String>,
    pub layers: Vec<PathBuf>,
    /// Paths the image declares as volumes (Dockerfile VOLUME).
    pub volumes: Vec<String>,
    /// The image's /etc/passwd and /etc/group, for `--user name`.
    pub passwd: Option<String>,
    pub group: Option<String>,
    /// The image's `Healthcheck` (Docker's JSON), if any.
    pub healthcheck: Option<serde_json::Value>,
}

/// Facts about the host the request is checked against.
pub struct HostFacts<'a> {
    pub cpus: usize,
    pub lookup_env: &'a dyn Fn(&str) -> Option<String>,
    pub cgroup_parent: &'a str,
    /// Who makes the container's cgroup (`--cgroup-manager`).
    pub cgroup_manager: crate::cgroups::systemd::Driver,
    pub now: String,
}

#[derive(Debug, Error)]
pub enum BuildError {
    #[error(transparent)]
    Health(#[from] super::health::HealthError),
    #[error(transparent)]
    Limit(#[from] ConvertError),
    /// A `--cgroup-parent` the systemd driver cannot use.
    #[error(transparent)]
    CgroupParent(#[from] crate::cgroups::systemd::SystemdError),
    #[error("invalid container name \"{0}\": use letters, digits, '_', '.' and '-', starting with a letter or digit")]
    Name(String),
    #[error("no command given and image {0} has no Cmd or Entrypoint: add a command after the image name")]
    NoCommand(String),
    #[error("invalid environment variable \"{0}\": expected KEY=VALUE or KEY")]
    Env(String),
    #[error(
        "invalid volume \"{0}\": expected /host/path:/container/path[:ro|rw] (or ./relative/path) or NAME:/container/path[:ro|rw|nocopy] or /container/path, NAME like [a-zA-Z0-9][a-zA-Z0-9_.-]+"
    )]
    Volume(String),
    #[error("invalid --tmpfs \"{0}\": expected an absolute container path")]
    Tmpfs(String),
    #[error("invalid --tmpfs \"{spec}\": {reason}; options are ro, rw, exec, noexec, suid, nosuid, dev, nodev, size=, mode=, uid=, gid=, nr_inodes=")]
    TmpfsOption { spec: String, reason: String },
    #[error(transparent)]
    ArgSize(#[from] super::argsize::ArgSizeError),
    #[error("invalid --ulimit: {0}")]
    Ulimit(String),
    #[error("invalid user \"{spec}\": {reason}")]
    User { spec: String, reason: String },
    #[error("invalid signal \"{0}\": use a name like SIGTERM or TERM, or a number")]
    Signal(String),
    #[error("invalid --network \"{0}\": use none, host or a network name")]
    Network(String),
    #[error("{0} needs a bridge network, not --network none or host")]
    NeedsBridge(&'static str),
    #[error("invalid --ip \"{0}\": expected an IPv4 address")]
    Ip(String),
    #[error("invalid --dns \"{0}\": expected an IP address")]
    Dns(String),
    #[error("invalid --network-alias \"{0}\"")]
    Alias(String),
    #[error(transparent)]
    Port(#[from] crate::network::ports::PortError),
    #[error("invalid working directory \"{0}\": it must be an absolute path")]
    Workdir(String),
    #[error("invalid label \"{0}\": expected KEY=VALUE")]
    Label(String),
    #[error("{0}")]
    Restart(String),
    #[error("{0}")]
    Extras(String),
    #[error("{0}")]
    Log(String),
    #[error("invalid --mount \"{spec}\": {reason}")]
    Mount { spec: String, reason: String },
    #[error("conflicting options: --restart {0} and --rm (a removed container cannot be restarted): drop one")]
    RestartAndRemove(String),
}

type Result<T> = std::result::Result<T, BuildError>;

pub fn build_config(
    req: &RunRequest,
    image: &ImageDefaults,
    host: &HostFacts,
    id: &str,
) -> Result<ContainerConfig> {
    let name = match &req.name {
        Some(n) if names::valid_name(n) => n.clone(),
        Some(n) => return Err(BuildError::Name(n.clone())),
        None => names::default_name(id),
    };
    let args = command_line(req, image)?;
    let working_dir = req
        .workdir
        .clone()
        .or_else(|| image.working_dir.clone())
        .filter(|w| !w.is_empty());
    let working_dir = working_dir.unwrap_or_else(|| "/".into());
    if !working_dir.starts_with('/') {
        return Err(BuildError::Workdir(working_dir));
    }
    let user_spec = req
        .user
        .clone()
        .or_else(|| image.user.clone())
        .filter(|u| !u.is_empty());
    let user = match user_spec {
        Some(spec) => parse_user(&spec, image.passwd.as_deref(), image.group.as_deref())?,
        None => UserSpec::default(),
    };
    let mut mounts = req
        .volumes
        .iter()
        .map(|v| parse_volume(v))
        .collect::<Result<Vec<_>>>()?;
    mounts.extend(
        req.tmpfs
            .iter()
            .map(|t| parse_tmpfs(t))
            .collect::<Result<Vec<_>>>()?,
    );
    for spec in &req.mounts {
        mounts.push(
            super::mount_flag::parse(spec).map_err(|reason| BuildError::Mount {
                spec: spec.clone(),
                reason,
            })?,
        );
    }
    let from_image = crate::volume::image_volume_mounts(&image.volumes, &mounts);
    mounts.extend(from_image);
    let mut limits = Limits {
        memory: req.memory.as_deref().map(parse_memory).transpose()?,
        cpu: req
            .cpus
            .as_deref()
            .map(|c| parse_cpus(c, host.cpus))
            .transpose()?,
        pids: req
            .pids_limit
            .as_deref()
            .map(parse_pids_limit)
            .transpose()?
            .flatten(),
        ..Limits::default()
    };
    crate::cgroups::tuning::apply_request(&req.tuning, &mut limits, host.cpus)?;
    let stop_signal = req
        .stop_signal
        .clone()
        .or_else(|| image.stop_signal.clone());
    let stop_signal = stop_signal
        .map(|s| parse_signal(&s))
        .transpose()?
        .unwrap_or(libc::SIGTERM);
    let env = merge_env(&image.env, req, host.lookup_env)?;
    super::argsize::check(&args, &env)?;
    let restart = restart_policy(req)?;
    let network = parse_network(req)?;
    let own_network = network != NetworkMode::Host;
    let extras = super::extras::parse(&req.extras, own_network, image.group.as_deref())
        .map_err(BuildError::Extras)?;
    Ok(ContainerConfig {
        id: id.to_string(),
        hostname: req.hostname.clone().unwrap_or_else(|| id[..12].to_string()),
        name,
        image: image.reference.clone(),
        image_id: image.id.clone(),
        args,
        env,
        working_dir,
        user,
        mounts,
        read_only: req.read_only,
        network,
        limits,
        // --privileged: every capability (a --cap-drop still takes one away).
        cap_add: if req.extras.privileged {
            vec!["ALL".into()]
        } else {
            req.cap_add.clone()
        },
        cap_drop: req.cap_drop.clone(),
        init: req.init,
        tty: req.tty,
        interactive: req.interactive,
        auto_remove: req.auto_remove,
        stop_signal,
        stop_timeout: req.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
        labels: parse_labels(&req.labels)?,
        ulimits: req
            .ulimits
            .iter()
            .map(|u| super::ulimit::parse(u).map_err(BuildError::Ulimit))
            .collect::<Result<_>>()?,
        created: host.now.clone(),
        layers: image.layers.clone(),
        cgroup_parent: cgroup_parent(host)?,
        cgroup_manager: host.cgroup_manager,
        files: req.files.clone(),
        restart,
        extras,
        health: super::health::resolve(&req.health, image.healthcheck.as_ref())?,
        log: super::logging::parse(req.log_driver.as_deref(), &req.log_opts)
            .map_err(BuildError::Log)?,
    })
}

/// Docker refuses a restart policy with `--rm`, as the exit removes it.
/// The parent recorded for the container: the cgroupfs path as given, or
/// the slice the systemd driver puts its scope in.
fn cgroup_parent(host: &HostFacts) -> Result<String> {
    use crate::cgroups::systemd::{naming, Driver};
    Ok(match host.cgroup_manager {
        Driver::Cgroupfs => host.cgroup_parent.to_string(),
        Driver::Systemd => naming::slice_for_parent(host.cgroup_parent)?,
    })
}

fn restart_policy(req: &RunRequest) -> Result<super::restart::RestartPolicy> {
    let Some(value) = req.restart.as_deref() else {
        return Ok(Default::default());
    };
    let policy = super::restart::RestartPolicy::parse(value).map_err(BuildError::Restart)?;
    if req.auto_remove && !policy.is_no() {
        return Err(BuildError::RestartAndRemove(value.to_string()));
    }
    Ok(policy)
}

/// Docker's rule: `--entrypoint` replaces the image's entrypoint and clears its
/// Cmd; a command after the image replaces Cmd.
fn command_line(req: &RunRequest, image: &ImageDefaults) -> Result<Vec<String>> {
    let (entrypoint, default_cmd) = match &req.entrypoint {
        Some(ep) if ep.is_empty() => (vec![], vec![]),
        Some(ep) => (vec![ep.clone()], vec![]),
        None => (image.entrypoint.clone(), image.cmd.clone()),
    };
    let cmd = if req.command.is_empty() {
        default_cmd
    } else {
        req.command.clone()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(BuildError::NoCommand(image.reference.clone()));
    }
    Ok(args)
}

/// Image env first, then env files, then `-e`, later keys replacing earlier ones.
fn merge_env(
    image_env: &[String],
    req: &RunRequest,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |entry: &str| -> Result<()> {
        let (key, value) = match entry.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => match lookup(entry) {
                Some(v) => (entry.to_string(), v),
                None => return Ok(()), // Docker drops `-e KEY` when KEY is unset.
            },
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(BuildError::Env(entry.to_string()));
        }
        match env.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => env.push((key, value)),
        }
        Ok(())
    };
    if !image_env.iter().any(|e| e.starts_with("PATH=")) {
        set(DEFAULT_PATH)?;
    }
    for entry in image_env {
        set(entry)?;
    }
    for (_, contents) in &req.env_files {
        for line in contents
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            set(line)?;
        }
    }
    for entry in &req.env {
        set(entry)?;
    }
    if req.tty && !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), "xterm".into()));
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), "/root".into()));
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

/// `-v SOURCE:DEST[:OPTIONS]`: SOURCE is an absolute host path (bind) or a
/// volume name; OPTIONS is a comma list of `ro`, `rw` and (volumes) `nocopy`.
/// `-v DEST` alone is an anonymous volume (`volume` is `None` until `run`
/// attaches it).
pub fn parse_volume(spec: &str) -> Result<MountSpec> {
    use crate::volume::{classify_source, MountSource};
    let bad = || BuildError::Volume(spec.to_string());
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, destination, options) = match parts.as_slice() {
        // Docker's anonymous volume: a container path only, no options.
        [d] if d.starts_with('/') && *d != "/" => return Ok(anonymous_volume(d)),
        [s, d] => (*s, *d, ""),
        [s, d, o] if !o.is_empty() => (*s, *d, *o),
        _ => return Err(bad()),
    };
    if !destination.starts_with('/') || destination == "/" {
        return Err(bad());
    }
    // A volume's host source is filled in when it is attached (`run`).
    let (kind, host_source, volume) = match classify_source(source) {
        MountSource::HostPath(path) => (MountKind::Bind, PathBuf::from(path), None),
        MountSource::Named(name) => (MountKind::Volume, PathBuf::new(), Some(name.to_string())),
        MountSource::Invalid => return Err(bad()),
    };
    let (mut read_only, mut nocopy) = (false, false);
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" if kind == MountKind::Volume => nocopy = true,
            // SELinux relabelling: nothing to relabel on a host without it.
            "z" | "Z" => {}
            // The container's mounts are private to its namespace already.
            "private" | "rprivate" => {}
            _ => return Err(bad()),
        }
    }
    Ok(MountSpec {
        kind,
        source: host_source,
        destination: destination.into(),
        read_only,
        volume,
        nocopy,
        tmpfs: None,
    })
}

/// A volume mount with no name yet: `run` creates a random-named volume.
fn anonymous_volume(destination: &str) -> MountSpec {
    MountSpec {
        kind: MountKind::Volume,
        source: PathBuf::new(),
        destination: destination.into(),
        read_only: false,
        volume: None,
        nocopy: false,
        tmpfs: None,
    }
}

/// `DST[:OPTIONS]` (see `tmpfs::parse`).
fn parse_tmpfs(spec: &str) -> Result<MountSpec> {
    let (destination, options) = spec.split_once(':').unwrap_or((spec, ""));
    if !destination.starts_with('/') || destination == "/" {
        return Err(BuildError::Tmpfs(spec.to_string()));
    }
    let options = super::tmpfs::parse(options).map_err(|reason| BuildError::TmpfsOption {
        spec: spec.to_string(),
        reason,
    })?;
    Ok(MountSpec {
        kind: MountKind::Tmpfs,
        source: PathBuf::new(),
        destination: destination.into(),
        read_only: options.read_only,
        volume: None,
        nocopy: false,
        tmpfs: Some(options),
    })
}

fn parse_network(req: &RunRequest) -> Result<NetworkMode> {
    let name = req
        .network
        .as_deref()
        .unwrap_or(crate::network::DEFAULT_NETWORK);
    let bridge_only = [
        ("--ip", req.ip.is_some()),
        ("--dns", !req.dns.is_empty()),
        ("--network-alias", !req.network_aliases.is_empty()),
        ("-p", !req.publish.is_empty()),
        ("-P", req.publish_all),
    ];
    match name {
        "none" | "host" => {
            if let Some((flag, _)) = bridge_only.iter().find(|(_, set)| *set) {
                return Err(BuildError::NeedsBridge(flag));
            }
            return Ok(if name == "none" {
                NetworkMode::None
            } else {
                NetworkMode::Host
            });
        }
        n if !names::valid_name(n) => return Err(BuildError::Network(n.to_string())),
        _ => {}
    }
    let ip = req
        .ip
        .as_deref()
        .map(|s| s.parse().map_err(|_| BuildError::Ip(s.to_string())))
        .transpose()?;
    for d in &req.dns {
        d.parse::<std::net::IpAddr>()
            .map_err(|_| BuildError::Dns(d.clone()))?;
    }
    if let Some(a) = req.network_aliases.iter().find(|a| !names::valid_name(a)) {
        return Err(BuildError::Alias(a.clone()));
    }
    let ports = req
        .publish
        .iter()
        .map(|p| crate::network::publish::parse_publish_spec(p))
        .collect::<std::result::Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    Ok(NetworkMode::Bridge(BridgeSpec {
        network: name.to_string(),
        ip,
        aliases: req.network_aliases.clone(),
        dns: req.dns.clone(),
        ports,
        publish_all: req.publish_all,
    }))
}

fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(BuildError::Label(l.clone())),
        })
        .collect()
}

/// `uid[:gid]` or `name[:group]`, names looked up in the image's files.
pub fn parse_user(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<UserSpec> {
    let err = |reason: &str| BuildError::User {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary_gid) = match user_part.parse::<u32>() {
        Ok(uid) => (uid, lookup_passwd_uid(passwd, uid).unwrap_or(uid)),
        Err(_) => lookup_passwd_name(passwd, user_part)
            .ok_or_else(|| err("no such user in the image's /etc/passwd"))?,
    };
    let gid = match group_part {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => lookup_group(group, g)
                .ok_or_else(|| err("no such group in the image's /etc/group"))?,
        },
    };
    Ok(UserSpec { uid, gid })
}

fn passwd_entries(passwd: Option<&str>) -> impl Iterator<Item = (&str, u32, u32)> {
    passwd.unwrap_or_default().lines().filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        Some((
            *fields.first()?,
            fields.get(2)?.parse().ok()?,
            fields.get(3)?.parse().ok()?,
        ))
    })
}

fn lookup_passwd_name(passwd: Option<&str>, name: &str) -> Option<(u32, u32)> {
    passwd_entries(passwd)
        .find(|(n, _, _)| *n == name)
        .map(|(_, uid, gid)| (uid, gid))
}

fn lookup_passwd_uid(passwd: Option<&str>, uid: u32) -> Option<u32> {
    passwd_entries(passwd)
        .find(|(_, u, _)| *u == uid)
        .map(|(_, _, gid)| gid)
}

fn lookup_group(group: Option<&str>, name: &str) -> Option<u32> {
    group.unwrap_or_default().lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name))
            .then(|| fields.get(2)?.parse().ok())
            .flatten()
    })
}

/// "SIGTERM", "TERM", "term" or "15".
pub fn parse_signal(spec: &str) -> Result<i32> {
    if let Ok(n) = spec.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(BuildError::Signal(spec.to_string()))
        };
    }
    let upper = spec.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| BuildError::Signal(spec.to_string()))
}

/// Where in the image a file lives: the first layer (topmost first) that has it.
pub fn find_in_layers(layers: &[PathBuf], relative: &Path) -> Option<PathBuf> {
    layers.iter().map(|l| l.join(relative)).find(|p| p.exists())
}

#[cfg(test)]
mod tests;
