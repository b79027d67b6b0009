//! What `up` checks before it records or starts anything: every selected
//! service must be runnable as written.

use std::collections::BTreeSet;

use super::{ProjectError, ProjectRecord, Result};
use crate::compose::model::Project;
use crate::image::ImageError;
use crate::image::ImageStore;
use crate::instance::Instance;

/// Each selected service has valid ulimits and an image that is in the store.
pub fn runnable(store: &ImageStore, project: &Project, selected: &BTreeSet<String>) -> Result<()> {
    for name in selected {
        let Some(svc) = project.services.get(name) else {
            continue;
        };
        for (limit, u) in &svc.ulimits {
            let value = |v: i64| if v < 0 { libc::RLIM_INFINITY } else { v as u64 };
            crate::container::ulimit::new(limit, value(u.soft), value(u.hard)).map_err(
                |reason| ProjectError::Ulimit {
                    service: name.clone(),
                    reason,
                },
            )?;
        }
        let env: Vec<String> = svc
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or_default()))
            .collect();
        let command = svc.command.clone().unwrap_or_default();
        crate::container::argsize::check(&command, &env).map_err(|source| {
            ProjectError::ArgSize {
                service: name.clone(),
                source,
            }
        })?;
        let driver = svc.logging.as_ref().and_then(|l| l.driver.as_deref());
        let opts = super::translate::log_opts(svc);
        crate::container::logging::parse(driver, &opts).map_err(|reason| {
            ProjectError::Logging {
                service: name.clone(),
                reason,
            }
        })?;
        let image = missing_image_reference(name, svc.image.as_deref())?;
        match store.resolve(image) {
            Ok(_) => {}
            Err(ImageError::NotFound { .. }) => {
                return Err(ProjectError::ImageMissing {
                    service: name.clone(),
                    image: image.to_string(),
                })
            }
            Err(source) => {
                return Err(ProjectError::Image {
                    service: name.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

/// Each selected service's first replica passes `run`'s own checks (its
/// user and working directory in the image, signal, limits, bind sources,
/// name…): one that never could start is refused now, by service, rather
/// than retried by the supervisor until `up`'s wait gives up.
pub fn replicas(
    instance: &Instance,
    record: &ProjectRecord,
    selected: &BTreeSet<String>,
) -> Result<()> {
    let chosen = record
        .services
        .iter()
        .filter(|s| selected.contains(&s.spec.name));
    for service in chosen {
        let name = service.template.container_name.clone().unwrap_or_else(|| {
            let (project, svc) = (&record.name, &service.spec.name);
            crate::supervisor::spec::container_name_for(
                project,
                svc,
                1,
                service.spec.revision,
                |_| false,
            )
        });
        let request = super::replicas::replica_request(&record.name, service, 1, name);
        crate::runtime::check::request(instance, &request).map_err(|e| ProjectError::Replica {
            service: service.spec.name.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// The image a service runs; a service with only `build:` has none yet.
fn missing_image_reference<'a>(service: &str, image: Option<&'a str>) -> Result<&'a str> {
    match image {
        Some(image) if !image.is_empty() => Ok(image),
        _ => Err(ProjectError::NoImage {
            service: service.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::test_project;

    fn selected(p: &Project) -> BTreeSet<String> {
        p.services.keys().cloned().collect()
    }

    #[test]
    fn a_build_only_service_is_refused_by_name() {
        let p = test_project("services:\n  web:\n    build: .\n");
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let e = runnable(&store, &p, &selected(&p)).unwrap_err().to_string();
        assert!(e.contains("service web") && e.contains("build"), "{e}");
    }

    #[test]
    fn an_unknown_ulimit_is_refused_by_service() {
        let p = test_project("services:\n  web:\n    image: x\n    ulimits:\n      nofiles: 10\n");
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let e = runnable(&store, &p, &selected(&p)).unwrap_err().to_string();
        assert!(e.contains("service web") && e.contains("nofiles"), "{e}");
    }

    #[test]
    fn bad_logging_is_refused_by_service() {
        let yaml = "services:\n  web:\n    image: x\n    logging:\n      options:\n        max-size: huge\n";
        let p = test_project(yaml);
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let e = runnable(&store, &p, &selected(&p)).unwrap_err().to_string();
        assert!(
            e.contains("service web") && e.contains("max-size=huge"),
            "{e}"
        );
    }

    #[test]
    fn an_environment_value_too_big_to_exec_is_refused_by_service_and_key() {
        let big = "x".repeat(200_000);
        let p = test_project(&format!(
            "services:\n  web:\n    image: x\n    environment:\n      BIG: {big}\n"
        ));
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let e = runnable(&store, &p, &selected(&p)).unwrap_err().to_string();
        assert!(e.contains("service web") && e.contains("BIG"), "{e}");
    }

    #[test]
    fn a_missing_image_names_service_image_and_pull() {
        let p = test_project("services:\n  web:\n    image: nosuch:1\n");
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let e = runnable(&store, &p, &selected(&p)).unwrap_err().to_string();
        assert!(
            e.contains("service web")
                && e.contains("nosuch:1")
                && e.contains("rcorch pull nosuch:1"),
            "{e}"
        );
    }
}
