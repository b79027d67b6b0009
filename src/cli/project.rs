//! Compose projects: `up`, `down`, `scale`, `events`, and the hidden
//! `supervise` that `up` starts in the background.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CliResult, Failure};
use crate::compose;
use crate::compose::model::PullPolicy;
use crate::compose::sources::Readers;
use crate::instance::Instance;
use crate::project::image_plan::{BuildFlag, ImageOptions, Recreate};
use crate::project::supervise::{self, Supervisor};
use crate::project::wait::{self, Waited};
use crate::project::{commands, list_projects, metrics, select, ProjectDir};
use crate::project::{events, events_query};
use crate::supervisor::RunState;

#[derive(Args, Debug, Default)]
pub struct ProjectArgs {
    /// Compose file (default: compose.yaml, compose.yml, docker-compose.yaml
    /// or docker-compose.yml here); repeat to merge later files over earlier ones
    #[arg(short, long, value_name = "FILE")]
    pub file: Vec<PathBuf>,
    /// Project name (default: the file's `name`, else its directory's name)
    #[arg(short, long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Enable services of this profile (repeatable; default: $COMPOSE_PROFILES)
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Variables for interpolation from FILE instead of the `.env` next to the compose file
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
}

impl ProjectArgs {
    /// `outer` (flags before a `compose` verb) over these (flags after it).
    pub fn overlaid_by(mut self, outer: &ProjectArgs) -> ProjectArgs {
        if !outer.file.is_empty() {
            self.file = outer.file.clone();
        }
        if outer.project_name.is_some() {
            self.project_name = outer.project_name.clone();
        }
        if !outer.profiles.is_empty() {
            self.profiles = outer.profiles.clone();
        }
        if outer.env_file.is_some() {
            self.env_file = outer.env_file.clone();
        }
        self
    }
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Return once the app is up; the supervisor keeps it so
    #[arg(short, long)]
    detach: bool,
    /// Seconds to wait for every replica to run
    #[arg(long, default_value_t = 60)]
    wait_timeout: u64,
    /// Build every service with `build:` first (else only missing images)
    #[arg(long)]
    build: bool,
    /// Never build an image, not even a missing one
    #[arg(long, conflicts_with = "build")]
    no_build: bool,
    /// Pull images first: always, missing or never (default: each
    /// service's pull_policy, else missing)
    #[arg(long, value_name = "POLICY", value_parser = pull_flag)]
    pull: Option<PullFlag>,
    /// Replace the replicas even if their definition and image are unchanged
    #[arg(long)]
    force_recreate: bool,
    /// Keep the replicas of services that exist, even if they changed
    #[arg(long, conflicts_with = "force_recreate")]
    no_recreate: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics (IP:PORT; overrides
    /// x-rcorch-metrics; off by default)
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Only these services (and what they depend on); the others keep
    /// their current state
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// SERVICE=N
    #[arg(required = true)]
    scales: Vec<String>,
}

#[derive(Args, Debug)]
pub struct SuperviseArgs {
    /// The project to keep
    name: String,
    /// Apply this compose file first (as `up` does), for systemd units
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Where to write the unit (default: the current directory)
    #[arg(long, value_name = "DIR", default_value = ".")]
    output_dir: PathBuf,
    /// Add WatchdogSec=N; the supervisor then pings systemd at N/2
    #[arg(long, value_name = "SECONDS")]
    watchdog: Option<u64>,
}

/// Loads the compose file and prints its warnings: for the commands that
/// apply the file (`up`, `config`…), so each warns once.
/// `targeted`: the services named on the command line (their profiles
/// are enabled, as compose does).
pub(super) fn load(args: &ProjectArgs, targeted: &[String]) -> Result<compose::Loaded, Failure> {
    let loaded = load_targeting(args, targeted)?;
    for warning in &loaded.warnings {
        eprintln!("WARN {warning}");
    }
    Ok(loaded)
}

/// Loads the compose file without its warnings: for the commands that only
/// need the project's name from it (`logs`, `down`, `events`…), which would
/// otherwise repeat what `up` already said on every verb.
pub(super) fn load_quiet(args: &ProjectArgs) -> Result<compose::Loaded, Failure> {
    load_targeting(args, &[])
}

fn load_targeting(args: &ProjectArgs, targeted: &[String]) -> Result<compose::Loaded, Failure> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    Ok(compose::load_with(&compose::FileInput {
        files: &args.file,
        env_file: args.env_file.as_deref(),
        cwd: &cwd,
        project_name: args.project_name.as_deref(),
        profiles: &args.profiles,
        targeted,
    })?)
}

/// Progress of a wait, on stderr.
pub(super) fn say(message: &str) {
    eprintln!("rcorch: {message}");
}

/// What failed in project `name` since `since` for the `services` given,
/// as `service: action: detail` (the last failure of each kind and service).
fn failures_since(
    instance: &Instance,
    name: &str,
    since: &str,
    services: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    let mut last = std::collections::BTreeMap::new();
    for e in events::read(&ProjectDir::new(&instance.root, name).events_path()) {
        // The metrics server is the project's, not a service's.
        let ours = services.contains(&e.service) || e.action == "metrics-failed";
        if e.time.as_str() >= since && e.action.ends_with("-failed") && ours {
            last.insert((e.service.clone(), e.action.clone()), e.detail.clone());
        }
    }
    last.into_iter()
        .map(|((service, action), detail)| match service.is_empty() {
            true => format!("{action}: {detail}"),
            false => format!("{service}: {action}: {detail}"),
        })
        .collect()
}

/// The project a command is about: `-p`, else the compose file's, else the
/// only project there is.
pub(super) fn project_name(instance: &Instance, args: &ProjectArgs) -> Result<String, Failure> {
    if let Some(name) = &args.project_name {
        return Ok(name.clone());
    }
    if let Ok(loaded) = load_quiet(args) {
        return Ok(loaded.project.name);
    }
    match list_projects(&instance.root).as_slice() {
        [only] => Ok(only.clone()),
        [] => Err("no project is up; start one with 'rcorch up -f FILE'".into()),
        _ => Err("several projects are up; name one with -p NAME".into()),
    }
}

pub(super) fn exe() -> Result<PathBuf, Failure> {
    std::env::current_exe()
        .map_err(|e| Failure::from(format!("cannot find the rcorch binary: {e}")))
}

pub fn up(instance: &Instance, args: &UpArgs) -> CliResult {
    // Attached: a Ctrl-C from now on (even during start-up) stops the app
    // cleanly instead of killing this command half-way.
    let ctrl_c = (!args.detach).then(super::logs::stop_signals).transpose()?;
    let mut loaded = load(&args.project, &args.services)?;
    if let Some(addr) = &args.metrics {
        metrics::set_address(&mut loaded.project, addr);
    }
    let run = UpRun {
        services: &args.services,
        wait_timeout: args.wait_timeout,
        images: args.image_options(),
        recreate: match (args.force_recreate, args.no_recreate) {
            (true, _) => Recreate::Force,
            (_, true) => Recreate::Never,
            _ => Recreate::Changed,
        },
        readers: &Readers::host(),
    };
    up_project(instance, &mut loaded.project, &run, ctrl_c)
}

/// `up --pull`'s values: compose's, "policy" being the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullFlag(Option<PullPolicy>);

fn pull_flag(value: &str) -> Result<PullFlag, String> {
    match value {
        "always" => Ok(PullFlag(Some(PullPolicy::Always))),
        "missing" => Ok(PullFlag(Some(PullPolicy::Missing))),
        "never" => Ok(PullFlag(Some(PullPolicy::Never))),
        "policy" => Ok(PullFlag(None)),
        other => Err(format!(
            "invalid --pull {other:?}: use always, missing, never or policy"
        )),
    }
}

impl UpArgs {
    fn image_options(&self) -> ImageOptions {
        ImageOptions {
            pull: self.pull.and_then(|p| p.0),
            build: match (self.build, self.no_build) {
                (true, _) => BuildFlag::Always,
                (_, true) => BuildFlag::Never,
                _ => BuildFlag::Missing,
            },
            pull_bases: false,
        }
    }
}

/// How `up` runs an already-loaded project.
pub struct UpRun<'a> {
    /// Only these services (and their dependencies); all when empty.
    pub services: &'a [String],
    pub wait_timeout: u64,
    /// What to pull and build first.
    pub images: ImageOptions,
    /// Whether unchanged replicas are replaced, changed ones kept.
    pub recreate: Recreate,
    /// Where the secrets' and configs' bytes come from.
    pub readers: &'a Readers<'a>,
}

/// `up` after loading: build, record, start the supervisor, wait; then,
/// attached (`ctrl_c` given), follow the logs until Ctrl-C.
pub fn up_project(
    instance: &Instance,
    project: &mut compose::Project,
    run: &UpRun,
    ctrl_c: Option<nix::sys::signalfd::SignalFd>,
) -> CliResult {
    // Before building or recording anything: a bad or taken address stops here.
    commands::check_metrics(instance, project)?;
    super::compose_build::prepare_images(instance, project, run.services, &run.images)?;
    let since = crate::util::time::now_rfc3339();
    let fresh = !ProjectDir::new(&instance.root, &project.name).exists();
    let volumes_before = commands::volume_names(instance);
    let mut record = commands::apply_services_reading(
        instance,
        project,
        run.services,
        run.readers,
        run.recreate,
    )?;
    // Wait for and report what this `up` started, not the services it left.
    let selected = select::selected_services(project, run.services)?;
    let names: Vec<String> = selected.iter().cloned().collect();
    for replica in commands::clear_exited(instance, &record.name, &names) {
        eprintln!("{replica}: exited, starting it again");
    }
    commands::ensure_supervisor(instance, &record.name, &exe()?)?;
    record.services.retain(|s| selected.contains(&s.spec.name));
    let timeout = Duration::from_secs(run.wait_timeout);
    let waited = wait::wait_until_up(instance, &record, &since, timeout, &mut say);
    let failures = failures_since(instance, &record.name, &since, &selected);
    if !waited.balancer_failed.is_empty() || !waited.cannot_run.is_empty() {
        return up_failed(instance, &record.name, &waited, fresh, &volumes_before);
    }
    if !waited.short.is_empty() {
        eprintln!(
            "rcorch: project {} is not fully up after {}s: {} still starting{}; see 'rcorch events -p {}'",
            record.name,
            run.wait_timeout,
            waited.short.join(", "),
            failures.iter().map(|f| format!("; {f}")).collect::<String>(),
            record.name
        );
        return Ok(1);
    }
    // Running is not enough: a proxy or conntrack failure is worth knowing.
    let broken: Vec<&String> = failures
        .iter()
        .filter(|f| !f.contains("start-failed"))
        .collect();
    if !broken.is_empty() {
        for f in broken {
            eprintln!("rcorch: {f}");
        }
        return Ok(1);
    }
    for service in &record.services {
        println!(
            "{}: {} running (revision {})",
            service.spec.name, service.spec.replicas, service.spec.revision
        );
    }
    // Attached, as `docker compose up`: show the replicas' output until
    // Ctrl-C, then stop the services gracefully (they stay, stopped).
    let Some(stop) = ctrl_c else { return Ok(0) };
    super::logs::follow_project(instance, &record.name, run.services, || {
        matches!(stop.read_signal(), Ok(Some(_)))
    })?;
    eprintln!("stopping {} ...", record.name);
    stop_services(instance, &record.name, run.services)
}

/// `up` ends here when a service's balancer rules failed (its replicas
/// run but nobody can reach them) or its command cannot be run (126/127:
/// no retry can start it). A project this `up` created is removed again
/// (with the volumes it made), so nothing is left behind; an existing one
/// stays with its supervisor, which keeps retrying with backoff.
fn up_failed(
    instance: &Instance,
    name: &str,
    waited: &Waited,
    fresh: bool,
    volumes_before: &[String],
) -> CliResult {
    for (service, reason) in &waited.balancer_failed {
        eprintln!("rcorch: service {service}: its ports and load-balancer rules could not be applied: {reason}");
    }
    for (service, error) in &waited.cannot_run {
        eprintln!("rcorch: service {service}: {error}");
    }
    if fresh {
        commands::down(instance, name)?;
        commands::remove_volumes(instance, name, volumes_before)?;
        eprintln!("rcorch: project {name} removed again; fix the cause and run up again");
    } else {
        eprintln!("rcorch: the supervisor keeps retrying; see 'rcorch events -p {name}'");
    }
    Ok(1)
}

#[derive(Args, Debug)]
pub struct DownArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Remove the project's named volumes too (default: they are kept)
    #[arg(short, long)]
    volumes: bool,
}

pub fn down(instance: &Instance, args: &DownArgs) -> CliResult {
    let name = project_name(instance, &args.project)?;
    // The project's directory holds its record, networks and files.
    let existed = ProjectDir::new(&instance.root, &name).dir.exists();
    let mut removed = commands::down(instance, &name)?;
    if args.volumes {
        removed.extend(commands::remove_volumes(instance, &name, &[])?);
    }
    for removed in &removed {
        println!("{removed}");
    }
    // As `docker compose down`: a name that matched nothing (a typo, the
    // wrong --root) is said, though not an error.
    if !existed && removed.is_empty() {
        eprintln!("Warning: No resource found to remove for project {name:?}.");
    }
    Ok(0)
}

pub fn scale(instance: &Instance, args: &ScaleArgs) -> CliResult {
    let name = project_name(instance, &args.project)?;
    let since = crate::util::time::now_rfc3339();
    let record = commands::scale(instance, &name, &args.scales)?;
    let waited = wait::wait_until_up(instance, &record, &since, Duration::from_secs(60), &mut say);
    for (service, reason) in &waited.balancer_failed {
        eprintln!(
            "rcorch: service {service}: its load-balancer rules could not be applied: {reason}"
        );
    }
    for (service, error) in &waited.cannot_run {
        eprintln!("rcorch: service {service}: {error}");
    }
    if !waited.short.is_empty() && waited.cannot_run.is_empty() {
        eprintln!("rcorch: still scaling: {}", waited.short.join(", "));
    }
    Ok(if waited.is_up() { 0 } else { 1 })
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The revision to go back to (default: the one before the current)
    #[arg(long, value_name = "N")]
    to: Option<u64>,
    /// Services to roll back (default: all)
    services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    service: String,
}

pub fn rollback(instance: &Instance, args: &RollbackArgs) -> CliResult {
    let name = project_name(instance, &args.project)?;
    for (service, restored, revision) in
        commands::rollback(instance, &name, &args.services, args.to)?
    {
        println!("{service}: rolling back to revision {restored} (as revision {revision})");
    }
    Ok(0)
}

pub fn history(instance: &Instance, args: &HistoryArgs) -> CliResult {
    let name = project_name(instance, &args.project)?;
    let dir = ProjectDir::new(&instance.root, &name);
    let record = dir.load()?;
    let Some(service) = record.service(&args.service) else {
        return Err(format!("service {} is not in project {name}", args.service).into());
    };
    let history = dir.load_history();
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_header([
            "REVISION", "CREATED", "IMAGE", "IMAGE ID", "COMMAND", "NOTE",
        ]);
    for r in history
        .get(&args.service)
        .map(|h| &h.revisions[..])
        .unwrap_or_default()
    {
        let created =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(r.created_at.as_millis());
        let mut note = Vec::new();
        if r.number == service.spec.revision {
            note.push("current".to_string());
        }
        if let Some(from) = r.restored_from {
            note.push(format!("rollback to {from}"));
        }
        table.add_row([
            r.number.to_string(),
            crate::util::time::format_rfc3339_seconds(created),
            r.spec.template.image.clone(),
            // Which build a revision ran: a rebuild keeps the name.
            r.spec.image_id.as_deref().map_or_else(String::new, |id| {
                crate::image::digest_hex(id).chars().take(12).collect()
            }),
            r.spec.template.command.join(" "),
            note.join(", "),
        ]);
    }
    println!("{table}");
    Ok(0)
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// KEY=VALUE, KEY one of type, container, service, event, project
    /// (repeat a key for OR; different keys must all match)
    #[arg(long = "filter", value_name = "KEY=VALUE")]
    filters: Vec<String>,
    /// Show kept events from T on, then stream: RFC 3339, Unix seconds, or a
    /// duration ago (10m). Without it only new events stream.
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Stop at T (same forms as --since; a past T: print and return at once)
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// json (Docker's event messages, one per line) or a template such as
    /// '{{.Action}} {{.Actor.Attributes.name}}'
    #[arg(long)]
    format: Option<String>,
}

pub fn events(instance: &Instance, args: &EventsArgs) -> CliResult {
    // Every flag checked before anything is read.
    let filters = events_query::parse_filters(&args.filters)?;
    let now = std::time::SystemTime::now();
    let time = |flag, t: &Option<String>| {
        t.as_deref()
            .map(|t| events_query::parse_time(flag, t, now))
            .transpose()
    };
    let query = super::events::Query {
        filters,
        since: time("since", &args.since)?,
        until: time("until", &args.until)?,
        output: events_query::parse_format(args.format.as_deref())?,
    };
    let source = if args.project.project_name.is_some() || !args.project.file.is_empty() {
        let name = project_name(instance, &args.project)?;
        let path = ProjectDir::new(&instance.root, &name).events_path();
        super::events::Source::Project { path, name }
    } else {
        let log = crate::container::events::EventLog::open(&instance.root);
        super::events::Source::Runtime(log)
    };
    super::events::show(source, &query)
}

pub fn supervise(instance: &Instance, args: &SuperviseArgs) -> CliResult {
    if let Some(file) = &args.file {
        let project = ProjectArgs {
            file: vec![file.clone()],
            project_name: Some(args.name.clone()),
            profiles: Vec::new(),
            env_file: None,
        };
        commands::apply(instance, &load(&project, &[])?.project)?;
    }
    let mut supervisor = Supervisor {
        instance,
        project: ProjectDir::new(&instance.root, &args.name),
        exe: exe()?,
        on_ready: Some(Box::new(|| crate::systemd::notify("READY=1"))),
    };
    supervise::run(&mut supervisor)?;
    Ok(0)
}

/// `systemd generate`: writes rcorch-PROJECT.service next to nothing else.
pub fn generate_unit(instance: &Instance, args: &GenerateArgs) -> CliResult {
    if args.project.file.len() > 1 {
        return Err(
            "systemd generate: the unit applies one compose file; merge the -f files into one"
                .into(),
        );
    }
    let loaded = load(&args.project, &[])?;
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let file = args
        .project
        .file
        .first()
        .map(|f| cwd.join(f))
        .unwrap_or_else(|| cwd.join(compose::COMPOSE_FILE_NAMES[0]));
    let spec = crate::systemd::unit::UnitSpec {
        project: loaded.project.name.clone(),
        exe: exe()?,
        root: std::fs::canonicalize(&instance.root).unwrap_or(instance.root.clone()),
        cgroup_parent: instance.cgroup_parent.clone(),
        compose_file: std::fs::canonicalize(&file).unwrap_or(file),
        watchdog_sec: args.watchdog,
    };
    std::fs::create_dir_all(&args.output_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.output_dir.display()))?;
    let path = args
        .output_dir
        .join(crate::systemd::unit::unit_name(&spec.project));
    crate::util::atomic::write_atomic(&path, crate::systemd::unit::render(&spec).as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("{}", path.display());
    Ok(0)
}

#[derive(Args, Debug)]
pub struct ServicesArgs {
    /// The project (default: the compose file's, else the only one up)
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Services (default: all)
    pub services: Vec<String>,
}

fn wait_stopped(instance: &Instance, name: &str, services: &[String]) -> CliResult {
    if wait::wait_until_stopped(instance, name, services, Duration::from_secs(120), &mut say) {
        Ok(0)
    } else {
        Err(format!(
            "replicas of {name} are still running after 120s; see 'rcorch events -p {name}'"
        )
        .into())
    }
}

/// `stop -p NAME [SERVICE…]`: wanted stopped until `start`.
pub fn stop_services(instance: &Instance, name: &str, services: &[String]) -> CliResult {
    commands::set_run_state(instance, name, services, RunState::Stopped)?;
    wait_stopped(instance, name, services)
}

pub fn start(instance: &Instance, args: &ServicesArgs) -> CliResult {
    let name = project_name(instance, &args.project)?;
    let since = crate::util::time::now_rfc3339();
    let record = commands::set_run_state(instance, &name, &args.services, RunState::Running)?;
    commands::clear_exited(instance, &name, &args.services);
    commands::ensure_supervisor(instance, &name, &exe()?)?;
    let waited = wait::wait_until_up(instance, &record, &since, Duration::from_secs(60), &mut say);
    if let Some((service, reason)) = waited.balancer_failed.first() {
        return Err(format!(
            "service {service}: its load-balancer rules could not be applied: {reason}"
        )
        .into());
    }
    if let Some((service, error)) = waited.cannot_run.first() {
        return Err(format!("service {service}: {error}").into());
    }
    if waited.short.is_empty() {
        Ok(0)
    } else {
        Err(format!("still starting: {}", waited.short.join(", ")).into())
    }
}

/// `restart [SERVICE…]`: stop the replicas gracefully, then start them again.
pub fn restart(instance: &Instance, args: &ServicesArgs) -> CliResult {
    let name = project_name(instance, &args.project)?;
    stop_services(instance, &name, &args.services)?;
    start(instance, args)
}
