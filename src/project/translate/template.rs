//! What one replica of a service runs, as the `run` request it becomes
//! (minus its name): built from the compose service, pure.

use serde::{Deserialize, Serialize};

use crate::compose::model::{self as compose, MountKind};
use crate::supervisor::admission::Reservation;

/// How to run one replica of a service (a `run` request minus its name).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplicaTemplate {
    pub image: String,
    /// compose `container_name` (the service then has one replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    pub entrypoint: Option<String>,
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub volumes: Vec<String>,
    pub tmpfs: Vec<String>,
    /// `NAME=SOFT:HARD`, as `--ulimit` takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<String>,
    pub memory: Option<String>,
    pub cpus: Option<String>,
    pub pids_limit: Option<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub hostname: Option<String>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub init: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: u64,
    pub labels: Vec<String>,
    pub network: Option<String>,
    /// Extra names on that network (compose `networks: {N: {aliases}}`).
    #[serde(default)]
    pub network_aliases: Vec<String>,
    /// The service's other networks, joined right after the replica starts
    /// (`network connect`), each with its aliases there.
    #[serde(default)]
    pub extra_networks: Vec<(String, Vec<String>)>,
    /// Secrets and configs, by name: their bytes are in the project's store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<TemplateFile>,
    /// deploy.resources.reservations: what admission holds for each replica.
    #[serde(default, skip_serializing_if = "Reservation::is_empty")]
    pub reservation: Reservation,
    /// deploy.placement.constraints, as written (checked by `up`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// `x-rcorch-cpu-placement: spread`: the whole CPUs each replica is
    /// pinned to (a cpuset chosen at its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_placement: Option<usize>,
    /// compose `logging:`, as `--log-driver` and `--log-opt KEY=VALUE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_opts: Vec<String>,
    /// compose `dns`, `extra_hosts`, `sysctls` (`KEY=VALUE`), `shm_size`,
    /// `devices`: as `--dns`, `--add-host`, `--sysctl`, `--shm-size`, `--device`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sysctls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
}

/// `x-rcorch-cpu-placement`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuPlacement {
    None,
    Spread,
}

/// The service's `x-rcorch-cpu-placement`, checked (`up` refuses a bad
/// value before anything starts; see `admit::precheck`).
pub fn cpu_placement_of(s: &compose::Service) -> Result<Option<CpuPlacement>, String> {
    let Some(value) = s.extensions.get("x-rcorch-cpu-placement") else {
        return Ok(None);
    };
    let placement = match value.as_str() {
        Some("spread") => CpuPlacement::Spread,
        Some("none") => CpuPlacement::None,
        _ => {
            let shown = serde_norway::to_string(value).unwrap_or_default();
            return Err(format!(
                "x-rcorch-cpu-placement: expected spread or none, not {}",
                shown.trim()
            ));
        }
    };
    let whole = crate::supervisor::cpu_placement::whole_cpus(
        s.deploy.resources.reservations.cpus,
        s.deploy.resources.limits.cpus,
    );
    if placement == CpuPlacement::Spread && whole.is_none() {
        return Err("x-rcorch-cpu-placement: spread pins whole CPUs: set \
                    deploy.resources.reservations.cpus (or limits.cpus) to a whole number"
            .into());
    }
    Ok(Some(placement))
}

/// One `secrets:`/`configs:` entry of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateFile {
    /// "secret" or "config".
    pub kind: String,
    pub name: String,
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

pub(super) fn template(project: &compose::Project, s: &compose::Service) -> ReplicaTemplate {
    // Compose's entrypoint is a list; rcorch's is one program, whose
    // arguments go before the command.
    let (entrypoint, mut command) = match &s.entrypoint {
        Some(ep) if !ep.is_empty() => (Some(ep[0].clone()), ep[1..].to_vec()),
        Some(_) => (Some(String::new()), Vec::new()),
        None => (None, Vec::new()),
    };
    command.extend(s.command.clone().unwrap_or_default());
    let limits = &s.deploy.resources.limits;
    let mut labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.extend(s.deploy.labels.iter().map(|(k, v)| format!("{k}={v}")));
    ReplicaTemplate {
        image: s.image.clone().unwrap_or_default(),
        container_name: s.container_name.clone(),
        entrypoint,
        command,
        env: s
            .environment
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect(),
        volumes: s
            .volumes
            .iter()
            .filter_map(|m| mount_spec(project, m))
            .collect(),
        tmpfs: s
            .tmpfs
            .iter()
            .cloned()
            .chain(
                s.volumes
                    .iter()
                    .filter(|m| m.kind == MountKind::Tmpfs)
                    .map(tmpfs_spec),
            )
            .collect(),
        ulimits: s
            .ulimits
            .iter()
            .map(|(name, u)| format!("{name}={}:{}", u.soft, u.hard))
            .collect(),
        memory: limits.memory.map(|b| b.to_string()),
        cpus: limits.cpus.map(|c| c.to_string()),
        pids_limit: limits.pids.map(|p| p.to_string()),
        user: s.user.clone(),
        workdir: s.working_dir.clone(),
        hostname: s.hostname.clone(),
        read_only: s.read_only,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        init: s.init,
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s.stop_grace_period.as_secs(),
        labels,
        network: None,
        network_aliases: Vec::new(),
        extra_networks: Vec::new(),
        files: template_files(s),
        reservation: Reservation {
            cpus: s.deploy.resources.reservations.cpus,
            memory: s.deploy.resources.reservations.memory,
            pids: s.deploy.resources.reservations.pids,
        },
        constraints: s.deploy.placement.constraints.clone(),
        cpu_placement: match cpu_placement_of(s) {
            Ok(Some(CpuPlacement::Spread)) => crate::supervisor::cpu_placement::whole_cpus(
                s.deploy.resources.reservations.cpus,
                s.deploy.resources.limits.cpus,
            ),
            _ => None,
        },
        log_driver: s.logging.as_ref().and_then(|l| l.driver.clone()),
        log_opts: log_opts(s),
        dns: s.dns.clone(),
        extra_hosts: s.extra_hosts.clone(),
        sysctls: s.sysctls.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        shm_size: s.shm_size.clone(),
        devices: s.devices.clone(),
    }
}

/// compose `logging.options` as `--log-opt` values.
pub fn log_opts(s: &compose::Service) -> Vec<String> {
    let options = s.logging.iter().flat_map(|l| &l.options);
    options.map(|(k, v)| format!("{k}={v}")).collect()
}

/// A long-syntax tmpfs mount as `--tmpfs DST[:OPTIONS]`.
fn tmpfs_spec(m: &crate::compose::model::Mount) -> String {
    let mut options: Vec<String> = m.read_only.then(|| "ro".to_string()).into_iter().collect();
    options.extend(m.tmpfs.iter().flat_map(|t| t.options()));
    match options.is_empty() {
        true => m.target.clone(),
        false => format!("{}:{}", m.target, options.join(",")),
    }
}

fn template_files(s: &compose::Service) -> Vec<TemplateFile> {
    let secrets = s.secrets.iter().map(|r| ("secret", r));
    let configs = s.configs.iter().map(|r| ("config", r));
    secrets
        .chain(configs)
        .map(|(kind, r)| TemplateFile {
            kind: kind.to_string(),
            name: r.source.clone(),
            target: r.target.clone(),
            uid: r.uid.unwrap_or(0),
            gid: r.gid.unwrap_or(0),
            mode: r.mode,
        })
        .collect()
}

/// A bind or volume mount as a `-v` argument; named volumes get the
/// project's real name for them (`PROJECT_NAME`), an anonymous one is its
/// container path alone (`-v` takes no options there, as in Docker).
fn mount_spec(project: &compose::Project, m: &compose::Mount) -> Option<String> {
    let source = match (&m.kind, &m.source) {
        (MountKind::Tmpfs, _) | (MountKind::Bind, None) => return None,
        (MountKind::Volume, None) => return Some(m.target.clone()),
        (MountKind::Bind, Some(source)) => source.clone(),
        (MountKind::Volume, Some(source)) => volume_name(project, source),
    };
    let mut options: Vec<&str> = Vec::new();
    if m.read_only {
        options.push("ro");
    }
    if m.nocopy && m.kind == MountKind::Volume {
        options.push("nocopy");
    }
    let options = if options.is_empty() {
        String::new()
    } else {
        format!(":{}", options.join(","))
    };
    Some(format!("{source}:{}{options}", m.target))
}

/// The real name of the project's volume `key`.
pub fn volume_name(project: &compose::Project, key: &str) -> String {
    let def = project
        .volumes
        .get(key)
        .map(|d| crate::volume::ComposeVolume {
            name: d.name.clone(),
            external: d.external,
        });
    crate::volume::compose_volume_name(&project.name, key, def.as_ref())
}
