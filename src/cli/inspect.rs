//! `inspect [-f TEMPLATE] [--type T] NAME…`: containers in Docker's shape,
//! and images, volumes and networks by the same verb, as Docker finds them.

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::format::{parse_inspect, print_inspected};
use super::health::ProjectHealth;
use super::netview::NetView;
use super::ps_format::state_word;
use super::CliResult;
use crate::container::store::Record;
use crate::container::{ContainerConfig, MountKind, MountSpec, NetworkMode, Status};
use crate::image::ImageConfig;
use crate::instance::Instance;
use crate::network::{NetState, PortMapping};
use crate::runtime::control::observed_status;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A Go template, e.g. '{{.State.Pid}}' or '{{json .Config}}'
    #[arg(short, long)]
    format: Option<String>,
    /// Only this kind of object (default: a container, else an image,
    /// a volume, a network)
    #[arg(long = "type", value_enum)]
    kind: Option<Kind>,
    /// Accepted for Docker's sake: sizes are not computed
    #[arg(short, long)]
    size: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Container,
    Image,
    Volume,
    Network,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Image => "image",
            Kind::Volume => "volume",
            Kind::Network => "network",
        }
    }
}

/// `container inspect`, `image inspect`…: one kind whatever `--type` says.
pub fn inspect_only(instance: &Instance, args: &InspectArgs, kind: Kind) -> CliResult {
    inspect_kind(instance, args, Some(kind))
}

pub fn inspect(instance: &Instance, args: &InspectArgs) -> CliResult {
    inspect_kind(instance, args, args.kind)
}

fn inspect_kind(instance: &Instance, args: &InspectArgs, kind: Option<Kind>) -> CliResult {
    let template = parse_inspect(args.format.as_deref())?;
    let view = NetView::load(&instance.root);
    let mut found = Vec::new();
    let mut code = 0;
    for name in &args.names {
        match lookup(instance, &view, name, kind) {
            Ok(v) => found.push(v),
            Err(e) => {
                eprintln!("rcorch: {e}");
                code = 1;
            }
        }
    }
    print_inspected(template.as_ref(), &found)?;
    Ok(code)
}

/// The first object called `name`; when there is none, the container
/// lookup's error (it suggests close names), else a "no such KIND" one.
fn lookup(
    instance: &Instance,
    view: &NetView,
    name: &str,
    kind: Option<Kind>,
) -> Result<Value, String> {
    let wants = |k: Kind| kind.is_none_or(|want| want == k);
    let mut error = format!("no such {}: {name}", kind.map_or("object", Kind::word));
    if wants(Kind::Container) {
        match container(instance, view, name) {
            Ok(v) => return Ok(v),
            Err(e) => error = e,
        }
    }
    if wants(Kind::Image) {
        if let Some(im) = instance.images().ok().and_then(|s| s.resolve(name).ok()) {
            return Ok(super::images::image_json(&im));
        }
    }
    if wants(Kind::Volume) {
        let store = crate::volume::store::VolumeStore::open(&instance.root);
        if let Ok(v) = store.get(name) {
            return Ok(crate::volume::inspect_json(&v));
        }
    }
    if wants(Kind::Network) {
        if let Some(n) = view.state().networks.get(name) {
            return Ok(super::network::inspect_json(
                n,
                view.state().endpoints_on(name),
            ));
        }
    }
    Err(error)
}

fn container(instance: &Instance, view: &NetView, name: &str) -> Result<Value, String> {
    let record = instance
        .containers
        .resolve(name)
        .and_then(|id| instance.containers.load(&id))
        .map_err(|e| e.to_string())?;
    let image = instance
        .images()
        .ok()
        .and_then(|s| s.resolve(&record.config.image_id).ok());
    let mut json = container_json(&record, view.state(), image.as_ref().map(|im| &im.config));
    let health = ProjectHealth::load(instance, std::slice::from_ref(&record));
    if let Some(report) = health.report(&record) {
        json["State"]["Health"] = super::health::health_json(&report);
    }
    if let Some(check) = &record.config.health {
        json["Config"]["Healthcheck"] = crate::container::health::docker_json(check);
    }
    if health.restarting(&record) {
        json["State"]["Restarting"] = true.into();
        json["State"]["Status"] = "restarting".into();
    }
    if crate::runtime::pause::is_paused(instance, &record) {
        json["State"]["Paused"] = true.into();
        json["State"]["Status"] = "paused".into();
    }
    if let Some(lb) = view.inspect(&record) {
        json["LoadBalancer"] = lb;
    }
    Ok(json)
}

/// A container as `docker inspect` shows it, with rcorch's own fields
/// (`State.MonitorPid`, `ImageName`, `LoadBalancer`) beside Docker's.
/// `image`: the image's config, to split the command into Entrypoint and Cmd.
pub fn container_json(r: &Record, net: &NetState, image: Option<&ImageConfig>) -> Value {
    let (c, s) = (&r.config, &r.state);
    let configured = matches!(c.network, NetworkMode::Bridge(_)).then(|| c.network.name());
    let networks = crate::network::endpoints::settings(net, &c.id, configured);
    let ip = configured
        .and_then(|n| networks.get(n))
        .map(|e| e.ip_address.clone())
        .unwrap_or_default();
    let status = observed_status(s);
    let running = status == Status::Running;
    let published: Vec<&PortMapping> = net.endpoints_of(&c.id).flat_map(|e| &e.ports).collect();
    let (entrypoint, cmd) = split_command(&c.args, image.and_then(|i| i.entrypoint.as_ref()));
    json!({
        "Id": c.id,
        "Name": format!("/{}", c.name),
        "Created": c.created,
        "Path": c.args.first(),
        "Args": c.args.get(1..).unwrap_or_default(),
        "Image": c.image_id,
        "ImageName": c.image,
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "State": {
            "Status": state_word(status),
            "Running": running,
            "Paused": false,
            "Restarting": false,
            "OOMKilled": s.oom_killed,
            "Dead": false,
            "Pid": if running { s.pid.unwrap_or(0) } else { 0 },
            "MonitorPid": s.monitor_pid,
            // podman's: where the container's cgroup is, for either manager.
            "CgroupPath": crate::cgroups::container_path(c.cgroup_manager, &c.cgroup_parent, &c.id),
            "ExitCode": s.exit_code.unwrap_or(0),
            "Error": s.error.clone().unwrap_or_default(),
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        },
        "Config": config_json(c, entrypoint, cmd, image),
        "HostConfig": host_config_json(c),
        "NetworkSettings": {
            "IPAddress": ip,
            "Ports": port_map(&published, true),
            "Networks": networks,
        },
        "Mounts": c.mounts.iter().map(mount_json).collect::<Vec<_>>(),
    })
}

/// Docker keeps the entrypoint apart from the command; rcorch stores the
/// resolved argv, so the image's entrypoint is split off when it leads.
fn split_command(
    args: &[String],
    entrypoint: Option<&Vec<String>>,
) -> (Option<Vec<String>>, Vec<String>) {
    match entrypoint {
        Some(ep) if !ep.is_empty() && args.starts_with(ep) => {
            (Some(ep.clone()), args[ep.len()..].to_vec())
        }
        _ => (None, args.to_vec()),
    }
}

fn config_json(
    c: &ContainerConfig,
    entrypoint: Option<Vec<String>>,
    cmd: Vec<String>,
    image: Option<&ImageConfig>,
) -> Value {
    let user = match (c.user.uid, c.user.gid) {
        (0, 0) => String::new(),
        (uid, gid) => format!("{uid}:{gid}"),
    };
    json!({
        "Hostname": c.hostname,
        "Domainname": "",
        "User": user,
        "Env": c.env,
        "Cmd": cmd,
        "Image": c.image,
        "Entrypoint": entrypoint,
        "WorkingDir": c.working_dir,
        "Labels": c.labels,
        "ExposedPorts": image.and_then(|i| i.exposed_ports.clone()),
        "Tty": c.tty,
        "OpenStdin": c.interactive,
        "StopSignal": c.stop_signal,
        "StopTimeout": c.stop_timeout,
    })
}

/// Docker's MemorySwap: memory plus swap, -1 unlimited (no --memory-swap
/// means no swap here, so it equals the memory limit).
fn memory_swap_json(limits: &crate::cgroups::Limits) -> i64 {
    use crate::cgroups::tuning::Swap;
    match limits.memory_swap {
        Some(Swap::Unlimited) => -1,
        Some(Swap::Total(total)) => total as i64,
        None => limits.memory.unwrap_or(0) as i64,
    }
}

fn host_config_json(c: &ContainerConfig) -> Value {
    let binds: Vec<String> = c
        .mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs)
        .map(|m| {
            let source = m
                .volume
                .clone()
                .unwrap_or_else(|| m.source.display().to_string());
            let mode = if m.read_only { ":ro" } else { "" };
            format!("{source}:{}{mode}", m.destination.display())
        })
        .collect();
    let bindings: Vec<&PortMapping> = match &c.network {
        NetworkMode::Bridge(spec) => spec.ports.iter().collect(),
        _ => Vec::new(),
    };
    let nano_cpus = c
        .limits
        .cpu
        .filter(|q| q.period_us > 0)
        .map_or(0, |q| q.quota_us * 1_000_000_000 / q.period_us);
    json!({
        "Binds": binds,
        "NetworkMode": c.network.name(),
        "PortBindings": port_map(&bindings, false),
        "RestartPolicy": {
            "Name": c.restart.docker_name(),
            "MaximumRetryCount": c.restart.max_retries,
        },
        "AutoRemove": c.auto_remove,
        "Privileged": c.extras.privileged,
        "Devices": devices_json(c),
        "CapAdd": c.cap_add,
        "CapDrop": c.cap_drop,
        "ReadonlyRootfs": c.read_only,
        "Init": c.init,
        "Memory": c.limits.memory.unwrap_or(0),
        "MemorySwap": memory_swap_json(&c.limits),
        "MemoryReservation": c.limits.memory_reservation.unwrap_or(0),
        "CpuShares": c.limits.cpu_shares.unwrap_or(0),
        "CpusetCpus": c.limits.cpuset_cpus.clone().unwrap_or_default(),
        "CpusetMems": c.limits.cpuset_mems.clone().unwrap_or_default(),
        "BlkioWeight": c.limits.blkio_weight.unwrap_or(0),
        "NanoCpus": nano_cpus,
        "CpuPeriod": c.limits.cpu.map(|q| q.period_us).unwrap_or(0),
        "CpuQuota": c.limits.cpu.map(|q| q.quota_us).unwrap_or(0),
        "PidsLimit": c.limits.pids,
        "CgroupParent": c.cgroup_parent,
        "CgroupManager": c.cgroup_manager.name(),
        "LogConfig": log_config_json(&c.log),
    })
}

/// Docker's `HostConfig.Devices`: the `--device` nodes.
fn devices_json(c: &ContainerConfig) -> serde_json::Value {
    let devices: Vec<_> = c
        .extras
        .devices
        .iter()
        .map(|d| {
            json!({
                "PathOnHost": d.host,
                "PathInContainer": d.path,
                "CgroupPermissions": d.access,
            })
        })
        .collect();
    json!(devices)
}

/// Docker's `HostConfig.LogConfig`: the driver and its options as given.
fn log_config_json(log: &crate::container::logging::LogConfig) -> Value {
    let mut config = serde_json::Map::new();
    if let Some(size) = log.max_size {
        config.insert("max-size".into(), size.to_string().into());
    }
    if let Some(files) = log.max_file {
        config.insert("max-file".into(), files.to_string().into());
    }
    json!({"Type": log.driver_name(), "Config": config})
}

/// `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`. `bound`: the
/// host address as published (0.0.0.0 for all), else as asked ("" for all).
fn port_map(ports: &[&PortMapping], bound: bool) -> Value {
    let mut map = serde_json::Map::new();
    for p in ports {
        let host_ip = match p.host_ip {
            Some(ip) => ip.to_string(),
            None if bound => "0.0.0.0".into(),
            None => String::new(),
        };
        let entry = map
            .entry(format!("{}/{}", p.container_port, p.proto))
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(json!({ "HostIp": host_ip, "HostPort": p.host_port.to_string() }));
        }
    }
    Value::Object(map)
}

/// One entry of inspect's `Mounts`, as Docker shows it.
fn mount_json(m: &MountSpec) -> Value {
    let kind = match m.kind {
        MountKind::Bind => "bind",
        MountKind::Tmpfs => "tmpfs",
        MountKind::Volume => "volume",
    };
    let mut v = json!({
        "Type": kind,
        "Source": m.source,
        "Destination": m.destination,
        "Mode": if m.read_only { "ro" } else { "" },
        "RW": !m.read_only,
        "Propagation": if m.kind == MountKind::Bind { "rprivate" } else { "" },
    });
    if let Some(name) = &m.volume {
        v["Name"] = json!(name);
        v["Driver"] = json!(crate::volume::DRIVER);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::split_command;

    #[test]
    fn the_images_entrypoint_is_split_from_the_command() {
        let args: Vec<String> = ["/init", "nginx", "-g"].map(String::from).to_vec();
        let ep = vec!["/init".to_string()];
        let (e, c) = split_command(&args, Some(&ep));
        assert_eq!((e, c), (Some(ep.clone()), args[1..].to_vec()));
        let other = vec!["/other".to_string()];
        assert_eq!(split_command(&args, Some(&other)), (None, args.clone()));
        assert_eq!(split_command(&args, None), (None, args.clone()));
    }
}
