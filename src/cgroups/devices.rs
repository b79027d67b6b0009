//! A native container's devices cgroup: everything denied, then
//! Docker's defaults and the container's own `--device` nodes, or
//! everything allowed with `--privileged`. Planned here as v1 writes; on
//! v2 the same rules become an eBPF program (`devices_bpf`).

/// What the container may open or create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceAccess {
    /// `--privileged`: every device.
    pub all: bool,
    /// v1 rules beyond the defaults, e.g. `c 1:5 rw`.
    pub allowed: Vec<String>,
}

/// Docker's defaults (runc's AllowedDevices): mknod of any node (opening
/// it stays denied), null, zero, full, random, urandom, tty, console,
/// ptmx and the ptys.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "c *:* m",
    "b *:* m",
    // DEFAULT_OPENABLE from here on.
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// The nodes every container may open (the OCI path adds the spec's own
/// rules, mknod included, around these).
pub const DEFAULT_OPENABLE: &[&str] = DEFAULT_ALLOWED.split_at(2).1;

/// The rules a container is allowed (v1 syntax): the defaults, then its own.
pub fn allowed_rules(access: &DeviceAccess) -> Vec<String> {
    DEFAULT_ALLOWED
        .iter()
        .map(|r| r.to_string())
        .chain(access.allowed.iter().cloned())
        .collect()
}

/// (file, value) writes into the container's devices cgroup, in order.
pub fn v1_writes(access: &DeviceAccess) -> Vec<(&'static str, String)> {
    if access.all {
        return vec![("devices.allow", "a".into())];
    }
    let mut out = vec![("devices.deny", "a".to_string())];
    out.extend(
        DEFAULT_ALLOWED
            .iter()
            .map(|r| ("devices.allow", r.to_string())),
    );
    out.extend(access.allowed.iter().map(|r| ("devices.allow", r.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_denied_before_the_defaults_and_the_devices() {
        let access = DeviceAccess {
            all: false,
            allowed: vec!["c 1:5 r".into()],
        };
        let writes = v1_writes(&access);
        assert_eq!(writes[0], ("devices.deny", "a".to_string()));
        assert!(writes.contains(&("devices.allow", "c 1:3 rwm".to_string())));
        assert_eq!(
            writes.last().unwrap(),
            &("devices.allow", "c 1:5 r".to_string())
        );
        assert!(writes[1..].iter().all(|(f, _)| *f == "devices.allow"));
    }

    #[test]
    fn privileged_allows_everything() {
        let access = DeviceAccess {
            all: true,
            allowed: vec!["c 1:5 r".into()],
        };
        assert_eq!(v1_writes(&access), [("devices.allow", "a".to_string())]);
    }
}
