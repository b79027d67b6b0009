//! Whole-project checks once every service is parsed: references resolve,
//! depends_on has no cycle, container names are unique. Also fills in the
//! implicit `default` network, as compose does.

use std::collections::{BTreeMap, BTreeSet};

use super::error::ComposeError;
use super::locate::KeyPath;
use super::model::{MountKind, Port, Project, Protocol, ServiceNetwork};
use super::parse::Ctx;

type Result<T> = std::result::Result<T, ComposeError>;

fn svc_path(name: &str) -> KeyPath {
    KeyPath::root().key("services").key(name)
}

/// Checks and completes a parsed project.
pub fn validate(ctx: &Ctx, project: &mut Project) -> Result<()> {
    default_network(project);
    references(ctx, project)?;
    topological_order(project).map_err(|cycle| ComposeError::DependencyCycle {
        at: ctx.at(&svc_path(&cycle[0]).key("depends_on")),
        first: cycle[0].clone(),
        cycle,
    })?;
    container_names(ctx, project)?;
    published_ports(ctx, project)
}

/// Services with neither `networks` nor `network_mode` join `default`.
fn default_network(project: &mut Project) {
    let mut uses_default = false;
    for svc in project.services.values_mut() {
        if svc.network_mode.is_none() && svc.networks.is_empty() {
            svc.networks
                .insert("default".into(), ServiceNetwork::default());
        }
        uses_default |= svc.networks.contains_key("default");
    }
    if uses_default {
        project.networks.entry("default".into()).or_default();
    }
}

fn references(ctx: &Ctx, project: &mut Project) -> Result<()> {
    let names: BTreeSet<String> = project.services.keys().cloned().collect();
    for (name, svc) in project.services.iter_mut() {
        let undefined = |key: KeyPath, kind, target: &str| ComposeError::Undefined {
            at: ctx.at(&key),
            key: key.to_string(),
            service: name.clone(),
            kind,
            name: target.to_string(),
        };
        for net in svc.networks.keys() {
            if !project.networks.contains_key(net) {
                return Err(undefined(
                    svc_path(name).key("networks").key(net),
                    "network",
                    net,
                ));
            }
        }
        for (i, mount) in svc.volumes.iter().enumerate() {
            let named = mount
                .source
                .as_deref()
                .filter(|_| mount.kind == MountKind::Volume);
            if let Some(vol) = named.filter(|v| !project.volumes.contains_key(*v)) {
                return Err(undefined(
                    svc_path(name).key("volumes").index(i),
                    "volume",
                    vol,
                ));
            }
        }
        let defined = [
            ("secrets", "secret", &svc.secrets, &project.secrets),
            ("configs", "config", &svc.configs, &project.configs),
        ];
        for (key, kind, refs, defs) in defined {
            if let Some((i, r)) = refs
                .iter()
                .enumerate()
                .find(|(_, r)| !defs.contains_key(&r.source))
            {
                return Err(undefined(svc_path(name).key(key).index(i), kind, &r.source));
            }
        }
        // An optional dependency on a service that does not exist is dropped.
        svc.depends_on
            .retain(|dep, d| d.required || names.contains(dep));
        for dep in svc.depends_on.keys() {
            if !names.contains(dep) {
                return Err(undefined(
                    svc_path(name).key("depends_on").key(dep),
                    "service",
                    dep,
                ));
            }
        }
    }
    Ok(())
}

fn container_names(ctx: &Ctx, project: &Project) -> Result<()> {
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for (name, svc) in &project.services {
        let key = svc_path(name).key("container_name");
        let names: Vec<String> = match &svc.container_name {
            Some(_) if svc.replicas() > 1 => {
                return Err(ComposeError::ContainerNameWithReplicas {
                    at: ctx.at(&key),
                    key: key.to_string(),
                    service: name.clone(),
                    replicas: svc.replicas(),
                });
            }
            Some(explicit) => vec![explicit.clone()],
            None => (1..=svc.replicas())
                .map(|n| format!("{}-{name}-{n}", project.name))
                .collect(),
        };
        for container in names {
            if let Some(first) = taken.insert(container.clone(), name.clone()) {
                return Err(ComposeError::DuplicateContainerName {
                    at: ctx.at(&key),
                    key: key.to_string(),
                    name: container,
                    first,
                    second: name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// No host port is published by two services (replicas of one service share
/// theirs through the balancer).
fn published_ports(ctx: &Ctx, project: &Project) -> Result<()> {
    let mut seen: Vec<(&str, &Port)> = Vec::new();
    for (name, svc) in &project.services {
        for (i, port) in svc.ports.iter().enumerate() {
            let Some(range) = port.published else {
                continue;
            };
            let clash = seen.iter().find(|(other, p)| {
                other != name && p.protocol == port.protocol && overlaps(p, port)
            });
            if let Some((first, p)) = clash {
                let key = svc_path(name).key("ports").index(i);
                let first_range = p.published.expect("only published ports are kept");
                return Err(ComposeError::DuplicatePublishedPort {
                    at: ctx.at(&key),
                    key: key.to_string(),
                    port: range.start.max(first_range.start),
                    protocol: protocol_name(port.protocol),
                    first: first.to_string(),
                    second: name.clone(),
                });
            }
            seen.push((name, port));
        }
    }
    Ok(())
}

/// Same host address (or either on all addresses) and overlapping ranges.
fn overlaps(a: &Port, b: &Port) -> bool {
    let (Some(ra), Some(rb)) = (a.published, b.published) else {
        return false;
    };
    let any = |ip: Option<std::net::IpAddr>| ip.is_none_or(|ip| ip.is_unspecified());
    let same_host = any(a.host_ip) || any(b.host_ip) || a.host_ip == b.host_ip;
    same_host && ra.start <= rb.end && rb.start <= ra.end
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// Services ordered so each comes after everything it depends on (ties by
/// name). Err holds a cycle, first name repeated at the end: `[a, b, a]`.
pub fn topological_order(project: &Project) -> std::result::Result<Vec<String>, Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> = project
        .services
        .iter()
        .map(|(name, svc)| {
            let known = svc
                .depends_on
                .keys()
                .filter(|d| project.services.contains_key(*d));
            (name.as_str(), known.map(String::as_str).collect())
        })
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < deps.len() {
        let ready: Vec<&str> = deps
            .iter()
            .filter(|(n, ds)| !done.contains(*n) && ds.iter().all(|d| done.contains(d)))
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            return Err(find_cycle(&deps, &done));
        }
        for n in ready {
            done.insert(n);
            order.push(n.to_string());
        }
    }
    Ok(order)
}

/// Walks unresolved dependencies from the first stuck service until a name repeats.
fn find_cycle(deps: &BTreeMap<&str, Vec<&str>>, done: &BTreeSet<&str>) -> Vec<String> {
    let stuck = |n: &str| !done.contains(n);
    let mut path: Vec<&str> = vec![deps.keys().copied().find(|n| stuck(n)).unwrap_or_default()];
    loop {
        let last = path[path.len() - 1];
        let next = deps[last]
            .iter()
            .copied()
            .find(|d| stuck(d))
            .unwrap_or(last);
        if let Some(start) = path.iter().position(|n| *n == next) {
            let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
            cycle.push(next.to_string());
            return cycle;
        }
        path.push(next);
    }
}
