//! Secrets and configs into a new container: each stored copy is copied
//! into the container's own directory (mode 0700, so no other host user
//! can reach a copy whatever its mode) with the owner and mode the
//! container asked for, then bind-mounted read-only (see `plan_mounts`).
//! The copies go with the container's directory when it is removed.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::run::RunError;
use crate::container::FileMount;

/// Writes `files/<index>` for each of `files` under `dir` (created 0700).
pub fn copy_in(dir: &Path, files: &[FileMount]) -> Result<(), RunError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Io { path, source }
    };
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::read(&f.source).map_err(io(&f.source))?;
        let path = dir.join(i.to_string());
        // Born owner-only: never readable by anyone else while it is written.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(&bytes).map_err(io(&path))?;
        std::os::unix::fs::fchown(&file, Some(f.uid), Some(f.gid)).map_err(io(&path))?;
        file.set_permissions(std::fs::Permissions::from_mode(f.mode))
            .map_err(io(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn copies_are_owner_only_in_a_private_dir_with_the_asked_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let source = tmp.path().join("stored");
        std::fs::write(&source, "v4lue").unwrap();
        let (uid, gid) = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        let files = [0o440, 0o400].map(|mode| FileMount {
            source: source.clone(),
            target: "/run/secrets/x".into(),
            uid,
            gid,
            mode,
        });
        let dir = tmp.path().join("files");
        copy_in(&dir, &files).unwrap();
        let meta = |p: &Path| std::fs::metadata(p).unwrap();
        assert_eq!(meta(&dir).mode() & 0o7777, 0o700);
        assert_eq!(meta(&dir.join("0")).mode() & 0o7777, 0o440);
        assert_eq!(meta(&dir.join("1")).mode() & 0o7777, 0o400);
        assert_eq!(
            (meta(&dir.join("0")).uid(), meta(&dir.join("0")).gid()),
            (uid, gid)
        );
        assert_eq!(std::fs::read_to_string(dir.join("1")).unwrap(), "v4lue");
    }

    #[test]
    fn a_missing_stored_copy_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let files = [FileMount {
            source: tmp.path().join("gone"),
            target: "/x".into(),
            uid: 0,
            gid: 0,
            mode: 0o444,
        }];
        let err = copy_in(&tmp.path().join("files"), &files).unwrap_err();
        assert!(err.to_string().contains("gone"), "{err}");
    }
}
