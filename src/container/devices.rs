//! `--device HOST[:CONTAINER[:PERMS]]` and `--privileged`'s host devices:
//! the spec parsed as plain data, the host's node read at the edge
//! (`resolve`), and the node and cgroup rule the container gets.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A host device node given to the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMapping {
    /// Where the node is on the host.
    pub host: PathBuf,
    /// Where it is created in the container.
    pub path: PathBuf,
    /// `c` or `b`.
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    /// What the devices cgroup allows: a subset of `rwm`.
    pub access: String,
    /// The host node's permission bits and owner (Docker copies them).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl DeviceMapping {
    /// The v1 devices cgroup rule, e.g. `c 1:5 rw`.
    pub fn cgroup_rule(&self) -> String {
        format!(
            "{} {}:{} {}",
            self.kind, self.major, self.minor, self.access
        )
    }
}

/// What the user asked for: (host path, container path, permissions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub host: PathBuf,
    pub path: PathBuf,
    pub access: String,
}

fn is_access(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| "rwm".contains(c))
}

/// Docker's forms: `/dev/x`, `/dev/x:/dev/y`, `/dev/x:rw`, `/dev/x:/dev/y:r`.
pub fn parse_spec(spec: &str) -> Result<DeviceSpec, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, path, access) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, access] if is_access(access) => (*host, *host, *access),
        [host, path] => (*host, *path, "rwm"),
        [host, path, access] => (*host, *path, *access),
        _ => {
            return Err(format!(
                "invalid --device {spec:?}: expected HOST[:CONTAINER[:PERMS]]"
            ))
        }
    };
    if !is_access(access) {
        return Err(format!(
            "invalid --device {spec:?}: permissions {access:?} must be letters of rwm"
        ));
    }
    for p in [host, path] {
        if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
            return Err(format!(
                "invalid --device {spec:?}: {p:?} must be an absolute path without \"..\""
            ));
        }
    }
    Ok(DeviceSpec {
        host: host.into(),
        path: path.into(),
        access: access.into(),
    })
}

/// What a host path is, as read by `stat` (the edge's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeFacts {
    /// `c`, `b`, `d` for a directory, or `-` for anything else.
    pub kind: char,
    pub rdev: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The mapping for `spec` given what its host path is.
pub fn mapping(spec: &DeviceSpec, facts: NodeFacts) -> Result<DeviceMapping, String> {
    let shown = spec.host.display();
    match facts.kind {
        'c' | 'b' => Ok(DeviceMapping {
            host: spec.host.clone(),
            path: spec.path.clone(),
            kind: facts.kind,
            major: nix::sys::stat::major(facts.rdev),
            minor: nix::sys::stat::minor(facts.rdev),
            access: spec.access.clone(),
            mode: facts.mode & 0o7777,
            uid: facts.uid,
            gid: facts.gid,
        }),
        'd' => Err(format!(
            "--device {shown}: a directory of devices is not supported; name each device node"
        )),
        _ => Err(format!(
            "--device {shown}: not a character or block device on this host"
        )),
    }
}

/// Reads what `path` is on the host (follows symlinks, as Docker does).
pub fn stat_node(path: &Path) -> Result<NodeFacts, String> {
    let st = nix::sys::stat::stat(path).map_err(|e| {
        format!(
            "--device {}: cannot read the host device: {e}",
            path.display()
        )
    })?;
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        libc::S_IFDIR => 'd',
        _ => '-',
    };
    Ok(NodeFacts {
        kind,
        rdev: st.st_rdev,
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
    })
}

/// Every `--device`, checked against the host before anything is made.
pub fn resolve(specs: &[String]) -> Result<Vec<DeviceMapping>, String> {
    specs
        .iter()
        .map(|s| {
            let spec = parse_spec(s)?;
            mapping(&spec, stat_node(&spec.host)?)
        })
        .collect()
}

/// `--privileged`: every device node directly under the host's `dir`
/// (/dev) and in its subdirectories but pts/shm/mqueue (the container
/// has its own), at the same path. Unreadable entries are skipped.
pub fn host_devices(dir: &Path) -> Vec<DeviceMapping> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<DeviceMapping>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        if ["pts", "shm", "mqueue", "console"]
            .iter()
            .any(|s| relative == Path::new(s))
        {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            walk(root, &path, out);
            continue;
        }
        // Not stat_node: a symlink in /dev stays out, as in Docker.
        let Ok(facts) = nix::sys::stat::lstat(&path).map(|st| NodeFacts {
            kind: match st.st_mode & libc::S_IFMT {
                libc::S_IFCHR => 'c',
                libc::S_IFBLK => 'b',
                _ => '-',
            },
            rdev: st.st_rdev,
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
        }) else {
            continue;
        };
        let spec = DeviceSpec {
            host: path.clone(),
            path: Path::new("/dev").join(relative),
            access: "rwm".into(),
        };
        if let Ok(m) = mapping(&spec, facts) {
            out.push(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(host: &str, path: &str, access: &str) -> DeviceSpec {
        DeviceSpec {
            host: host.into(),
            path: path.into(),
            access: access.into(),
        }
    }

    #[test]
    fn docker_forms_parse() {
        let zero = "/dev/zero";
        assert_eq!(parse_spec(zero).unwrap(), spec(zero, zero, "rwm"));
        assert_eq!(parse_spec("/dev/zero:r").unwrap(), spec(zero, zero, "r"));
        assert_eq!(
            parse_spec("/dev/zero:/dev/z").unwrap(),
            spec(zero, "/dev/z", "rwm")
        );
        assert_eq!(
            parse_spec("/dev/zero:/dev/z:rw").unwrap(),
            spec(zero, "/dev/z", "rw")
        );
    }

    #[test]
    fn bad_specs_name_the_input() {
        for bad in [
            "dev/zero",
            "/dev/zero:/dev/z:rx",
            "/a:/b:r:w",
            "/dev/../etc:/x",
            "",
        ] {
            let err = parse_spec(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn a_node_becomes_a_mapping_and_a_rule() {
        let facts = NodeFacts {
            kind: 'c',
            rdev: nix::sys::stat::makedev(1, 5),
            mode: libc::S_IFCHR | 0o660,
            uid: 0,
            gid: 6,
        };
        let m = mapping(&spec("/dev/zero", "/dev/z", "r"), facts).unwrap();
        assert_eq!((m.major, m.minor, m.mode, m.gid), (1, 5, 0o660, 6));
        assert_eq!(m.cgroup_rule(), "c 1:5 r");
    }

    #[test]
    fn files_and_directories_are_refused() {
        let mut facts = NodeFacts {
            kind: '-',
            rdev: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        let err = mapping(&spec("/etc/passwd", "/x", "rwm"), facts).unwrap_err();
        assert!(err.contains("/etc/passwd") && err.contains("not a character"));
        facts.kind = 'd';
        let err = mapping(&spec("/dev/snd", "/x", "rwm"), facts).unwrap_err();
        assert!(err.contains("directory"), "{err}");
    }
}
