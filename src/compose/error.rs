//! What can go wrong loading a compose file, and what is only worth a warning.
//!
//! Every error and warning names the file, the line and the key path
//! (`services.web.deploy.replicas`) so the user can go straight to it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where in a compose file something is: the file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Shared: every error and warning of a file names it.
    pub file: Arc<Path>,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// No compose file in the directory.
    #[error("no compose file found in {dir} (looked for {candidates})")]
    NotFound { dir: PathBuf, candidates: String },
    /// The compose file (or an env_file, or .env) cannot be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// The text is not YAML.
    #[error("{file}: invalid YAML: {source}")]
    Yaml {
        file: PathBuf,
        source: serde_norway::Error,
    },
    /// A `${VAR:?message}` (or `?`) found the variable unset or empty.
    #[error("{at}: {key}: required variable {variable} is missing a value: {message}")]
    RequiredVariable {
        at: Location,
        key: String,
        variable: String,
        message: String,
    },
    /// A `$` that starts no valid substitution (escape it as `$$`).
    #[error("{at}: {key}: invalid interpolation format in {value:?}; you may need to escape any $ with another $")]
    BadInterpolation {
        at: Location,
        key: String,
        value: String,
    },
    /// A .env or env_file line that cannot be parsed.
    #[error("{file}:{line}: invalid env line {text:?}")]
    EnvLine {
        file: PathBuf,
        line: usize,
        text: String,
    },
    /// A NUL byte in a .env or env_file line: no process environment can hold it.
    #[error("{file}:{line}: NUL byte in an env line; environment variables cannot contain NUL, remove it")]
    EnvNul { file: PathBuf, line: usize },
    /// A value of the wrong YAML type.
    #[error("{at}: {}: expected {expected}", or_root(key))]
    WrongType {
        at: Location,
        key: String,
        expected: &'static str,
    },
    /// A value of the right type that does not parse.
    #[error("{at}: {}: invalid value {value:?}, expected {expected}", or_root(key))]
    InvalidValue {
        at: Location,
        key: String,
        value: String,
        expected: &'static str,
    },
    /// A key the compose specification does not allow there (worded as
    /// `docker compose` words it, with the closest allowed key if any).
    #[error("{at}: {parent}: additional property {key} is not allowed{}", suggestion.as_ref().map(|s| format!("; did you mean {s}?")).unwrap_or_default())]
    UnknownKey {
        at: Location,
        /// Where the key is: `services.web`, or `(root)`.
        parent: String,
        key: String,
        suggestion: Option<String>,
    },
    /// An extension key spelt without rcorch's namespace: nothing would read it.
    #[error("{at}: {key}: rcorch does not read this key; rename it to {meant}")]
    MisnamedKey {
        at: Location,
        key: String,
        meant: &'static str,
    },
    /// A required key is absent.
    #[error("{at}: {}: missing required key {missing}", or_root(key))]
    MissingKey {
        at: Location,
        key: String,
        missing: &'static str,
    },
    /// A service refers to a service, network or volume that is not defined.
    #[error("{at}: {key}: service {service:?} refers to undefined {kind} {name:?}")]
    Undefined {
        at: Location,
        key: String,
        service: String,
        kind: &'static str,
        name: String,
    },
    /// depends_on loops back on itself.
    #[error("{at}: services.{first}.depends_on: dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle {
        at: Location,
        first: String,
        cycle: Vec<String>,
    },
    /// Two containers would get the same name.
    #[error("{at}: {key}: container name {name:?} is used by services {first:?} and {second:?}")]
    DuplicateContainerName {
        at: Location,
        key: String,
        name: String,
        first: String,
        second: String,
    },
    /// container_name on a service with more than one replica.
    #[error("{at}: {key}: service {service:?} sets container_name but has {replicas} replicas")]
    ContainerNameWithReplicas {
        at: Location,
        key: String,
        service: String,
        replicas: u32,
    },
    /// Two services publish the same host port: the second could never get it.
    #[error("{at}: {key}: host port {port}/{protocol} is published by both service {first:?} and service {second:?}; publish it from one service only")]
    DuplicatePublishedPort {
        at: Location,
        key: String,
        port: u16,
        protocol: &'static str,
        first: String,
        second: String,
    },
    /// A secret's or config's file is missing or unreadable.
    #[error("{at}: {kind}s.{name}.file: cannot read {kind} file {path}: {source}")]
    SourceFile {
        at: Location,
        kind: &'static str,
        name: String,
        path: PathBuf,
        source: io::Error,
    },
    /// A secret's or config's `environment` variable is not set.
    #[error("{at}: {kind}s.{name}.environment: the variable {variable} is not set; set it or use a file source")]
    SourceVariable {
        at: Location,
        kind: &'static str,
        name: String,
        variable: String,
    },
    /// An `external: true` secret or config: rcorch keeps no store of them.
    #[error("{at}: {kind}s.{name}: external {kind}s need a store rcorch does not have; give it a file or environment source")]
    SourceExternal {
        at: Location,
        kind: &'static str,
        name: String,
    },
    /// `scale` and `deploy.replicas` disagree.
    #[error("{at}: services.{service}.scale: scale {scale} and deploy.replicas {replicas} differ")]
    ScaleMismatch {
        at: Location,
        service: String,
        scale: u32,
        replicas: u32,
    },
}

/// What a warning is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// A compose key rcorch ignores for now.
    NotImplemented,
    /// A key compose itself ignores (e.g. top-level `version`).
    Obsolete,
    /// `${VAR}` with VAR unset: replaced by an empty string.
    UnsetVariable { variable: String },
}

/// Something worth telling the user that does not stop the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub at: Location,
    pub key: String,
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (at, key) = (&self.at, &self.key);
        match &self.kind {
            WarningKind::NotImplemented => {
                write!(f, "{at}: {key}: not supported by rcorch yet, ignored")
            }
            WarningKind::Obsolete => write!(f, "{at}: {key}: obsolete, ignored"),
            WarningKind::UnsetVariable { variable } => write!(
                f,
                "{at}: {key}: the {variable:?} variable is not set, defaulting to a blank string"
            ),
        }
    }
}

/// A key path for a message: the document itself is `(root)`, as
/// `docker compose` words it.
fn or_root(key: &str) -> &str {
    if key.is_empty() {
        "(root)"
    } else {
        key
    }
}
