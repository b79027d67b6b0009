//! Reading the bytes of secrets and configs from their sources, at the
//! edge: the file, the variable, or the inline content.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::error::{ComposeError, Location};
use super::model::{FileObjectDef, FileSource, Project};

/// What reading needs from the world (a seam for tests).
pub struct Readers<'a> {
    pub file: &'a dyn Fn(&Path) -> io::Result<Vec<u8>>,
    pub var: &'a dyn Fn(&str) -> Option<String>,
}

impl Readers<'static> {
    /// The host's files and rcorch's own environment.
    pub fn host() -> Self {
        Readers {
            file: &|p| std::fs::read(p),
            var: &|v| std::env::var(v).ok(),
        }
    }
}

/// Secrets (`"secret"`) or configs (`"config"`).
pub fn definitions<'p>(project: &'p Project, kind: &str) -> &'p BTreeMap<String, FileObjectDef> {
    if kind == "secret" {
        &project.secrets
    } else {
        &project.configs
    }
}

/// The bytes of one definition; None for an external one.
pub fn read(
    kind: &'static str,
    name: &str,
    def: &FileObjectDef,
    readers: &Readers,
) -> Result<Option<Vec<u8>>, ComposeError> {
    let at = def.at.clone().unwrap_or_else(|| Location {
        file: Arc::from(Path::new("compose.yaml")),
        line: 0,
    });
    match &def.source {
        None => Ok(None),
        Some(FileSource::Content(text)) => Ok(Some(text.clone().into_bytes())),
        Some(FileSource::File(path)) => {
            (readers.file)(path)
                .map(Some)
                .map_err(|source| ComposeError::SourceFile {
                    at,
                    kind,
                    name: name.to_string(),
                    path: path.clone(),
                    source,
                })
        }
        Some(FileSource::Environment(var)) => match (readers.var)(var) {
            Some(v) => Ok(Some(v.into_bytes())),
            None => Err(ComposeError::SourceVariable {
                at,
                kind,
                name: name.to_string(),
                variable: var.clone(),
            }),
        },
    }
}

/// Every secret or config the project's services use, read; external ones
/// are left out (the caller decides whether that is an error).
pub fn read_used(
    project: &Project,
    kind: &'static str,
    readers: &Readers,
) -> Result<BTreeMap<String, Vec<u8>>, ComposeError> {
    let defs = definitions(project, kind);
    let mut out = BTreeMap::new();
    for svc in project.services.values() {
        let refs = if kind == "secret" {
            &svc.secrets
        } else {
            &svc.configs
        };
        for r in refs {
            if out.contains_key(&r.source) {
                continue;
            }
            if let Some(bytes) = read(kind, &r.source, &defs[&r.source], readers)? {
                out.insert(r.source.clone(), bytes);
            }
        }
    }
    Ok(out)
}
