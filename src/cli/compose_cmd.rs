//! `rcorch compose [-f FILE] [-p NAME] [--profile P] [--env-file F] VERB`:
//! docker compose's namespace. Project flags go before the verb (as in
//! docker compose) or after it; the project verbs are the ones `up`,
//! `down`, `scale`… already run, the service-addressed ones
//! (`exec web`, `port web 80`, `run --rm web`) live in `compose_verbs`.

use clap::{Args, Subcommand};

use super::compose_images as images;
use super::compose_verbs as verbs;
use super::project::{self, ProjectArgs};
use super::{compose, CliResult};
use crate::instance::Instance;

#[derive(Args, Debug)]
pub struct ComposeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(subcommand)]
    pub verb: ComposeVerb,
}

#[derive(Subcommand, Debug)]
pub enum ComposeVerb {
    /// Create and start the services; the supervisor keeps them so
    Up(project::UpArgs),
    /// Stop and remove the project's containers (and with -v its volumes)
    Down(project::DownArgs),
    /// List the project's containers
    Ps(verbs::PsArgs),
    /// Show the services' output, each line prefixed by its replica
    Logs(verbs::LogsArgs),
    /// Run a command in a running replica of SERVICE (--index N: which one)
    Exec(verbs::ExecArgs),
    /// Run a one-off command in a new container of SERVICE
    Run(verbs::RunArgs),
    /// Print the host address a service's port is published on
    Port(verbs::PortArgs),
    /// Show the processes of the services' replicas
    Top(verbs::ServiceList),
    /// List the images the project's containers use
    Images(verbs::ServiceList),
    /// Pull the services' images (services with `build:` are skipped)
    Pull(verbs::ServiceList),
    /// Push the images of the services with `build:` and `image:`
    Push(verbs::ServiceList),
    /// Build the services that have `build:`
    Build(verbs::BuildArgs),
    /// Validate the compose file and print its normalised model
    Config(verbs::ConfigArgs),
    /// Restart services: graceful stop, then start
    Restart(project::ServicesArgs),
    /// Stop services (they stay, stopped, until start)
    Stop(project::ServicesArgs),
    /// Start stopped services
    Start(project::ServicesArgs),
    /// Change replica counts: SERVICE=N…
    Scale(project::ScaleArgs),
    /// What the project's supervisor did and why
    Events(project::EventsArgs),
    /// Roll services back to their previous (or --to N) definition
    Rollback(project::RollbackArgs),
    /// List a service's revisions
    History(project::HistoryArgs),
}

/// The hint for a project flag given to a container verb (`start -p shop
/// web`): the same line under `rcorch compose`.
pub fn did_you_mean(verb: &str, project: Option<&str>, rest: &[String]) -> String {
    let mut line = vec!["rcorch", "compose"];
    if let Some(name) = project {
        line.extend(["-p", name]);
    }
    line.push(verb);
    line.extend(rest.iter().map(String::as_str));
    format!("did you mean '{}'?", line.join(" "))
}

/// The project flags given after the verb, under those given before it.
fn overlay(inner: &mut ProjectArgs, outer: &ProjectArgs) {
    *inner = std::mem::take(inner).overlaid_by(outer);
}

fn merged(inner: &mut ProjectArgs, outer: &ProjectArgs) -> ProjectArgs {
    std::mem::take(inner).overlaid_by(outer)
}

/// `compose config` needs no instance.
pub fn without_instance(args: &ComposeArgs) -> Option<CliResult> {
    let ComposeVerb::Config(c) = &args.verb else {
        return None;
    };
    let project = ProjectArgs {
        file: c.project.file.clone(),
        project_name: c.project.project_name.clone(),
        profiles: c.project.profiles.clone(),
        env_file: c.project.env_file.clone(),
    }
    .overlaid_by(&args.project);
    Some(compose::config(&compose::ConfigArgs {
        file: project.file.clone(),
        project_name: project.project_name.clone(),
        profiles: project.profiles.clone(),
        env_file: project.env_file.clone(),
        quiet: c.quiet,
        services: c.services,
    }))
}

pub fn compose(instance: &Instance, args: ComposeArgs) -> CliResult {
    let outer = args.project;
    match args.verb {
        ComposeVerb::Up(mut a) => {
            overlay(&mut a.project, &outer);
            project::up(instance, &a)
        }
        ComposeVerb::Down(mut a) => {
            overlay(&mut a.project, &outer);
            project::down(instance, &a)
        }
        ComposeVerb::Ps(mut a) => verbs::ps(instance, &merged(&mut a.project, &outer), &a),
        // `logs -f` is --follow: project flags go first.
        ComposeVerb::Logs(a) => verbs::logs(instance, &outer, &a),
        ComposeVerb::Exec(mut a) => verbs::exec(instance, &merged(&mut a.project, &outer), a),
        // `run -p` is docker compose's --publish: project flags go first.
        ComposeVerb::Run(a) => verbs::run(instance, &outer, a),
        ComposeVerb::Port(mut a) => verbs::port(instance, &merged(&mut a.project, &outer), &a),
        ComposeVerb::Top(mut a) => images::top(instance, &merged(&mut a.project, &outer), &a),
        ComposeVerb::Images(mut a) => images::images(instance, &merged(&mut a.project, &outer), &a),
        ComposeVerb::Pull(mut a) => images::pull(instance, &merged(&mut a.project, &outer), &a),
        ComposeVerb::Push(mut a) => images::push(instance, &merged(&mut a.project, &outer), &a),
        ComposeVerb::Build(mut a) => images::build(instance, &merged(&mut a.project, &outer), &a),
        ComposeVerb::Config(_) => unreachable!("handled without an instance"),
        ComposeVerb::Restart(mut a) => {
            overlay(&mut a.project, &outer);
            project::restart(instance, &a)
        }
        ComposeVerb::Stop(mut a) => {
            overlay(&mut a.project, &outer);
            let name = project::project_name(instance, &a.project)?;
            project::stop_services(instance, &name, &a.services)
        }
        ComposeVerb::Start(mut a) => {
            overlay(&mut a.project, &outer);
            project::start(instance, &a)
        }
        ComposeVerb::Scale(mut a) => {
            overlay(&mut a.project, &outer);
            project::scale(instance, &a)
        }
        ComposeVerb::Events(mut a) => {
            overlay(&mut a.project, &outer);
            project::events(instance, &a)
        }
        ComposeVerb::Rollback(mut a) => {
            overlay(&mut a.project, &outer);
            project::rollback(instance, &a)
        }
        ComposeVerb::History(mut a) => {
            overlay(&mut a.project, &outer);
            project::history(instance, &a)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::*;

    fn parse(args: &[&str]) -> ComposeArgs {
        let mut v = vec!["rcorch", "compose"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).unwrap().command {
            Command::Compose(c) => c,
            other => panic!("expected compose, got {other:?}"),
        }
    }

    #[test]
    fn project_flags_before_the_verb_win_over_those_after_it() {
        let c = parse(&["-f", "a.yaml", "-p", "shop", "up", "-d", "-p", "other"]);
        let ComposeVerb::Up(up) = c.verb else {
            panic!("expected up")
        };
        let merged = up.project.overlaid_by(&c.project);
        assert_eq!(merged.project_name.as_deref(), Some("shop"));
        assert_eq!(merged.file, [std::path::PathBuf::from("a.yaml")]);
    }

    #[test]
    fn exec_takes_a_service_an_index_and_a_command() {
        let c = parse(&["exec", "--index", "2", "-T", "web", "ls", "-l"]);
        let ComposeVerb::Exec(e) = c.verb else {
            panic!("expected exec")
        };
        assert_eq!((e.service.as_str(), e.index, e.no_tty), ("web", 2, true));
        assert_eq!(e.command, ["ls", "-l"]);
    }

    #[test]
    fn the_hint_repeats_the_line_under_compose() {
        let hint = did_you_mean("start", Some("shop"), &["web".to_string()]);
        assert_eq!(hint, "did you mean 'rcorch compose -p shop start web'?");
        assert_eq!(
            did_you_mean("logs", None, &[]),
            "did you mean 'rcorch compose logs'?"
        );
    }
}
