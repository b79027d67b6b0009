//! What `--device` and `--privileged` change in a container's mount plan.

use std::path::PathBuf;

use nix::mount::MsFlags;
use nix::sys::stat::SFlag;

use super::mounts::{MountOp, MountPlan};
use crate::container::devices::DeviceMapping;
use crate::container::ContainerConfig;

/// Adds the container's device nodes right after the default ones; with
/// `--privileged` also the host's (`host`, read when it starts, as Docker
/// does), and leaves /proc unmasked and /sys and its cgroups writable.
pub fn adjust(plan: &mut MountPlan, config: &ContainerConfig, host: &[DeviceMapping]) {
    let nodes = host
        .iter()
        .chain(&config.extras.devices)
        .map(|d| MountOp::Device {
            path: d.path.clone(),
            kind: if d.kind == 'b' {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFCHR
            },
            major: d.major,
            minor: d.minor,
            mode: d.mode,
            uid: d.uid,
            gid: d.gid,
        });
    let at = plan
        .before_pivot
        .iter()
        .position(|op| matches!(op, MountOp::Devices))
        .map_or(plan.before_pivot.len(), |i| i + 1);
    plan.before_pivot.splice(at..at, nodes.collect::<Vec<_>>());
    if !config.extras.privileged {
        return;
    }
    plan.masked = Vec::<PathBuf>::new();
    plan.readonly = Vec::<PathBuf>::new();
    for op in &mut plan.before_pivot {
        if let MountOp::Fs {
            target: "/sys",
            flags,
            ..
        } = op
        {
            flags.remove(MsFlags::MS_RDONLY);
        }
    }
    plan.before_pivot.retain(|op| {
        !matches!(
            op,
            MountOp::ReadOnly {
                target: "/sys/fs/cgroup"
            }
        )
    });
}

/// The host's device nodes a `--privileged` container gets; none otherwise.
pub fn host_devices_for(config: &ContainerConfig) -> Vec<DeviceMapping> {
    if config.extras.privileged {
        crate::container::devices::host_devices(std::path::Path::new("/dev"))
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::mounts::{RootSource, MASKED_PATHS};
    use std::path::Path;

    fn plan() -> MountPlan {
        let sys = MountOp::Fs {
            fstype: "sysfs",
            target: "/sys",
            flags: MsFlags::MS_RDONLY,
            data: "",
        };
        MountPlan {
            root: RootSource::Chroot,
            before_pivot: vec![
                sys,
                MountOp::Devices,
                MountOp::ReadOnly {
                    target: "/sys/fs/cgroup",
                },
            ],
            read_only_root: false,
            root_propagation: MsFlags::empty(),
            masked: MASKED_PATHS.iter().map(PathBuf::from).collect(),
            readonly: vec!["/proc/sys".into()],
        }
    }

    fn config(privileged: bool) -> ContainerConfig {
        let mut c: ContainerConfig =
            serde_json::from_str(include_str!("../container/testdata/config.json")).unwrap();
        c.extras.privileged = privileged;
        c.extras.devices = vec![DeviceMapping {
            host: "/dev/zero".into(),
            path: "/dev/z".into(),
            kind: 'c',
            major: 1,
            minor: 5,
            access: "r".into(),
            mode: 0o640,
            uid: 0,
            gid: 6,
        }];
        c
    }

    #[test]
    fn a_device_node_follows_the_default_ones_and_nothing_else_changes() {
        let mut p = plan();
        adjust(&mut p, &config(false), &[]);
        assert!(matches!(
            &p.before_pivot[2],
            MountOp::Device { path, major: 1, minor: 5, mode: 0o640, gid: 6, .. }
                if path == Path::new("/dev/z")
        ));
        assert_eq!(p.before_pivot.len(), 4);
        assert_eq!(p.masked.len(), MASKED_PATHS.len());
        assert!(
            matches!(p.before_pivot[0], MountOp::Fs { flags, .. } if flags.contains(MsFlags::MS_RDONLY))
        );
    }

    #[test]
    fn privileged_unmasks_proc_and_leaves_sys_writable() {
        let mut p = plan();
        adjust(&mut p, &config(true), &[]);
        assert!(p.masked.is_empty() && p.readonly.is_empty());
        assert!(matches!(p.before_pivot[0], MountOp::Fs { flags, .. } if flags.is_empty()));
        assert!(!p
            .before_pivot
            .iter()
            .any(|op| matches!(op, MountOp::ReadOnly { .. })));
    }
}
