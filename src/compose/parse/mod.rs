//! From an interpolated YAML tree to the typed model.
//!
//! Every key is either understood, or reported: a warning for keys compose
//! knows but rcorch does not implement, an error for keys the compose
//! specification does not allow (as `docker compose` rejects them).
//! Nested `x-*` keys are ignored, as the compose specification says;
//! top-level and service-level ones are kept raw in `extensions`, except
//! `x-rcorch-autoscale`, which rcorch reads.

mod autoscale;
mod build;
mod deploy;
mod files;
mod host;
mod networks;
mod ports;
mod service;
mod value;
mod volumes;

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

use serde_norway::Value;

pub use value::key_string;

use super::error::{ComposeError, Location, Warning, WarningKind};
use super::interpolate::Env;
use super::locate::{line_of, KeyPath};
use super::model::Project;
use super::scalar;

type Result<T> = std::result::Result<T, ComposeError>;

/// What parsing needs besides the tree.
pub struct Ctx<'a> {
    /// The compose file, for messages.
    pub file: &'a Path,
    /// Its text, to find lines.
    pub text: &'a str,
    /// Its directory (absolute): relative paths are resolved against it.
    pub dir: &'a Path,
    /// The interpolation environment: `KEY` alone in `environment` and `~` read it.
    pub env: &'a Env,
    pub warnings: Vec<Warning>,
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a Path, text: &'a str, dir: &'a Path, env: &'a Env) -> Self {
        Ctx {
            file,
            text,
            dir,
            env,
            warnings: Vec::new(),
        }
    }

    pub fn at(&self, path: &KeyPath) -> Location {
        Location {
            file: self.file.into(),
            line: line_of(self.text, path),
        }
    }

    pub fn warn(&mut self, path: &KeyPath, kind: WarningKind) {
        self.warnings.push(Warning {
            at: self.at(path),
            key: path.to_string(),
            kind,
        });
    }

    /// Reports a key the caller did not handle: silent for nested `x-*`, a
    /// NotImplemented warning for keys in `not_implemented`, an error (with
    /// the closest of `handled` and `not_implemented`) for any other.
    pub fn unhandled(
        &mut self,
        path: &KeyPath,
        key: &str,
        handled: &[&str],
        not_implemented: &[&str],
    ) -> Result<()> {
        if key.starts_with("x-") {
            return Ok(());
        }
        if not_implemented.contains(&key) {
            self.warn(path, WarningKind::NotImplemented);
            return Ok(());
        }
        let candidates = handled.iter().chain(not_implemented).copied();
        let parent = KeyPath(path.0[..path.0.len().saturating_sub(1)].to_vec()).to_string();
        Err(ComposeError::UnknownKey {
            at: self.at(path),
            parent: if parent.is_empty() {
                "(root)".into()
            } else {
                parent
            },
            key: key.to_string(),
            suggestion: crate::util::suggest::closest(key, candidates).map(str::to_string),
        })
    }

    pub fn wrong_type(&self, path: &KeyPath, expected: &'static str) -> ComposeError {
        ComposeError::WrongType {
            at: self.at(path),
            key: path.to_string(),
            expected,
        }
    }

    pub fn invalid(
        &self,
        path: &KeyPath,
        value: impl Display,
        expected: &'static str,
    ) -> ComposeError {
        ComposeError::InvalidValue {
            at: self.at(path),
            key: path.to_string(),
            value: value.to_string(),
            expected,
        }
    }

    pub fn missing(&self, path: &KeyPath, missing: &'static str) -> ComposeError {
        ComposeError::MissingKey {
            at: self.at(path),
            key: path.to_string(),
            missing,
        }
    }

    /// A host path from the file: `~` is $HOME, relative is against the file's directory.
    pub fn host_path(&self, p: &str) -> PathBuf {
        let expanded = match p.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                let home = self.env.get("HOME").map_or("/", |h| h.as_str());
                PathBuf::from(format!("{home}{rest}"))
            }
            _ => PathBuf::from(p),
        };
        lexical_join(self.dir, &expanded)
    }
}

/// `base.join(p)` with `.` and `..` resolved without touching the filesystem.
pub fn lexical_join(base: &Path, p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in base.join(p).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Top-level keys rcorch reads.
const TOP_HANDLED: &[&str] = &[
    "name", "version", "services", "networks", "volumes", "secrets", "configs",
];
/// Top-level keys compose defines that rcorch does not implement.
const TOP_NOT_IMPLEMENTED: &[&str] = &["include", "models"];

/// How the project is named when the file does not say.
pub struct Naming<'a> {
    /// `-p NAME`: wins over everything.
    pub explicit: Option<&'a str>,
    /// The compose file's directory name, normalised if used.
    pub dir_name: &'a str,
}

/// Parses an interpolated, merged document into a project (not yet validated).
pub fn project(ctx: &mut Ctx, doc: &Value, naming: &Naming) -> Result<Project> {
    let root = KeyPath::root();
    let top = ctx.mapping(doc, &root)?;
    let mut project = Project {
        name: String::new(),
        services: BTreeMap::new(),
        networks: BTreeMap::new(),
        volumes: BTreeMap::new(),
        secrets: BTreeMap::new(),
        configs: BTreeMap::new(),
        extensions: BTreeMap::new(),
    };
    let mut file_name = None;
    let mut saw_services = false;
    for (k, v) in top {
        let key = key_string(k);
        let at = root.key(&key);
        match key.as_str() {
            "name" => file_name = Some(ctx.string(v, &at)?),
            "version" => ctx.warn(&at, WarningKind::Obsolete),
            "services" => {
                saw_services = true;
                for (name, body) in ctx.mapping(v, &at)? {
                    let name = key_string(name);
                    let svc = service::service(ctx, body, &at.key(&name))?;
                    project.services.insert(name, svc);
                }
            }
            "networks" => project.networks = networks::definitions(ctx, v, &at)?,
            "volumes" => project.volumes = volumes::definitions(ctx, v, &at)?,
            "secrets" => project.secrets = files::definitions(ctx, v, &at, files::Kind::Secret)?,
            "configs" => project.configs = files::definitions(ctx, v, &at, files::Kind::Config)?,
            k if k.starts_with("x-") => {
                project.extensions.insert(key.clone(), v.clone());
            }
            _ => ctx.unhandled(&at, &key, TOP_HANDLED, TOP_NOT_IMPLEMENTED)?,
        }
    }
    if !saw_services {
        return Err(ctx.missing(&root, "services"));
    }
    project.name = project_name(ctx, file_name, naming)?;
    Ok(project)
}

fn project_name(ctx: &Ctx, from_file: Option<String>, naming: &Naming) -> Result<String> {
    let (name, at) = match (naming.explicit, from_file) {
        (Some(p), _) => (p.to_string(), KeyPath::root()),
        (None, Some(n)) => (n, KeyPath::root().key("name")),
        (None, None) => (
            scalar::normalize_project_name(naming.dir_name),
            KeyPath::root(),
        ),
    };
    if scalar::valid_project_name(&name) {
        Ok(name)
    } else {
        Err(ctx.invalid(
            &at,
            &name,
            "a project name of lowercase letters, digits, '-' and '_', starting with a letter or digit",
        ))
    }
}
