//! Which cgroup hierarchy the host uses, detected from /proc/self/mountinfo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{CgroupError, Controller};

/// Where the controllers we need live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Legacy or hybrid host: each v1 controller at its own mount point
    /// (several controllers may share one, e.g. "cpu,cpuacct").
    V1 {
        mounts: BTreeMap<Controller, PathBuf>,
    },
    /// Unified host: one cgroup2 hierarchy rooted at `root`.
    V2 { root: PathBuf },
}

/// Decides the layout from mountinfo text.
///
/// Any v1 mount of a controller we use means the controllers are on v1 (a
/// hybrid host's cgroup2 mount, e.g. at .../unified, holds none of them).
/// Named v1 hierarchies such as name=systemd carry no controllers and are
/// ignored. With no v1 controller mounted, the first cgroup2 mount is the root.
/// If nothing usable is found the result is `V1` with no mounts, which
/// [`detect`] reports as an error.
pub fn parse_mountinfo(text: &str) -> Layout {
    let mut mounts = BTreeMap::new();
    let mut unified = None;
    for line in text.lines() {
        let Some(mount) = parse_line(line) else {
            continue;
        };
        match mount.fstype {
            "cgroup" => {
                for option in mount.super_options.split(',') {
                    if let Some(controller) = Controller::from_name(option) {
                        // A hierarchy may be mounted twice; the first wins.
                        mounts
                            .entry(controller)
                            .or_insert_with(|| mount.mount_point.clone());
                    }
                }
            }
            "cgroup2" if unified.is_none() => unified = Some(mount.mount_point),
            _ => {}
        }
    }
    match unified {
        Some(root) if mounts.is_empty() => Layout::V2 { root },
        _ => Layout::V1 { mounts },
    }
}

/// Reads `mountinfo_path` and decides the layout, checking that every
/// controller we rely on is present on v1.
pub fn detect(mountinfo_path: &Path) -> Result<Layout, CgroupError> {
    let text = std::fs::read_to_string(mountinfo_path).map_err(|source| CgroupError::Read {
        path: mountinfo_path.to_path_buf(),
        source,
    })?;
    let layout = parse_mountinfo(&text);
    if let Layout::V1 { mounts } = &layout {
        if let Some(missing) = Controller::ALL.iter().find(|c| !mounts.contains_key(c)) {
            return Err(CgroupError::ControllerNotMounted {
                controller: *missing,
            });
        }
    }
    Ok(layout)
}

pub(super) struct MountLine<'a> {
    pub mount_point: PathBuf,
    pub fstype: &'a str,
    pub super_options: &'a str,
}

/// Splits one mountinfo line: "id parent maj:min root mount_point options
/// [optional fields...] - fstype source super_options".
pub(super) fn parse_line(line: &str) -> Option<MountLine<'_>> {
    let mut fields = line.split_whitespace();
    let mount_point = fields.nth(4)?;
    let mut rest = fields.skip_while(|f| *f != "-");
    rest.next()?;
    let fstype = rest.next()?;
    let _source = rest.next()?;
    let super_options = rest.next()?;
    Some(MountLine {
        mount_point: PathBuf::from(unescape(mount_point)),
        fstype,
        super_options,
    })
}

/// Undoes the kernel's octal escaping of spaces, tabs, newlines and
/// backslashes in mountinfo paths ("\040" is a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(value as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
