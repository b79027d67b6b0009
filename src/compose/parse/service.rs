//! One service block.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::value::{key_string, untag};
use super::{autoscale, deploy, files, host, networks, ports, volumes, Ctx, Result};
use crate::compose::error::ComposeError;
use crate::compose::locate::KeyPath;
use crate::compose::model::{
    Condition, Dependency, EnvFile, Logging, PullPolicy, Service, Ulimit, DEFAULT_STOP_GRACE_PERIOD,
};

/// Service keys compose defines that rcorch does not implement (yet).
const NOT_IMPLEMENTED: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "dns_opt",
    "dns_search",
    "domainname",
    "extends",
    "external_links",
    "gpus",
    "group_add",
    "ipc",
    "isolation",
    "label_file",
    "links",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "platform",
    "post_start",
    "pre_stop",
    "privileged",
    "provider",
    "runtime",
    "security_opt",
    "stdin_open",
    "storage_opt",
    "tty",
    "use_api_socket",
    "userns_mode",
    "uts",
    "volumes_from",
];

/// Service keys rcorch reads (`container_key` and `runtime_key`).
const HANDLED: &[&str] = &[
    "image",
    "pull_policy",
    "container_name",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "network_mode",
    "networks",
    "user",
    "working_dir",
    "hostname",
    "read_only",
    "cap_add",
    "cap_drop",
    "labels",
    "ulimits",
    "logging",
    "init",
    "stop_grace_period",
    "stop_signal",
    "profiles",
    "secrets",
    "configs",
    "depends_on",
    "healthcheck",
    "restart",
    "deploy",
    "scale",
    "cpus",
    "mem_limit",
    "pids_limit",
    "dns",
    "extra_hosts",
    "sysctls",
    "shm_size",
    "devices",
];

/// Service-level spellings that also live under `deploy` (deploy wins).
#[derive(Default)]
struct Legacy {
    scale: Option<(u32, KeyPath)>,
    cpus: Option<f64>,
    memory: Option<u64>,
    pids: Option<i64>,
}

pub fn service(ctx: &mut Ctx, body: &Value, at: &KeyPath) -> Result<Service> {
    let mut svc = Service {
        stop_grace_period: DEFAULT_STOP_GRACE_PERIOD,
        ..Service::default()
    };
    let mut legacy = Legacy::default();
    let mut has_build = false;
    for (k, v) in ctx.mapping(body, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        has_build |= key == "build";
        if !container_key(ctx, &mut svc, &key, v, &here)?
            && !runtime_key(ctx, &mut svc, &mut legacy, &key, v, &here)?
        {
            if key == autoscale::MISNAMED {
                return Err(ComposeError::MisnamedKey {
                    at: ctx.at(&here),
                    key: here.to_string(),
                    meant: autoscale::KEY,
                });
            } else if key.starts_with("x-") {
                svc.extensions.insert(key, v.clone());
            } else {
                ctx.unhandled(&here, &key, HANDLED, NOT_IMPLEMENTED)?;
            }
        }
    }
    if svc.image.is_none() && !has_build {
        return Err(ctx.missing(at, "image"));
    }
    if svc.pull_policy == Some(PullPolicy::Build) && !has_build {
        return Err(ctx.invalid(
            &at.key("pull_policy"),
            "build",
            "always, never or missing for a service without build:",
        ));
    }
    apply_legacy(ctx, &mut svc, legacy, at)?;
    Ok(svc)
}

/// What the container is: image, process, files, network. False if not ours.
fn container_key(
    ctx: &mut Ctx,
    svc: &mut Service,
    key: &str,
    v: &Value,
    at: &KeyPath,
) -> Result<bool> {
    match key {
        "image" => svc.image = Some(ctx.string(v, at)?),
        "build" => svc.build = Some(super::build::build(ctx, v, at)?),
        "pull_policy" => svc.pull_policy = Some(pull_policy(ctx, v, at)?),
        "container_name" => svc.container_name = Some(ctx.string(v, at)?),
        "command" => svc.command = Some(ctx.command(v, at)?),
        "entrypoint" => svc.entrypoint = Some(ctx.command(v, at)?),
        "environment" => {
            for (name, value) in ctx.map_or_list(v, at)? {
                // `KEY` alone takes its value from the environment, or stays unset.
                let value = value.or_else(|| ctx.env.get(&name).cloned());
                if value.as_deref().is_some_and(|v| v.contains('\0')) {
                    return Err(ctx.invalid(&at.key(&name), "a NUL byte", "a value without NUL"));
                }
                svc.environment.insert(name, value);
            }
        }
        "env_file" => svc.env_file = env_files(ctx, v, at)?,
        "ports" => svc.ports = ports::ports(ctx, v, at)?,
        "expose" => svc.expose = ports::expose(ctx, v, at)?,
        "volumes" => svc.volumes = volumes::mounts(ctx, v, at)?,
        "tmpfs" => svc.tmpfs = ctx.string_list(v, at)?,
        "network_mode" => svc.network_mode = Some(network_mode(ctx, v, at)?),
        "networks" => svc.networks = networks::attachments(ctx, v, at)?,
        "user" => svc.user = Some(ctx.string(v, at)?),
        "working_dir" => svc.working_dir = Some(ctx.string(v, at)?),
        "hostname" => svc.hostname = Some(ctx.string(v, at)?),
        "read_only" => svc.read_only = ctx.boolean(v, at)?,
        "cap_add" => svc.cap_add = ctx.string_list(v, at)?,
        "cap_drop" => svc.cap_drop = ctx.string_list(v, at)?,
        "labels" => svc.labels = ctx.labels(v, at)?,
        "secrets" => svc.secrets = files::references(ctx, v, at, files::Kind::Secret)?,
        "configs" => svc.configs = files::references(ctx, v, at, files::Kind::Config)?,
        "ulimits" => svc.ulimits = ulimits(ctx, v, at)?,
        "logging" => svc.logging = Some(logging(ctx, v, at)?),
        "dns" => svc.dns = ctx.string_list(v, at)?,
        "extra_hosts" => svc.extra_hosts = host::extra_hosts(ctx, v, at)?,
        "sysctls" => svc.sysctls = host::sysctls(ctx, v, at)?.into_iter().collect(),
        "shm_size" => svc.shm_size = Some(host::shm_size(ctx, v, at)?),
        "devices" => svc.devices = host::devices(ctx, v, at)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// How the container is run and kept alive. False if not ours.
fn runtime_key(
    ctx: &mut Ctx,
    svc: &mut Service,
    legacy: &mut Legacy,
    key: &str,
    v: &Value,
    at: &KeyPath,
) -> Result<bool> {
    match key {
        "init" => svc.init = ctx.boolean(v, at)?,
        "stop_grace_period" => svc.stop_grace_period = ctx.duration(v, at)?,
        "stop_signal" => svc.stop_signal = Some(ctx.string(v, at)?),
        "profiles" => svc.profiles = ctx.string_list(v, at)?,
        "depends_on" => svc.depends_on = depends_on(ctx, v, at)?,
        "healthcheck" => svc.healthcheck = Some(deploy::healthcheck(ctx, v, at)?),
        "restart" => svc.restart = deploy::restart(ctx, v, at)?,
        "deploy" => svc.deploy = deploy::deploy(ctx, v, at)?,
        "scale" => legacy.scale = Some((ctx.uint(v, at)?, at.clone())),
        "cpus" => legacy.cpus = Some(ctx.float(v, at)?),
        "mem_limit" => legacy.memory = Some(deploy::bytes(ctx, v, at)?),
        "pids_limit" => legacy.pids = Some(ctx.int(v, at)?),
        autoscale::KEY => svc.autoscale = Some(autoscale::autoscale(ctx, v, at)?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn apply_legacy(ctx: &Ctx, svc: &mut Service, legacy: Legacy, at: &KeyPath) -> Result<()> {
    let limits = &mut svc.deploy.resources.limits;
    limits.cpus = limits.cpus.or(legacy.cpus);
    limits.memory = limits.memory.or(legacy.memory);
    limits.pids = limits.pids.or(legacy.pids);
    if let Some((scale, scale_at)) = legacy.scale {
        match svc.deploy.replicas {
            Some(replicas) if replicas != scale => {
                let service = at.0.last().map(|s| KeyPath(vec![s.clone()]).to_string());
                return Err(ComposeError::ScaleMismatch {
                    at: ctx.at(&scale_at),
                    service: service.unwrap_or_default(),
                    scale,
                    replicas,
                });
            }
            _ => svc.deploy.replicas = Some(scale),
        }
    }
    Ok(())
}

/// compose's `pull_policy`; the refresh intervals (`daily`, `weekly`,
/// `every_<duration>`) pull a missing image only, with a warning.
fn pull_policy(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<PullPolicy> {
    let text = ctx.string(v, at)?;
    Ok(match text.as_str() {
        "always" => PullPolicy::Always,
        "never" => PullPolicy::Never,
        "missing" | "if_not_present" => PullPolicy::Missing,
        "build" => PullPolicy::Build,
        "daily" | "weekly" => refresh(ctx, at),
        every
            if every
                .strip_prefix("every_")
                .is_some_and(|d| crate::compose::scalar::parse_duration(d).is_some()) =>
        {
            refresh(ctx, at)
        }
        other => {
            return Err(ctx.invalid(
                at,
                other,
                "always, never, missing, build, daily, weekly or every_<duration>",
            ))
        }
    })
}

fn refresh(ctx: &mut Ctx, at: &KeyPath) -> PullPolicy {
    ctx.warn(at, crate::compose::error::WarningKind::NotImplemented);
    PullPolicy::Missing
}

fn env_files(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<Vec<EnvFile>> {
    let items: Vec<(Value, KeyPath)> = match untag(v) {
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.clone(), at.index(i)))
            .collect(),
        other => vec![(other.clone(), at.clone())],
    };
    let mut out = Vec::new();
    for (item, here) in items {
        let (path, required) = match untag(&item) {
            Value::Mapping(m) => {
                let path = m.get("path").ok_or_else(|| ctx.missing(&here, "path"))?;
                let required = match m.get("required") {
                    Some(r) => ctx.boolean(r, &here.key("required"))?,
                    None => true,
                };
                (ctx.string(path, &here.key("path"))?, required)
            }
            other => (ctx.string(other, &here)?, true),
        };
        out.push(EnvFile {
            path: ctx.host_path(&path),
            required,
        });
    }
    Ok(out)
}

fn depends_on(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<BTreeMap<String, Dependency>> {
    let mut out = BTreeMap::new();
    if let Value::Sequence(_) = untag(v) {
        for name in ctx.string_list(v, at)? {
            out.insert(name, Dependency::default());
        }
        return Ok(out);
    }
    for (k, body) in ctx.mapping(v, at)? {
        let name = key_string(k);
        let here = at.key(&name);
        let mut dep = Dependency::default();
        for (k, v) in ctx.mapping(body, &here)? {
            let key = key_string(k);
            let there = here.key(&key);
            match key.as_str() {
                "condition" => dep.condition = condition(ctx, v, &there)?,
                "restart" => dep.restart = ctx.boolean(v, &there)?,
                "required" => dep.required = ctx.boolean(v, &there)?,
                _ => ctx.unhandled(&there, &key, &["condition", "restart", "required"], &[])?,
            }
        }
        out.insert(name, dep);
    }
    Ok(out)
}

fn condition(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<Condition> {
    let text = ctx.string(v, at)?;
    match text.as_str() {
        "service_started" => Ok(Condition::ServiceStarted),
        "service_healthy" => Ok(Condition::ServiceHealthy),
        "service_completed_successfully" => Ok(Condition::ServiceCompletedSuccessfully),
        _ => Err(ctx.invalid(
            at,
            &text,
            "service_started, service_healthy or service_completed_successfully",
        )),
    }
}

fn ulimits(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<BTreeMap<String, Ulimit>> {
    let mut out = BTreeMap::new();
    for (k, body) in ctx.mapping(v, at)? {
        let name = key_string(k);
        let here = at.key(&name);
        let limit = match untag(body) {
            Value::Mapping(m) => {
                let get = |field: &'static str| -> Result<i64> {
                    let v = m.get(field).ok_or_else(|| ctx.missing(&here, field))?;
                    ctx.int(v, &here.key(field))
                };
                Ulimit {
                    soft: get("soft")?,
                    hard: get("hard")?,
                }
            }
            other => {
                let n = ctx.int(other, &here)?;
                Ulimit { soft: n, hard: n }
            }
        };
        out.insert(name, limit);
    }
    Ok(out)
}

/// `logging: {driver, options}`; the driver and options are checked by `up`
/// (as `run` checks `--log-driver`/`--log-opt`).
fn logging(ctx: &mut Ctx, v: &Value, at: &KeyPath) -> Result<Logging> {
    let mut out = Logging::default();
    for (k, body) in ctx.mapping(v, at)? {
        let key = key_string(k);
        let here = at.key(&key);
        match key.as_str() {
            "driver" => out.driver = Some(ctx.string(body, &here)?),
            "options" => {
                for (name, value) in ctx.map_or_list(body, &here)? {
                    out.options.insert(name, value.unwrap_or_default());
                }
            }
            _ => ctx.unhandled(&here, &key, &["driver", "options"], &[])?,
        }
    }
    Ok(out)
}

/// `bridge`, `host` or `none`. Sharing another service's or container's
/// namespaces is not implemented, and any other word (which Docker would
/// take for a network's name) is refused here, by key, rather than failing
/// later as a missing network.
fn network_mode(ctx: &Ctx, v: &Value, at: &KeyPath) -> Result<String> {
    let mode = ctx.string(v, at)?;
    if matches!(mode.as_str(), "bridge" | "host" | "none") {
        return Ok(mode);
    }
    Err(ctx.invalid(
        at,
        &mode,
        "bridge, host or none (service:NAME and container:NAME are not supported by rcorch yet; to join a network by name, list it under networks:)",
    ))
}
