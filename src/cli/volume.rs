//! `volume create|ls|inspect|rm|prune`.

use clap::{Args, Subcommand};
use comfy_table::{presets::NOTHING, Table};

use super::{CliResult, Failure};
use crate::container::names::random_id;
use crate::container::ContainerConfig;
use crate::instance::Instance;
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
}

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
        VolumeCommand::Ls(args) => {
            for (name, path, problem) in store.damaged()? {
                eprintln!("rcorch: warning: volume {name} has unreadable metadata {} ({problem}): run `rcorch system check --repair`", path.display());
            }
            let volumes = store.list()?;
            if args.quiet {
                volumes.iter().for_each(|v| println!("{}", v.name));
                return Ok(0);
            }
            let mut table = Table::new();
            table
                .load_preset(NOTHING)
                .set_header(["DRIVER", "VOLUME NAME"]);
            for v in &volumes {
                table.add_row([v.driver.as_str(), v.name.as_str()]);
            }
            println!("{table}");
            Ok(0)
        }
        VolumeCommand::Inspect { names } => {
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
            println!("{}", serde_json::to_string_pretty(&found)?);
            Ok(code)
        }
        VolumeCommand::Rm(args) => rm(instance, &store, &args),
        VolumeCommand::Prune(args) => prune(instance, &store, &args),
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
