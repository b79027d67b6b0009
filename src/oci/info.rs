//! `features` (what this runtime understands, the runtime-spec features
//! document) and `spec` (a default config.json to start a bundle from).

use std::path::Path;

use super::mount_options::FLAG_NAMES;
use super::state::OCI_VERSION;
use super::{io_error, OciError};

pub fn features() -> serde_json::Value {
    let mut options: Vec<&str> = FLAG_NAMES.to_vec();
    options.extend([
        "bind",
        "rbind",
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
    ]);
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": options,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "uts"],
            "capabilities": ::caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86_64"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {"org.opencontainers.runc.version": "rcorch-runtime"}
    })
}

/// Writes oci-spec's default configuration (runc's: namespaces, mounts,
/// masked paths, capabilities) as `bundle/config.json`, refusing to
/// overwrite one.
pub fn spec(bundle: &Path) -> Result<(), OciError> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(OciError::InvalidConfig {
            message: format!("{} exists already: remove it first", path.display()),
        });
    }
    let spec = oci_spec::runtime::Spec::default();
    let text = serde_json::to_string_pretty(&spec).expect("the default spec serializes");
    std::fs::write(&path, text).map_err(io_error(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_writes_a_loadable_default_once() {
        let dir = tempfile::tempdir().unwrap();
        spec(dir.path()).unwrap();
        let loaded = oci_spec::runtime::Spec::load(dir.path().join("config.json")).unwrap();
        assert!(loaded.process().is_some());
        assert!(spec(dir.path()).is_err(), "never overwrites");
        assert_eq!(features()["ociVersionMax"], OCI_VERSION);
    }
}
