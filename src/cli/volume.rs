//! `volume create|ls|inspect|rm|prune`.

use clap::{Args, Subcommand};
use comfy_table::{presets::NOTHING, Table};

use super::format::{self, field, parse_inspect, print_inspected, Listing};
use super::{CliResult, Failure};
use crate::container::names::random_id;
use crate::container::ContainerConfig;
use crate::instance::Instance;
use crate::util::filter::{name_matches, Filters};
use crate::util::template::Field;
use crate::util::time::now_rfc3339;
use crate::volume::store::VolumeStore;
use crate::volume::{self, inspect_json, parse_labels, VolumeError};

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume (default name: a random 64-hex id)
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON
    Inspect {
        /// A Go template, e.g. '{{.Mountpoint}}'
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove volumes (refused while any container uses them)
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove every volume no container uses
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Set a KEY=VALUE label
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    name: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only names
    #[arg(short, long)]
    quiet: bool,
    /// table (default), json, or a Go template: '{{.Name}}\t{{.Mountpoint}}'
    #[arg(long)]
    format: Option<String>,
    /// KEY=VALUE: name, label, dangling, driver
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,
}

const FIELDS: &[Field] = &[
    field("Name", "VOLUME NAME"),
    field("Driver", "DRIVER"),
    field("Scope", "SCOPE"),
    field("Mountpoint", "MOUNTPOINT"),
    field("Labels", "LABELS"),
    field("Label", ""),
    field("Links", "LINKS"),
    field("Size", "SIZE"),
    field("CreatedAt", "CREATED AT"),
];

const FILTER_KEYS: &[&str] = &["name", "label", "dangling", "driver"];

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not fail on volumes that do not exist (in-use ones are still kept)
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do it (there is no prompt; without -f nothing is removed)
    #[arg(short, long)]
    force: bool,
}

pub fn volume(instance: &Instance, cmd: VolumeCommand) -> CliResult {
    let store = VolumeStore::open(&instance.root);
    match cmd {
        VolumeCommand::Create(args) => {
            let labels = parse_labels(&args.labels)?;
            let name = args.name.unwrap_or_else(random_id);
            let lock = store.lock()?;
            let (v, _) = store.create(&lock, &name, &labels, &now_rfc3339())?;
            println!("{}", v.name);
            Ok(0)
        }
        VolumeCommand::Ls(args) => ls(instance, &store, &args),
        VolumeCommand::Inspect { format, names } => {
            let template = parse_inspect(format.as_deref())?;
            let mut found = Vec::new();
            let mut code = 0;
            for name in &names {
                match store.get(name) {
                    Ok(v) => found.push(inspect_json(&v)),
                    Err(e) => {
                        eprintln!("rcorch: {e}");
                        code = 1;
                    }
                }
            }
            print_inspected(template.as_ref(), &found)?;
            Ok(code)
        }
        VolumeCommand::Rm(args) => rm(instance, &store, &args),
        VolumeCommand::Prune(args) => prune(instance, &store, &args),
    }
}

fn ls(instance: &Instance, store: &VolumeStore, args: &LsArgs) -> CliResult {
    let listing = Listing::parse(args.format.as_deref())?;
    let filters = Filters::parse(&args.filter, "volume ls", FILTER_KEYS)?;
    let dangling = filters.boolean("dangling")?;
    for (name, path, problem) in store.damaged()? {
        eprintln!("rcorch: warning: volume {name} has unreadable metadata {} ({problem}): run `rcorch system check --repair`", path.display());
    }
    let volumes = store.list()?;
    let containers = containers(instance)?;
    let rows: Vec<serde_json::Value> = volumes
        .iter()
        .filter_map(|v| {
            let links = volume::users(&v.name, &containers).len();
            let keep = filters.any("name", |p| name_matches(p, &v.name))
                && filters.labels_match(&v.labels)
                && filters.any("driver", |d| d == v.driver)
                && dangling.is_none_or(|d| d == (links == 0));
            keep.then(|| {
                let labels: Vec<String> =
                    v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                serde_json::json!({
                    "Name": v.name, "Driver": v.driver, "Scope": "local",
                    "Mountpoint": v.mountpoint, "Labels": labels.join(","), "Label": v.labels,
                    "Links": links.to_string(), "Size": "N/A", "CreatedAt": v.created,
                })
            })
        })
        .collect();
    if args.quiet {
        rows.iter()
            .for_each(|r| println!("{}", r["Name"].as_str().unwrap_or_default()));
        return Ok(0);
    }
    match listing {
        Listing::Template(f) => format::print_rows(&f, &rows, FIELDS),
        Listing::Json => format::print_json_lines(&rows),
        Listing::Table => {
            let mut table = Table::new();
            table
                .load_preset(NOTHING)
                .set_header(["DRIVER", "VOLUME NAME"]);
            for r in &rows {
                let cell = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                table.add_row([cell("Driver"), cell("Name")]);
            }
            println!("{table}");
            Ok(0)
        }
    }
}

fn containers(instance: &Instance) -> Result<Vec<ContainerConfig>, Failure> {
    Ok(instance.containers.configs()?)
}

fn rm(instance: &Instance, store: &VolumeStore, args: &RmArgs) -> CliResult {
    let lock = store.lock()?;
    let containers = containers(instance)?;
    let mut code = 0;
    for name in &args.names {
        match store.remove(&lock, name, &containers) {
            Ok(()) => println!("{name}"),
            Err(VolumeError::NotFound { .. }) if args.force => {}
            Err(e) => {
                eprintln!("rcorch: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn prune(instance: &Instance, store: &VolumeStore, args: &PruneArgs) -> CliResult {
    if !args.force {
        return Err("volume prune removes every volume no container uses; confirm with -f".into());
    }
    let lock = store.lock()?;
    let containers = containers(instance)?;
    let volumes = store.list()?;
    let mut reclaimed = Vec::new();
    for name in volume::unused(&volumes, &containers) {
        store.remove(&lock, name, &containers)?;
        reclaimed.push(name);
    }
    if !reclaimed.is_empty() {
        println!("Deleted Volumes:");
        reclaimed.iter().for_each(|n| println!("{n}"));
    }
    println!("Total reclaimed volumes: {}", reclaimed.len());
    Ok(0)
}
