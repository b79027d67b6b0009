//! The command line: parse, call the library, print, pick the exit code
//! (`exit_code`: Docker's rule, the one place it is decided).

mod attach;
mod build;
mod commit;
mod compose;
mod compose_build;
mod compose_cmd;
mod compose_images;
mod compose_verbs;
mod container_cmd;
mod container_life;
mod container_verbs;
mod containers;
mod dashboard;
mod dashboard_lb;
mod dashboard_view;
mod events;
mod exit;
mod format;
mod health;
mod health_flags;
mod image_history;
mod image_list;
mod images;
mod inspect;
mod kube;
mod kube_play;
mod login;
mod logs;
mod metrics;
mod netview;
mod network;
mod project;
mod ps_format;
mod registry;
mod run_flags;
mod stats;
mod system;
mod system_verbs;
mod tuning_flags;
mod update;
mod usage;
mod volume;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use exit::die_quietly_on_a_closed_pipe;
pub use exit::{exit_code, CliResult, Failure, USAGE_ERROR};

use crate::container::build::RunRequest;
use crate::instance::root_use::RootUse;
use crate::instance::{Instance, DEFAULT_CGROUP_PARENT, DEFAULT_ROOT};
use crate::runtime::exec::{self, ExecRequest};
use crate::runtime::run::{self, RunOutcome};

#[derive(Parser, Debug)]
#[command(
    name = "rcorch",
    version,
    about = "A daemonless single-host container runtime"
)]
pub struct Cli {
    /// The rcorch instance: images, containers, logs and state live here.
    #[arg(long, global = true, env = "RCORCH_ROOT", default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Parent cgroup (relative to each hierarchy's root) for containers.
    #[arg(long, global = true, env = "RCORCH_CGROUP_PARENT", default_value = DEFAULT_CGROUP_PARENT)]
    cgroup_parent: String,
    /// Who makes containers' cgroups: cgroupfs (rcorch writes them) or systemd
    /// (a transient scope per container, through D-Bus). Default: systemd
    /// where it is PID 1 and reachable, else cgroupfs.
    #[arg(
        long,
        global = true,
        env = "RCORCH_CGROUP_MANAGER",
        value_name = "cgroupfs|systemd"
    )]
    cgroup_manager: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create and run a container
    Run(Box<RunArgs>),
    /// Create a container (run's flags) without starting it
    Create(Box<RunArgs>),
    /// Start created or stopped containers (-a: attached)
    Start(container_life::StartArgs),
    /// Restart containers: stop, then start
    Restart(container_life::RestartArgs),
    /// Follow a running container's output; send it input (-i) and signals
    Attach(attach::AttachArgs),
    /// Freeze every process of containers
    Pause(container_life::PauseArgs),
    /// Thaw paused containers
    Unpause(container_life::PauseArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// List containers
    Ps(containers::PsArgs),
    /// Show a container's output
    Logs(logs::LogsArgs),
    /// Stop containers: stop signal, grace period, then SIGKILL
    Stop(containers::StopArgs),
    /// Send a signal to containers
    Kill(containers::KillArgs),
    /// Remove containers
    Rm(containers::RmArgs),
    /// Show containers (or images, volumes, networks) as JSON or through -f TEMPLATE
    Inspect(inspect::InspectArgs),
    /// Wait for containers to stop; print their exit codes
    Wait(container_verbs::WaitArgs),
    /// Show a container's processes (the host's ps, its rows only)
    Top(container_verbs::TopArgs),
    /// Rename a container
    Rename(container_verbs::RenameArgs),
    /// Change the limits of containers, live (memory, swap, cpus, cpuset, shares, pids, blkio)
    Update(update::UpdateArgs),
    /// Copy files between a container and the host (- : a tar on stdin/stdout)
    Cp(container_verbs::CpArgs),
    /// Show what a container changed in its filesystem (A/C/D)
    Diff(container_verbs::DiffArgs),
    /// Write a container's filesystem as a tar
    Export(container_verbs::ExportArgs),
    /// A new image from a container's changes
    Commit(commit::CommitArgs),
    /// Manage containers (ls, run, exec, rm, inspect, cp, wait, top, …)
    #[command(subcommand)]
    Container(container_cmd::ContainerCommand),
    /// Show resource usage
    Stats(stats::StatsArgs),
    /// Print Prometheus metrics of every running container (cAdvisor's names)
    Metrics(metrics::MetricsArgs),
    /// Build an image from a Dockerfile
    Build(Box<build::BuildArgs>),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(build::BuilderCommand),
    /// Create an image from a rootfs tarball
    Import(images::ImportArgs),
    /// List images
    Images(image_list::ImagesArgs),
    /// Remove images
    Rmi(images::RmiArgs),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage named volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// List a container's published ports
    Port(network::PortArgs),
    /// The embedded DNS resolver (started on demand by `run`)
    #[command(hide = true)]
    DnsServe,
    /// Validate a compose file and print its normalised model
    Config(compose::ConfigArgs),
    /// Kubernetes manifests from a compose project (`kube generate`), and run them (`kube play`, `kube down`)
    #[command(subcommand)]
    Kube(kube::KubeCommand),
    /// Start or update a compose project and keep it running
    Up(project::UpArgs),
    /// Stop and remove a project's containers
    Down(project::DownArgs),
    /// Change a service's replica count: SERVICE=N
    Scale(project::ScaleArgs),
    /// A project at a glance, live: replicas, CPU and memory sparklines, backends, events (q quits)
    Dashboard(dashboard::DashboardArgs),
    /// Stream container events (with -p/-f: what a project's supervisor did and why)
    Events(project::EventsArgs),
    /// Roll services back to their previous (or --to N) definition
    Rollback(project::RollbackArgs),
    /// Show an image's history (a service's revisions: `compose history`)
    History(image_history::HistoryArgs),
    /// docker compose's verbs: up, down, ps, logs, exec SERVICE, run, port, build…
    Compose(compose_cmd::ComposeArgs),
    /// systemd units for projects
    #[command(subcommand)]
    Systemd(SystemdCommand),
    /// Run a project's supervisor in the foreground (used by `up` and systemd units)
    #[command(hide = true)]
    Supervise(project::SuperviseArgs),
    /// Load images from a docker-save or OCI archive
    Load(images::LoadArgs),
    /// Save images to an OCI archive (docker-loadable too)
    Save(images::SaveArgs),
    /// Add a tag to an image
    Tag(images::TagArgs),
    /// Pull an image from a registry
    Pull(registry::PullArgs),
    /// Push an image to a registry
    Push(registry::PushArgs),
    /// Log in to a registry (credentials kept in Docker's config.json)
    Login(login::LoginArgs),
    /// Log out from a registry
    Logout(login::LogoutArgs),
    /// Manage images (ls, inspect, rm, prune, tag, load, save, pull, push)
    #[command(subcommand)]
    Image(images::ImageCommand),
    /// The instance: check [--repair], info, df, prune
    #[command(subcommand)]
    System(system::SystemCommand),
    /// What the instance holds (`system info`)
    Info(system_verbs::FormatArgs),
    /// rcorch's version
    Version(system_verbs::FormatArgs),
}

#[derive(Subcommand, Debug)]
enum SystemdCommand {
    /// Write a unit that runs the project's supervisor (Type=notify, Restart=always)
    Generate(project::GenerateArgs),
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
struct RunArgs {
    /// Print help (-h is --hostname, as in Docker)
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Run in the background and print the container id
    #[arg(short, long)]
    detach: bool,
    /// Remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// A unique name (default: a generated one)
    #[arg(long)]
    name: Option<String>,
    /// Keep stdin open
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short, long)]
    tty: bool,
    /// Set an environment variable (KEY alone takes the host's value)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Read KEY=VALUE lines from a file
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    workdir: Option<String>,
    /// uid[:gid] or name[:group]
    #[arg(short, long)]
    user: Option<String>,
    /// Container hostname (default: the first 12 characters of the id)
    #[arg(long, short = 'h')]
    hostname: Option<String>,
    /// Replace the image's entrypoint (and its default command)
    #[arg(long)]
    entrypoint: Option<String>,
    /// Bind mount /HOST/PATH:DST[:ro], or a named volume NAME:DST[:ro,nocopy]
    #[arg(short, long = "volume", value_name = "SRC:DST[:ro]")]
    volume: Vec<String>,
    /// Mount the root filesystem read-only
    #[arg(long)]
    read_only: bool,
    /// Mount a tmpfs at DST, with options (ro, size=1m, mode=1777, exec…)
    #[arg(long, value_name = "DST[:OPTIONS]")]
    tmpfs: Vec<String>,
    /// Resource limit, e.g. nofile=1024:2048 (-1: unlimited)
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    ulimit: Vec<String>,
    /// Memory limit, e.g. 64m
    #[arg(short, long)]
    memory: Option<String>,
    /// CPU limit, e.g. 0.5
    #[arg(long)]
    cpus: Option<String>,
    /// Maximum number of processes (0 or -1: unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<String>,
    #[command(flatten)]
    tuning: tuning_flags::TuningFlags,
    /// none, host or a network name (default: the "bridge" network)
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// Add a capability to Docker's default set (or ALL)
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop a capability from the default set (or ALL)
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Run a tiny init as PID 1 that reaps zombies and forwards signals
    #[arg(long)]
    init: bool,
    /// Signal `stop` sends first (default SIGTERM)
    #[arg(long)]
    stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL (default 10)
    #[arg(long)]
    stop_timeout: Option<u64>,
    /// Set a KEY=VALUE label
    #[arg(short, long = "label")]
    label: Vec<String>,
    /// Fixed IPv4 address on the network
    #[arg(long)]
    ip: Option<String>,
    /// DNS server for the container (instead of the embedded resolver)
    #[arg(long)]
    dns: Vec<String>,
    /// Extra name the container answers to on its network
    #[arg(long = "network-alias", value_name = "ALIAS")]
    network_alias: Vec<String>,
    /// Publish: [HOSTIP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|/udp] (no host port: random)
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    publish: Vec<String>,
    /// Publish every exposed port of the image on a random host port
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    #[command(flatten)]
    more: run_flags::RunFlags,
    #[command(flatten)]
    health: health_flags::HealthFlags,
    /// Image name[:tag] or id
    image: String,
    /// Command and arguments (default: the image's)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
struct ExecArgs {
    #[arg(short, long)]
    interactive: bool,
    #[arg(short, long)]
    tty: bool,
    #[arg(short, long = "env")]
    env: Vec<String>,
    #[arg(short, long)]
    workdir: Option<String>,
    #[arg(short, long)]
    user: Option<String>,
    container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> i32 {
    let cli = match usage::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            eprintln!("rcorch: {}", usage::one_line(&e));
            return USAGE_ERROR;
        }
        Err(e) => {
            // --help and --version: clap's own text on stdout.
            let _ = e.print();
            return 0;
        }
    };
    if !matches!(cli.command, Command::Supervise(_) | Command::DnsServe) {
        die_quietly_on_a_closed_pipe();
    }
    let creates_container = match &cli.command {
        Command::Run(_) | Command::Create(_) => true,
        Command::Container(c) => c.creates_container(),
        _ => false,
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("rcorch: {}", failure.message);
            exit_code(creates_container, failure.start_code)
        }
    }
}

fn dispatch(cli: Cli) -> CliResult {
    // Needs no instance: it only reads the compose file.
    if let Command::Config(args) = &cli.command {
        return compose::config(args);
    }
    if let Command::Compose(args) = &cli.command {
        if let Some(result) = compose_cmd::without_instance(args) {
            return result;
        }
    }
    if let Command::Version(args) = &cli.command {
        return system_verbs::version(args);
    }
    if let Command::Kube(cmd) = &cli.command {
        if !cmd.needs_instance() {
            return kube::kube(cmd);
        }
    }
    if let Command::Build(args) = &cli.command {
        if args.check {
            return build::check_only(&cli.root, args);
        }
    }
    // Held until the command ends; a failed first command gives the root
    // back as it found it (absent or empty).
    let root_use = RootUse::enter(&cli.root)?;
    let result = dispatch_in(cli);
    if !matches!(result, Ok(0)) {
        root_use.give_back();
    }
    result
}

fn dispatch_in(cli: Cli) -> CliResult {
    let mut instance = Instance::open(&cli.root, &cli.cgroup_parent)?;
    let systemd = crate::cgroups::systemd::observe(std::path::Path::new("/run"));
    instance.cgroup_manager =
        crate::cgroups::systemd::choose(cli.cgroup_manager.as_deref(), systemd)?;
    if !matches!(cli.command, Command::DnsServe | Command::Supervise(_)) {
        // Before anything reads a container: one whose monitor died is
        // finished now, so every command sees (and reports) the truth.
        crate::runtime::orphans::finish_orphans(&instance);
    }
    match cli.command {
        Command::Run(args) => run_container(&instance, *args),
        Command::Create(args) => container_life::create(&instance, *args),
        Command::Start(args) => container_life::start(&instance, &args),
        Command::Restart(args) => container_life::restart(&instance, &args),
        Command::Attach(args) => attach::attach(&instance, &args),
        Command::Pause(args) => container_life::pause(&instance, &args),
        Command::Unpause(args) => container_life::unpause(&instance, &args),
        Command::Exec(args) => exec_in_container(&instance, args),
        Command::Ps(args) => containers::ps(&instance, &args),
        Command::Logs(args) => logs::logs(&instance, &args),
        Command::Stop(args) => containers::stop(&instance, &args),
        Command::Kill(args) => containers::kill(&instance, &args),
        Command::Rm(args) => containers::rm(&instance, &args),
        Command::Inspect(args) => inspect::inspect(&instance, &args),
        Command::Wait(args) => container_verbs::wait(&instance, &args),
        Command::Top(args) => container_verbs::top(&instance, &args),
        Command::Rename(args) => container_verbs::rename(&instance, &args),
        Command::Update(args) => update::update(&instance, &args),
        Command::Cp(args) => container_verbs::cp(&instance, &args),
        Command::Diff(args) => container_verbs::diff(&instance, &args),
        Command::Export(args) => container_verbs::export(&instance, &args),
        Command::Commit(args) => commit::commit(&instance, &args),
        Command::Container(command) => container_cmd::container(&instance, command),
        Command::Stats(args) => stats::stats(&instance, &args),
        Command::Metrics(args) => metrics::metrics(&instance, &args),
        Command::Build(args) => build::build(&instance, &args),
        Command::Builder(command) => build::builder(&instance, &command),
        Command::Import(args) => images::import(&instance, &args),
        Command::Images(args) => image_list::list(&instance, &args),
        Command::Rmi(args) => images::rmi(&instance, &args),
        Command::Network(cmd) => network::network(&instance, cmd),
        Command::Volume(cmd) => volume::volume(&instance, cmd),
        Command::Port(args) => network::port(&instance, &args),
        Command::DnsServe => {
            let resolv = std::path::Path::new("/etc/resolv.conf");
            crate::network::dns::serve(&instance.root, resolv)?;
            Ok(0)
        }
        Command::Kube(cmd) => kube::kube_with(&instance, &cmd),
        Command::Config(_) => unreachable!("handled above"),
        Command::Up(args) => project::up(&instance, &args),
        Command::Down(args) => project::down(&instance, &args),
        Command::Scale(args) => project::scale(&instance, &args),
        Command::Dashboard(args) => dashboard::dashboard(&instance, &args),
        Command::Events(args) => project::events(&instance, &args),
        Command::Rollback(args) => project::rollback(&instance, &args),
        Command::History(args) => image_history::history(&instance, &args),
        Command::Compose(args) => compose_cmd::compose(&instance, args),
        Command::Supervise(args) => project::supervise(&instance, &args),
        Command::Systemd(SystemdCommand::Generate(args)) => {
            project::generate_unit(&instance, &args)
        }
        Command::Load(args) => images::load(&instance, &args),
        Command::Save(args) => images::save(&instance, &args),
        Command::Tag(args) => images::tag(&instance, &args),
        Command::Pull(args) => registry::pull(&instance, &args),
        Command::Push(args) => registry::push(&instance, &args),
        Command::Login(args) => login::login(&instance, &args),
        Command::Logout(args) => login::logout(&args),
        Command::Image(command) => images::image(&instance, &command),
        Command::System(command) => system::system(&instance, &command),
        Command::Info(args) => system_verbs::info(&instance, &args),
        Command::Version(_) => unreachable!("handled above"),
    }
}

/// The request `run` and `create` make from their flags, and `-d`.
fn run_request(instance: &Instance, args: RunArgs) -> Result<(RunRequest, bool), Failure> {
    let env_files = args
        .env_file
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| (path.clone(), text))
                .map_err(|e| {
                    Failure::from(format!("cannot read --env-file {}: {e}", path.display()))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut request = RunRequest {
        image: args.image,
        command: args.command,
        entrypoint: args.entrypoint,
        name: args.name,
        env: args.env,
        env_files,
        workdir: args.workdir,
        user: args.user,
        hostname: args.hostname,
        volumes: args.volume,
        tmpfs: args.tmpfs,
        ulimits: args.ulimit,
        read_only: args.read_only,
        memory: args.memory,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        tuning: args.tuning.request(),
        network: args.network,
        cap_add: args.cap_add,
        cap_drop: args.cap_drop,
        init: args.init,
        tty: args.tty,
        interactive: args.interactive,
        auto_remove: args.rm,
        stop_signal: args.stop_signal,
        stop_timeout: args.stop_timeout,
        labels: args.label,
        ip: args.ip,
        dns: args.dns,
        network_aliases: args.network_alias,
        publish: args.publish,
        publish_all: args.publish_all,
        files: Vec::new(),
        health: args.health.request(),
        ..RunRequest::default()
    };
    let (warnings, pull) = args
        .more
        .check(&run_flags::HostSecurity::read())
        .map_err(Failure::from)?;
    if let Some(path) = args.more.cidfile.as_ref().filter(|p| p.exists()) {
        return Err(Failure::from(format!(
            "container ID file {} exists: make sure no other container uses it, or delete it",
            path.display()
        )));
    }
    for warning in warnings {
        eprintln!("rcorch: warning: {warning}");
    }
    pull_image(instance, &request.image, pull)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    args.more.apply(&mut request, &cwd);
    Ok((request, args.detach))
}

fn run_container(instance: &Instance, args: RunArgs) -> CliResult {
    let attached = args.more.attach_options(args.detach)?;
    let (request, detach) = run_request(instance, args)?;
    if let Some(options) = attached {
        return attach::run_attached(instance, &request, &options);
    }
    match run::run(instance, &request, detach) {
        Ok(RunOutcome::Exited(code)) => Ok(code),
        Ok(RunOutcome::Detached(id)) => {
            println!("{id}");
            Ok(0)
        }
        Err(e) => Err(Failure::of_start(&e, e.start_code())),
    }
}

/// `--pull`: always pulls; missing pulls only an image not here (and a
/// failed pull leaves the not-found error, with why the pull failed).
fn pull_image(
    instance: &Instance,
    image: &str,
    policy: run_flags::PullPolicy,
) -> Result<(), Failure> {
    use run_flags::PullPolicy;
    match policy {
        PullPolicy::Never => Ok(()),
        PullPolicy::Always => registry::pull_for_run(instance, image),
        PullPolicy::Missing => {
            let Err(missing) = instance.images()?.resolve(image) else {
                return Ok(());
            };
            registry::pull_for_run(instance, image).map_err(|pull| {
                Failure::from(format!(
                    "{missing} (or 'rcorch pull {image}' once a registry is reachable: {})",
                    pull.message
                ))
            })
        }
    }
}

fn exec_in_container(instance: &Instance, args: ExecArgs) -> CliResult {
    let request = ExecRequest {
        command: args.command,
        env: args.env,
        workdir: args.workdir,
        user: args.user,
        interactive: args.interactive,
        tty: args.tty,
    };
    exec::exec(instance, &args.container, &request)
        .map_err(|e| Failure::of_start(&e, e.start_code()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_docker_style_flags_and_a_trailing_command() {
        let cli = Cli::try_parse_from([
            "rcorch",
            "run",
            "-it",
            "--rm",
            "-h",
            "box",
            "-e",
            "A=1",
            "-m",
            "64m",
            "busybox",
            "sh",
            "-c",
            "echo -n hi",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert!(args.interactive && args.tty && args.rm);
        assert_eq!(args.hostname.as_deref(), Some("box"));
        assert_eq!(args.memory.as_deref(), Some("64m"));
        assert_eq!(args.image, "busybox");
        assert_eq!(args.command, ["sh", "-c", "echo -n hi"]);
    }

    #[test]
    fn exec_passes_flags_after_the_container_to_the_command() {
        let cli = Cli::try_parse_from(["rcorch", "exec", "-e", "X=1", "web", "ls", "-la"]).unwrap();
        let Command::Exec(args) = cli.command else {
            panic!("expected exec")
        };
        assert_eq!(args.container, "web");
        assert_eq!(args.command, ["ls", "-la"]);
        assert_eq!(args.env, ["X=1"]);
    }
}
