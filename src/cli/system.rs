//! `rcorch system check [--repair]`: report every unreadable record; with
//! --repair, restore, remove or set aside each (`system::plan`).

use clap::{Args, Subcommand};

use super::CliResult;
use crate::instance::Instance;
use crate::system;

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Find unreadable records (containers, projects, networks, volumes, images)
    Check(CheckArgs),
    /// What the instance holds: containers, images, cgroups, kernel
    Info(super::system_verbs::FormatArgs),
    /// Disk usage of images, containers' writable layers and volumes
    Df,
    /// Remove stopped containers, unused networks and images (-a, --volumes)
    Prune(super::system_verbs::PruneArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Restore what can be restored, remove or set aside the rest
    #[arg(long)]
    repair: bool,
}

pub fn system(instance: &Instance, command: &SystemCommand) -> CliResult {
    let args = match command {
        SystemCommand::Check(args) => args,
        SystemCommand::Info(args) => return super::system_verbs::info(instance, args),
        SystemCommand::Df => return super::system_verbs::df(instance),
        SystemCommand::Prune(args) => return super::system_verbs::prune(instance, args),
    };
    let findings = system::check(instance);
    if findings.is_empty() {
        println!("no damaged records under {}", instance.root.display());
        return Ok(0);
    }
    let mut unresolved = 0;
    for finding in &findings {
        let head = format!("{} ({})", finding.path.display(), finding.problem);
        if !args.repair {
            let would = system::plan::plan(&finding.kind).describe();
            println!("{head}: --repair would: {would}");
            unresolved += 1;
            continue;
        }
        match system::repair(instance, finding) {
            Ok(done) => {
                println!("{head}: {}", done.describe());
                unresolved += usize::from(!done.resolves());
            }
            Err(e) => {
                println!("{head}: repair failed: {e}");
                unresolved += 1;
            }
        }
    }
    // As fsck: 0 once nothing is left damaged, 1 otherwise.
    Ok(i32::from(unresolved > 0))
}
