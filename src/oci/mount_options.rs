//! Mount options as config.json spells them ("ro", "rbind", "rshared",
//! "size=64k") → flags, propagation and filesystem data; and the
//! container's view of its cgroups.

use nix::mount::MsFlags;

use super::OciError;
use crate::cgroups::Layout;
use crate::runtime::mounts::{GenericMount, MountOp};

/// Without a cgroup namespace a fresh v1 `cgroup` mount shows the host's
/// whole tree: bind the container's own directory of each hierarchy
/// instead (read-only), as runc does.
pub fn own_cgroup_views(ops: &mut [MountOp], layout: &Layout, cgroups_path: &str) {
    let Layout::V1 { mounts } = layout else {
        return;
    };
    let relative = cgroups_path.trim_start_matches('/');
    for op in ops.iter_mut() {
        let MountOp::Cgroup {
            fstype: "cgroup",
            target,
            ..
        } = op
        else {
            continue;
        };
        let Some(point) = mounts
            .values()
            .find(|p| p.file_name() == target.file_name())
        else {
            continue;
        };
        *op = MountOp::Generic(GenericMount {
            source: point.join(relative),
            target: target.clone(),
            fstype: "bind".into(),
            flags: MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            data: String::new(),
            bind: true,
            recursive: false,
            propagation: MsFlags::empty(),
        });
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub propagation: MsFlags,
    pub bind: bool,
    pub recursive: bool,
    /// What the filesystem itself parses, comma-joined.
    pub data: String,
}

/// Options that set (true) or clear (false) a flag.
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("ro", true, MsFlags::MS_RDONLY),
    ("rw", false, MsFlags::MS_RDONLY),
    ("nosuid", true, MsFlags::MS_NOSUID),
    ("suid", false, MsFlags::MS_NOSUID),
    ("nodev", true, MsFlags::MS_NODEV),
    ("dev", false, MsFlags::MS_NODEV),
    ("noexec", true, MsFlags::MS_NOEXEC),
    ("exec", false, MsFlags::MS_NOEXEC),
    ("sync", true, MsFlags::MS_SYNCHRONOUS),
    ("async", false, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", true, MsFlags::MS_DIRSYNC),
    ("remount", true, MsFlags::MS_REMOUNT),
    ("mand", true, MsFlags::MS_MANDLOCK),
    ("nomand", false, MsFlags::MS_MANDLOCK),
    ("noatime", true, MsFlags::MS_NOATIME),
    ("atime", false, MsFlags::MS_NOATIME),
    ("nodiratime", true, MsFlags::MS_NODIRATIME),
    ("diratime", false, MsFlags::MS_NODIRATIME),
    ("relatime", true, MsFlags::MS_RELATIME),
    ("norelatime", false, MsFlags::MS_RELATIME),
    ("strictatime", true, MsFlags::MS_STRICTATIME),
    ("nostrictatime", false, MsFlags::MS_STRICTATIME),
    ("silent", true, MsFlags::MS_SILENT),
    ("loud", false, MsFlags::MS_SILENT),
];

/// The flag options understood, for `features`.
pub const FLAG_NAMES: &[&str] = &[
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "noatime",
    "atime",
    "nodiratime",
    "diratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "silent",
    "loud",
];

pub fn propagation_flags(name: &str) -> Result<MsFlags, OciError> {
    let rec = MsFlags::MS_REC;
    Ok(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        other => {
            return Err(OciError::InvalidConfig {
                message: format!(
                    "unknown propagation {other:?}: use private, shared, slave or unbindable (r-prefixed for recursive)"
                ),
            })
        }
    })
}

pub fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        bind: false,
        recursive: false,
        data: String::new(),
    };
    let mut data = Vec::new();
    for option in options {
        if let Some((_, set, flag)) = FLAGS.iter().find(|(name, _, _)| name == option) {
            out.flags.set(*flag, *set);
        } else if option == "bind" {
            out.bind = true;
        } else if option == "rbind" {
            out.bind = true;
            out.recursive = true;
        } else if let Ok(flags) = propagation_flags(option) {
            out.propagation = flags;
        } else if option != "tmpcopyup" && option != "defaults" {
            data.push(option.as_str());
        }
    }
    out.data = data.join(",");
    out
}

/// An "inside outside count" range of a user namespace's id map.
pub type IdRange = (u32, u32, u32);

/// devpts in a user namespace refuses (EINVAL) a uid=/gid= the namespace
/// does not map: such an option is dropped, so the ptys belong to the
/// namespace's root instead (what runc's and crun's callers get too).
pub fn devpts_data_in_userns(data: &str, uids: &[IdRange], gids: &[IdRange]) -> String {
    let mapped = |ranges: &[IdRange], id: &str| {
        id.parse::<u64>().is_ok_and(|id| {
            ranges
                .iter()
                .any(|&(inside, _, count)| id >= inside as u64 && id < inside as u64 + count as u64)
        })
    };
    data.split(',')
        .filter(|option| match option.split_once('=') {
            Some(("uid", id)) => mapped(uids, id),
            Some(("gid", id)) => mapped(gids, id),
            _ => true,
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devpts_keeps_only_the_owner_options_the_user_namespace_maps() {
        let data = "newinstance,ptmxmode=0666,mode=0620,gid=5";
        assert_eq!(
            devpts_data_in_userns(data, &[(0, 1000, 1)], &[(0, 1000, 10)]),
            data
        );
        assert_eq!(
            devpts_data_in_userns(data, &[(0, 1000, 1)], &[(0, 1000, 1)]),
            "newinstance,ptmxmode=0666,mode=0620"
        );
        assert_eq!(
            devpts_data_in_userns("uid=7,gid=5", &[(5, 2000, 3)], &[(6, 3000, 2)]),
            "uid=7"
        );
    }

    fn opts(list: &[&str]) -> MountOptions {
        parse_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_propagation_and_data_are_told_apart() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
        let o = opts(&["rbind", "ro", "rslave"]);
        assert!(o.bind && o.recursive);
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert_eq!(o.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
    }

    #[test]
    fn every_flag_name_is_known() {
        assert_eq!(FLAG_NAMES.len(), FLAGS.len());
        assert!(FLAGS.iter().all(|(n, _, _)| FLAG_NAMES.contains(n)));
    }

    #[test]
    fn later_options_override_earlier_ones() {
        assert_eq!(opts(&["ro", "rw"]).flags, MsFlags::empty());
        assert!(propagation_flags("sideways").is_err());
    }

    #[test]
    fn without_a_cgroup_namespace_each_hierarchy_shows_the_containers_own_cgroup() {
        let mounts = [(crate::cgroups::Controller::Memory, "/sys/fs/cgroup/memory")]
            .into_iter()
            .map(|(c, p)| (c, std::path::PathBuf::from(p)))
            .collect();
        let layout = Layout::V1 { mounts };
        let mut ops = crate::runtime::mounts::cgroup_mounts(&layout);
        own_cgroup_views(&mut ops, &layout, "/pod/c1");
        let binds: Vec<_> = ops
            .iter()
            .filter_map(|op| match op {
                MountOp::Generic(m) => Some((m.source.clone(), m.target.clone(), m.bind)),
                _ => None,
            })
            .collect();
        assert_eq!(
            binds,
            vec![(
                "/sys/fs/cgroup/memory/pod/c1".into(),
                "/sys/fs/cgroup/memory".into(),
                true
            )]
        );
        assert!(!ops.iter().any(|op| matches!(op, MountOp::Cgroup { .. })));
    }
}
