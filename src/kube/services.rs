//! Services: the in-cluster name every compose service answers to, and
//! one NodePort or LoadBalancer Service for its published ports.

use k8s_openapi::api::core::v1::{Service as KService, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::container::protocol;
use super::objects::{meta, some, Map, Object};
use super::{dns_name, selector, Manifest, Notes, ServiceType};
use crate::compose::model::{EndpointMode, Port, Protocol, Service};

/// NodePorts the API server accepts by default.
const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

/// The Services of compose service `name`.
pub fn services(project: &str, name: &str, svc: &Service, exposed: ServiceType) -> Vec<Manifest> {
    let mut out = vec![cluster_service(project, name, svc)];
    let published: Vec<&Port> = svc.ports.iter().filter(|p| p.published.is_some()).collect();
    if !published.is_empty() {
        out.push(published_service(project, name, &published, exposed));
    }
    out
}

fn object(project: &str, name: &str, k8s_name: String, spec: ServiceSpec) -> Object {
    Object::Service(Box::new(KService {
        metadata: meta(&k8s_name, selector(project, name), Map::new()),
        spec: Some(spec),
        ..KService::default()
    }))
}

/// The container ports a compose service is reached on (`ports` targets,
/// then `expose`), each once.
fn targets(svc: &Service) -> Vec<(u16, Protocol)> {
    let mut targets: Vec<(u16, Protocol)> =
        svc.ports.iter().map(|p| (p.target, p.protocol)).collect();
    for e in &svc.expose {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let proto = if proto == "udp" {
            Protocol::Udp
        } else {
            Protocol::Tcp
        };
        // Ranges ("8000-8010") expose their first port here.
        if let Some(port) = port.split('-').next().and_then(|p| p.parse().ok()) {
            targets.push((port, proto));
        }
    }
    let mut seen = Vec::new();
    targets.retain(|t| {
        let new = !seen.contains(t);
        seen.push(*t);
        new
    });
    targets
}

/// Reachable as `name:target`, as on a compose network. Without ports (compose
/// reaches every port) it is headless: the name still resolves to the pods.
fn cluster_service(project: &str, name: &str, svc: &Service) -> Manifest {
    let ports: Vec<ServicePort> = targets(svc)
        .iter()
        .map(|(port, proto)| port_entry(*port, *port, *proto, None))
        .collect();
    let mut notes = Notes::default();
    let headless = ports.is_empty() || svc.deploy.endpoint_mode == EndpointMode::Dnsrr;
    if ports.is_empty() {
        notes.add(
            "ports",
            "",
            "no ports declared: a headless Service gives the name only",
        );
    }
    let spec = ServiceSpec {
        selector: Some(selector(project, name)),
        cluster_ip: headless.then(|| "None".to_string()),
        ports: some(ports),
        ..ServiceSpec::default()
    };
    Manifest {
        object: object(project, name, dns_name(name), spec),
        notes,
    }
}

fn published_service(project: &str, name: &str, ports: &[&Port], exposed: ServiceType) -> Manifest {
    let mut notes = Notes::default();
    let mut entries = Vec::new();
    for p in ports {
        let range = p.published.expect("filtered on published");
        if range.start != range.end {
            let key = format!("ports.{}", p.target);
            notes.add(
                &key,
                &format!("{}-{}", range.start, range.end),
                "a port range: its first port is used",
            );
        }
        let node_port = match exposed {
            ServiceType::NodePort if NODE_PORTS.contains(&range.start) => Some(range.start),
            ServiceType::NodePort => {
                let key = format!("ports.{}", range.start);
                notes.add(
                    &key,
                    "nodePort",
                    "outside 30000-32767: the cluster picks the node port",
                );
                None
            }
            ServiceType::LoadBalancer => None,
        };
        if let Some(ip) = p.host_ip.filter(|ip| !ip.is_unspecified()) {
            notes.add(
                &format!("ports.{}.host_ip", range.start),
                &ip.to_string(),
                "Services listen on every node address",
            );
        }
        entries.push(port_entry(range.start, p.target, p.protocol, node_port));
    }
    let kind = match exposed {
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    };
    let spec = ServiceSpec {
        type_: Some(kind.to_string()),
        selector: Some(selector(project, name)),
        ports: Some(entries),
        ..ServiceSpec::default()
    };
    Manifest {
        object: object(project, name, format!("{}-published", dns_name(name)), spec),
        notes,
    }
}

fn port_entry(port: u16, target: u16, proto: Protocol, node_port: Option<u16>) -> ServicePort {
    ServicePort {
        name: Some(format!("{}-{port}", protocol(proto).to_lowercase())),
        port: i32::from(port),
        target_port: Some(IntOrString::Int(i32::from(target))),
        protocol: Some(protocol(proto).to_string()),
        node_port: node_port.map(i32::from),
        ..ServicePort::default()
    }
}
