//! Compose files: find, read, interpolate, type, validate.
//!
//! The pipeline is pure from text to model ([`load_str`]); only
//! [`load_file`] touches the filesystem and the process environment.
//! Text → YAML tree → `${VAR}` interpolation on every string scalar →
//! `<<` merges → typed [`model::Project`] (warnings for keys rcorch does
//! not handle) → whole-project validation.

pub mod env_file;
pub mod error;
pub mod interpolate;
pub mod locate;
pub mod merge;
pub mod model;
pub mod parse;
pub mod scalar;
pub mod sources;
pub mod validate;

use std::io;
use std::path::{Path, PathBuf};

use serde_norway::Value;

pub use error::{ComposeError, Location, Warning, WarningKind};
pub use interpolate::Env;
pub use model::Project;
pub use validate::topological_order;

use interpolate::InterpError;
use locate::{line_of, KeyPath};

type Result<T> = std::result::Result<T, ComposeError>;

/// The names `-f` defaults to, in order of preference.
pub const COMPOSE_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The override files merged over the default file when no `-f` is given,
/// in compose's order of preference (only the first present is read).
pub const OVERRIDE_FILE_NAMES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// Picks the override file among the names present in a directory.
pub fn find_override_file<S: AsRef<str>>(existing: &[S]) -> Option<&'static str> {
    OVERRIDE_FILE_NAMES
        .into_iter()
        .find(|want| existing.iter().any(|e| e.as_ref() == *want))
}

/// Picks the default compose file among the names present in a directory.
pub fn find_compose_file<S: AsRef<str>>(existing: &[S]) -> Option<&'static str> {
    COMPOSE_FILE_NAMES
        .into_iter()
        .find(|want| existing.iter().any(|e| e.as_ref() == *want))
}

/// A loaded project and what was worth a warning.
#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<Warning>,
}

/// What a load needs besides the compose text.
pub struct LoadInput<'a> {
    /// The compose file's absolute path (names it in messages, anchors relative paths).
    pub file: &'a Path,
    pub text: &'a str,
    /// Interpolation variables (see [`env_file::interpolation_env`]).
    pub env: &'a Env,
    /// `-p NAME`.
    pub project_name: Option<&'a str>,
    /// `--profile P…`; when empty, `COMPOSE_PROFILES` (comma-separated) from `env`.
    pub profiles: &'a [String],
    /// Services named on the command line (`up SERVICE…`): their profiles
    /// are enabled too, as compose does for an explicitly targeted service.
    pub targeted: &'a [String],
}

/// Loads a compose file from its text. `read` reads env_files (a seam for tests).
pub fn load_str(input: &LoadInput, read: &dyn Fn(&Path) -> io::Result<String>) -> Result<Loaded> {
    load_merged(input, &[], read)
}

/// One file's text as its interpolated, `<<`-merged YAML tree, with the
/// variables that were unset.
fn interpolated(file: &Path, text: &str, env: &Env) -> Result<(Value, Vec<(KeyPath, String)>)> {
    let yaml_err = |source| ComposeError::Yaml {
        file: file.to_path_buf(),
        source,
    };
    let mut doc: Value = serde_norway::from_str(text).map_err(yaml_err)?;
    let unset = interpolate::interpolate_tree(&mut doc, &KeyPath::root(), env).map_err(|e| {
        let at = Location {
            file: file.into(),
            line: line_of(text, &e.path),
        };
        let key = e.path.to_string();
        match e.error {
            InterpError::Required { variable, message } => ComposeError::RequiredVariable {
                at,
                key,
                variable,
                message,
            },
            InterpError::Invalid => ComposeError::BadInterpolation {
                at,
                key,
                value: e.value,
            },
        }
    })?;
    doc.apply_merge().map_err(yaml_err)?;
    Ok((doc, unset))
}

/// As [`load_str`], with `overrides` (file, text) laid over it in order by
/// the compose merge rules (`-f a.yaml -f b.yaml`). Paths resolve against
/// the first file's directory, as compose does; lines of errors are looked
/// up in the first file.
pub fn load_merged(
    input: &LoadInput,
    overrides: &[(&Path, &str)],
    read: &dyn Fn(&Path) -> io::Result<String>,
) -> Result<Loaded> {
    let file = input.file;
    let (mut doc, mut unset) = interpolated(file, input.text, input.env)?;
    for (over_file, text) in overrides {
        let (over, more) = interpolated(over_file, text, input.env)?;
        doc = merge::merge(doc, over, "").unwrap_or(Value::Null);
        unset.extend(more);
    }
    let dir = file.parent().unwrap_or(Path::new("/"));
    let mut ctx = parse::Ctx::new(file, input.text, dir, input.env);
    for (path, variable) in unset {
        ctx.warn(&path, WarningKind::UnsetVariable { variable });
    }
    let dir_name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let naming = parse::Naming {
        explicit: input.project_name,
        dir_name,
    };
    let mut project = parse::project(&mut ctx, &doc, &naming)?;
    // As compose: services whose profiles are all disabled do not exist
    // for this command (so a dependency on one is undefined).
    let mut enabled = enabled_profiles(input.profiles, input.env);
    enabled.extend(project.profiles_of(input.targeted));
    let active: Vec<String> = project
        .active_services(&enabled)
        .iter()
        .map(|s| s.to_string())
        .collect();
    project.services.retain(|name, _| active.contains(name));
    validate::validate(&ctx, &mut project)?;
    merge_env_files(&mut project, input.env, read)?;
    Ok(Loaded {
        project,
        warnings: ctx.warnings,
    })
}

/// `--profile` values, else those of `COMPOSE_PROFILES`.
fn enabled_profiles(flags: &[String], env: &Env) -> Vec<String> {
    if !flags.is_empty() {
        return flags.to_vec();
    }
    env.get("COMPOSE_PROFILES")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Adds env_file variables under `environment` (which wins, as in compose).
fn merge_env_files(
    project: &mut Project,
    env: &Env,
    read: &dyn Fn(&Path) -> io::Result<String>,
) -> Result<()> {
    for svc in project.services.values_mut() {
        for ef in &svc.env_file {
            let text = match read(&ef.path) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound && !ef.required => continue,
                Err(source) => {
                    return Err(ComposeError::Read {
                        path: ef.path.clone(),
                        source,
                    })
                }
            };
            let vars = env_file::resolve(&env_file::parse(&text, &ef.path)?, env);
            for (k, v) in vars {
                svc.environment.entry(k).or_insert(Some(v));
            }
        }
    }
    Ok(())
}

/// Loads `file` (or the default compose file in `cwd`), with the process
/// environment over the `.env` file next to it.
pub fn load_file(
    file: Option<&Path>,
    cwd: &Path,
    project_name: Option<&str>,
    profiles: &[String],
    targeted: &[String],
) -> Result<Loaded> {
    let files: Vec<PathBuf> = file.map(Path::to_path_buf).into_iter().collect();
    load_files(&files, cwd, project_name, profiles, targeted)
}

/// `-f a.yaml -f b.yaml`: each later file merged over the earlier ones
/// (see [`merge`]); with none, the default file in `cwd` and its override
/// file (`compose.override.yaml`…) merged over it. `.env` is read next to
/// the first file.
pub fn load_files(
    files: &[PathBuf],
    cwd: &Path,
    project_name: Option<&str>,
    profiles: &[String],
    targeted: &[String],
) -> Result<Loaded> {
    load_with(&FileInput {
        files,
        env_file: None,
        cwd,
        project_name,
        profiles,
        targeted,
    })
}

/// What `load_with` reads: the compose files (default: the one in `cwd`),
/// and the env file for interpolation (default: `.env` next to the first,
/// if any).
pub struct FileInput<'a> {
    pub files: &'a [PathBuf],
    pub env_file: Option<&'a Path>,
    pub cwd: &'a Path,
    pub project_name: Option<&'a str>,
    pub profiles: &'a [String],
    pub targeted: &'a [String],
}

/// Loads compose files as `docker compose -f … --env-file` does: later files
/// merge over earlier ones; a named env file replaces the `.env` next to the
/// first compose file and must exist.
pub fn load_with(input: &FileInput) -> Result<Loaded> {
    let cwd = input.cwd;
    let mut paths: Vec<PathBuf> = input
        .files
        .iter()
        .map(|f| parse::lexical_join(cwd, f))
        .collect();
    if paths.is_empty() {
        paths = default_files(cwd)?;
    }
    let read = |p: &Path| std::fs::read_to_string(p);
    let mut texts = Vec::new();
    for path in &paths {
        let text = read(path).map_err(|source| ComposeError::Read {
            path: path.clone(),
            source,
        })?;
        texts.push(text);
    }
    let (file, text) = (&paths[0], &texts[0]);
    let (dotenv_path, required) = match input.env_file {
        Some(f) => (parse::lexical_join(cwd, f), true),
        None => (file.with_file_name(".env"), false),
    };
    let dotenv = match read(&dotenv_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !required => None,
        Err(source) => {
            return Err(ComposeError::Read {
                path: dotenv_path,
                source,
            })
        }
    };
    let env = env_file::interpolation_env(
        std::env::vars(),
        dotenv.as_deref().map(|t| (t, dotenv_path.as_path())),
    )?;
    let input = LoadInput {
        file,
        text,
        env: &env,
        project_name: input.project_name,
        profiles: input.profiles,
        targeted: input.targeted,
    };
    let overrides: Vec<(&Path, &str)> = paths[1..]
        .iter()
        .zip(&texts[1..])
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    load_merged(&input, &overrides, &read)
}

/// The default compose file in `cwd`, then its override file if present,
/// as `docker compose` reads them when no `-f` is given.
fn default_files(cwd: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(cwd).map_err(|source| ComposeError::Read {
        path: cwd.to_path_buf(),
        source,
    })?;
    let names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let main = find_compose_file(&names).ok_or_else(|| ComposeError::NotFound {
        dir: cwd.to_path_buf(),
        candidates: COMPOSE_FILE_NAMES.join(", "),
    })?;
    let over = find_override_file(&names);
    Ok([Some(main), over]
        .into_iter()
        .flatten()
        .map(|name| cwd.join(name))
        .collect())
}

/// A valid compose text (as `/app/compose.yaml`, empty environment) as
/// its project: what the project module's tests start from.
#[cfg(test)]
pub fn test_project(yaml: &str) -> Project {
    let env = Env::default();
    let input = LoadInput {
        file: Path::new("/app/compose.yaml"),
        text: yaml,
        env: &env,
        project_name: None,
        profiles: &[],
        targeted: &[],
    };
    load_str(&input, &|_| Ok(String::new())).unwrap().project
}

#[cfg(test)]
mod tests;
