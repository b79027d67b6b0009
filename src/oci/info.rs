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
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": ::caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                               "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                   "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {"org.opencontainers.runc.version": "rcorch-runtime"}
    })
}

/// Writes oci-spec's default configuration (runc's: namespaces, mounts,
/// masked paths, capabilities) as `bundle/config.json`, refusing to
/// overwrite one. Rootless, as runc's: a user namespace mapping root to
/// the caller, no network namespace or device rules, /sys bound from the
/// host and devpts without gid=5.
pub fn spec(bundle: &Path, rootless: bool) -> Result<(), OciError> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(OciError::InvalidConfig {
            message: format!("{} exists already: remove it first", path.display()),
        });
    }
    let spec = if rootless {
        let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        oci_spec::runtime::Spec::rootless(uid.as_raw(), gid.as_raw())
    } else {
        oci_spec::runtime::Spec::default()
    };
    let text = serde_json::to_string_pretty(&spec).expect("the default spec serializes");
    std::fs::write(&path, text).map_err(io_error(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_writes_a_loadable_default_once() {
        let dir = tempfile::tempdir().unwrap();
        spec(dir.path(), false).unwrap();
        let loaded = oci_spec::runtime::Spec::load(dir.path().join("config.json")).unwrap();
        assert!(loaded.process().is_some());
        assert!(spec(dir.path(), false).is_err(), "never overwrites");
        assert_eq!(features()["ociVersionMax"], OCI_VERSION);
    }

    #[test]
    fn a_rootless_spec_maps_the_caller_in_a_user_namespace() {
        let dir = tempfile::tempdir().unwrap();
        spec(dir.path(), true).unwrap();
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        let c: serde_json::Value = serde_json::from_str(&text).unwrap();
        let types: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(
            types.contains(&"user") && !types.contains(&"network"),
            "{types:?}"
        );
        let uid = nix::unistd::geteuid().as_raw();
        assert_eq!(c["linux"]["uidMappings"][0]["hostID"], uid);
        assert_eq!(c["linux"]["uidMappings"][0]["size"], 1);
        let devpts = c["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/dev/pts")
            .unwrap();
        assert!(!devpts["options"].to_string().contains("gid=5"));
    }
}
