//! The OCI runtime CLI (`rcorch-runtime`): runc's verbs and flags over the
//! same runtime core as `rcorch run`. No rcorch process stays behind: the
//! caller (conmon, containerd's shim) is the parent and reaper of the
//! container's init.

mod cgroup_extra;
mod cgroup_v2;
mod checks;
pub mod cli;
mod create;
mod exec;
mod hooks;
mod info;
mod mount_options;
mod ops;
mod resources;
mod seccomp_map;
pub mod spec_map;
mod start;
pub mod state;
mod update;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("container {id} does not exist")]
    NotFound { id: String },
    #[error("container {id} already exists: delete it first or choose another id")]
    Exists { id: String },
    #[error("invalid container id {id:?}: use letters, digits and . _ - +")]
    InvalidId { id: String },
    #[error("invalid config.json: {message}")]
    InvalidConfig { message: String },
    #[error("cannot read {}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("container {id} is {status}: {wanted}")]
    WrongState {
        id: String,
        status: &'static str,
        wanted: &'static str,
    },
    #[error("unknown signal {name:?}: give a name (TERM, SIGKILL) or a number")]
    Signal { name: String },
    #[error("{0}")]
    Start(String),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Caps(#[from] crate::runtime::caps::CapsError),
    #[error(transparent)]
    Exec(#[from] crate::runtime::exec::ExecError),
    #[error(transparent)]
    Seccomp(#[from] crate::runtime::seccomp::SeccompError),
    #[error("{what}: {source}")]
    Sys {
        what: &'static str,
        source: nix::Error,
    },
}

pub(crate) fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> OciError {
    let path = path.into();
    move |source| OciError::Io { path, source }
}

pub(crate) fn sys_error(what: &'static str) -> impl FnOnce(nix::Error) -> OciError {
    move |source| OciError::Sys { what, source }
}

/// Reads a config.json (or a --process file). serde's own message says
/// which field and where; its list of every allowed value is cut short.
pub(crate) fn load_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<T, OciError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    serde_json::from_str(&text).map_err(|e| OciError::InvalidConfig {
        message: format!("{}: {}", path.display(), describe_json_error(&e)),
    })
}

fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.split_once(", expected one of") {
        Some((head, _)) => format!("{head} at line {} column {}", e.line(), e.column()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_capability_is_named_with_its_place() {
        let text = r#"{"ociVersion": "1.0.2", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_CHOWN", "CAP_TEST"]}}}"#;
        let e = serde_json::from_str::<oci_spec::runtime::Spec>(text).unwrap_err();
        let message = describe_json_error(&e);
        assert!(message.contains("CAP_TEST"), "{message}");
        assert!(message.contains("line 2"), "{message}");
        assert!(
            !message.contains("CAP_SYSLOG"),
            "the long list is cut: {message}"
        );
    }
}
