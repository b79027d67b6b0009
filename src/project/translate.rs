//! From a compose model to what the supervisor keeps: per service, the
//! supervisor's `ServiceSpec` and a template for running one replica. Pure;
//! a service's revision moves on only when its definition changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compose::model::{self as compose, HealthTest, MountKind, Restart};
use crate::network::{PortMapping, Proto};
use crate::supervisor::admission::Reservation;
use crate::supervisor::autoscale_policy::AutoscalePolicy;
use crate::supervisor::health::HealthSpec;
use crate::supervisor::lb::{LbError, Strategy, STRATEGY_LABEL};
use crate::supervisor::restart::{DeployCondition, DeployRestart, RestartPolicy, RestartRule};
use crate::supervisor::update_config::{FailureAction, Order, UpdateConfig};
use crate::supervisor::{Condition, Dependency, ServiceSpec};

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

/// One service as the supervisor keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub spec: ServiceSpec,
    pub template: ReplicaTemplate,
    /// The health check's argv, run inside the replica like `exec`.
    pub health_command: Option<Vec<String>>,
    /// Host ports the load balancer spreads over the replicas (`ports:`).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// `deploy.endpoint_mode: dnsrr`: no virtual IP, DNS lists the replicas.
    #[serde(default)]
    pub dnsrr: bool,
    /// `x-rcorch-autoscale`: the supervisor moves `spec.replicas` within bounds.
    #[serde(default)]
    pub autoscale: Option<AutoscalePolicy>,
    /// TCP container ports (`ports:` targets and `expose:`): what the
    /// least-connections proxy serves on the service's VIP.
    #[serde(default)]
    pub vip_ports: Vec<u16>,
    /// The id of the image `build:` made: a rebuild giving a new one is a
    /// new revision, so the replicas are replaced (`up --build`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The revisions of the `depends_on … restart: true` dependencies: an
    /// update of one is a new revision of this service too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub restarts_with: BTreeMap<String, u64>,
}

impl ServiceRecord {
    /// A service with neither health check, ports nor autoscaling: what
    /// tests start from (one place to grow when the record does).
    pub fn plain(spec: ServiceSpec, template: ReplicaTemplate) -> ServiceRecord {
        ServiceRecord {
            spec,
            template,
            health_command: None,
            ports: Vec::new(),
            dnsrr: false,
            autoscale: None,
            vip_ports: Vec::new(),
            image_id: None,
            restarts_with: BTreeMap::new(),
        }
    }

    /// The balancing strategy its `rcorch.lb.strategy` label selects.
    pub fn lb_strategy(&self) -> Result<Strategy, LbError> {
        let prefix = format!("{STRATEGY_LABEL}=");
        let value = self
            .template
            .labels
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix(&prefix));
        Strategy::from_label(value)
    }
}

/// A network the project's replicas join, created by `up` unless external.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectNetwork {
    /// The rcorch network name (`PROJECT_KEY`, as compose names them).
    pub name: String,
    pub internal: bool,
    pub external: bool,
}

/// A project's desired state as persisted under the root.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub name: String,
    pub services: Vec<ServiceRecord>,
    #[serde(default)]
    pub networks: Vec<ProjectNetwork>,
    /// Where the supervisor serves `/metrics` (`x-rcorch-metrics`, or
    /// `up --metrics`); `None`: not served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
}

impl ProjectRecord {
    pub fn service(&self, name: &str) -> Option<&ServiceRecord> {
        self.services.iter().find(|s| s.spec.name == name)
    }
}

/// Translates `project`, keeping each unchanged service's revision from
/// `previous` and giving changed or new ones the next revision.
pub fn translate(project: &compose::Project, previous: Option<&ProjectRecord>) -> ProjectRecord {
    translate_built(project, previous, &BTreeMap::new())
}

/// As `translate`, `image_ids` holding the image id each service's image
/// reference resolves to now. Dependencies get their revision first, so a
/// `restart: true` dependent sees the one its dependency moved on to.
pub fn translate_built(
    project: &compose::Project,
    previous: Option<&ProjectRecord>,
    image_ids: &BTreeMap<String, String>,
) -> ProjectRecord {
    let order = crate::compose::topological_order(project)
        .unwrap_or_else(|_| project.services.keys().cloned().collect());
    let mut done: BTreeMap<String, ServiceRecord> = BTreeMap::new();
    for name in order {
        let service = &project.services[&name];
        let mut record = service_record(project, &name, service);
        record.image_id = image_ids.get(&name).cloned();
        record.restarts_with = service
            .depends_on
            .iter()
            .filter(|(_, d)| d.restart)
            .filter_map(|(dep, _)| Some((dep.clone(), done.get(dep)?.spec.revision)))
            .collect();
        let before = previous.and_then(|p| p.service(&name));
        record.spec.revision = match before {
            Some(b) if same_definition(b, &record) => b.spec.revision,
            Some(b) => b.spec.revision + 1,
            None => 1,
        };
        // The autoscaler owns the count: a new `up` keeps what it chose.
        if let (Some(policy), Some(b)) = (&record.autoscale, before) {
            record.spec.replicas = policy.clamp(b.spec.replicas);
        }
        done.insert(name, record);
    }
    let services: Vec<ServiceRecord> = done.into_values().collect();
    let used: Vec<&String> = services
        .iter()
        .flat_map(|s| {
            s.template
                .network
                .iter()
                .chain(s.template.extra_networks.iter().map(|n| &n.0))
        })
        .collect();
    let networks = project
        .networks
        .iter()
        .map(|(key, def)| ProjectNetwork {
            name: network_name(project, key),
            internal: def.internal,
            external: def.external,
        })
        .filter(|n| used.contains(&&n.name))
        .collect();
    ProjectRecord {
        name: project.name.clone(),
        services,
        networks,
        metrics: super::metrics::configured(project).map(str::to_string),
    }
}

/// The rcorch network a compose network key stands for: its `name:`, else
/// `PROJECT_KEY` (compose's naming).
fn network_name(project: &compose::Project, key: &str) -> String {
    match project.networks.get(key).and_then(|d| d.name.clone()) {
        Some(name) => name,
        None => format!("{}_{key}", project.name),
    }
}

/// The networks a replica joins and its aliases on each: `network_mode`
/// alone, else the service's first network (at `run`) and the others.
fn replica_networks(
    project: &compose::Project,
    s: &compose::Service,
) -> Vec<(String, Vec<String>)> {
    if let Some(mode) = &s.network_mode {
        return vec![(mode.clone(), Vec::new())];
    }
    s.networks
        .iter()
        .map(|(key, attachment)| (network_name(project, key), attachment.aliases.clone()))
        .collect()
}

/// Published ports the balancer serves (IPv4, TCP/UDP; a range publishes
/// its first port).
fn published_ports(s: &compose::Service) -> Vec<PortMapping> {
    s.ports
        .iter()
        .filter_map(|p| {
            let proto = match p.protocol {
                compose::Protocol::Tcp => Proto::Tcp,
                compose::Protocol::Udp => Proto::Udp,
                compose::Protocol::Sctp => return None,
            };
            let host_ip = match p.host_ip {
                Some(std::net::IpAddr::V4(ip)) if !ip.is_unspecified() => Some(ip),
                Some(std::net::IpAddr::V6(_)) => return None,
                _ => None,
            };
            Some(PortMapping {
                host_ip,
                host_port: p.published?.start,
                container_port: p.target,
                proto,
            })
        })
        .collect()
}

/// TCP container ports: `ports:` targets and `expose:` ("3000",
/// "3000/tcp", a range's first port), sorted, once each.
fn vip_ports(s: &compose::Service) -> Vec<u16> {
    let published = s
        .ports
        .iter()
        .filter(|p| p.protocol == compose::Protocol::Tcp)
        .map(|p| p.target);
    let exposed = s.expose.iter().filter_map(|e| {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let first = port.split('-').next()?;
        (proto == "tcp")
            .then(|| first.trim().parse().ok())
            .flatten()
    });
    let mut ports: Vec<u16> = published.chain(exposed).collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Replica count aside, did anything that shapes a replica change?
fn same_definition(a: &ServiceRecord, b: &ServiceRecord) -> bool {
    // An image id is compared only when both sides know it: a record
    // written before ids were pinned adopts the current one without a
    // rollout.
    let known = a.image_id.is_some() && b.image_id.is_some();
    let strip = |r: &ServiceRecord| {
        let mut spec = r.spec.clone();
        spec.replicas = 0;
        spec.revision = 0;
        let image_id = r.image_id.clone().filter(|_| known);
        let pins = (image_id, r.restarts_with.clone());
        (spec, r.template.clone(), r.health_command.clone(), pins)
    };
    strip(a) == strip(b)
}

fn service_record(project: &compose::Project, name: &str, s: &compose::Service) -> ServiceRecord {
    let (health, health_command) = health(s.healthcheck.as_ref());
    let autoscale = s.autoscale.as_ref().map(autoscale_policy);
    let spec = ServiceSpec {
        replicas: autoscale
            .as_ref()
            .map_or(s.replicas(), |a| a.clamp(s.replicas())),
        restart: restart_policy(s),
        health,
        update: update_config(&s.deploy.update_config),
        rollback: update_config(&s.deploy.rollback_config),
        depends_on: s
            .depends_on
            .iter()
            .map(|(service, d)| Dependency {
                service: service.clone(),
                condition: condition(d.condition),
            })
            .collect(),
        stop_grace: s.stop_grace_period,
        ..ServiceSpec::new(name, 0)
    };
    let mut template = template(project, s);
    let mut networks = replica_networks(project, s).into_iter();
    (template.network, template.network_aliases) = match networks.next() {
        Some((network, aliases)) => (Some(network), aliases),
        None => (None, Vec::new()),
    };
    template.extra_networks = networks.collect();
    ServiceRecord {
        spec,
        template,
        health_command,
        ports: published_ports(s),
        dnsrr: s.deploy.endpoint_mode == compose::EndpointMode::Dnsrr,
        autoscale,
        vip_ports: vip_ports(s),
        image_id: None,
        restarts_with: BTreeMap::new(),
    }
}

/// CPU targets are written in percent of one CPU, kept as a fraction.
fn autoscale_policy(a: &compose::Autoscale) -> AutoscalePolicy {
    AutoscalePolicy {
        min_replicas: a.min,
        max_replicas: a.max,
        target_cpu: a.target_cpu.map(|p| p / 100.0),
        target_connections: a.target_connections,
        scale_down_window: a.window,
        interval: a.interval,
    }
}

fn template(project: &compose::Project, s: &compose::Service) -> ReplicaTemplate {
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

fn health(check: Option<&compose::Healthcheck>) -> (Option<HealthSpec>, Option<Vec<String>>) {
    let Some(check) = check else {
        return (None, None);
    };
    let argv = match &check.test {
        Some(HealthTest::Cmd(argv)) => argv.clone(),
        Some(HealthTest::CmdShell(line)) => vec!["/bin/sh".into(), "-c".into(), line.clone()],
        Some(HealthTest::None) | None => return (None, None),
    };
    let spec = HealthSpec {
        interval: check.interval,
        timeout: check.timeout,
        retries: check.retries,
        start_period: check.start_period,
        start_interval: check.start_interval,
    };
    (Some(spec), Some(argv))
}

/// `deploy.restart_policy` wins over `restart`, as in Swarm mode.
fn restart_policy(s: &compose::Service) -> RestartPolicy {
    let rule = match (&s.deploy.restart_policy, &s.restart) {
        (Some(p), _) => RestartRule::Deploy(DeployRestart {
            condition: match p.condition {
                compose::RestartCondition::None => DeployCondition::None,
                compose::RestartCondition::OnFailure => DeployCondition::OnFailure,
                compose::RestartCondition::Any => DeployCondition::Any,
            },
            delay: Some(p.delay),
            max_attempts: p.max_attempts,
            window: p.window,
        }),
        (None, Restart::No) => RestartRule::No,
        (None, Restart::Always) => RestartRule::Always,
        (None, Restart::OnFailure { max_retries }) => RestartRule::OnFailure {
            max_retries: *max_retries,
        },
        (None, Restart::UnlessStopped) => RestartRule::UnlessStopped,
    };
    RestartPolicy::new(rule)
}

fn update_config(c: &compose::UpdateConfig) -> UpdateConfig {
    UpdateConfig {
        parallelism: c.parallelism,
        delay: c.delay,
        order: match c.order {
            compose::UpdateOrder::StopFirst => Order::StopFirst,
            compose::UpdateOrder::StartFirst => Order::StartFirst,
        },
        monitor: c.monitor,
        max_failure_ratio: c.max_failure_ratio,
        failure_action: match c.failure_action {
            compose::FailureAction::Pause => FailureAction::Pause,
            compose::FailureAction::Continue => FailureAction::Continue,
            compose::FailureAction::Rollback => FailureAction::Rollback,
        },
    }
}

fn condition(c: compose::Condition) -> Condition {
    match c {
        compose::Condition::ServiceStarted => Condition::ServiceStarted,
        compose::Condition::ServiceHealthy => Condition::ServiceHealthy,
        compose::Condition::ServiceCompletedSuccessfully => Condition::ServiceCompletedSuccessfully,
    }
}

#[cfg(test)]
mod tests;
