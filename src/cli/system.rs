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
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Restore what can be restored, remove or set aside the rest
    #[arg(long)]
    repair: bool,
}

pub fn system(instance: &Instance, command: &SystemCommand) -> CliResult {
    let SystemCommand::Check(args) = command;
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
