//! One compose service as the pod's container: process, environment,
//! probes, resources and security context.

use std::time::Duration;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, ExecAction, Probe, ResourceRequirements,
    SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::objects::some;
use super::Notes;
use crate::compose::model::{HealthTest, Healthcheck, Protocol, Service};

/// The container for `svc`, named `name`, running `image`.
pub fn container(name: &str, svc: &Service, notes: &mut Notes) -> Container {
    let image = svc.image.clone().unwrap_or_else(|| {
        // Built by `rcorch build`: the cluster must pull it from somewhere.
        notes.add(
            "build",
            "",
            "the image is built locally: push it and set image",
        );
        name.to_string()
    });
    let (liveness_probe, readiness_probe, startup_probe) = match &svc.healthcheck {
        Some(hc) => probes(hc, notes),
        None => (None, None, None),
    };
    Container {
        name: name.to_string(),
        image: Some(image),
        // Kubernetes' command replaces ENTRYPOINT, args replaces CMD, as
        // compose's entrypoint and command do.
        command: svc.entrypoint.clone(),
        args: svc.command.clone(),
        working_dir: svc.working_dir.clone(),
        env: some(env(svc, notes)),
        ports: some(container_ports(svc)),
        resources: resources(svc, notes),
        liveness_probe,
        readiness_probe,
        startup_probe,
        security_context: security_context(svc, notes),
        ..Container::default()
    }
}

fn env(svc: &Service, notes: &mut Notes) -> Vec<EnvVar> {
    let mut out = Vec::new();
    for (name, value) in &svc.environment {
        match value {
            Some(value) => out.push(EnvVar {
                name: name.clone(),
                value: Some(value.clone()),
                ..EnvVar::default()
            }),
            None => notes.add(
                &format!("environment.{name}"),
                "",
                "declared without a value and unset when generated: left out",
            ),
        }
    }
    out
}

fn container_ports(svc: &Service) -> Vec<ContainerPort> {
    let mut out: Vec<ContainerPort> = Vec::new();
    for p in &svc.ports {
        let port = ContainerPort {
            container_port: i32::from(p.target),
            protocol: Some(protocol(p.protocol).to_string()),
            ..ContainerPort::default()
        };
        if !out.contains(&port) {
            out.push(port);
        }
    }
    out
}

pub fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
    }
}

/// Whole seconds, rounded up: Kubernetes probes count in seconds, at least 1.
fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_millis().div_ceil(1000).max(1)).unwrap_or(i32::MAX)
}

/// Liveness and readiness share the check; a start period becomes a
/// startup probe that allows as many failures as fit in it.
type Probes = (Option<Probe>, Option<Probe>, Option<Probe>);

fn probes(hc: &Healthcheck, notes: &mut Notes) -> Probes {
    let command = match &hc.test {
        Some(HealthTest::Cmd(argv)) => argv.clone(),
        Some(HealthTest::CmdShell(cmd)) => vec!["/bin/sh".into(), "-c".into(), cmd.clone()],
        Some(HealthTest::None) => return (None, None, None),
        None => {
            notes.add(
                "healthcheck",
                "",
                "the image's own HEALTHCHECK is not carried over",
            );
            return (None, None, None);
        }
    };
    let exec = |command: Vec<String>| {
        Some(ExecAction {
            command: Some(command),
        })
    };
    let probe = Probe {
        exec: exec(command.clone()),
        period_seconds: Some(secs(hc.interval)),
        timeout_seconds: Some(secs(hc.timeout)),
        failure_threshold: Some(i32::try_from(hc.retries.max(1)).unwrap_or(i32::MAX)),
        ..Probe::default()
    };
    let startup = (!hc.start_period.is_zero()).then(|| {
        let period = secs(hc.start_interval);
        Probe {
            exec: exec(command),
            period_seconds: Some(period),
            timeout_seconds: Some(secs(hc.timeout)),
            failure_threshold: Some((secs(hc.start_period) + period - 1) / period),
            ..Probe::default()
        }
    });
    (Some(probe.clone()), Some(probe), startup)
}

/// A CPU count as millicores ("500m"), bytes as a plain integer quantity.
fn cpu(cpus: f64) -> String {
    format!("{}m", (cpus * 1000.0).round() as u64)
}

fn resources(svc: &Service, notes: &mut Notes) -> Option<ResourceRequirements> {
    let r = &svc.deploy.resources;
    let quantities = |cpus: Option<f64>, memory: Option<u64>| {
        let mut m = BTreeMap::new();
        if let Some(c) = cpus {
            m.insert("cpu".to_string(), Quantity(cpu(c)));
        }
        if let Some(b) = memory {
            m.insert("memory".to_string(), Quantity(b.to_string()));
        }
        (!m.is_empty()).then_some(m)
    };
    if let Some(pids) = r.limits.pids.filter(|p| *p > 0) {
        notes.add(
            "deploy.resources.limits.pids",
            &pids.to_string(),
            "pod PID limits are a kubelet setting (podPidsLimit), not a pod field",
        );
    }
    let out = ResourceRequirements {
        limits: quantities(r.limits.cpus, r.limits.memory),
        requests: quantities(r.reservations.cpus, r.reservations.memory),
        ..ResourceRequirements::default()
    };
    (out != ResourceRequirements::default()).then_some(out)
}

fn security_context(svc: &Service, notes: &mut Notes) -> Option<SecurityContext> {
    let mut sc = SecurityContext::default();
    if let Some(user) = &svc.user {
        let (u, g) = user.split_once(':').unwrap_or((user, ""));
        match (u.parse().ok(), g.parse().ok()) {
            (Some(uid), gid) if g.is_empty() || gid.is_some() => {
                let (uid, gid): (i64, Option<i64>) = (uid, gid);
                sc.run_as_user = Some(uid);
                sc.run_as_group = gid;
            }
            _ => notes.add(
                "user",
                user,
                "Kubernetes takes numeric ids only (runAsUser/runAsGroup): the image's default user runs",
            ),
        }
    }
    sc.read_only_root_filesystem = svc.read_only.then_some(true);
    if !svc.cap_add.is_empty() || !svc.cap_drop.is_empty() {
        let caps = |v: &[String]| -> Option<Vec<String>> {
            some(
                v.iter()
                    .map(|c| c.trim_start_matches("CAP_").to_string())
                    .collect(),
            )
        };
        sc.capabilities = Some(Capabilities {
            add: caps(&svc.cap_add),
            drop: caps(&svc.cap_drop),
        });
    }
    (sc != SecurityContext::default()).then_some(sc)
}
