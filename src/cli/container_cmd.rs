//! `rcorch container VERB`: Docker's management spellings of the
//! container verbs (`container ls`, `container rm`, …), same flags.

use clap::Subcommand;

use super::container_life as life;
use super::container_verbs as verbs;
use super::{containers, inspect, logs, network, stats, CliResult, ExecArgs, RunArgs};
use crate::instance::Instance;

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Create and run a container
    Run(Box<RunArgs>),
    /// Create a container without starting it
    Create(Box<RunArgs>),
    /// Start created or stopped containers
    Start(super::container_life::StartArgs),
    /// Restart containers
    Restart(super::container_life::RestartArgs),
    /// Follow a running container's output; send it input and signals
    Attach(super::attach::AttachArgs),
    /// Freeze every process of containers
    Pause(super::container_life::PauseArgs),
    /// Thaw paused containers
    Unpause(super::container_life::PauseArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// List containers
    #[command(alias = "ps", alias = "list")]
    Ls(containers::PsArgs),
    /// Show a container's output
    Logs(logs::LogsArgs),
    /// Stop containers
    Stop(containers::StopArgs),
    /// Send a signal to containers
    Kill(containers::KillArgs),
    /// Remove containers
    #[command(alias = "remove")]
    Rm(containers::RmArgs),
    /// Show containers as JSON
    Inspect(inspect::InspectArgs),
    /// Show resource usage
    Stats(stats::StatsArgs),
    /// List a container's published ports
    Port(network::PortArgs),
    /// Wait for containers to stop; print their exit codes
    Wait(verbs::WaitArgs),
    /// Show a container's processes (the host's ps, its rows only)
    Top(verbs::TopArgs),
    /// Rename a container
    Rename(verbs::RenameArgs),
    /// Copy files between a container and the host
    Cp(verbs::CpArgs),
    /// Show what a container changed in its filesystem (A/C/D)
    Diff(verbs::DiffArgs),
    /// Write a container's filesystem as a tar
    Export(verbs::ExportArgs),
}

impl ContainerCommand {
    /// `container run` creates a container: its own errors exit 125.
    pub fn creates_container(&self) -> bool {
        matches!(self, ContainerCommand::Run(_) | ContainerCommand::Create(_))
    }
}

pub fn container(instance: &Instance, command: ContainerCommand) -> CliResult {
    match command {
        ContainerCommand::Run(args) => super::run_container(instance, *args),
        ContainerCommand::Create(args) => life::create(instance, *args),
        ContainerCommand::Start(args) => life::start(instance, &args),
        ContainerCommand::Attach(args) => super::attach::attach(instance, &args),
        ContainerCommand::Restart(args) => life::restart(instance, &args),
        ContainerCommand::Pause(args) => life::pause(instance, &args),
        ContainerCommand::Unpause(args) => life::unpause(instance, &args),
        ContainerCommand::Exec(args) => super::exec_in_container(instance, args),
        ContainerCommand::Ls(args) => containers::ps(instance, &args),
        ContainerCommand::Logs(args) => logs::logs(instance, &args),
        ContainerCommand::Stop(args) => containers::stop(instance, &args),
        ContainerCommand::Kill(args) => containers::kill(instance, &args),
        ContainerCommand::Rm(args) => containers::rm(instance, &args),
        ContainerCommand::Inspect(args) => {
            inspect::inspect_only(instance, &args, inspect::Kind::Container)
        }
        ContainerCommand::Stats(args) => stats::stats(instance, &args),
        ContainerCommand::Port(args) => network::port(instance, &args),
        ContainerCommand::Wait(args) => verbs::wait(instance, &args),
        ContainerCommand::Top(args) => verbs::top(instance, &args),
        ContainerCommand::Rename(args) => verbs::rename(instance, &args),
        ContainerCommand::Cp(args) => verbs::cp(instance, &args),
        ContainerCommand::Diff(args) => verbs::diff(instance, &args),
        ContainerCommand::Export(args) => verbs::export(instance, &args),
    }
}
