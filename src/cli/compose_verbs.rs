//! The `compose` verbs that address services by name: `ps`, `logs`,
//! `exec SERVICE`, `run SERVICE`, `port SERVICE`, `top`, `images`,
//! `pull`, `push`, `build`. A service's replica is picked by its slot
//! (`--index N`, 1 by default), as docker compose picks its containers.

use std::io::IsTerminal;

use clap::Args;
use comfy_table::{presets::NOTHING, Table};

use super::project::{self, ProjectArgs};
use super::{CliResult, Failure};
use crate::container::store::Record;
use crate::container::Status;
use crate::instance::Instance;
use crate::project::replicas::replica_labels;
use crate::project::{ProjectDir, LABEL_PROJECT, LABEL_SERVICE};
use crate::runtime::control::observed_status;

#[derive(Args, Debug)]
pub struct ServiceList {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Services (default: all)
    pub services: Vec<String>,
}

/// `compose build [--pull] [SERVICE…]`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Pull every base image even when present (docker compose build --pull)
    #[arg(long)]
    pub pull: bool,
    /// Services (default: all)
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Only validate: print warnings and errors, not the model
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, dependencies first
    #[arg(long)]
    pub services: bool,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Show stopped containers too
    #[arg(short, long)]
    all: bool,
    /// Only ids
    #[arg(short, long)]
    quiet: bool,
    /// Print the services' names
    #[arg(long)]
    services: bool,
    /// table (default), json, or a Go template ('{{.Name}} {{.Service}}')
    #[arg(long)]
    format: Option<String>,
    /// Services (default: all)
    service: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing new output until Ctrl-C
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines
    #[arg(short = 'n', long)]
    tail: Option<usize>,
    #[arg(short, long)]
    timestamps: bool,
    /// Services (default: all)
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Which replica of the service (its slot: 1, 2, …)
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Allocate no pseudo-terminal (default: one when stdin is a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    #[arg(short, long)]
    workdir: Option<String>,
    #[arg(short, long)]
    user: Option<String>,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Remove the container when it exits
    #[arg(long)]
    rm: bool,
    /// Run in the background and print the container id
    #[arg(short, long)]
    detach: bool,
    /// A name for the one-off container (default: PROJECT-SERVICE-run-ID)
    #[arg(long)]
    name: Option<String>,
    /// Allocate no pseudo-terminal (default: one when stdin is a terminal)
    #[arg(short = 'T', long = "no-TTY")]
    no_tty: bool,
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    #[arg(short, long)]
    workdir: Option<String>,
    #[arg(short, long)]
    user: Option<String>,
    /// Replace the service's entrypoint
    #[arg(long)]
    entrypoint: Option<String>,
    /// Set a KEY=VALUE label
    #[arg(short, long = "label")]
    label: Vec<String>,
    service: String,
    /// Command (default: the service's)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    protocol: String,
    /// Accepted for docker compose's sake: the service's ports are its
    /// balancer's, the same for every replica
    #[arg(long, default_value_t = 1)]
    index: u32,
    service: String,
    private_port: u16,
}

/// The project these verbs address, and its recorded definition.
fn applied(
    instance: &Instance,
    args: &ProjectArgs,
) -> Result<(String, crate::project::ProjectRecord), Failure> {
    let name = project::project_name(instance, args)?;
    let record = ProjectDir::new(&instance.root, &name).load()?;
    Ok((name, record))
}

fn check_services(
    record: &crate::project::ProjectRecord,
    services: &[String],
) -> Result<(), Failure> {
    match services.iter().find(|s| record.service(s).is_none()) {
        Some(s) => Err(format!("no such service: {s} (project {})", record.name).into()),
        None => Ok(()),
    }
}

/// The project's containers (of `services`, all when empty), oldest first.
pub(super) fn containers(
    instance: &Instance,
    name: &str,
    services: &[String],
) -> Result<Vec<Record>, Failure> {
    let mut found: Vec<Record> = instance
        .containers
        .list()?
        .into_iter()
        .filter(|r| r.config.labels.get(LABEL_PROJECT).map(String::as_str) == Some(name))
        .filter(|r| {
            let service = r.config.labels.get(LABEL_SERVICE);
            services.is_empty() || service.is_some_and(|s| services.contains(s))
        })
        .collect();
    found.sort_by(|a, b| a.config.name.cmp(&b.config.name));
    Ok(found)
}

/// The replica `index` of `service`: the running one (the newest revision
/// while a start-first update runs both).
fn replica(instance: &Instance, name: &str, service: &str, index: u32) -> Result<Record, Failure> {
    let mut slots = Vec::new();
    let mut best: Option<(u64, Record)> = None;
    for r in containers(instance, name, &[service.to_string()])? {
        let Some((_, slot, revision)) = replica_labels(&r, name) else {
            continue;
        };
        if observed_status(&r.state) != Status::Running {
            continue;
        }
        slots.push(slot);
        if slot == index && best.as_ref().is_none_or(|(rev, _)| revision > *rev) {
            best = Some((revision, r));
        }
    }
    best.map(|(_, r)| r).ok_or_else(|| {
        slots.sort_unstable();
        let running = match slots.as_slice() {
            [] => "none is running".to_string(),
            s => format!("running: {s:?}"),
        };
        format!("service {service} has no running replica {index} in project {name} ({running})")
            .into()
    })
}

pub fn ps(instance: &Instance, outer: &ProjectArgs, args: &PsArgs) -> CliResult {
    let listing = super::format::Listing::parse(args.format.as_deref())?;
    let (name, record) = applied(instance, outer)?;
    check_services(&record, &args.service)?;
    if args.services {
        for s in record.services.iter().map(|s| &s.spec.name) {
            if args.service.is_empty() || args.service.contains(s) {
                println!("{s}");
            }
        }
        return Ok(0);
    }
    let mut found = containers(instance, &name, &args.service)?;
    found.retain(|r| args.all || observed_status(&r.state) == Status::Running);
    if args.quiet {
        found.iter().for_each(|r| println!("{}", r.config.id));
        return Ok(0);
    }
    let net = super::netview::NetView::load(&instance.root);
    let seen = (&net, &super::health::ProjectHealth::load(instance, &found));
    match listing {
        super::format::Listing::Template(format) => {
            let rows: Vec<_> = found.iter().map(|r| ps_row(r, seen)).collect();
            super::format::print_rows(&format, &rows, PS_TEMPLATE_FIELDS)
        }
        super::format::Listing::Json => {
            let rows: Vec<_> = found.iter().map(|r| ps_row(r, seen)).collect();
            super::format::print_json_lines(&rows)
        }
        super::format::Listing::Table => {
            let mut table = Table::new();
            table
                .load_preset(NOTHING)
                .set_header(PS_FIELDS.iter().map(|f| f.header));
            for r in &found {
                let row = ps_row(r, seen);
                table.add_row(PS_FIELDS.iter().map(|f| row[f.name].as_str().unwrap_or("")));
            }
            println!("{}", table.trim_fmt());
            Ok(0)
        }
    }
}

/// docker compose ps's table columns.
const PS_FIELDS: &[crate::util::template::Field] = &[
    super::format::field("Name", "NAME"),
    super::format::field("Image", "IMAGE"),
    super::format::field("Command", "COMMAND"),
    super::format::field("Service", "SERVICE"),
    super::format::field("RunningFor", "CREATED"),
    super::format::field("Status", "STATUS"),
    super::format::field("Ports", "PORTS"),
];

/// What its templates may name besides: the columns, and these.
const PS_TEMPLATE_FIELDS: &[crate::util::template::Field] = &[
    super::format::field("ID", "CONTAINER ID"),
    super::format::field("Name", "NAME"),
    super::format::field("Image", "IMAGE"),
    super::format::field("Command", "COMMAND"),
    super::format::field("Project", "PROJECT"),
    super::format::field("Service", "SERVICE"),
    super::format::field("RunningFor", "CREATED"),
    super::format::field("State", "STATE"),
    super::format::field("Status", "STATUS"),
    super::format::field("Ports", "PORTS"),
];

/// One container as docker compose ps shows it: its status with health,
/// a pause or a restart wait, as `ps` shows them.
fn ps_row(
    r: &Record,
    (net, health): (&super::netview::NetView, &super::health::ProjectHealth),
) -> serde_json::Value {
    let label = |k| r.config.labels.get(k).cloned().unwrap_or_default();
    serde_json::json!({
        "ID": r.config.id, "Name": r.config.name, "Image": r.config.image,
        "Command": format!("\"{}\"", r.config.args.join(" ")),
        "Project": label(LABEL_PROJECT), "Service": label(LABEL_SERVICE),
        "RunningFor": format!("{} ago", super::containers::ago(Some(&r.config.created))),
        "Status": health.status(r),
        "State": health.state_word(r),
        "Ports": net.ports(r),
    })
}

pub fn logs(instance: &Instance, outer: &ProjectArgs, args: &LogsArgs) -> CliResult {
    let (name, record) = applied(instance, outer)?;
    check_services(&record, &args.services)?;
    let logs = super::logs::LogsArgs {
        follow: args.follow,
        tail: args.tail,
        timestamps: args.timestamps,
        project_name: Some(name.clone()),
        targets: args.services.clone(),
    };
    super::logs::project_logs(instance, &name, &logs)
}

pub fn exec(instance: &Instance, outer: &ProjectArgs, args: ExecArgs) -> CliResult {
    let (name, record) = applied(instance, outer)?;
    check_services(&record, std::slice::from_ref(&args.service))?;
    let target = replica(instance, &name, &args.service, args.index)?;
    let request = crate::runtime::exec::ExecRequest {
        command: args.command,
        env: args.env,
        workdir: args.workdir,
        user: args.user,
        // docker compose exec keeps stdin open and wants a terminal only
        // when it has one.
        interactive: true,
        tty: !args.no_tty && std::io::stdin().is_terminal(),
    };
    crate::runtime::exec::exec(instance, &target.config.id, &request)
        .map_err(|e| Failure::of_start(&e, e.start_code()))
}

pub fn run(instance: &Instance, outer: &ProjectArgs, args: RunArgs) -> CliResult {
    let (name, record) = applied(instance, outer)?;
    let Some(service) = record.service(&args.service) else {
        return Err(format!("no such service: {} (project {name})", args.service).into());
    };
    let container = args.name.clone().unwrap_or_else(|| {
        let id = crate::container::names::random_id();
        format!("{name}-{}-run-{}", args.service, &id[..12])
    });
    let mut request =
        crate::project::replicas::replica_request(&name, service, 0, container.clone());
    // A one-off is no replica: without its slot the supervisor leaves it be.
    let replica_only = [
        format!("{}=", crate::container::labels::LABEL_SLOT),
        format!("{}=", crate::container::labels::LABEL_REVISION),
    ];
    request
        .labels
        .retain(|l| !replica_only.iter().any(|p| l.starts_with(p)));
    request.files = crate::project::replicas::template_files(instance, &name, service);
    request.labels.push(format!("{ONEOFF_LABEL}=True"));
    // As `docker compose run`: a one-off runs what the tag names now (a
    // `compose build` since `up` shows), not the replicas' pinned image.
    request.image_pin = None;
    request.labels.extend(args.label);
    if !args.command.is_empty() {
        request.command = args.command;
    }
    if args.entrypoint.is_some() {
        request.entrypoint = args.entrypoint;
    }
    request.env.extend(args.env);
    request.workdir = args.workdir.or(request.workdir);
    request.user = args.user.or(request.user);
    request.auto_remove = args.rm;
    request.interactive = !args.detach;
    request.tty = !args.no_tty && !args.detach && std::io::stdin().is_terminal();
    let extra = crate::project::replicas::extra_connections(service, &container);
    if !extra.is_empty() && !args.detach {
        // Joining after start needs a running container the caller waits on.
        return Err(format!(
            "service {} is on several networks: run it with -d (attached one-offs join only its first network)",
            args.service
        )
        .into());
    }
    match crate::runtime::run::run(instance, &request, args.detach) {
        Ok(crate::runtime::run::RunOutcome::Exited(code)) => Ok(code),
        Ok(crate::runtime::run::RunOutcome::Detached(id)) => {
            for connect in &extra {
                crate::runtime::net::connect(instance, connect).map_err(|e| e.to_string())?;
            }
            println!("{id}");
            Ok(0)
        }
        Err(e) => Err(Failure::of_start(&e, e.start_code())),
    }
}

/// docker compose's label of one-off containers (`compose run`).
const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";

pub fn port(instance: &Instance, outer: &ProjectArgs, args: &PortArgs) -> CliResult {
    let (name, record) = applied(instance, outer)?;
    let Some(service) = record.service(&args.service) else {
        return Err(format!("no such service: {} (project {name})", args.service).into());
    };
    let _ = args.index;
    let found = service
        .ports
        .iter()
        .find(|p| p.container_port == args.private_port && p.proto.to_string() == args.protocol);
    match found {
        Some(p) => {
            let ip = p.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            println!("{ip}:{}", p.host_port);
            Ok(0)
        }
        None => Err(format!(
            "no port {}/{} published for service {}",
            args.private_port, args.protocol, args.service
        )
        .into()),
    }
}
