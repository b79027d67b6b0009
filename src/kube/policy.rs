//! NetworkPolicies that give pods compose's network isolation, and the
//! HorizontalPodAutoscaler of `x-rcorch-autoscale`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::container::protocol;
use super::objects::{Map, Meta, Object};
use super::{dns_name, network_label, project_labels, selector, Manifest, Notes};
use crate::compose::model::{Autoscale, Project, Service};

/// The pod-metrics name the connections target reads (served by an adapter).
pub const CONNECTIONS_METRIC: &str = "rcorch_established_connections";

/// On a compose network only its members reach each other, and published
/// ports are reachable from anywhere; on `internal` networks nothing leaves.
pub fn network_policies(project: &Project) -> Vec<Manifest> {
    let used: BTreeSet<&String> = project
        .services
        .values()
        .filter(|s| s.network_mode.is_none())
        .flat_map(|s| s.networks.keys())
        .collect();
    let mut out = Vec::new();
    for net in used {
        let members = json!({ "matchLabels": { network_label(net): "true" } });
        let spec = json!({
            "podSelector": members,
            "policyTypes": ["Ingress"],
            "ingress": [{ "from": [{ "podSelector": members }] }],
        });
        out.push(policy(project, &format!("net-{net}"), spec));
    }
    for (name, svc) in &project.services {
        if let Some(p) = published_policy(project, name, svc) {
            out.push(p);
        }
        if let Some(p) = internal_policy(project, name, svc) {
            out.push(p);
        }
    }
    out
}

fn policy(project: &Project, name: &str, spec: Value) -> Manifest {
    let meta = Meta {
        name: dns_name(name),
        labels: project_labels(&project.name),
        ..Meta::default()
    };
    Manifest {
        object: Object::new("NetworkPolicy", meta, spec),
        notes: Notes::default(),
    }
}

fn published_policy(project: &Project, name: &str, svc: &Service) -> Option<Manifest> {
    let ports: Vec<Value> = svc
        .ports
        .iter()
        .filter(|p| p.published.is_some())
        .map(|p| json!({ "port": p.target, "protocol": protocol(p.protocol) }))
        .collect();
    if ports.is_empty() || svc.network_mode.is_some() {
        return None;
    }
    let spec = json!({
        "podSelector": { "matchLabels": selector(&project.name, name) },
        "policyTypes": ["Ingress"],
        "ingress": [{ "ports": ports }],
    });
    Some(policy(project, &format!("{name}-published"), spec))
}

/// A service only on internal networks talks to their members and DNS only.
fn internal_policy(project: &Project, name: &str, svc: &Service) -> Option<Manifest> {
    let internal = |net: &String| project.networks.get(net).is_some_and(|n| n.internal);
    if svc.network_mode.is_some() || svc.networks.is_empty() || !svc.networks.keys().all(internal) {
        return None;
    }
    let mut to: Vec<Value> = svc
        .networks
        .keys()
        .map(|net| json!({ "podSelector": { "matchLabels": { network_label(net): "true" } } }))
        .collect();
    to.sort_by_key(|v| v.to_string());
    let dns = json!([{ "port": 53, "protocol": "UDP" }, { "port": 53, "protocol": "TCP" }]);
    let spec = json!({
        "podSelector": { "matchLabels": selector(&project.name, name) },
        "policyTypes": ["Egress"],
        "egress": [{ "to": to }, { "ports": dns }],
    });
    Some(policy(project, &format!("{name}-internal"), spec))
}

/// A decimal as a Kubernetes quantity: "3", or millis ("2500m") when fractional.
fn quantity(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as u64)
    } else {
        format!("{}m", (v * 1000.0).round() as u64)
    }
}

pub fn autoscaler(project: &Project, name: &str, a: &Autoscale) -> Manifest {
    let mut notes = Notes::default();
    let mut metrics = Vec::new();
    if let Some(cpu) = a.target_cpu {
        // rcorch counts percent of one CPU per replica, not of the request:
        // an average in cores says the same without depending on requests.
        let target = json!({ "type": "AverageValue", "averageValue": quantity(cpu / 100.0) });
        metrics
            .push(json!({ "type": "Resource", "resource": { "name": "cpu", "target": target } }));
    }
    if let Some(conns) = a.target_connections {
        let target = json!({ "type": "AverageValue", "averageValue": quantity(conns) });
        let pods = json!({ "metric": { "name": CONNECTIONS_METRIC }, "target": target });
        metrics.push(json!({ "type": "Pods", "pods": pods }));
        notes.add(
            "x-rcorch-autoscale.target_connections",
            &conns.to_string(),
            "needs a custom-metrics adapter serving rcorch_established_connections",
        );
    }
    if a.interval != Autoscale::DEFAULT_INTERVAL {
        notes.add(
            "x-rcorch-autoscale.interval",
            &format!("{:?}", a.interval),
            "the HPA's sync period is a controller-manager flag",
        );
    }
    if a.min == 0 {
        notes.add(
            "x-rcorch-autoscale.min",
            "0",
            "an HPA keeps at least one replica",
        );
    }
    let spec = json!({
        "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": dns_name(name) },
        "minReplicas": a.min.max(1),
        "maxReplicas": a.max.max(1),
        "metrics": metrics,
        "behavior": { "scaleDown": { "stabilizationWindowSeconds": a.window.as_secs() } },
    });
    let meta = Meta {
        name: dns_name(name),
        labels: selector(&project.name, name),
        annotations: Map::new(),
    };
    Manifest {
        object: Object::new("HorizontalPodAutoscaler", meta, spec),
        notes,
    }
}
