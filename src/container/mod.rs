//! Containers as plain data: what to create (`ContainerConfig`), what happened
//! (`ContainerState`), and the lifecycle state machine (`Status`).

pub mod argsize;
pub mod build;
pub mod damage;
pub mod detach_keys;
pub mod devices;
pub mod downward;
pub mod events;
pub mod extras;
pub mod health;
pub mod labels;
pub mod logging;
pub mod mount_flag;
pub mod names;
pub mod restart;
pub mod store;
pub mod tmpfs;
pub mod ulimit;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cgroups::Limits;

/// Everything needed to create a container, fixed at `run` time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    /// argv[0..]: entrypoint followed by command, already resolved against the image.
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: UserSpec,
    pub hostname: String,
    pub mounts: Vec<MountSpec>,
    pub read_only: bool,
    pub network: NetworkMode,
    pub limits: Limits,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub init: bool,
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    pub stop_signal: i32,
    pub stop_timeout: u64,
    pub labels: BTreeMap<String, String>,
    /// Resource limits set in the container (`--ulimit`, compose `ulimits`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<ulimit::Ulimit>,
    pub created: String,
    /// Layer directories of the image, topmost first (overlay lowerdir order).
    pub layers: Vec<PathBuf>,
    /// Relative cgroup path below each controller's root, e.g. "rcorch/<id>".
    pub cgroup_parent: String,
    /// Who made the cgroup: rcorch on cgroupfs (records without the field)
    /// or systemd (a scope in the slice `cgroup_parent` then names).
    #[serde(
        default,
        skip_serializing_if = "crate::cgroups::systemd::Driver::is_cgroupfs"
    )]
    pub cgroup_manager: crate::cgroups::systemd::Driver,
    /// Secrets and configs: copied into the container's directory at
    /// creation, bind-mounted read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileMount>,
    /// `--restart`: what the monitor does when the container exits.
    #[serde(default, skip_serializing_if = "restart::RestartPolicy::is_no")]
    pub restart: restart::RestartPolicy,
    /// `--add-host`, `--group-add`, `--sysctl`, `--security-opt`, …
    #[serde(default, skip_serializing_if = "extras::Extras::is_default")]
    pub extras: extras::Extras,
    /// `run --health-*` over the image's HEALTHCHECK; the monitor probes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<health::HealthConfig>,
    /// `--log-driver`, `--log-opt`: how the monitor keeps the output.
    #[serde(default, skip_serializing_if = "logging::LogConfig::is_default")]
    pub log: logging::LogConfig,
}

/// A compose secret or config as one file in the container. Only where it
/// comes from is recorded, never its content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileMount {
    /// The project's stored copy on the host.
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct UserSpec {
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Tmpfs,
    /// A named volume; `source` is its `_data` directory once attached.
    Volume,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountSpec {
    pub kind: MountKind,
    /// Host path for binds and (once attached) volumes; empty for tmpfs.
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
    /// The volume's name, for `MountKind::Volume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Volumes: do not copy the image's content into an empty volume.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nocopy: bool,
    /// Tmpfs: its options (None in records written before they were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<tmpfs::TmpfsOptions>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    None,
    Host,
    /// A named bridge network (`bridge` by default).
    Bridge(BridgeSpec),
}

impl NetworkMode {
    /// Docker's name for the mode: "none", "host" or the network's name.
    pub fn name(&self) -> &str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
            NetworkMode::Bridge(spec) => &spec.network,
        }
    }
}

/// What a container asks of a bridge network, validated at `run` time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BridgeSpec {
    pub network: String,
    pub ip: Option<std::net::Ipv4Addr>,
    pub aliases: Vec<String>,
    pub dns: Vec<String>,
    pub ports: Vec<crate::network::PortMapping>,
    /// `-P`: publish every port the image exposes on a random host port.
    pub publish_all: bool,
}

/// Lifecycle of a container. Transitions live in `Status::can_*` so every
/// command asks the same question the same way.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Record written; the process is not running yet (or `run` died while creating it).
    Created,
    Running,
    Exited,
}

impl Status {
    pub fn can_start(self) -> bool {
        self == Status::Created
    }
    pub fn can_signal(self) -> bool {
        self == Status::Running
    }
    /// Removal without force is only for containers that cannot be running.
    pub fn can_remove_without_force(self) -> bool {
        self != Status::Running
    }
}

/// What the monitor observed; rewritten atomically as the container moves on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ContainerState {
    pub status: Option<Status>,
    /// Host PID of the container's PID 1.
    pub pid: Option<i32>,
    /// Start time of that PID (clock ticks since boot), to tell it from a reused PID.
    pub pid_start_ticks: Option<u64>,
    pub monitor_pid: Option<i32>,
    /// Start time of the monitor, so a reused pid is not taken for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_start_ticks: Option<u64>,
    /// The PID namespace (inode) those pids belong to: a command run in
    /// another one cannot see them, and must not take them for dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_namespace: Option<u64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    /// Why the container could not start, when it could not.
    pub error: Option<String>,
    /// Restarts by its `--restart` policy since it was run (`RestartCount`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restart_count: u32,
    /// Exited, and its monitor waits out the backoff before restarting it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restarting: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ContainerState {
    pub fn status(&self) -> Status {
        self.status.unwrap_or(Status::Created)
    }
}

/// Docker's exit code convention for a process killed by `signal`.
pub fn exit_code_for_signal(signal: i32) -> i32 {
    128 + signal
}
