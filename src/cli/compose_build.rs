//! Compose `build:` for `up`: names each built service's image as compose
//! does (`image:` if given, else `PROJECT-SERVICE`) and builds the missing
//! ones (all of them on `up --build`) before the services start; pulls
//! as `up --pull` and the services' `pull_policy` say.

use std::collections::BTreeMap;

use super::Failure;
use crate::build::builder::{self, BuildRequest};
use crate::build::dockerfile::RunNetwork;
use crate::compose::model::{BuildSpec, Project, Service};
use crate::instance::Instance;
use crate::project::image_plan::{image_action, pulls_bases, ImageAction, ImageOptions};

/// The image name compose gives a service with `build:`.
pub fn image_name(project: &str, service: &str, image: Option<&str>) -> String {
    image.map_or_else(
        || format!("{project}-{service}").to_ascii_lowercase(),
        str::to_string,
    )
}

/// Sets the image of every service with `build:`, then pulls and builds
/// what `options` and each service's `pull_policy` ask for: pulls only for
/// the services this `up` starts (the named ones and their dependencies).
pub fn prepare_images(
    instance: &Instance,
    project: &mut Project,
    named: &[String],
    options: &ImageOptions,
) -> Result<(), Failure> {
    let store = instance.images()?;
    let name = project.name.clone();
    let needed = crate::project::select::selected_services(project, named)?;
    for (service, svc) in project.services.iter_mut() {
        if svc.build.is_some() {
            svc.image = Some(image_name(&name, service, svc.image.as_deref()));
        }
        let Some(image) = svc.image.clone() else {
            continue;
        };
        let wanted = named.is_empty() || named.contains(service);
        let present = store.resolve(&image).is_ok();
        match image_action(svc, present, wanted, options) {
            ImageAction::Keep => {}
            ImageAction::Pull if !needed.contains(service) => {}
            ImageAction::Pull => pull(instance, service, &image, present)?,
            ImageAction::Build => {
                let pull = pulls_bases(svc, options);
                build(instance, service, svc, &image, pull)?
            }
        }
    }
    Ok(())
}

/// A failed pull of a missing image is `up`'s missing-image error with
/// why; of a present one (`always`), its own.
fn pull(instance: &Instance, service: &str, image: &str, present: bool) -> Result<(), Failure> {
    eprintln!("pulling {service} ({image})");
    super::registry::pull_for_run(instance, image).map_err(|e| {
        let why = e.message;
        Failure::from(match present {
            true => format!("service {service}: pulling {image} failed: {why}"),
            false => format!(
                "service {service}: image {image} is not present and pulling it failed: {why}; \
                 get it with 'rcorch pull {image}' once a registry is reachable \
                 (or build or import it), then run up again"
            ),
        })
    })
}

/// Builds `svc` as `image`; `pull`: its base images are pulled even when
/// present (see `pulls_bases`).
fn build(
    instance: &Instance,
    service: &str,
    svc: &Service,
    image: &str,
    pull: bool,
) -> Result<(), Failure> {
    let Some(spec) = &svc.build else {
        return Ok(());
    };
    eprintln!("building {service} as {image}");
    let mut req = request(spec, image, super::build::registry_access(&instance.root)?)
        .map_err(|e| Failure::from(format!("service {service}: {}", e.message)))?;
    req.pull = pull;
    builder::build(instance, &req, &mut std::io::stderr())
        .map_err(|e| Failure::from(format!("service {service}: {e}")))?;
    Ok(())
}

fn request(
    spec: &BuildSpec,
    image: &str,
    registry: crate::image::registry_io::Access,
) -> Result<BuildRequest, Failure> {
    let (dockerfile, dockerfile_name, dockerfile_path) =
        match (&spec.dockerfile_inline, &spec.dockerfile) {
            (Some(inline), _) => (inline.clone(), "dockerfile_inline".to_string(), None),
            (None, file) => {
                let path = spec.context.join(file.as_deref().unwrap_or("Dockerfile"));
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Failure::from(format!("cannot read {}: {e}", path.display())))?;
                (text, path.display().to_string(), Some(path))
            }
        };
    let network = match spec.network.as_deref() {
        Some("none") => RunNetwork::None,
        Some("host") => RunNetwork::Host,
        _ => RunNetwork::Default,
    };
    let mut tags = vec![image.to_string()];
    tags.extend(spec.tags.iter().cloned());
    Ok(BuildRequest {
        context: spec.context.clone(),
        dockerfile,
        dockerfile_name,
        dockerfile_path,
        tags,
        build_args: spec.args.clone(),
        target: spec.target.clone(),
        labels: spec.labels.clone(),
        network,
        // As docker compose: the live view on a terminal, plain lines elsewhere.
        progress: super::build::progress_mode("auto")?,
        no_cache: spec.no_cache,
        secrets: BTreeMap::new(),
        epoch: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.parse().ok()),
        pull: spec.pull,
        registry: Some(registry),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_follow_compose() {
        assert_eq!(image_name("Shop", "web", None), "shop-web");
        assert_eq!(image_name("shop", "web", Some("me/web:1")), "me/web:1");
    }
}
