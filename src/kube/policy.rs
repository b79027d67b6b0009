//! NetworkPolicies that give pods compose's network isolation, and the
//! HorizontalPodAutoscaler of `x-rcorch-autoscale`.

use std::collections::BTreeSet;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec,
    MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::container::protocol;
use super::objects::{meta, Map, Object};
use super::{dns_name, network_label, project_labels, selector, Manifest, Notes};
use crate::compose::model::{Autoscale, Project, Service};

/// The pod-metrics name the connections target reads (served by an adapter).
pub const CONNECTIONS_METRIC: &str = "rcorch_established_connections";

fn members(net: &str) -> LabelSelector {
    super::objects::selector(Map::from([(network_label(net), "true".to_string())]))
}

fn peer(net: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(members(net)),
        ..NetworkPolicyPeer::default()
    }
}

fn port(number: u16, proto: &str) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(number))),
        protocol: Some(proto.to_string()),
        ..NetworkPolicyPort::default()
    }
}

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
        let spec = NetworkPolicySpec {
            pod_selector: Some(members(net)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![peer(net)]),
                ports: None,
            }]),
            egress: None,
        };
        let mut m = policy(project, &format!("net-{net}"), spec);
        if let Some(def) = project.networks.get(net.as_str()) {
            if let Some(driver) = def.driver.as_ref().filter(|d| *d != "bridge") {
                m.notes.add(
                    "driver",
                    driver,
                    "pods share the cluster's network; this policy only isolates",
                );
            }
            if def.external {
                m.notes.add(
                    "external",
                    "true",
                    "only this project's pods are members here",
                );
            }
        }
        out.push(m);
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

fn policy(project: &Project, name: &str, spec: NetworkPolicySpec) -> Manifest {
    let object = NetworkPolicy {
        metadata: meta(&dns_name(name), project_labels(&project.name), Map::new()),
        spec: Some(spec),
    };
    Manifest {
        object: Object::Policy(Box::new(object)),
        notes: Notes::default(),
    }
}

fn service_pods(project: &Project, name: &str) -> Option<LabelSelector> {
    Some(super::objects::selector(selector(&project.name, name)))
}

fn published_policy(project: &Project, name: &str, svc: &Service) -> Option<Manifest> {
    let ports: Vec<NetworkPolicyPort> = svc
        .ports
        .iter()
        .filter(|p| p.published.is_some())
        .map(|p| port(p.target, protocol(p.protocol)))
        .collect();
    if ports.is_empty() || svc.network_mode.is_some() {
        return None;
    }
    let spec = NetworkPolicySpec {
        pod_selector: service_pods(project, name),
        policy_types: Some(vec!["Ingress".into()]),
        ingress: Some(vec![NetworkPolicyIngressRule {
            from: None,
            ports: Some(ports),
        }]),
        egress: None,
    };
    Some(policy(project, &format!("{name}-published"), spec))
}

/// A service only on internal networks talks to their members and DNS only.
fn internal_policy(project: &Project, name: &str, svc: &Service) -> Option<Manifest> {
    let internal = |net: &String| project.networks.get(net).is_some_and(|n| n.internal);
    if svc.network_mode.is_some() || svc.networks.is_empty() || !svc.networks.keys().all(internal) {
        return None;
    }
    let to: Vec<NetworkPolicyPeer> = svc.networks.keys().map(|net| peer(net)).collect();
    let dns = vec![port(53, "UDP"), port(53, "TCP")];
    let spec = NetworkPolicySpec {
        pod_selector: service_pods(project, name),
        policy_types: Some(vec!["Egress".into()]),
        ingress: None,
        egress: Some(vec![
            NetworkPolicyEgressRule {
                to: Some(to),
                ports: None,
            },
            NetworkPolicyEgressRule {
                to: None,
                ports: Some(dns),
            },
        ]),
    };
    Some(policy(project, &format!("{name}-internal"), spec))
}

/// A decimal as a Kubernetes quantity: "3", or millis ("2500m") when fractional.
fn quantity(v: f64) -> Quantity {
    if v.fract() == 0.0 {
        Quantity(format!("{}", v as u64))
    } else {
        Quantity(format!("{}m", (v * 1000.0).round() as u64))
    }
}

fn average(v: f64) -> MetricTarget {
    MetricTarget {
        type_: "AverageValue".into(),
        average_value: Some(quantity(v)),
        ..MetricTarget::default()
    }
}

fn metrics(a: &Autoscale, notes: &mut Notes) -> Vec<MetricSpec> {
    let mut metrics = Vec::new();
    if let Some(cpu) = a.target_cpu {
        // rcorch counts percent of one CPU per replica, not of the request:
        // an average in cores says the same without depending on requests.
        metrics.push(MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: "cpu".into(),
                target: average(cpu / 100.0),
            }),
            ..MetricSpec::default()
        });
    }
    if let Some(conns) = a.target_connections {
        metrics.push(MetricSpec {
            type_: "Pods".into(),
            pods: Some(PodsMetricSource {
                metric: MetricIdentifier {
                    name: CONNECTIONS_METRIC.into(),
                    selector: None,
                },
                target: average(conns),
            }),
            ..MetricSpec::default()
        });
        notes.add(
            "x-rcorch-autoscale.target_connections",
            &conns.to_string(),
            "needs a custom-metrics adapter serving rcorch_established_connections",
        );
    }
    metrics
}

pub fn autoscaler(project: &Project, name: &str, a: &Autoscale) -> Manifest {
    let mut notes = Notes::default();
    let metrics = metrics(a, &mut notes);
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
    let count = |n: u32| i32::try_from(n.max(1)).unwrap_or(i32::MAX);
    let spec = HorizontalPodAutoscalerSpec {
        scale_target_ref: CrossVersionObjectReference {
            api_version: Some("apps/v1".into()),
            kind: "Deployment".into(),
            name: dns_name(name),
        },
        min_replicas: Some(count(a.min)),
        max_replicas: count(a.max),
        metrics: Some(metrics),
        behavior: Some(HorizontalPodAutoscalerBehavior {
            scale_down: Some(HPAScalingRules {
                stabilization_window_seconds: Some(a.window.as_secs() as i32),
                ..HPAScalingRules::default()
            }),
            scale_up: None,
        }),
    };
    let object = HorizontalPodAutoscaler {
        metadata: meta(&dns_name(name), selector(&project.name, name), Map::new()),
        spec,
        ..HorizontalPodAutoscaler::default()
    };
    Manifest {
        object: Object::Autoscaler(Box::new(object)),
        notes,
    }
}
