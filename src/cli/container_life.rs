//! A container's life apart from `run`: `create`, `start`, `restart`,
//! `pause` and `unpause`, as Docker's verbs of those names. A project's
//! services are started with `compose start` (the old spelling `start -p`
//! says so).

use clap::Args;

use super::compose_cmd::did_you_mean;
use super::{CliResult, Failure, RunArgs};
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::{self, observed_status};
use crate::runtime::run::{self, RunOutcome};

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach stdout/stderr and wait for the container; exit with its code
    #[arg(short, long)]
    attach: bool,
    /// Attach stdin too
    #[arg(short, long)]
    interactive: bool,
    #[command(flatten)]
    project: ProjectFlags,
    #[arg(required_unless_present_any = ["project_name", "file"], value_name = "CONTAINER")]
    containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RestartArgs {
    /// Seconds to wait for the stop before SIGKILL (default: the container's --stop-timeout)
    #[arg(short = 't', long = "time")]
    time: Option<u64>,
    #[command(flatten)]
    project: ProjectFlags,
    #[arg(required_unless_present_any = ["project_name", "file"], value_name = "CONTAINER")]
    containers: Vec<String>,
}

/// `-p`/`-f` of the project spelling these verbs once had: kept only to
/// point at `rcorch compose`.
#[derive(Args, Debug)]
pub(super) struct ProjectFlags {
    #[arg(short = 'p', long = "project-name", hide = true)]
    project_name: Option<String>,
    #[arg(short = 'f', long = "file", hide = true)]
    file: Option<String>,
}

impl ProjectFlags {
    fn refuse(&self, verb: &str, rest: &[String]) -> Result<(), Failure> {
        self.refuse_for(verb, "containers", rest)
    }

    /// `operand`: what the top-level verb takes instead (as in Docker).
    pub(super) fn refuse_for(
        &self,
        verb: &str,
        operand: &str,
        rest: &[String],
    ) -> Result<(), Failure> {
        if self.project_name.is_none() && self.file.is_none() {
            return Ok(());
        }
        let hint = did_you_mean(verb, self.project_name.as_deref(), rest);
        Err(format!("{verb} takes {operand}; a project's services: {hint}").into())
    }
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    containers: Vec<String>,
}

/// `create`: the container `run` would make, not started; prints its id.
pub fn create(instance: &Instance, args: RunArgs) -> CliResult {
    if args.more.detach_keys.is_some() || args.more.sig_proxy.as_deref() == Some("false") {
        return Err("--detach-keys and --sig-proxy=false are for an attached run: give them to 'rcorch attach'".into());
    }
    let (request, _) = super::run_request(instance, args)?;
    let id = run::create(instance, &request).map_err(|e| Failure::of_start(&e, None))?;
    println!("{id}");
    Ok(0)
}

pub fn start(instance: &Instance, args: &StartArgs) -> CliResult {
    args.project.refuse("start", &args.containers)?;
    if args.attach || args.interactive {
        let [container] = args.containers.as_slice() else {
            return Err("you cannot start and attach several containers at once".into());
        };
        return start_attached(instance, container, args.interactive);
    }
    for_each(&args.containers, |c| start_one(instance, c))
}

/// Starts `reference` in the background unless it runs already (Docker:
/// starting a running container succeeds).
fn start_one(instance: &Instance, reference: &str) -> Result<(), Failure> {
    let record = instance
        .containers
        .load(&instance.containers.resolve(reference)?)?;
    if observed_status(&record.state) == Status::Running {
        return Ok(());
    }
    run::start_existing(instance, &record.config, (false, false))
        .map_err(|e| Failure::of_start(&e, e.start_code()))?;
    Ok(())
}

fn start_attached(instance: &Instance, reference: &str, stdin: bool) -> CliResult {
    let record = instance
        .containers
        .load(&instance.containers.resolve(reference)?)?;
    if observed_status(&record.state) == Status::Running {
        // As Docker: start -a of a running container attaches to it.
        let args = super::attach::AttachArgs {
            no_stdin: !stdin,
            sig_proxy: None,
            detach_keys: None,
            container: reference.to_string(),
        };
        return super::attach::attach(instance, &args);
    }
    let mut config = record.config;
    config.interactive = stdin;
    match run::start_existing(instance, &config, (true, true)) {
        Ok(RunOutcome::Exited(code)) => Ok(code),
        Ok(RunOutcome::Detached(_)) => Ok(0),
        Err(e) => Err(Failure::of_start(&e, e.start_code())),
    }
}

pub fn restart(instance: &Instance, args: &RestartArgs) -> CliResult {
    args.project.refuse("restart", &args.containers)?;
    for_each(&args.containers, |c| {
        control::stop_reporting(instance, c, args.time, &mut super::project::say)?;
        start_one(instance, c)
    })
}

pub fn pause(instance: &Instance, args: &PauseArgs) -> CliResult {
    for_each(&args.containers, |c| {
        crate::runtime::pause::pause(instance, c)?;
        Ok(())
    })
}

pub fn unpause(instance: &Instance, args: &PauseArgs) -> CliResult {
    for_each(&args.containers, |c| {
        crate::runtime::pause::unpause(instance, c)?;
        Ok(())
    })
}

/// Each container in turn, its name printed once done, as Docker does; the
/// exit code is 1 if any failed.
fn for_each(
    references: &[String],
    mut action: impl FnMut(&str) -> Result<(), Failure>,
) -> CliResult {
    let mut code = 0;
    for reference in references {
        match action(reference) {
            Ok(()) => println!("{reference}"),
            Err(f) => {
                eprintln!("rcorch: {}", f.message);
                code = 1;
            }
        }
    }
    Ok(code)
}
