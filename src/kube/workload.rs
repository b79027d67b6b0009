//! A compose service as a Deployment: replicas, rollout strategy, pod
//! volumes and what has no Kubernetes equivalent.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, HostAlias, KeyToPath,
    PersistentVolumeClaimVolumeSource, PodDNSConfig, PodSecurityContext, PodSpec, PodTemplateSpec,
    SecretVolumeSource, Sysctl, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::objects::{meta, non_empty, some, Object};
use super::{container, dns_name, network_label, selector, Notes};
use crate::compose::model::{
    FileRef, MountKind, Project, Restart, Service, UpdateConfig, UpdateOrder,
};

/// The Deployment of service `name`, and the notes on what it could not carry.
pub fn deployment(project: &Project, name: &str, svc: &Service, notes: &mut Notes) -> Object {
    let k8s = dns_name(name);
    let mut main = container::container(&k8s, svc, notes);
    let (volumes, mounts) = volumes(project, svc, notes);
    main.volume_mounts = some(mounts);
    let mut pod = PodSpec {
        containers: vec![main],
        volumes: some(volumes),
        hostname: svc.hostname.as_deref().map(dns_name),
        termination_grace_period_seconds: Some(svc.stop_grace_period.as_secs() as i64),
        ..PodSpec::default()
    };
    match svc.network_mode.as_deref() {
        Some("host") => pod.host_network = Some(true),
        Some(mode) => notes.add("network_mode", mode, "pods always have their own network"),
        None => {}
    }
    host_keys(svc, &mut pod, notes);
    unmapped(svc, notes);
    let mut labels = selector(&project.name, name);
    for net in svc.networks.keys() {
        labels.insert(network_label(net), "true".into());
    }
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: non_empty(svc.labels.clone()),
            ..ObjectMeta::default()
        }),
        spec: Some(pod),
    };
    let spec = DeploymentSpec {
        replicas: Some(i32::try_from(replicas(svc)).unwrap_or(i32::MAX)),
        selector: super::objects::selector(selector(&project.name, name)),
        strategy: Some(strategy(&svc.deploy.update_config)),
        template,
        ..DeploymentSpec::default()
    };
    Object::Deployment(Box::new(Deployment {
        metadata: meta(
            &k8s,
            selector(&project.name, name),
            svc.deploy.labels.clone(),
        ),
        spec,
        ..Deployment::default()
    }))
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
pub fn strategy(u: &UpdateConfig) -> DeploymentStrategy {
    let batch = match u.parallelism {
        0 => IntOrString::String("100%".into()),
        n => IntOrString::Int(i32::try_from(n).unwrap_or(i32::MAX)),
    };
    let (max_surge, max_unavailable) = match u.order {
        UpdateOrder::StopFirst => (IntOrString::Int(0), batch),
        UpdateOrder::StartFirst => (batch, IntOrString::Int(0)),
    };
    DeploymentStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(max_surge),
            max_unavailable: Some(max_unavailable),
        }),
    }
}

fn mount(name: String, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name,
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

fn empty_dir(memory: bool) -> Option<EmptyDirVolumeSource> {
    Some(EmptyDirVolumeSource {
        medium: memory.then(|| "Memory".to_string()),
        ..EmptyDirVolumeSource::default()
    })
}

/// The pod's volumes and the container's mounts of them.
fn volumes(project: &Project, svc: &Service, notes: &mut Notes) -> (Vec<Volume>, Vec<VolumeMount>) {
    let (mut volumes, mut mounts): (Vec<Volume>, Vec<VolumeMount>) = (Vec::new(), Vec::new());
    let mut add = |v: Volume| {
        let name = v.name.clone();
        if !volumes.iter().any(|have| have.name == name) {
            volumes.push(v);
        }
        name
    };
    for (i, m) in svc.volumes.iter().enumerate() {
        let volume = match (m.kind, &m.source) {
            (MountKind::Volume, Some(vol)) => Volume {
                name: format!("vol-{}", dns_name(vol)),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: super::storage::claim_name(project, vol),
                    ..PersistentVolumeClaimVolumeSource::default()
                }),
                ..Volume::default()
            },
            (MountKind::Volume, None) => Volume {
                name: format!("anon-{i}"),
                empty_dir: empty_dir(false),
                ..Volume::default()
            },
            (MountKind::Tmpfs, _) => Volume {
                name: format!("tmpfs-{i}"),
                empty_dir: empty_dir(true),
                ..Volume::default()
            },
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
        mounts.push(mount(add(volume), &m.target, m.read_only));
    }
    for (i, t) in svc.tmpfs.iter().enumerate() {
        let path = t.split(':').next().unwrap_or(t);
        let volume = Volume {
            name: format!("tmpfs-x{i}"),
            empty_dir: empty_dir(true),
            ..Volume::default()
        };
        mounts.push(mount(add(volume), path, false));
    }
    for (kind, refs) in [("secret", &svc.secrets), ("config", &svc.configs)] {
        for r in refs {
            let (volume, mut m) = file_volume(project, kind, r, notes);
            m.name = add(volume);
            mounts.push(m);
        }
    }
    (volumes, mounts)
}

/// A secret or config mounted as one file (subPath) with its mode.
fn file_volume(
    project: &Project,
    kind: &str,
    r: &FileRef,
    notes: &mut Notes,
) -> (Volume, VolumeMount) {
    let key = super::storage::data_key(&r.source);
    let items = Some(vec![KeyToPath {
        key: key.clone(),
        path: key.clone(),
        mode: Some(r.mode as i32),
        // Alpha (AtomicWriteVolumeUserFields): dropped where the gate is off.
        user: r.uid.map(i64::from),
    }]);
    let object = super::storage::file_object_name(project, kind, &r.source);
    let mut volume = Volume {
        name: format!("{kind}-{}", dns_name(&r.source)),
        ..Volume::default()
    };
    if kind == "secret" {
        volume.secret = Some(SecretVolumeSource {
            secret_name: Some(object),
            items,
            ..SecretVolumeSource::default()
        });
    } else {
        volume.config_map = Some(ConfigMapVolumeSource {
            name: object,
            items,
            ..ConfigMapVolumeSource::default()
        });
    }
    if let Some(uid) = r.uid {
        notes.add(
            &format!("{kind}s.{}.uid", r.source),
            &uid.to_string(),
            "a file owner needs the alpha AtomicWriteVolumeUserFields gate; elsewhere the file is root's",
        );
    }
    if let Some(gid) = r.gid {
        notes.add(
            &format!("{kind}s.{}.gid", r.source),
            &gid.to_string(),
            "no per-file group: set the pod's fsGroup",
        );
    }
    let mut m = mount(String::new(), &r.target, true);
    m.sub_path = Some(key);
    (volume, m)
}

/// Keys that have no Kubernetes field, each with why.
/// compose `extra_hosts`, `dns`, `sysctls` as the pod's `hostAliases`,
/// `dnsConfig` and `securityContext.sysctls`; `shm_size` and `devices`
/// have no pod field.
fn host_keys(svc: &Service, pod: &mut PodSpec, notes: &mut Notes) {
    let mut aliases: Vec<HostAlias> = Vec::new();
    for entry in &svc.extra_hosts {
        let Some((name, ip)) = entry.split_once('=').or_else(|| entry.split_once(':')) else {
            continue;
        };
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        if ip == crate::container::extras::HOST_GATEWAY {
            notes.add("extra_hosts", entry, "a pod has no host-gateway address");
            continue;
        }
        match aliases.iter_mut().find(|a| a.ip == ip) {
            Some(a) => a.hostnames.get_or_insert_with(Vec::new).push(name.into()),
            None => aliases.push(HostAlias {
                ip: ip.into(),
                hostnames: Some(vec![name.into()]),
            }),
        }
    }
    pod.host_aliases = some(aliases);
    if !svc.dns.is_empty() {
        // As `--dns`: these servers instead of the cluster's resolver.
        pod.dns_policy = Some("None".into());
        pod.dns_config = Some(PodDNSConfig {
            nameservers: Some(svc.dns.clone()),
            ..PodDNSConfig::default()
        });
    }
    if !svc.sysctls.is_empty() {
        let sysctls = svc.sysctls.iter().map(|(name, value)| Sysctl {
            name: name.clone(),
            value: value.clone(),
        });
        pod.security_context = Some(PodSecurityContext {
            sysctls: Some(sysctls.collect()),
            ..PodSecurityContext::default()
        });
    }
    if let Some(size) = &svc.shm_size {
        notes.add(
            "shm_size",
            size,
            "mount an emptyDir with medium: Memory at /dev/shm",
        );
    }
    for device in &svc.devices {
        notes.add(
            "devices",
            device,
            "pods get host devices only through a device plugin",
        );
    }
}

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
