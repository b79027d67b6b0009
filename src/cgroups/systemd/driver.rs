//! Which cgroup manager creates containers' cgroups: rcorch itself writing
//! cgroupfs, or systemd through transient scopes (podman's
//! `--cgroup-manager`). The choice is a plain function over host facts.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The cgroup manager of one container, remembered in its record (records
/// older than the field were made by cgroupfs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    #[default]
    Cgroupfs,
    Systemd,
}

impl Driver {
    pub const NAMES: [&'static str; 2] = ["cgroupfs", "systemd"];

    pub fn name(self) -> &'static str {
        match self {
            Driver::Cgroupfs => "cgroupfs",
            Driver::Systemd => "systemd",
        }
    }

    pub fn is_cgroupfs(&self) -> bool {
        *self == Driver::Cgroupfs
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the choice depends on, read by [`observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemdFacts {
    /// `/run/systemd/system` exists: systemd runs as PID 1 (sd_booted()).
    pub booted: bool,
    /// Its private socket or the system bus socket exists.
    pub bus: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error(
        "invalid --cgroup-manager {value:?} (or $RCORCH_CGROUP_MANAGER): expected one of {}",
        Driver::NAMES.join(", ")
    )]
    Unknown { value: String },
    #[error(
        "--cgroup-manager systemd needs systemd as PID 1 ({cause}); \
         use --cgroup-manager cgroupfs"
    )]
    SystemdUnavailable { cause: &'static str },
}

/// The manager to use: the one asked for (flag or environment), else systemd
/// where it is PID 1 and reachable on its bus, as podman decides, else cgroupfs.
pub fn choose(asked: Option<&str>, facts: SystemdFacts) -> Result<Driver, DriverError> {
    let Some(value) = asked.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(match facts.booted && facts.bus {
            true => Driver::Systemd,
            false => Driver::Cgroupfs,
        });
    };
    match value {
        "cgroupfs" => Ok(Driver::Cgroupfs),
        "systemd" if !facts.booted => Err(DriverError::SystemdUnavailable {
            cause: "/run/systemd/system does not exist",
        }),
        "systemd" if !facts.bus => Err(DriverError::SystemdUnavailable {
            cause: "neither /run/systemd/private nor /run/dbus/system_bus_socket exists",
        }),
        "systemd" => Ok(Driver::Systemd),
        other => Err(DriverError::Unknown {
            value: other.to_string(),
        }),
    }
}

/// Reads the facts under `run` (normally "/run").
pub fn observe(run: &Path) -> SystemdFacts {
    SystemdFacts {
        booted: run.join("systemd/system").is_dir(),
        bus: super::bus::SOCKETS
            .iter()
            .any(|s| run.join(s.trim_start_matches("/run/")).exists()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID1: SystemdFacts = SystemdFacts {
        booted: true,
        bus: true,
    };
    const NOT_PID1: SystemdFacts = SystemdFacts {
        booted: false,
        bus: false,
    };

    #[test]
    fn the_default_follows_whether_systemd_is_pid_1() {
        assert_eq!(choose(None, PID1), Ok(Driver::Systemd));
        assert_eq!(choose(None, NOT_PID1), Ok(Driver::Cgroupfs));
        assert_eq!(choose(Some(""), NOT_PID1), Ok(Driver::Cgroupfs));
        // Booted but its bus unreachable (a broken or stopping systemd).
        let no_bus = SystemdFacts {
            booted: true,
            bus: false,
        };
        assert_eq!(choose(None, no_bus), Ok(Driver::Cgroupfs));
    }

    #[test]
    fn an_explicit_choice_wins() {
        assert_eq!(choose(Some("cgroupfs"), PID1), Ok(Driver::Cgroupfs));
        assert_eq!(choose(Some("systemd"), PID1), Ok(Driver::Systemd));
    }

    #[test]
    fn systemd_where_it_is_not_pid_1_is_a_clear_error() {
        let err = choose(Some("systemd"), NOT_PID1).unwrap_err().to_string();
        assert!(err.contains("/run/systemd/system"), "{err}");
        assert!(err.contains("--cgroup-manager cgroupfs"), "{err}");
        let no_bus = SystemdFacts {
            booted: true,
            bus: false,
        };
        let err = choose(Some("systemd"), no_bus).unwrap_err().to_string();
        assert!(err.contains("/run/systemd/private"), "{err}");
    }

    #[test]
    fn an_unknown_value_names_the_option_the_value_and_the_choices() {
        let err = choose(Some("sytemd"), PID1).unwrap_err().to_string();
        assert!(err.contains("--cgroup-manager"), "{err}");
        assert!(err.contains("\"sytemd\""), "{err}");
        assert!(err.contains("cgroupfs, systemd"), "{err}");
    }

    #[test]
    fn facts_are_read_from_the_run_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(observe(dir.path()), NOT_PID1);
        std::fs::create_dir_all(dir.path().join("systemd/system")).unwrap();
        std::fs::write(dir.path().join("systemd/private"), "").unwrap();
        assert_eq!(observe(dir.path()), PID1);
    }

    #[test]
    fn records_without_the_field_were_made_by_cgroupfs() {
        #[derive(Deserialize)]
        struct Old {
            #[serde(default)]
            manager: Driver,
        }
        let old: Old = serde_json::from_str("{}").unwrap();
        assert_eq!(old.manager, Driver::Cgroupfs);
        assert_eq!(
            serde_json::to_string(&Driver::Systemd).unwrap(),
            "\"systemd\""
        );
    }
}
