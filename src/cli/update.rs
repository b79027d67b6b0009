//! `update`: change the limits of containers, live (as `docker update`).

use clap::Args;

use super::tuning_flags::TuningFlags;
use super::{CliResult, Failure};
use crate::cgroups::update_plan::LimitChanges;
use crate::container::restart::RestartPolicy;
use crate::instance::Instance;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Memory limit, e.g. 128m
    #[arg(short, long)]
    memory: Option<String>,
    /// CPU limit, e.g. 0.5
    #[arg(long)]
    cpus: Option<String>,
    /// Maximum number of processes (0 or -1: unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<String>,
    #[command(flatten)]
    tuning: TuningFlags,
    /// Restart policy: no, always, on-failure[:N], unless-stopped
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn update(instance: &Instance, args: &UpdateArgs) -> CliResult {
    let restart = args
        .restart
        .as_deref()
        .map(RestartPolicy::parse)
        .transpose()
        .map_err(Failure::from)?;
    let changes = LimitChanges {
        memory: args.memory.clone(),
        cpus: args.cpus.clone(),
        pids_limit: args.pids_limit.clone(),
        tuning: args.tuning.request(),
    };
    if changes.is_empty() && restart.is_none() {
        return Err(Failure::from(
            "update: nothing to change; give at least one of --memory, --memory-swap, \
             --memory-reservation, --cpus, --cpu-shares, --cpuset-cpus, --cpuset-mems, \
             --pids-limit, --blkio-weight, --restart",
        ));
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut failed = Vec::new();
    for reference in &args.containers {
        match crate::runtime::update::update(instance, reference, (&changes, restart), cpus) {
            Ok(_) => println!("{reference}"),
            Err(e) => failed.push(e.to_string()),
        }
    }
    match failed.is_empty() {
        true => Ok(0),
        false => Err(Failure::from(failed.join("\nrcorch: "))),
    }
}
