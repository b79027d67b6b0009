//! Top-level `secrets` and `configs`, and a service's references to them.

use std::path::PathBuf;

use serde::{Serialize, Serializer};

use super::is_false;

/// Where a secret's or config's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileSource {
    /// A host file (absolute path), read when a container is created.
    File(PathBuf),
    /// The named variable of the environment rcorch runs in.
    Environment(String),
    /// Inline text (configs only, as in compose).
    Content(String),
}

/// One entry of the top-level `secrets` or `configs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileObjectDef {
    /// None for `external: true`: the object lives in a store rcorch does not have.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub source: Option<FileSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    /// Where it is defined, for errors found when it is read.
    #[serde(skip)]
    pub at: Option<crate::compose::Location>,
}

/// A service's use of a secret or config: which, where, as whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRef {
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(serialize_with = "octal")]
    pub mode: u32,
}

/// compose's default mode for both secrets and configs.
pub const DEFAULT_FILE_MODE: u32 = 0o444;

/// Printed as compose prints it: an octal string such as "0440".
fn octal<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:04o}"))
}
