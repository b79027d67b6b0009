//! Unit and slice names, and where systemd puts their cgroups (runc's
//! `ExpandSlice`: "a-b.slice" lives in "a.slice/a-b.slice").

use super::SystemdError;

/// The slice containers go to when no `--cgroup-parent` names one.
pub const DEFAULT_SLICE: &str = "rcorch.slice";
/// The cgroupfs parent that stands for "no parent asked for" (the global
/// `--cgroup-parent` default), mapped to [`DEFAULT_SLICE`].
const DEFAULT_PARENT: &str = "rcorch";

/// The scope of container `id`, as podman's `libpod-<id>.scope`.
pub fn scope_unit(id: &str) -> String {
    format!("rcorch-{id}.scope")
}

/// The slice a container goes to for `--cgroup-parent parent`: a name ending
/// in ".slice" is that slice (docker and podman accept `--cgroup-parent
/// foo.slice` with the systemd driver); rcorch's default parent is
/// `rcorch.slice`; anything else is refused, naming the fix.
pub fn slice_for_parent(parent: &str) -> Result<String, SystemdError> {
    let parent = parent.trim_matches('/');
    if parent == DEFAULT_PARENT {
        return Ok(DEFAULT_SLICE.to_string());
    }
    if parent.ends_with(".slice") {
        slice_path(parent)?;
        return Ok(parent.to_string());
    }
    Err(SystemdError::NotASlice {
        parent: parent.to_string(),
    })
}

/// The cgroup path of `slice` below the hierarchy's root.
pub fn slice_path(slice: &str) -> Result<String, SystemdError> {
    let invalid = || SystemdError::InvalidSlice {
        slice: slice.to_string(),
    };
    let name = slice.strip_suffix(".slice").ok_or_else(invalid)?;
    let well_formed = !name.is_empty()
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'));
    // "-.slice" is the root slice: containers never go there directly.
    if !well_formed {
        return Err(invalid());
    }
    let mut path = Vec::new();
    let mut prefix = String::new();
    for part in name.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path.join("/"))
}

/// The cgroup path of container `id`'s scope in `slice`.
pub fn scope_path(slice: &str, id: &str) -> Result<String, SystemdError> {
    Ok(format!("{}/{}", slice_path(slice)?, scope_unit(id)))
}

/// The scope an OCI `cgroupsPath` of the form "slice:prefix:name" names
/// under `--systemd-cgroup`, as runc's systemd driver reads it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OciScope {
    /// The slice unit ("machine.slice"; an empty slice is "system.slice").
    pub slice: String,
    /// The scope unit ("libpod-abc.scope", or "abc.scope" with no prefix).
    pub unit: String,
}

impl OciScope {
    /// The scope's cgroup below the hierarchy's root, "/"-led.
    pub fn cgroup_path(&self) -> Result<String, SystemdError> {
        Ok(format!("/{}/{}", slice_path(&self.slice)?, self.unit))
    }
}

/// `None` for a path that is not "slice:prefix:name" (a cgroupfs path) or
/// whose name is a slice (runc makes a transient slice then; rcorch keeps
/// it a cgroupfs path); a malformed slice is refused.
pub fn oci_scope(cgroups_path: &str) -> Result<Option<OciScope>, SystemdError> {
    let parts: Vec<&str> = cgroups_path.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Ok(None);
    };
    if name.is_empty() || name.ends_with(".slice") || name.contains('/') {
        return Ok(None);
    }
    let slice = match slice {
        "" => "system.slice".to_string(),
        s => s.to_string(),
    };
    slice_path(&slice)?;
    let unit = match prefix {
        "" => format!("{name}.scope"),
        p => format!("{p}-{name}.scope"),
    };
    Ok(Some(OciScope { slice, unit }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_cgroups_paths_name_a_scope_as_runc_reads_them() {
        let scope = oci_scope("machine.slice:libpod:abc").unwrap().unwrap();
        assert_eq!(scope.slice, "machine.slice");
        assert_eq!(scope.unit, "libpod-abc.scope");
        assert_eq!(
            scope.cgroup_path().unwrap(),
            "/machine.slice/libpod-abc.scope"
        );
        let nested = oci_scope("user-1000.slice:crio:x").unwrap().unwrap();
        assert_eq!(
            nested.cgroup_path().unwrap(),
            "/user.slice/user-1000.slice/crio-x.scope"
        );
        let bare = oci_scope("::abc").unwrap().unwrap();
        assert_eq!(
            (bare.slice.as_str(), bare.unit.as_str()),
            ("system.slice", "abc.scope")
        );
        for cgroupfs in ["/a/b", "a:b", "a.slice:p:b.slice", "a.slice:p:"] {
            assert_eq!(oci_scope(cgroupfs).unwrap(), None, "{cgroupfs}");
        }
        assert!(oci_scope("bad--x.slice:p:n").is_err());
        assert!(oci_scope("noslice:p:n").is_err());
    }

    #[test]
    fn scopes_are_named_after_the_full_id() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(scope_unit(&id), format!("rcorch-{id}.scope"));
        assert_eq!(
            scope_path("rcorch.slice", "abc").unwrap(),
            "rcorch.slice/rcorch-abc.scope"
        );
    }

    #[test]
    fn nested_slices_expand_like_systemd() {
        assert_eq!(slice_path("rcorch.slice").unwrap(), "rcorch.slice");
        assert_eq!(
            slice_path("rcorch-t1.slice").unwrap(),
            "rcorch.slice/rcorch-t1.slice"
        );
        assert_eq!(
            slice_path("a-b-c.slice").unwrap(),
            "a.slice/a-b.slice/a-b-c.slice"
        );
        for bad in [
            "-.slice",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a.scope",
            "a/b.slice",
            ".slice",
        ] {
            assert!(slice_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cgroup_parent_names_the_slice() {
        assert_eq!(slice_for_parent("rcorch").unwrap(), "rcorch.slice");
        assert_eq!(slice_for_parent("/rcorch/").unwrap(), "rcorch.slice");
        assert_eq!(slice_for_parent("web.slice").unwrap(), "web.slice");
        let err = slice_for_parent("mygroup").unwrap_err().to_string();
        assert!(err.contains("mygroup") && err.contains(".slice"), "{err}");
        assert!(slice_for_parent("a--b.slice").is_err());
    }
}
