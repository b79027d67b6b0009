//! What `up` does about each service's image before anything is recorded,
//! and whether it recreates replicas whose definition did not change:
//! `docker compose up`'s `--pull`, `--build`/`--no-build`,
//! `--force-recreate`/`--no-recreate` and the services' `pull_policy`.

use std::collections::BTreeSet;

use crate::compose::model::{PullPolicy, Service};

use super::translate::ProjectRecord;

/// `--build` / `--no-build` (neither: build only a missing image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildFlag {
    #[default]
    Missing,
    Always,
    Never,
}

/// `up`'s image options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageOptions {
    /// `--pull`; None is compose's "policy": each service's `pull_policy`.
    pub pull: Option<PullPolicy>,
    pub build: BuildFlag,
    /// `compose build --pull`: every build pulls its base images.
    pub pull_bases: bool,
}

/// What happens to one service's image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAction {
    /// Use what is here (a missing image is then `up`'s error).
    Keep,
    Pull,
    Build,
}

/// The action for `service`, its image `present` or not; `wanted` is
/// whether the service was named (or none was), as `--build` rebuilds only
/// those while a missing image is made for every service.
pub fn image_action(
    service: &Service,
    present: bool,
    wanted: bool,
    options: &ImageOptions,
) -> ImageAction {
    if service.build.is_some() {
        let rebuild = match options.build {
            BuildFlag::Never => return ImageAction::Keep,
            BuildFlag::Always => wanted,
            BuildFlag::Missing => false,
        };
        let every_time = service.pull_policy == Some(PullPolicy::Build) && wanted;
        return match rebuild || every_time || !present {
            true => ImageAction::Build,
            false => ImageAction::Keep,
        };
    }
    let policy = options
        .pull
        .or(service.pull_policy)
        .unwrap_or(PullPolicy::Missing);
    match policy {
        PullPolicy::Always if wanted => ImageAction::Pull,
        PullPolicy::Always | PullPolicy::Missing if !present => ImageAction::Pull,
        _ => ImageAction::Keep,
    }
}

/// Whether building `service` pulls its base images even when the store
/// has them (`docker build --pull`): on `build.pull: true`, `compose build
/// --pull`, and when `--pull always` (or the service's `pull_policy:
/// always`) asks for fresh images: a build on a stale base would not be
/// fresh. Otherwise a build pulls only the bases it lacks.
pub fn pulls_bases(service: &Service, options: &ImageOptions) -> bool {
    let asked = service.build.as_ref().is_some_and(|b| b.pull) || options.pull_bases;
    asked || options.pull.or(service.pull_policy) == Some(PullPolicy::Always)
}

/// `--force-recreate` / `--no-recreate` (neither: recreate what changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recreate {
    #[default]
    Changed,
    Force,
    Never,
}

/// Applies `recreate` to the `selected` services of the freshly translated
/// `record`: `Force` gives an unchanged service the next revision (so the
/// supervisor replaces its replicas, rolling as for any update); `Never`
/// keeps an existing service's previous definition, at the new scale.
/// New services and those not selected are left as translated.
pub fn apply_recreate(
    record: &mut ProjectRecord,
    previous: Option<&ProjectRecord>,
    recreate: Recreate,
    selected: &BTreeSet<String>,
) {
    let Some(previous) = previous else { return };
    for service in &mut record.services {
        if !selected.contains(&service.spec.name) {
            continue;
        }
        let Some(before) = previous.service(&service.spec.name) else {
            continue;
        };
        match recreate {
            Recreate::Changed => {}
            Recreate::Force => {
                if service.spec.revision == before.spec.revision {
                    service.spec.revision += 1;
                }
            }
            Recreate::Never => {
                let replicas = service.spec.replicas;
                *service = before.clone();
                service.spec.replicas = replicas;
            }
        }
    }
}

#[cfg(test)]
#[path = "image_plan_tests.rs"]
mod tests;
