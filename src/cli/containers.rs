//! `ps`, `stop`, `kill`, `rm` and `inspect`.

use std::time::SystemTime;

use clap::Args;
use comfy_table::{presets::NOTHING, Table};
use serde_json::json;

use super::health::ProjectHealth;
use super::netview::NetView;
use super::{CliResult, Failure};
use crate::container::build::parse_signal;
use crate::container::store::Record;
use crate::container::{MountKind, MountSpec, NetworkMode, Status};
use crate::instance::Instance;
use crate::network::NetState;
use crate::project::{ProjectDir, LABEL_PROJECT, LABEL_SERVICE};
use crate::runtime::control::{self, observed_status};
use crate::util::time::{human_duration, parse_rfc3339};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default: running only)
    #[arg(short, long)]
    all: bool,
    /// Only ids
    #[arg(short, long)]
    quiet: bool,
    /// table (default), json, or a Go template: '{{.Names}}',
    /// 'table {{.ID}}\t{{.Status}}', '{{json .}}'
    #[arg(long, default_value = "table")]
    format: String,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before SIGKILL (default: the container's --stop-timeout)
    #[arg(short = 't', long = "time")]
    time: Option<u64>,
    /// Stop a compose project's services (all, or those named) instead
    #[arg(short, long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Containers; with -p, services
    #[arg(required_unless_present = "project_name")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill a running container first
    #[arg(short, long)]
    force: bool,
    /// Remove the container's anonymous volumes too (named volumes stay, as in Docker)
    #[arg(short, long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn ago(timestamp: Option<&str>) -> String {
    let since = timestamp
        .and_then(parse_rfc3339)
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    since.map(human_duration).unwrap_or_default()
}

/// Docker's STATUS column: "Up 5 seconds", "Exited (0) 3 minutes ago", "Created".
pub fn status_text(record: &Record) -> String {
    let state = &record.state;
    match observed_status(state) {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", ago(state.started_at.as_deref())),
        Status::Exited => match state.exit_code {
            Some(code) => format!("Exited ({code}) {} ago", ago(state.finished_at.as_deref())),
            None => "Exited (unknown): its monitor is gone".into(),
        },
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Created => "created",
        Status::Running => "running",
        Status::Exited => "exited",
    }
}

pub fn ps(instance: &Instance, args: &PsArgs) -> CliResult {
    // A template is checked before anything is read, so a bad one fails alone.
    let template = match args.format.as_str() {
        "table" | "json" => None,
        text => Some(super::ps_format::parse(text).map_err(|e| Failure::from(e.to_string()))?),
    };
    let scan = instance.containers.scan()?;
    for broken in &scan.broken {
        eprintln!("rcorch: warning: {}", broken.report());
    }
    let mut records = scan.records;
    let health = ProjectHealth::load(instance, &records);
    // A restarting container counts as running, as in Docker.
    records.retain(|r| {
        args.all || observed_status(&r.state) == Status::Running || health.restarting(r)
    });
    records.sort_by(|a, b| b.config.created.cmp(&a.config.created));
    if args.quiet {
        for r in &records {
            println!("{}", &r.config.id[..12]);
        }
        return Ok(0);
    }
    let net = NetView::load(&instance.root);
    if let Some(template) = template {
        let rows: Vec<_> = records
            .iter()
            .map(|r| {
                let mut row = super::ps_format::row(r, &net);
                row["Status"] = json!(health.status(r));
                row["State"] = json!(health.state_word(r, row["State"].as_str().unwrap_or("")));
                row
            })
            .collect();
        print!("{}", template.render(&rows, super::ps_format::FIELDS));
        return Ok(0);
    }
    if args.format == "json" {
        let rows: Vec<_> = records
            .iter()
            .map(|r| {
                json!({
                    "Id": r.config.id, "Names": r.config.name, "Image": r.config.image,
                    "Command": r.config.args.join(" "), "CreatedAt": r.config.created,
                    "State": health.state_word(r, status_word(observed_status(&r.state))),
                    "Status": health.status(r),
                    "Ports": net.ports(r), "Balancer": net.balancer(r),
                    "Strategy": net.strategy(r),
                    "Project": label(r, LABEL_PROJECT), "Service": label(r, LABEL_SERVICE),
                })
            })
            .collect();
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(0);
    }
    let mut table = Table::new();
    table.load_preset(NOTHING).set_header([
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
        "PROJECT",
        "SERVICE",
        "BALANCER",
    ]);
    for r in &records {
        let mut command = r.config.args.join(" ");
        if command.len() > 20 {
            command.truncate(19);
            command.push('…');
        }
        table.add_row([
            r.config.id[..12].to_string(),
            r.config.image.clone(),
            format!("\"{command}\""),
            format!("{} ago", ago(Some(&r.config.created))),
            health.status(r),
            net.ports(r),
            r.config.name.clone(),
            label(r, LABEL_PROJECT),
            label(r, LABEL_SERVICE),
            net.balancer_column(r),
        ]);
    }
    println!("{table}");
    for line in rollout_progress(instance, &records) {
        println!("{line}");
    }
    Ok(0)
}

/// Rolling updates in progress or paused, for the projects listed.
fn rollout_progress(instance: &Instance, records: &[Record]) -> Vec<String> {
    let projects: std::collections::BTreeSet<String> =
        records.iter().map(|r| label(r, LABEL_PROJECT)).collect();
    let mut lines = Vec::new();
    for name in projects.iter().filter(|p| !p.is_empty()) {
        for r in ProjectDir::new(&instance.root, name)
            .load_rollouts()
            .values()
        {
            if r.phase != crate::supervisor::rollout::Phase::Completed {
                lines.push(format!(
                    "{name}/{}: {}",
                    r.service,
                    crate::project::rollouts::describe(r)
                ));
            }
        }
    }
    lines
}

/// Runs `action` on each container, printing what it returns; the exit code
/// is 1 if any failed (Docker's behaviour for multi-container verbs).
fn for_each(
    references: &[String],
    mut action: impl FnMut(&str) -> Result<(), Failure>,
) -> CliResult {
    let mut code = 0;
    for reference in references {
        if let Err(f) = action(reference) {
            eprintln!("rcorch: {}", f.message);
            code = 1;
        }
    }
    Ok(code)
}

pub fn stop(instance: &Instance, args: &StopArgs) -> CliResult {
    if let Some(project) = &args.project_name {
        return super::project::stop_services(instance, project, &args.containers);
    }
    for_each(&args.containers, |c| {
        control::stop(instance, c, args.time)?;
        println!("{c}");
        Ok(())
    })
}

pub fn kill(instance: &Instance, args: &KillArgs) -> CliResult {
    let signal = parse_signal(&args.signal)?;
    let signal = nix::sys::signal::Signal::try_from(signal)?;
    for_each(&args.containers, |c| {
        control::kill(instance, c, signal)?;
        println!("{c}");
        Ok(())
    })
}

pub fn rm(instance: &Instance, args: &RmArgs) -> CliResult {
    for_each(&args.containers, |c| {
        let record = control::remove(instance, c, args.force)?;
        if let Some(record) = record.filter(|_| args.volumes) {
            control::remove_anonymous_volumes(instance, &record.config.id, &record.config.mounts)?;
        }
        println!("{c}");
        Ok(())
    })
}

/// `net`: the network state, for the container's addresses.
pub fn inspect_json(r: &Record, net: &NetState) -> serde_json::Value {
    let (c, s) = (&r.config, &r.state);
    let configured = matches!(c.network, NetworkMode::Bridge(_)).then(|| c.network.name());
    let networks = crate::network::endpoints::settings(net, &c.id, configured);
    let status = observed_status(s);
    json!({
        "Id": c.id,
        "Name": c.name,
        "Created": c.created,
        "Path": c.args.first(),
        "Args": c.args.get(1..).unwrap_or_default(),
        "Image": c.image_id,
        "ImageName": c.image,
        "State": {
            "Status": status_word(status),
            "Running": status == Status::Running,
            "Pid": if status == Status::Running { s.pid.unwrap_or(0) } else { 0 },
            "MonitorPid": s.monitor_pid,
            "ExitCode": s.exit_code.unwrap_or(0),
            "OOMKilled": s.oom_killed,
            "Restarting": false,
            "Error": s.error.clone().unwrap_or_default(),
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        },
        "Config": {
            "Hostname": c.hostname,
            "User": format!("{}:{}", c.user.uid, c.user.gid),
            "Env": c.env,
            "Cmd": c.args,
            "WorkingDir": c.working_dir,
            "Tty": c.tty,
            "OpenStdin": c.interactive,
            "Labels": c.labels,
            "StopSignal": c.stop_signal,
            "StopTimeout": c.stop_timeout,
        },
        "HostConfig": {
            "Memory": c.limits.memory.unwrap_or(0),
            "MemorySwap": c.limits.memory.unwrap_or(0),
            "CpuPeriod": c.limits.cpu.map(|q| q.period_us).unwrap_or(0),
            "CpuQuota": c.limits.cpu.map(|q| q.quota_us).unwrap_or(0),
            "PidsLimit": c.limits.pids,
            "ReadonlyRootfs": c.read_only,
            "AutoRemove": c.auto_remove,
            "Init": c.init,
            "NetworkMode": c.network.name(),
            "CapAdd": c.cap_add,
            "CapDrop": c.cap_drop,
            "CgroupParent": c.cgroup_parent,
        },
        "NetworkSettings": { "Networks": networks },
        "Mounts": c.mounts.iter().map(mount_json).collect::<Vec<_>>(),
    })
}

/// One entry of inspect's `Mounts`, as Docker shows it.
fn mount_json(m: &MountSpec) -> serde_json::Value {
    let kind = match m.kind {
        MountKind::Bind => "bind",
        MountKind::Tmpfs => "tmpfs",
        MountKind::Volume => "volume",
    };
    let mut v = json!({
        "Type": kind,
        "Source": m.source,
        "Destination": m.destination,
        "RW": !m.read_only,
    });
    if let Some(name) = &m.volume {
        v["Name"] = json!(name);
        v["Driver"] = json!(crate::volume::DRIVER);
    }
    v
}

pub fn inspect(instance: &Instance, args: &InspectArgs) -> CliResult {
    // Unreadable network state only costs the addresses.
    let view = NetView::load(&instance.root);
    let mut found = Vec::new();
    let mut code = 0;
    for reference in &args.containers {
        match instance
            .containers
            .resolve(reference)
            .and_then(|id| instance.containers.load(&id))
        {
            Ok(record) => {
                let mut json = inspect_json(&record, view.state());
                let health = ProjectHealth::load(instance, std::slice::from_ref(&record));
                if let Some(report) = health.report(&record) {
                    json["State"]["Health"] = super::health::health_json(&report);
                }
                if health.restarting(&record) {
                    json["State"]["Restarting"] = json!(true);
                    json["State"]["Status"] = json!("restarting");
                }
                if let Some(lb) = view.inspect(&record) {
                    json["LoadBalancer"] = lb;
                }
                found.push(json);
            }
            Err(e) => {
                eprintln!("rcorch: {e}");
                code = 1;
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(code)
}

fn label(r: &Record, key: &str) -> String {
    r.config.labels.get(key).cloned().unwrap_or_default()
}
