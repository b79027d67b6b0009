//! The project's copies of its secrets and configs: read from their
//! sources by `up` before anything is created, kept under the project's
//! state directory (`files/`, mode 0700; each copy 0400, root's), and
//! copied from there into each replica (see `runtime::files`). `down`
//! removes them with the project's directory.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{ProjectDir, ProjectError, Result};
use crate::compose::model::Project;
use crate::compose::sources::{self, Readers};
use crate::compose::ComposeError;

/// Where the copy of secret or config `name` lives.
pub fn stored_path(dir: &Path, kind: &str, name: &str) -> PathBuf {
    dir.join("files").join(format!("{kind}s")).join(name)
}

/// The bytes of what the selected services use, each with where it is
/// stored; an error names the first source that cannot be read.
pub struct Read(Vec<(PathBuf, Vec<u8>)>);

/// Reads everything first, so a bad source stops `up` before it creates anything.
pub fn read(
    dir: &ProjectDir,
    project: &Project,
    selected: &BTreeSet<String>,
    readers: &Readers,
) -> Result<Read> {
    let mut read = Vec::new();
    for kind in ["secret", "config"] {
        let defs = sources::definitions(project, kind);
        let mut seen = BTreeSet::new();
        for name in selected {
            let Some(svc) = project.services.get(name) else {
                continue;
            };
            let refs = if kind == "secret" {
                &svc.secrets
            } else {
                &svc.configs
            };
            for r in refs.iter().filter(|r| seen.insert(r.source.clone())) {
                let def = &defs[&r.source];
                let bytes = sources::read(kind, &r.source, def, readers)?.ok_or_else(|| {
                    ComposeError::SourceExternal {
                        at: def.at.clone().expect("parsed definitions have a location"),
                        kind,
                        name: r.source.clone(),
                    }
                })?;
                read.push((stored_path(&dir.dir, kind, &r.source), bytes));
            }
        }
    }
    Ok(Read(read))
}

/// Writes what [`read`] read, owner-only.
pub fn store(read: Read) -> Result<()> {
    for (path, bytes) in read.0 {
        write_private(&path, &bytes)?;
    }
    Ok(())
}

/// Replaces `path` with `bytes`, mode 0400, under 0700 directories.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ProjectError::Io { path, source }
    };
    let parent = path.parent().expect("stored paths have a parent");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .map_err(io(parent))?;
    let tmp = parent.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::compose::test_project;

    const APP: &str = "services:\n  a:\n    image: x\n    secrets: [pw, tok]\n    configs: [c]\n  b:\n    image: x\n    secrets: [other]\nsecrets:\n  pw: {file: /s/pw}\n  tok: {environment: TOK}\n  other: {external: true}\nconfigs:\n  c: {content: hi}\n";

    fn readers() -> Readers<'static> {
        Readers {
            file: &|p| match p.to_str() {
                Some("/s/pw") => Ok(b"hunter2".to_vec()),
                _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
            },
            var: &|v| (v == "TOK").then(|| "t0k".to_string()),
        }
    }

    fn selected(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_what_the_selected_services_use_and_stores_it_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ProjectDir::new(tmp.path(), "app");
        let read = read(&dir, &test_project(APP), &selected(&["a"]), &readers()).unwrap();
        store(read).unwrap();
        let pw = stored_path(&dir.dir, "secret", "pw");
        assert_eq!(std::fs::read(&pw).unwrap(), b"hunter2");
        assert_eq!(
            std::fs::read(stored_path(&dir.dir, "secret", "tok")).unwrap(),
            b"t0k"
        );
        assert_eq!(
            std::fs::read(stored_path(&dir.dir, "config", "c")).unwrap(),
            b"hi"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&pw), 0o400);
        assert_eq!(mode(pw.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.dir.join("files")), 0o700);
    }

    #[test]
    fn external_missing_file_and_unset_variable_are_errors_naming_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ProjectDir::new(tmp.path(), "app");
        let project = test_project(APP);
        let err =
            |p: &Project, names: &[&str], r: &Readers| match read(&dir, p, &selected(names), r) {
                Ok(_) => panic!("expected an error"),
                Err(e) => e.to_string(),
            };
        let external = err(&project, &["b"], &readers());
        assert!(external.contains("secrets.other: external"), "{external}");
        let nothing = Readers {
            file: &|_| Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
            var: &|_| None,
        };
        let file = err(&project, &["a"], &nothing);
        assert!(file.contains("cannot read secret file /s/pw"), "{file}");
        assert!(file.starts_with("/app/compose.yaml:"), "{file}");
        let env_only = test_project(&APP.replace("pw, tok", "tok"));
        let var = err(&env_only, &["a"], &nothing);
        assert!(var.contains("the variable TOK is not set"), "{var}");
        assert!(!dir.dir.exists(), "nothing written");
    }
}
