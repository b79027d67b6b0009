//! A compose service as a Deployment: replicas, rollout strategy, pod
//! volumes and what has no Kubernetes equivalent.

use std::collections::BTreeMap;

use serde_json::json;

use super::objects::{
    DeploymentSpec, IntOrString, LabelSelector, Meta, Object, PodSpec, PodTemplate, RollingUpdate,
    Strategy, Volume, VolumeMount,
};
use super::{container, dns_name, network_label, selector, Notes};
use crate::compose::model::{
    FileRef, MountKind, Project, Restart, Service, UpdateConfig, UpdateOrder,
};

/// The Deployment of service `name`, and the notes on what it could not carry.
pub fn deployment(project: &Project, name: &str, svc: &Service, notes: &mut Notes) -> Object {
    let k8s = dns_name(name);
    let mut pod = PodSpec {
        containers: vec![container::container(&k8s, svc, notes)],
        hostname: svc.hostname.as_deref().map(dns_name),
        termination_grace_period_seconds: Some(svc.stop_grace_period.as_secs()),
        ..PodSpec::default()
    };
    volumes(project, svc, &mut pod, notes);
    match svc.network_mode.as_deref() {
        Some("host") => pod.host_network = true,
        Some(mode) => notes.add("network_mode", mode, "pods always have their own network"),
        None => {}
    }
    unmapped(svc, notes);
    let mut labels = selector(&project.name, name);
    for net in svc.networks.keys() {
        labels.insert(network_label(net), "true".into());
    }
    let template = PodTemplate {
        metadata: Meta {
            labels,
            annotations: svc.labels.clone(),
            ..Meta::default()
        },
        spec: pod,
    };
    let spec = DeploymentSpec {
        replicas: replicas(svc),
        selector: LabelSelector {
            match_labels: selector(&project.name, name),
        },
        strategy: strategy(&svc.deploy.update_config),
        template,
    };
    let meta = Meta {
        name: k8s,
        labels: selector(&project.name, name),
        annotations: svc.deploy.labels.clone(),
    };
    Object::new("Deployment", meta, spec)
}

/// compose's count, kept inside the autoscaler's bounds when there is one.
fn replicas(svc: &Service) -> u32 {
    match &svc.autoscale {
        Some(a) => svc.replicas().clamp(a.min, a.max),
        None => svc.replicas(),
    }
}

/// Swarm updates `parallelism` replicas at a time (0: all); stop-first
/// takes old ones down first, start-first brings new ones up first.
pub fn strategy(u: &UpdateConfig) -> Strategy {
    let batch = match u.parallelism {
        0 => IntOrString::String("100%".into()),
        n => IntOrString::Int(n),
    };
    let (max_surge, max_unavailable) = match u.order {
        UpdateOrder::StopFirst => (IntOrString::Int(0), batch),
        UpdateOrder::StartFirst => (batch, IntOrString::Int(0)),
    };
    Strategy {
        kind: "RollingUpdate",
        rolling_update: Some(RollingUpdate {
            max_surge,
            max_unavailable,
        }),
    }
}

fn volumes(project: &Project, svc: &Service, pod: &mut PodSpec, notes: &mut Notes) {
    let mut mounts = Vec::new();
    let add = |pod: &mut PodSpec, name: String, source: (&'static str, serde_json::Value)| {
        if !pod.volumes.iter().any(|v| v.name == name) {
            pod.volumes.push(Volume {
                name: name.clone(),
                source: BTreeMap::from([source]),
            });
        }
        name
    };
    for (i, m) in svc.volumes.iter().enumerate() {
        let name = match (m.kind, &m.source) {
            (MountKind::Volume, Some(vol)) => {
                let claim = super::storage::claim_name(project, vol);
                let src = ("persistentVolumeClaim", json!({ "claimName": claim }));
                add(pod, format!("vol-{}", dns_name(vol)), src)
            }
            (MountKind::Volume, None) => add(pod, format!("anon-{i}"), ("emptyDir", json!({}))),
            (MountKind::Tmpfs, _) => add(
                pod,
                format!("tmpfs-{i}"),
                ("emptyDir", json!({"medium": "Memory"})),
            ),
            (MountKind::Bind, src) => {
                let src = src.as_deref().unwrap_or_default();
                let key = format!("volumes.{}", m.target);
                notes.add(
                    &key,
                    src,
                    "host bind mounts are not portable: use a volume or a ConfigMap",
                );
                continue;
            }
        };
        mounts.push(VolumeMount {
            name,
            mount_path: m.target.clone(),
            sub_path: None,
            read_only: m.read_only,
        });
    }
    for (i, t) in svc.tmpfs.iter().enumerate() {
        let path = t.split(':').next().unwrap_or(t).to_string();
        let name = add(
            pod,
            format!("tmpfs-x{i}"),
            ("emptyDir", json!({"medium": "Memory"})),
        );
        mounts.push(VolumeMount {
            name,
            mount_path: path,
            sub_path: None,
            read_only: false,
        });
    }
    for (kind, refs) in [("secret", &svc.secrets), ("config", &svc.configs)] {
        for r in refs {
            let (volume, mount) = file_volume(project, kind, r, notes);
            let name = add(
                pod,
                volume.name.clone(),
                volume.source.into_iter().next().unwrap(),
            );
            mounts.push(VolumeMount { name, ..mount });
        }
    }
    pod.containers[0].volume_mounts = mounts;
}

/// A secret or config mounted as one file (subPath) with its mode.
fn file_volume(
    project: &Project,
    kind: &str,
    r: &FileRef,
    notes: &mut Notes,
) -> (Volume, VolumeMount) {
    let key = super::storage::data_key(&r.source);
    let items = json!([{ "key": key, "path": key, "mode": r.mode }]);
    let object = super::storage::file_object_name(project, kind, &r.source);
    let source = if kind == "secret" {
        ("secret", json!({ "secretName": object, "items": items }))
    } else {
        ("configMap", json!({ "name": object, "items": items }))
    };
    if r.uid.is_some() || r.gid.is_some() {
        let owner = format!("{}:{}", r.uid.unwrap_or(0), r.gid.unwrap_or(0));
        notes.add(
            &format!("{kind}s.{}.uid", r.source),
            &owner,
            "volume files belong to root (or the pod's fsGroup); per-file owners do not exist",
        );
    }
    let volume = Volume {
        name: format!("{kind}-{}", dns_name(&r.source)),
        source: BTreeMap::from([source]),
    };
    let mount = VolumeMount {
        name: String::new(),
        mount_path: r.target.clone(),
        sub_path: Some(key),
        read_only: true,
    };
    (volume, mount)
}

/// Keys that have no Kubernetes field, each with why.
fn unmapped(svc: &Service, notes: &mut Notes) {
    if let Some(c) = &svc.container_name {
        notes.add("container_name", c, "pods are named by their Deployment");
    }
    if !svc.depends_on.is_empty() {
        let deps: Vec<&str> = svc.depends_on.keys().map(String::as_str).collect();
        notes.add(
            "depends_on",
            &deps.join(","),
            "Kubernetes starts pods in no order: use readiness or init containers",
        );
    }
    match svc.restart {
        Restart::Always | Restart::UnlessStopped => {}
        _ => notes.add(
            "restart",
            &serde_plain(&svc.restart),
            "a Deployment's pods always restart",
        ),
    }
    if let Some(p) = &svc.deploy.restart_policy {
        notes.add(
            "deploy.restart_policy",
            &serde_plain(&p.condition),
            "a Deployment's pods always restart, with the kubelet's back-off",
        );
    }
    if let Some(sig) = &svc.stop_signal {
        notes.add(
            "stop_signal",
            sig,
            "the kubelet sends the image's STOPSIGNAL (a pod field only behind a feature gate)",
        );
    }
    if svc.init {
        notes.add(
            "init",
            "true",
            "no init process is injected: use shareProcessNamespace or an init in the image",
        );
    }
    if !svc.ulimits.is_empty() {
        let names: Vec<&str> = svc.ulimits.keys().map(String::as_str).collect();
        notes.add(
            "ulimits",
            &names.join(","),
            "rlimits come from the container runtime's defaults",
        );
    }
    update_notes(&svc.deploy.update_config, "deploy.update_config", notes);
    if svc.deploy.rollback_config != UpdateConfig::default() {
        notes.add("deploy.rollback_config", "", "use kubectl rollout undo");
    }
    for (net, att) in &svc.networks {
        if !att.aliases.is_empty() {
            notes.add(
                &format!("networks.{net}.aliases"),
                &att.aliases.join(","),
                "pods are found by their Service's name only",
            );
        }
        if let Some(ip) = att.ipv4_address {
            notes.add(
                &format!("networks.{net}.ipv4_address"),
                &ip.to_string(),
                "pod addresses are assigned by the cluster",
            );
        }
    }
}

fn update_notes(u: &UpdateConfig, key: &str, notes: &mut Notes) {
    let d = UpdateConfig::default();
    if u.delay != d.delay {
        notes.add(
            &format!("{key}.delay"),
            &format!("{:?}", u.delay),
            "Deployments do not pause between batches",
        );
    }
    if u.monitor != d.monitor
        || u.failure_action != d.failure_action
        || u.max_failure_ratio != d.max_failure_ratio
    {
        notes.add(&format!("{key}.failure_action"), &serde_plain(&u.failure_action), "a failed rollout stops at progressDeadlineSeconds; roll back with kubectl rollout undo");
    }
}

/// A model enum as compose writes it ("on-failure").
fn serde_plain<T: serde::Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
