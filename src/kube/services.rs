//! Services: the in-cluster name every compose service answers to, and
//! one NodePort or LoadBalancer Service for its published ports.

use serde_json::{json, Value};

use super::container::protocol;
use super::objects::{Meta, Object};
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

/// Reachable as `name:target`, as on a compose network. Without ports (compose
/// reaches every port) it is headless: the name still resolves to the pods.
fn cluster_service(project: &str, name: &str, svc: &Service) -> Manifest {
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
    let ports: Vec<Value> = targets
        .iter()
        .map(|(port, proto)| port_entry(*port, *port, *proto, None))
        .collect();
    let mut notes = Notes::default();
    let mut spec = json!({ "selector": selector(project, name) });
    if ports.is_empty() || svc.deploy.endpoint_mode == EndpointMode::Dnsrr {
        spec["clusterIP"] = json!("None");
        if ports.is_empty() {
            notes.add(
                "ports",
                "",
                "no ports declared: a headless Service gives the name only",
            );
        }
    }
    if !ports.is_empty() {
        spec["ports"] = json!(ports);
    }
    let meta = Meta {
        name: dns_name(name),
        labels: selector(project, name),
        ..Meta::default()
    };
    Manifest {
        object: Object::new("Service", meta, spec),
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
    let spec = json!({ "type": kind, "selector": selector(project, name), "ports": entries });
    let meta = Meta {
        name: format!("{}-published", dns_name(name)),
        labels: selector(project, name),
        ..Meta::default()
    };
    Manifest {
        object: Object::new("Service", meta, spec),
        notes,
    }
}

fn port_entry(port: u16, target: u16, proto: Protocol, node_port: Option<u16>) -> Value {
    let mut e = json!({
        "name": format!("{}-{port}", protocol(proto).to_lowercase()),
        "port": port,
        "targetPort": target,
        "protocol": protocol(proto),
    });
    if let Some(n) = node_port {
        e["nodePort"] = json!(n);
    }
    e
}
