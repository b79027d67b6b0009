//! `run`'s checks of a request before anything exists: `run` makes them
//! before it writes a record, and compose `up` before it records a project,
//! so a replica that could never start is refused at once by name.

use std::path::{Path, PathBuf};

use super::run::{request_image, RunError};
use crate::container::build::{build_config, find_in_layers, HostFacts, RunRequest};
use crate::container::{ContainerConfig, MountKind};
use crate::image::ImageStore;
use crate::instance::Instance;
use crate::util::time::now_rfc3339;

/// Everything `run` would refuse in `request` before starting it: the
/// flags, the image's user and paths, bind sources, devices, capabilities.
/// Creates and changes nothing.
pub fn request(instance: &Instance, request: &RunRequest) -> Result<(), RunError> {
    let images = ImageStore::open(instance.root.join("images"))?;
    let image = request_image(&images, request)?;
    let lookup_env = |key: &str| std::env::var(key).ok();
    let host = host_facts(instance, &lookup_env);
    let config = build_config(request, &image, &host, &"0".repeat(64))?;
    host_paths(&config, &image.layers)?;
    crate::container::devices::resolve(&request.extras.device)
        .map_err(crate::container::build::BuildError::Extras)?;
    super::caps::effective_set(&config.cap_add, &config.cap_drop)?;
    Ok(())
}

/// What `build_config` needs of this host.
pub(super) fn host_facts<'a>(
    instance: &'a Instance,
    lookup_env: &'a dyn Fn(&str) -> Option<String>,
) -> HostFacts<'a> {
    HostFacts {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        lookup_env,
        cgroup_parent: &instance.cgroup_parent,
        cgroup_manager: instance.cgroup_manager,
        now: now_rfc3339(),
    }
}

/// Bind sources must exist: Docker's `-v` would create them, but a typo
/// silently creating an empty host directory is the worse surprise. A file
/// cannot be bound over a directory of the image, nor a directory over a
/// file: refused here, not by mount(2) once the container half exists.
pub(super) fn host_paths(config: &ContainerConfig, layers: &[PathBuf]) -> Result<(), RunError> {
    for m in config.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
        let Ok(source) = std::fs::metadata(&m.source) else {
            return Err(RunError::BindSource {
                path: m.source.clone(),
            });
        };
        let target = image_entry_is_dir(layers, &m.destination);
        if let Some(reason) = bind_type_mismatch(source.is_dir(), target) {
            return Err(RunError::BindType {
                path: m.source.clone(),
                target: m.destination.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// Whether `target` is a directory in the image (None: absent, or a
/// symlink, which only the container's root resolves).
fn image_entry_is_dir(layers: &[PathBuf], target: &Path) -> Option<bool> {
    let relative = target.strip_prefix("/").unwrap_or(target);
    let found = find_in_layers(layers, relative)?;
    let meta = std::fs::symlink_metadata(found).ok()?;
    (!meta.file_type().is_symlink()).then(|| meta.is_dir())
}

/// Why a bind of a source (a directory or not) cannot go onto a target of
/// the image (a directory, a file, or absent: created to match).
pub fn bind_type_mismatch(
    source_is_dir: bool,
    target_is_dir: Option<bool>,
) -> Option<&'static str> {
    match (source_is_dir, target_is_dir) {
        (false, Some(true)) => {
            Some("the source is a file and the target is a directory in the image")
        }
        (true, Some(false)) => {
            Some("the source is a directory and the target is a file in the image")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bind_must_match_the_type_of_what_it_covers() {
        assert!(
            bind_type_mismatch(false, Some(true)).is_some(),
            "file over dir"
        );
        assert!(
            bind_type_mismatch(true, Some(false)).is_some(),
            "dir over file"
        );
        assert_eq!(bind_type_mismatch(true, Some(true)), None);
        assert_eq!(bind_type_mismatch(false, Some(false)), None);
        assert_eq!(
            bind_type_mismatch(false, None),
            None,
            "absent: created as a file"
        );
        assert_eq!(
            bind_type_mismatch(true, None),
            None,
            "absent: created as a dir"
        );
    }

    #[test]
    fn the_image_entry_is_looked_up_in_its_layers() {
        let lower = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(lower.path().join("etc")).unwrap();
        std::fs::write(lower.path().join("etc/passwd"), "").unwrap();
        std::os::unix::fs::symlink("/etc", lower.path().join("link")).unwrap();
        let layers = [lower.path().to_path_buf()];
        assert_eq!(image_entry_is_dir(&layers, Path::new("/etc")), Some(true));
        assert_eq!(
            image_entry_is_dir(&layers, Path::new("/etc/passwd")),
            Some(false)
        );
        assert_eq!(image_entry_is_dir(&layers, Path::new("/nope")), None);
        assert_eq!(image_entry_is_dir(&layers, Path::new("/link")), None);
    }
}
