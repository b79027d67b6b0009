//! From a compose model to what the supervisor keeps: per service, the
//! supervisor's `ServiceSpec` and a template for running one replica. Pure;
//! a service's revision moves on only when its definition changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compose::model::{self as compose, HealthTest, Restart};
use crate::network::{PortMapping, Proto};
use crate::supervisor::autoscale_policy::AutoscalePolicy;
use crate::supervisor::health::HealthSpec;
use crate::supervisor::lb::{LbError, Strategy, STRATEGY_LABEL};
use crate::supervisor::restart::{DeployCondition, DeployRestart, RestartPolicy, RestartRule};
use crate::supervisor::update_config::{FailureAction, Order, UpdateConfig};
use crate::supervisor::{Condition, Dependency, ServiceSpec};

mod template;
use template::template;
pub use template::{
    cpu_placement_of, log_opts, volume_name, CpuPlacement, ReplicaTemplate, TemplateFile,
};

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
