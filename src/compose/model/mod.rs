//! The normalised compose model: every default applied, every short form
//! expanded, every path absolute. Serialises back to compose-style YAML.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_norway::Value;

mod deploy;
mod files;
pub use deploy::*;
pub use files::*;

pub(crate) fn dur<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::scalar::format_duration(*d))
}

pub(crate) fn opt_dur<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => dur(d, s),
        None => s.serialize_none(),
    }
}

pub(crate) fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

pub(crate) fn is_false(b: &bool) -> bool {
    !b
}

/// A whole compose application.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    pub name: String,
    pub services: BTreeMap<String, Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkDef>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, VolumeDef>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileObjectDef>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileObjectDef>,
    /// Top-level `x-*` keys, raw.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, Value>,
}

impl Project {
    /// The services `up` starts with these profiles enabled: those without
    /// profiles, and those sharing one with `enabled` (`*` enables all).
    pub fn active_services<'p>(&'p self, enabled: &[String]) -> Vec<&'p str> {
        let all = enabled.iter().any(|p| p == "*");
        self.services
            .iter()
            .filter(|(_, s)| {
                s.profiles.is_empty() || all || s.profiles.iter().any(|p| enabled.contains(p))
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The profiles of the `targeted` services: compose adds them to the
    /// active ones, so `up SERVICE` runs a service of a disabled profile.
    pub fn profiles_of(&self, targeted: &[String]) -> Vec<String> {
        targeted
            .iter()
            .filter_map(|name| self.services.get(name))
            .flat_map(|s| s.profiles.iter().cloned())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Service {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `build:`: how to make the image when it is missing (or on `up --build`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildSpec>,
    /// `pull_policy:`; None means compose's default, missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Values from env_file, then `environment`; None = declared but unset.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, Option<String>>,
    /// Already merged into `environment` by the loader; kept for reference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<EnvFile>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Mount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, ServiceNetwork>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, Dependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    pub restart: Restart,
    #[serde(skip_serializing_if = "is_default")]
    pub deploy: Deploy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub init: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Resolver addresses (`--dns`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    /// `/etc/hosts` lines as `--add-host` takes them (`NAME:IP`, `NAME=IP`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// As `--shm-size` takes it: a size ("64m") or bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    /// As `--device` takes them: `HOST[:CONTAINER[:PERMS]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(serialize_with = "dur")]
    pub stop_grace_period: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    #[serde(rename = "x-rcorch-autoscale", skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<Autoscale>,
    /// Other service-level `x-*` keys, raw.
    #[serde(flatten)]
    pub extensions: BTreeMap<String, Value>,
}

/// When `up` gets a service's image (compose's `pull_policy`, and `up --pull`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    /// Pull on every `up`.
    Always,
    /// Never pull: the image must be here.
    Never,
    /// Pull only an image that is not here (also `if_not_present`).
    Missing,
    /// Build on every `up` (needs `build:`).
    Build,
}

/// `logging:`: the driver and its options, as `--log-driver`/`--log-opt`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Logging {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// compose's default wait between the stop signal and SIGKILL.
pub const DEFAULT_STOP_GRACE_PERIOD: Duration = Duration::from_secs(10);

impl Service {
    /// How many replicas to run (deploy.replicas or scale; default 1).
    pub fn replicas(&self) -> u32 {
        self.deploy.replicas.unwrap_or(1)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvFile {
    pub path: PathBuf,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

/// A published host port or range ("8080" or "8000-8010").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.start == self.end {
            s.serialize_str(&self.start.to_string())
        } else {
            s.serialize_str(&format!("{}-{}", self.start, self.end))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub target: u16,
    /// None: a random host port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<PortRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<std::net::IpAddr>,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: MountKind,
    /// Absolute host path (bind), volume name, or None (anonymous volume, tmpfs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Volumes: do not copy the image's content in the first time.
    #[serde(skip_serializing_if = "is_false")]
    pub nocopy: bool,
    /// `type: tmpfs`: its `tmpfs: {size, mode}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<TmpfsMount>,
}

/// A long-syntax tmpfs mount's options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TmpfsMount {
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Permission bits of the mount's root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

impl TmpfsMount {
    /// As `--tmpfs` options (`size=1048576,mode=1777`).
    pub fn options(&self) -> Vec<String> {
        let size = self.size.map(|b| format!("size={b}"));
        let mode = self.mode.map(|m| format!("mode={m:o}"));
        size.into_iter().chain(mode).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ServiceNetwork {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<std::net::Ipv4Addr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    #[default]
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub condition: Condition,
    /// Restart this service when the dependency is restarted.
    pub restart: bool,
    /// A missing optional dependency is not an error.
    pub required: bool,
}

impl Default for Dependency {
    fn default() -> Self {
        Dependency {
            condition: Condition::ServiceStarted,
            restart: false,
            required: true,
        }
    }
}

/// Printed as compose writes it: `["CMD", ...]`, `["CMD-SHELL", cmd]`, `["NONE"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthTest {
    /// Health checking disabled (`NONE`, or `disable: true`).
    None,
    /// Run argv directly.
    Cmd(Vec<String>),
    /// Run with `/bin/sh -c`.
    CmdShell(String),
}

impl Serialize for HealthTest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let words: Vec<&str> = match self {
            HealthTest::None => vec!["NONE"],
            HealthTest::Cmd(argv) => std::iter::once("CMD")
                .chain(argv.iter().map(String::as_str))
                .collect(),
            HealthTest::CmdShell(cmd) => vec!["CMD-SHELL", cmd],
        };
        words.serialize(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// None: keep the image's own check.
    pub test: Option<HealthTest>,
    #[serde(serialize_with = "dur")]
    pub interval: Duration,
    #[serde(serialize_with = "dur")]
    pub timeout: Duration,
    pub retries: u32,
    #[serde(serialize_with = "dur")]
    pub start_period: Duration,
    #[serde(serialize_with = "dur")]
    pub start_interval: Duration,
}

impl Default for Healthcheck {
    /// The compose specification's defaults.
    fn default() -> Self {
        Healthcheck {
            test: None,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            retries: 3,
            start_period: Duration::ZERO,
            start_interval: Duration::from_secs(5),
        }
    }
}

/// The service-level `restart` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    #[default]
    No,
    Always,
    OnFailure {
        max_retries: Option<u32>,
    },
    UnlessStopped,
}

impl Serialize for Restart {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Restart::No => s.serialize_str("no"),
            Restart::Always => s.serialize_str("always"),
            Restart::OnFailure { max_retries: None } => s.serialize_str("on-failure"),
            Restart::OnFailure {
                max_retries: Some(n),
            } => s.serialize_str(&format!("on-failure:{n}")),
            Restart::UnlessStopped => s.serialize_str("unless-stopped"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct NetworkDef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub internal: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VolumeDef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A service's `build:` section (paths absolute).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BuildSpec {
    pub context: std::path::PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
    /// Pull the base images first, as `build --pull`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pull: bool,
}
