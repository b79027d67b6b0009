//! Compose `build:` for `up`: names each built service's image as compose
//! does (`image:` if given, else `PROJECT-SERVICE`) and builds the missing
//! ones (all of them on `up --build`) before the services start.

use std::collections::BTreeMap;

use super::Failure;
use crate::build::builder::{self, BuildRequest};
use crate::build::dockerfile::RunNetwork;
use crate::compose::model::{BuildSpec, Project};
use crate::instance::Instance;

/// The image name compose gives a service with `build:`.
pub fn image_name(project: &str, service: &str, image: Option<&str>) -> String {
    image.map_or_else(
        || format!("{project}-{service}").to_ascii_lowercase(),
        str::to_string,
    )
}

/// Sets the image of every service with `build:` and builds what is needed.
pub fn build_services(
    instance: &Instance,
    project: &mut Project,
    selected: &[String],
    force: bool,
) -> Result<(), Failure> {
    let store = instance.images()?;
    let name = project.name.clone();
    for (service, svc) in project.services.iter_mut() {
        let Some(spec) = svc.build.clone() else {
            continue;
        };
        let image = image_name(&name, service, svc.image.as_deref());
        svc.image = Some(image.clone());
        // Missing images are built for every service (a selected one may
        // depend on it); --build rebuilds the selected ones.
        let wanted = selected.is_empty() || selected.contains(service);
        if store.resolve(&image).is_ok() && !(force && wanted) {
            continue;
        }
        eprintln!("building {service} as {image}");
        let req = request(
            &spec,
            &image,
            super::build::registry_access(&instance.root)?,
        )
        .map_err(|e| Failure::from(format!("service {service}: {}", e.message)))?;
        builder::build(instance, &req, &mut std::io::stderr())
            .map_err(|e| Failure::from(format!("service {service}: {e}")))?;
    }
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
        quiet: false,
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
