//! `ps`, `stop`, `kill`, `rm` and `inspect`.

use std::time::SystemTime;

use clap::Args;
use comfy_table::{presets::NOTHING, Table};
use serde_json::json;

use super::format::{self, Listing};
use super::health::ProjectHealth;
use super::images::human_size;
use super::netview::NetView;
use super::ps_format::{self, PsFilter};
use super::{CliResult, Failure};
use crate::container::build::parse_signal;
use crate::container::store::Record;
use crate::container::Status;
use crate::instance::Instance;
use crate::project::{ProjectDir, LABEL_PROJECT, LABEL_SERVICE};
use crate::runtime::control::{self, observed_status};
use crate::util::filter::Filters;
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
    #[arg(long)]
    format: Option<String>,
    /// KEY=VALUE: id, name, label, status, ancestor, exited, network,
    /// volume, before, since, publish, health (a key twice: either value; keys: all)
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Full ids and commands
    #[arg(long)]
    no_trunc: bool,
    /// The N most recently created containers (any state)
    #[arg(short = 'n', long = "last", value_name = "N")]
    last: Option<usize>,
    /// The most recently created container (any state)
    #[arg(short, long)]
    latest: bool,
    /// Compute Docker's SIZE (the writable layer) for templates' {{.Size}}
    #[arg(short, long)]
    size: bool,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before SIGKILL (default: the container's --stop-timeout)
    #[arg(short = 't', long = "time")]
    time: Option<u64>,
    /// A project's services stop with `compose stop`: kept to say so
    #[arg(short, long = "project-name", value_name = "NAME", hide = true)]
    pub project_name: Option<String>,
    #[arg(required_unless_present = "project_name", value_name = "CONTAINER")]
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

pub fn ps(instance: &Instance, args: &PsArgs) -> CliResult {
    // Format and filters are checked before anything is read, so bad ones fail alone.
    let listing = Listing::parse(args.format.as_deref())?;
    let filters = PsFilter::parse(&args.filter)?;
    let scan = instance.containers.scan()?;
    for broken in &scan.broken {
        eprintln!("rcorch: warning: {}", broken.report());
    }
    let mut records = scan.records;
    let filter = ps_filter(instance, filters, &records)?;
    let net = NetView::load(&instance.root);
    let last = if args.latest { Some(1) } else { args.last };
    let all = args.all || filter.wants_all() || last.is_some();
    let health = ProjectHealth::load(instance, &records);
    // A restarting container counts as running, as in Docker.
    records.retain(|r| all || observed_status(&r.state) == Status::Running || health.restarting(r));
    records.retain(|r| filter.matches(r, &net, health.state_word(r), health.word(r)));
    records.sort_by(|a, b| b.config.created.cmp(&a.config.created));
    records.truncate(last.unwrap_or(usize::MAX));
    let id = |r: &Record| -> String {
        let full = &r.config.id;
        full[..if args.no_trunc { full.len() } else { 12 }].to_string()
    };
    if args.quiet {
        records.iter().for_each(|r| println!("{}", id(r)));
        return Ok(0);
    }
    match listing {
        Listing::Template(format) => {
            let sized = args.size || args.format.as_deref().is_some_and(|f| f.contains(".Size"));
            let rows: Vec<_> = records
                .iter()
                .map(|r| {
                    let mut row = ps_format::row(r, &net, sized.then(|| size_text(instance, r)));
                    row["ID"] = id(r).into();
                    row["Status"] = json!(health.status(r));
                    row["State"] = json!(health.state_word(r));
                    row
                })
                .collect();
            format::print_rows(&format, &rows, ps_format::FIELDS)
        }
        Listing::Json => ps_json(&records, &net, &health),
        Listing::Table => {
            let code = ps_table(instance, &records, &net, &health, args.no_trunc)?;
            if args.filter.is_empty() {
                print_pending(instance);
            }
            Ok(code)
        }
    }
}

/// Replicas admission holds back have no container yet: one line each
/// after the table, with the reason.
fn print_pending(instance: &Instance) {
    for project in crate::project::list_projects(&instance.root) {
        let dir = crate::project::ProjectDir::new(&instance.root, &project);
        for (slot, reason) in dir.load_pending() {
            println!("pending  {project}/{slot}  {reason}");
        }
    }
}

/// Looks up the containers and images a filter names.
fn ps_filter(
    instance: &Instance,
    filters: Filters,
    records: &[Record],
) -> Result<PsFilter, Failure> {
    let created = |key: &str| -> Result<Option<String>, Failure> {
        let Some(reference) = filters.values(key).last() else {
            return Ok(None);
        };
        let id = instance.containers.resolve(reference)?;
        let found = records.iter().find(|r| r.config.id == id);
        Ok(found.map(|r| r.config.created.clone()))
    };
    let (before, since) = (created("before")?, created("since")?);
    let ancestor_ids = match filters.values("ancestor") {
        [] => Vec::new(),
        refs => {
            let store = instance.images()?;
            refs.iter()
                .filter_map(|r| store.resolve(r).ok())
                .map(|im| im.id)
                .collect()
        }
    };
    Ok(PsFilter {
        filters,
        before,
        since,
        ancestor_ids,
    })
}

/// Docker's SIZE: the writable layer, and the image below it.
fn size_text(instance: &Instance, r: &Record) -> String {
    let upper = instance
        .containers
        .container_dir(&r.config.id)
        .join("upper");
    let image = instance
        .images()
        .ok()
        .and_then(|s| s.resolve(&r.config.image_id).ok())
        .map_or(0, |im| im.size);
    let rw = dir_size(&upper);
    format!("{} (virtual {})", human_size(rw), human_size(rw + image))
}

pub(super) fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn ps_json(records: &[Record], net: &NetView, health: &ProjectHealth) -> CliResult {
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "Id": r.config.id, "Names": r.config.name, "Image": r.config.image,
                "Command": r.config.args.join(" "), "CreatedAt": r.config.created,
                "State": health.state_word(r),
                "Status": health.status(r),
                "Ports": net.ports(r), "Balancer": net.balancer(r),
                "Strategy": net.strategy(r),
                "Project": label(r, LABEL_PROJECT), "Service": label(r, LABEL_SERVICE),
            })
        })
        .collect();
    println!("{}", serde_json::to_string(&rows)?);
    Ok(0)
}

fn ps_table(
    instance: &Instance,
    records: &[Record],
    net: &NetView,
    health: &ProjectHealth,
    no_trunc: bool,
) -> CliResult {
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
    for r in records {
        let mut command = r.config.args.join(" ");
        if !no_trunc {
            command = shorten_command(&command);
        }
        let id_len = if no_trunc { r.config.id.len() } else { 12 };
        table.add_row([
            r.config.id[..id_len].to_string(),
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
    for line in rollout_progress(instance, records) {
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
        let hint = super::compose_cmd::did_you_mean("stop", Some(project), &args.containers);
        return Err(format!("stop takes containers; a project's services: {hint}").into());
    }
    for_each(&args.containers, |c| {
        control::stop_reporting(instance, c, args.time, &mut super::project::say)?;
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

fn label(r: &Record, key: &str) -> String {
    r.config.labels.get(key).cloned().unwrap_or_default()
}

/// Docker's COMMAND column: at most 20 characters (not bytes: a cut inside
/// a multi-byte character would panic), the last one an ellipsis.
fn shorten_command(command: &str) -> String {
    if command.chars().count() <= 20 {
        return command.to_string();
    }
    command.chars().take(19).chain(['…']).collect()
}

#[cfg(test)]
mod tests {
    use super::shorten_command;

    #[test]
    fn commands_are_cut_by_characters_not_bytes() {
        assert_eq!(shorten_command("sleep 1000"), "sleep 1000");
        assert_eq!(
            shorten_command("sh -c 'echo 12345678901234'"),
            "sh -c 'echo 1234567…"
        );
        let accented = "echo ééééééééééééééééééééé";
        assert_eq!(shorten_command(accented).chars().count(), 20);
        assert!(shorten_command(accented).ends_with("éé…"));
    }
}
