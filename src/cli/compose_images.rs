//! The `compose` verbs about the services' processes and images: `top`,
//! `images`, `pull`, `push` and `build`.

use comfy_table::{presets::NOTHING, Table};

use super::compose_verbs::{BuildArgs, ServiceList};
use super::project::{self, ProjectArgs};
use super::CliResult;
use crate::compose::model::{Project, PullPolicy};
use crate::container::Status;
use crate::instance::Instance;
use crate::project::image_plan::{BuildFlag, ImageOptions};
use crate::runtime::control::observed_status;

/// The compose file's project, with only `services` (all when empty).
fn loaded(args: &ProjectArgs, services: &[String]) -> Result<Project, super::Failure> {
    let project = project::load(args, services)?.project;
    if let Some(s) = services.iter().find(|s| !project.services.contains_key(*s)) {
        return Err(format!("no such service: {s} (project {})", project.name).into());
    }
    Ok(project)
}

fn selected(services: &[String], name: &str) -> bool {
    services.is_empty() || services.iter().any(|s| s == name)
}

pub fn top(instance: &Instance, outer: &ProjectArgs, args: &ServiceList) -> CliResult {
    let name = project::project_name(instance, outer)?;
    let mut code = 0;
    for r in super::compose_verbs::containers(instance, &name, &args.services)? {
        if observed_status(&r.state) != Status::Running {
            continue;
        }
        println!("{}", r.config.name);
        code = code.max(super::container_verbs::top_of(instance, &r.config.id, &[])?);
        println!();
    }
    Ok(code)
}

pub fn images(instance: &Instance, outer: &ProjectArgs, args: &ServiceList) -> CliResult {
    let name = project::project_name(instance, outer)?;
    let store = instance.images()?;
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_header(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]);
    for r in super::compose_verbs::containers(instance, &name, &args.services)? {
        let image = store.resolve(&r.config.image_id).ok();
        let (repo, tag) = match r.config.image.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
            _ => (r.config.image.clone(), "latest".to_string()),
        };
        let id = r.config.image_id.trim_start_matches("sha256:");
        table.add_row([
            r.config.name.clone(),
            repo,
            tag,
            id[..id.len().min(12)].to_string(),
            image.map_or_else(String::new, |im| super::images::human_size(im.size)),
        ]);
    }
    println!("{table}");
    Ok(0)
}

/// Pulls the image of each service without `build:` (those are built).
pub fn pull(instance: &Instance, outer: &ProjectArgs, args: &ServiceList) -> CliResult {
    let project = loaded(outer, &args.services)?;
    for (service, svc) in &project.services {
        if !selected(&args.services, service) || svc.build.is_some() {
            continue;
        }
        if let Some(image) = &svc.image {
            eprintln!("pulling {service} ({image})");
            super::registry::pull_reference(instance, image)?;
        }
    }
    Ok(0)
}

/// Pushes the image of each service with `build:` and `image:`, as
/// docker compose push does.
pub fn push(instance: &Instance, outer: &ProjectArgs, args: &ServiceList) -> CliResult {
    let project = loaded(outer, &args.services)?;
    for (service, svc) in &project.services {
        let (true, Some(_), Some(image)) =
            (selected(&args.services, service), &svc.build, &svc.image)
        else {
            continue;
        };
        eprintln!("pushing {service} ({image})");
        super::registry::push_reference(instance, image)?;
    }
    Ok(0)
}

/// Builds the selected services that have `build:` (all of them when none
/// is named), as `up --build` does, and starts nothing.
pub fn build(instance: &Instance, outer: &ProjectArgs, args: &BuildArgs) -> CliResult {
    let mut project = loaded(outer, &args.services)?;
    let buildable = project.services.values().any(|s| s.build.is_some());
    // Only what was asked: the others' missing images wait for their `up`.
    for (service, svc) in project.services.iter_mut() {
        if !selected(&args.services, service) {
            svc.build = None;
        }
    }
    if !buildable {
        eprintln!("rcorch: no service of {} has build:", project.name);
    }
    let options = ImageOptions {
        pull: Some(PullPolicy::Never),
        build: BuildFlag::Always,
        pull_bases: args.pull,
    };
    super::compose_build::prepare_images(instance, &mut project, &args.services, &options)?;
    Ok(0)
}
