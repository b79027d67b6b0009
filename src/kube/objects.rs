//! The Kubernetes objects `kube generate` writes: k8s-openapi's types for
//! the newest Kubernetes it supports (1.37), one enum over the kinds used.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;

pub type Map = BTreeMap<String, String>;

/// One manifest; serialises as the API object (apiVersion and kind included).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Object {
    Deployment(Box<Deployment>),
    Service(Box<Service>),
    Autoscaler(Box<HorizontalPodAutoscaler>),
    Claim(Box<PersistentVolumeClaim>),
    ConfigMap(Box<ConfigMap>),
    Secret(Box<Secret>),
    Policy(Box<NetworkPolicy>),
}

impl Object {
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Deployment(_) => "Deployment",
            Object::Service(_) => "Service",
            Object::Autoscaler(_) => "HorizontalPodAutoscaler",
            Object::Claim(_) => "PersistentVolumeClaim",
            Object::ConfigMap(_) => "ConfigMap",
            Object::Secret(_) => "Secret",
            Object::Policy(_) => "NetworkPolicy",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Deployment(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Autoscaler(o) => &o.metadata,
            Object::Claim(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::Policy(o) => &o.metadata,
        }
    }

    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Deployment(o) => &mut o.metadata,
            Object::Service(o) => &mut o.metadata,
            Object::Autoscaler(o) => &mut o.metadata,
            Object::Claim(o) => &mut o.metadata,
            Object::ConfigMap(o) => &mut o.metadata,
            Object::Secret(o) => &mut o.metadata,
            Object::Policy(o) => &mut o.metadata,
        }
    }
}

/// None for an empty collection: the API omits what is not set.
pub fn some<T, C: IntoIterator<Item = T> + FromIterator<T>>(c: Vec<T>) -> Option<C> {
    (!c.is_empty()).then(|| c.into_iter().collect())
}

pub fn non_empty(m: Map) -> Option<Map> {
    (!m.is_empty()).then_some(m)
}

pub fn meta(name: &str, labels: Map, annotations: Map) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: non_empty(labels),
        annotations: non_empty(annotations),
        ..ObjectMeta::default()
    }
}

pub fn selector(labels: Map) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    }
}
