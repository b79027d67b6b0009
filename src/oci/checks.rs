//! Checks of a config.json beyond its shape (pure): the spec version it
//! claims, and the security fields this host cannot honour, which runc
//! answers with a warning rather than a refusal.

use oci_spec::runtime::Spec;

use super::OciError;

/// ociVersion must be SemVer ("1.0.2", "1.2.0-rc.1"), of the 1.x runtime
/// spec rcorch-runtime implements.
pub fn check_oci_version(version: &str) -> Result<(), OciError> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let numbers: Vec<Option<u64>> = core.split('.').map(|n| n.parse().ok()).collect();
    let refuse = |why: &str| OciError::InvalidConfig {
        message: format!("ociVersion {version:?} {why}"),
    };
    match numbers[..] {
        [Some(1), Some(_), Some(_)] => Ok(()),
        [Some(_), Some(_), Some(_)] => Err(refuse(
            "is not supported: rcorch-runtime implements runtime-spec 1.x",
        )),
        _ => Err(refuse("is not a SemVer version: write it as 1.0.2")),
    }
}

/// What the host has of the Linux security modules.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostSecurity {
    pub apparmor: bool,
    pub selinux: bool,
}

impl HostSecurity {
    pub fn detect() -> HostSecurity {
        let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|v| v.trim() == "Y");
        HostSecurity {
            apparmor,
            selinux: std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        }
    }
}

/// The profile and label fields set in `spec` that the host cannot apply.
pub fn security_warnings(spec: &Spec, host: HostSecurity) -> Vec<String> {
    let process = spec.process().as_ref();
    let mut out = Vec::new();
    if !host.apparmor {
        if let Some(profile) = process.and_then(|p| p.apparmor_profile().as_deref()) {
            out.push(format!(
                "process.apparmorProfile {profile:?} is not applied: this host has no AppArmor"
            ));
        }
    }
    if !host.selinux {
        let labels = [
            (
                "process.selinuxLabel",
                process.and_then(|p| p.selinux_label().clone()),
            ),
            (
                "linux.mountLabel",
                spec.linux().as_ref().and_then(|l| l.mount_label().clone()),
            ),
        ];
        for (field, label) in labels {
            if let Some(label) = label.filter(|l| !l.is_empty()) {
                out.push(format!(
                    "{field} {label:?} is not applied: this host has no SELinux"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_must_be_semver_of_the_1x_spec() {
        for good in ["1.0.2", "1.2.0", "1.0.0-rc5", "1.1.0+dev"] {
            assert!(check_oci_version(good).is_ok(), "{good}");
        }
        let bad = check_oci_version("invalid").unwrap_err().to_string();
        assert!(
            bad.contains("\"invalid\"") && bad.contains("SemVer"),
            "{bad}"
        );
        assert!(check_oci_version("1.0").is_err());
        let newer = check_oci_version("2.0.0").unwrap_err().to_string();
        assert!(newer.contains("1.x"), "{newer}");
    }

    fn spec_with(json: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        });
        base["process"]["apparmorProfile"] = json["apparmor"].clone();
        base["process"]["selinuxLabel"] = json["selinux"].clone();
        base["linux"] = serde_json::json!({"mountLabel": json["mount"].clone()});
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn profiles_and_labels_the_host_lacks_are_warned_about() {
        let spec = spec_with(serde_json::json!({
            "apparmor": "acme", "selinux": "system_u:system_r:svirt_lxc_net_t:s0",
            "mount": "system_u:object_r:svirt_sandbox_file_t:s0"
        }));
        let none = security_warnings(&spec, HostSecurity::default());
        assert_eq!(none.len(), 3, "{none:?}");
        assert!(none[0].contains("\"acme\"") && none[0].contains("AppArmor"));
        assert!(none[2].starts_with("linux.mountLabel"));
        let both = HostSecurity {
            apparmor: true,
            selinux: true,
        };
        assert!(security_warnings(&spec, both).is_empty());
        let unset = spec_with(serde_json::json!({}));
        assert!(security_warnings(&unset, HostSecurity::default()).is_empty());
    }
}
