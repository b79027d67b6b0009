//! `version`, `system info`, `system df` and `system prune`: what the
//! instance holds and how big it is, and removing what nothing uses.

use clap::Args;
use comfy_table::{presets::NOTHING, Table};
use serde_json::{json, Value};

use super::containers::dir_size;
use super::images::{human_size, ImageUsers};
use super::{CliResult, Failure};
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// A Go template over Docker's fields, e.g. '{{.Client.Version}}' or '{{json .}}'
    #[arg(short, long)]
    format: Option<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only untagged ones
    #[arg(short, long)]
    all: bool,
    /// Do it (there is no prompt; without -f nothing is removed)
    #[arg(short, long)]
    force: bool,
    /// Remove the volumes no container uses too
    #[arg(long)]
    volumes: bool,
}

fn print_template(format: &str, value: &Value) -> CliResult {
    let template = crate::util::template::Template::parse(format).map_err(Failure::from)?;
    println!("{}", template.execute(value).map_err(Failure::from)?);
    Ok(0)
}

fn version_json() -> Value {
    json!({"Client": {
        "Platform": {"Name": "rcorch"},
        "Version": env!("CARGO_PKG_VERSION"),
        "Os": std::env::consts::OS,
        "Arch": std::env::consts::ARCH,
        "Context": "default",
    }})
}

/// `version`: rcorch is daemonless, so there is a client and no server.
pub fn version(args: &FormatArgs) -> CliResult {
    let v = version_json();
    if let Some(format) = &args.format {
        return print_template(format, &v);
    }
    let c = &v["Client"];
    println!("Client: rcorch (daemonless: no server)");
    println!(
        " Version:           {}",
        c["Version"].as_str().unwrap_or("")
    );
    println!(
        " OS/Arch:           {}/{}",
        c["Os"].as_str().unwrap_or(""),
        c["Arch"].as_str().unwrap_or("")
    );
    Ok(0)
}

fn first_line(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Docker's `info` fields that hold on a daemonless single host.
fn info_json(instance: &Instance) -> Result<Value, Failure> {
    let records = instance.containers.list()?;
    let count = |status: Status| {
        records
            .iter()
            .filter(|r| observed_status(&r.state) == status)
            .count()
    };
    let running = count(Status::Running);
    let paused = records
        .iter()
        .filter(|r| crate::runtime::pause::is_paused(instance, r))
        .count();
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .unwrap_or("Linux")
        .trim_matches('"');
    let mem_kib: u64 = first_line("/proc/meminfo")
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let cgroup_version = match instance.cgroup_layout()? {
        crate::cgroups::Layout::V1 { .. } => "1",
        crate::cgroups::Layout::V2 { .. } => "2",
    };
    Ok(json!({
        "Containers": records.len(),
        "ContainersRunning": running - paused,
        "ContainersPaused": paused,
        "ContainersStopped": records.len() - running,
        "Images": instance.images()?.list()?.len(),
        "Driver": "overlay",
        "CgroupDriver": instance.cgroup_manager.name(),
        "CgroupVersion": cgroup_version,
        "KernelVersion": first_line("/proc/sys/kernel/osrelease"),
        "OperatingSystem": os,
        "OSType": std::env::consts::OS,
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": mem_kib * 1024,
        "DockerRootDir": instance.root.display().to_string(),
        "Name": first_line("/proc/sys/kernel/hostname"),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
    }))
}

pub fn info(instance: &Instance, args: &FormatArgs) -> CliResult {
    let v = info_json(instance)?;
    if let Some(format) = &args.format {
        return print_template(format, &v);
    }
    let line = |label: &str, key: &str| {
        let value = match &v[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!(" {label}: {value}");
    };
    println!("Server:");
    line("Containers", "Containers");
    line(" Running", "ContainersRunning");
    line(" Paused", "ContainersPaused");
    line(" Stopped", "ContainersStopped");
    line("Images", "Images");
    line("Server Version", "ServerVersion");
    line("Storage Driver", "Driver");
    line("Cgroup Driver", "CgroupDriver");
    line("Cgroup Version", "CgroupVersion");
    line("Kernel Version", "KernelVersion");
    line("Operating System", "OperatingSystem");
    line("Architecture", "Architecture");
    line("CPUs", "NCPU");
    println!(
        " Total Memory: {}",
        human_size(v["MemTotal"].as_u64().unwrap_or(0))
    );
    line("Name", "Name");
    line("Docker Root Dir", "DockerRootDir");
    Ok(0)
}

/// `system df`: Docker's TYPE TOTAL ACTIVE SIZE RECLAIMABLE.
pub fn df(instance: &Instance) -> CliResult {
    let store = instance.images()?;
    let images = store.list()?;
    let records = instance.containers.list()?;
    let used: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.config.image_id.as_str()).collect();
    let active_images: Vec<_> = images
        .iter()
        .filter(|i| used.contains(i.id.as_str()))
        .collect();
    // Layers no image uses are the images' space too, all reclaimable.
    let orphan_size: u64 = crate::system::orphan_layer_dirs(instance)
        .iter()
        .map(|d| dir_size(d))
        .sum();
    let image_size: u64 = images.iter().map(|i| i.size).sum::<u64>() + orphan_size;
    let active_size: u64 = active_images.iter().map(|i| i.size).sum();
    let layer = |r: &crate::container::store::Record| {
        dir_size(
            &instance
                .containers
                .container_dir(&r.config.id)
                .join("upper"),
        )
    };
    let running: Vec<_> = records
        .iter()
        .filter(|r| observed_status(&r.state) == Status::Running)
        .collect();
    let container_size: u64 = records.iter().map(layer).sum();
    let running_size: u64 = running.iter().map(|r| layer(r)).sum();
    let volumes = crate::volume::store::VolumeStore::open(&instance.root).list()?;
    let configs = instance.containers.configs()?;
    let unused = crate::volume::unused(&volumes, &configs);
    let volume_size = |v: &crate::volume::Volume| dir_size(&v.mountpoint);
    let volumes_size: u64 = volumes.iter().map(volume_size).sum();
    let unused_size: u64 = volumes
        .iter()
        .filter(|v| unused.contains(&v.name.as_str()))
        .map(volume_size)
        .sum();
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_header(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    let rows = [
        (
            "Images",
            images.len(),
            active_images.len(),
            image_size,
            image_size - active_size,
        ),
        (
            "Containers",
            records.len(),
            running.len(),
            container_size,
            container_size - running_size,
        ),
        (
            "Local Volumes",
            volumes.len(),
            volumes.len() - unused.len(),
            volumes_size,
            unused_size,
        ),
    ];
    for (kind, total, active, size, reclaimable) in rows {
        table.add_row([
            kind.to_string(),
            total.to_string(),
            active.to_string(),
            human_size(size),
            human_size(reclaimable),
        ]);
    }
    println!("{table}");
    Ok(0)
}

/// `system prune`: stopped containers, unused networks, untagged images
/// (-a: every unused image), and with --volumes the unused volumes.
pub fn prune(instance: &Instance, args: &PruneArgs) -> CliResult {
    if !args.force {
        return Err(
            "system prune removes stopped containers, unused networks and images; confirm with -f"
                .into(),
        );
    }
    let mut code = 0;
    let stopped: Vec<String> = instance
        .containers
        .list()?
        .into_iter()
        .filter(|r| observed_status(&r.state) != Status::Running)
        .map(|r| r.config.id)
        .collect();
    if !stopped.is_empty() {
        println!("Deleted Containers:");
    }
    for id in &stopped {
        match crate::runtime::control::remove(instance, id, false) {
            Ok(Some(r)) => {
                let _ = crate::runtime::control::remove_anonymous_volumes(
                    instance,
                    id,
                    &r.config.mounts,
                );
                println!("{id}");
            }
            Ok(None) => println!("{id}"),
            Err(e) => {
                eprintln!("rcorch: {e}");
                code = 1;
            }
        }
    }
    super::network::prune(&crate::runtime::net::networks(&instance.root), true)?;
    prune_images(instance, args.all)?;
    if args.volumes {
        let store = crate::volume::store::VolumeStore::open(&instance.root);
        let lock = store.lock()?;
        let configs = instance.containers.configs()?;
        let volumes = store.list()?;
        let unused = crate::volume::unused(&volumes, &configs);
        if !unused.is_empty() {
            println!("Deleted Volumes:");
        }
        for name in unused {
            store.remove(&lock, name, &configs)?;
            println!("{name}");
        }
    }
    Ok(code)
}

fn prune_images(instance: &Instance, all: bool) -> Result<(), Failure> {
    let store = instance.images()?;
    let users = ImageUsers::read(instance, &store)?;
    let kept = |id: &str| users.kept(id);
    let mut lines = store.prune(&kept)?;
    let mentions = crate::system::layer_mentions(&instance.root);
    if all {
        for image in store.list()?.into_iter().filter(|i| !kept(&i.id)) {
            lines.extend(store.remove_keeping(&image.id, &kept, true, &mentions)?);
        }
    }
    let layers = crate::system::prune_orphan_layers(instance)?;
    lines.extend(layers.iter().map(|d| format!("Deleted: {d}")));
    if !lines.is_empty() {
        println!("Deleted Images:");
    }
    lines.iter().for_each(|l| println!("{l}"));
    Ok(())
}
