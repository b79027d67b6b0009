//! Capability sets with Docker semantics: the default set, `--cap-add`/`--cap-drop`
//! resolution (pure), and the thin syscall wrappers that apply a set to the calling thread.
//!
//! Use in the container init:
//! - root user (uid 0): call [`drop_bounding_set`] then, after `setuid(0)`, [`apply`].
//! - non-root user: call only [`drop_bounding_set`]; the later `setuid` to a non-zero uid
//!   clears Permitted/Effective/Ambient by itself (no `PR_SET_KEEPCAPS`), so the bounding set
//!   just caps what setuid/file-capability binaries can regain, as in Docker.

use ::caps::{CapSet, Capability, CapsHashSet};

/// Errors of the capability module.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// A `--cap-add`/`--cap-drop` name that is not a known capability.
    #[error("unknown capability {name:?}")]
    Unknown { name: String },
    /// `PR_CAPBSET_DROP` failed (needs CAP_SETPCAP).
    #[error("failed to drop {cap} from the bounding set")]
    DropBounding {
        cap: Capability,
        #[source]
        source: ::caps::errors::CapsError,
    },
    /// `capset` failed for one set.
    #[error("failed to set the {set:?} capability set")]
    Set {
        set: CapSet,
        #[source]
        source: ::caps::errors::CapsError,
    },
    /// `PR_CAP_AMBIENT_CLEAR_ALL` failed.
    #[error("failed to clear the ambient capability set")]
    ClearAmbient {
        #[source]
        source: ::caps::errors::CapsError,
    },
}

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub fn default_capabilities() -> CapsHashSet {
    use Capability::*;
    [
        CAP_CHOWN,
        CAP_DAC_OVERRIDE,
        CAP_FSETID,
        CAP_FOWNER,
        CAP_MKNOD,
        CAP_NET_RAW,
        CAP_SETGID,
        CAP_SETUID,
        CAP_SETFCAP,
        CAP_SETPCAP,
        CAP_NET_BIND_SERVICE,
        CAP_SYS_CHROOT,
        CAP_KILL,
        CAP_AUDIT_WRITE,
    ]
    .into_iter()
    .collect()
}

/// Parses "NET_ADMIN", "cap_net_admin", ... (case-insensitive, `CAP_` prefix optional).
/// "ALL" is not a capability; it is handled by [`effective_set`].
pub fn parse_capability(name: &str) -> Result<Capability, CapsError> {
    ::caps::to_canonical(name.trim())
        .parse()
        .map_err(|_| CapsError::Unknown {
            name: name.to_string(),
        })
}

fn is_all(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("ALL")
}

/// Parses a list, leaving out "ALL"; returns whether "ALL" was present.
fn parse_list(names: &[String]) -> Result<(bool, CapsHashSet), CapsError> {
    let mut all = false;
    let mut set = CapsHashSet::new();
    for name in names {
        if is_all(name) {
            all = true;
        } else {
            set.insert(parse_capability(name)?);
        }
    }
    Ok((all, set))
}

/// Resolves `--cap-add`/`--cap-drop` like moby's `TweakCapabilities`:
/// - "ALL" in `cap_add`: every capability except the ones in `cap_drop`;
/// - else "ALL" in `cap_drop`: exactly `cap_add`;
/// - else: (default − `cap_drop`) ∪ `cap_add`.
///
/// Every name is validated first, so a typo is reported even when "ALL" makes it moot.
pub fn effective_set(cap_add: &[String], cap_drop: &[String]) -> Result<CapsHashSet, CapsError> {
    let (add_all, add) = parse_list(cap_add)?;
    let (drop_all, drop) = parse_list(cap_drop)?;
    let set = if add_all {
        ::caps::all().difference(&drop).copied().collect()
    } else if drop_all {
        add
    } else {
        let mut set: CapsHashSet = default_capabilities().difference(&drop).copied().collect();
        set.extend(add);
        set
    };
    Ok(set)
}

/// [`effective_set`] for a container about to start: "ALL" (`--cap-add
/// ALL`, `--privileged`) means every capability rcorch itself holds, as a
/// host (or sandbox) that withholds some cannot give them.
pub fn launch_set(cap_add: &[String], cap_drop: &[String]) -> Result<CapsHashSet, CapsError> {
    let set = effective_set(cap_add, cap_drop)?;
    if !cap_add.iter().any(|c| c.eq_ignore_ascii_case("ALL")) {
        return Ok(set);
    }
    let held = ::caps::read(None, CapSet::Permitted).unwrap_or_else(|_| ::caps::all());
    Ok(set.intersection(&held).copied().collect())
}

/// The `CapEff:`-style bitmask of a set, to compare with `/proc/PID/status`.
pub fn capeff_mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0, |mask, cap| mask | cap.bitmask())
}

/// Capabilities the running kernel knows. Uses `PR_CAPBSET_READ` rather than
/// `/proc/sys/kernel/cap_last_cap` because the container init may run before `/proc` is mounted.
fn kernel_supported() -> CapsHashSet {
    ::caps::runtime::thread_all_supported()
}

/// Drops from the bounding set every kernel-supported capability not in `keep`.
/// Needs CAP_SETPCAP, so call it before [`apply`] removes that.
/// Capabilities newer than the `caps` crate (index > 40) are not touched.
pub fn drop_bounding_set(keep: &CapsHashSet) -> Result<(), CapsError> {
    for cap in kernel_supported().difference(keep) {
        ::caps::drop(None, CapSet::Bounding, *cap)
            .map_err(|source| CapsError::DropBounding { cap: *cap, source })?;
    }
    Ok(())
}

/// The five capability sets of a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

impl CapSets {
    /// Docker's semantics: `set` bounds everything; root holds it, any other
    /// user starts with no capabilities (only setuid binaries regain some).
    pub fn docker(set: CapsHashSet, uid: u32) -> CapSets {
        let held = if uid == 0 {
            set.clone()
        } else {
            CapsHashSet::new()
        };
        CapSets {
            bounding: set,
            effective: held.clone(),
            permitted: held.clone(),
            inheritable: held,
            ambient: CapsHashSet::new(),
        }
    }
}

/// Sets Effective, Permitted, Inheritable and Ambient (after setuid, with
/// PR_SET_KEEPCAPS). Capabilities the kernel does not know are left out.
pub fn apply_sets(sets: &CapSets) -> Result<(), CapsError> {
    let known = kernel_supported();
    let only_known =
        |set: &CapsHashSet| -> CapsHashSet { set.intersection(&known).copied().collect() };
    ::caps::clear(None, CapSet::Ambient).map_err(|source| CapsError::ClearAmbient { source })?;
    for (set, value) in [
        (CapSet::Effective, &sets.effective),
        (CapSet::Permitted, &sets.permitted),
        (CapSet::Inheritable, &sets.inheritable),
    ] {
        ::caps::set(None, set, &only_known(value))
            .map_err(|source| CapsError::Set { set, source })?;
    }
    for cap in only_known(&sets.ambient) {
        // The kernel refuses an ambient capability that is not also
        // inheritable and permitted; runc skips those too (with a warning).
        let _ = ::caps::raise(None, CapSet::Ambient, cap);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_set_matches_docker_mask() {
        assert_eq!(default_capabilities().len(), 14);
        assert_eq!(capeff_mask(&default_capabilities()), 0x0000_0000_a804_25fb);
    }

    #[test]
    fn parse_accepts_docker_spellings() {
        for name in [
            "NET_ADMIN",
            "CAP_NET_ADMIN",
            "net_admin",
            "cap_Net_Admin",
            " NET_ADMIN ",
        ] {
            assert_eq!(parse_capability(name).unwrap(), Capability::CAP_NET_ADMIN);
        }
    }

    #[test]
    fn parse_error_names_input() {
        let err = parse_capability("NET_ADMON").unwrap_err();
        assert!(err.to_string().contains("NET_ADMON"), "{err}");
        assert!(parse_capability("ALL").is_err());
    }

    #[test]
    fn no_flags_gives_default() {
        assert_eq!(effective_set(&[], &[]).unwrap(), default_capabilities());
    }

    #[test]
    fn drop_then_add() {
        let set =
            effective_set(&strings(&["NET_ADMIN"]), &strings(&["chown", "CAP_KILL"])).unwrap();
        let mut expected = default_capabilities();
        expected.remove(&Capability::CAP_CHOWN);
        expected.remove(&Capability::CAP_KILL);
        expected.insert(Capability::CAP_NET_ADMIN);
        assert_eq!(set, expected);
        // Adding and dropping the same cap: add wins (moby appends adds after drops).
        let set = effective_set(&strings(&["KILL"]), &strings(&["KILL"])).unwrap();
        assert!(set.contains(&Capability::CAP_KILL));
    }

    #[test]
    fn add_all_minus_drops() {
        let set = effective_set(&strings(&["all"]), &strings(&["SYS_ADMIN"])).unwrap();
        assert_eq!(set.len(), ::caps::all().len() - 1);
        assert!(!set.contains(&Capability::CAP_SYS_ADMIN));
    }

    #[test]
    fn drop_all_keeps_only_adds() {
        let set = effective_set(&strings(&["NET_BIND_SERVICE"]), &strings(&["ALL"])).unwrap();
        assert_eq!(
            set,
            [Capability::CAP_NET_BIND_SERVICE].into_iter().collect()
        );
        assert!(effective_set(&[], &strings(&["ALL"])).unwrap().is_empty());
    }

    #[test]
    fn bad_names_are_reported_even_with_all() {
        let err = effective_set(&strings(&["ALL"]), &strings(&["BOGUS"])).unwrap_err();
        assert!(err.to_string().contains("BOGUS"), "{err}");
        let err = effective_set(&strings(&["nope"]), &[]).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}

#[cfg(test)]
mod root_tests {
    use super::*;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    /// Reads one `CapXxx:` line of /proc/self/status as a mask.
    fn status_mask(field: &str) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()
    }

    /// Child body: returns the exit code (0 = all good).
    fn child_applies_default() -> i32 {
        let keep = default_capabilities();
        if drop_bounding_set(&keep).is_err() {
            return 10;
        }
        if apply_sets(&CapSets::docker(keep.clone(), 0)).is_err() {
            return 11;
        }
        let want = capeff_mask(&keep);
        for (i, field) in ["CapEff:", "CapPrm:", "CapInh:", "CapBnd:"]
            .iter()
            .enumerate()
        {
            if status_mask(field) != Some(want) {
                return 20 + i as i32;
            }
        }
        if status_mask("CapAmb:") != Some(0) {
            return 30;
        }
        0
    }

    #[test]
    fn apply_default_set_in_child() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping apply_default_set_in_child: needs root");
            return;
        }
        if ::caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).ok() != Some(true) {
            eprintln!("skipping apply_default_set_in_child: needs CAP_SETPCAP");
            return;
        }
        // SAFETY: the child only does capability syscalls and reads /proc, then `_exit`s
        // without running destructors or returning into the test harness.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                let code = child_applies_default();
                // SAFETY: `_exit` never returns and skips atexit handlers, as a forked child should.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                let status = waitpid(child, None).expect("waitpid");
                assert_eq!(status, WaitStatus::Exited(child, 0), "child exit code");
            }
        }
    }
}
