//! The names a state root gives what it makes in the network namespace:
//! its nft table and its bridges. Two roots in one namespace must never
//! share one (the second would rebuild the first's table and plug into its
//! bridge), so every root but the default one carries its instance tag in
//! both: table `rcorch-TAG`, bridges `rc-TAG-N`. The default root
//! (`/var/lib/rcorch`) keeps `rcorch` and `rcorchN`, which existing installs
//! have. A tagged bridge's name is its own proof of ownership: it survives
//! a crash before its alias or its record was written.
//!
//! A root an earlier version set up elsewhere than the default path holds
//! records of untagged bridges and has rules in `inet rcorch`: it keeps
//! the default names (`for_root_holding`), or its old table would be left
//! with stale rules beside its new one.

use std::path::Path;

/// The root whose names stay untagged (`instance::DEFAULT_ROOT`; not used
/// from there: instance sits above network).
const DEFAULT_ROOT: &str = "/var/lib/rcorch";

/// Every rcorch bridge of any root: the default root's and the tagged
/// ones. Forwarding between two of them is fenced, whichever roots they
/// belong to.
pub const EVERY_BRIDGE: [&str; 2] = ["rcorch*", "rc-*"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNames {
    /// The `inet` table holding all of the root's rules.
    pub table: String,
    /// Bridge N is `{prefix}N` (N = 0 for the default network).
    pub bridge_prefix: String,
    /// Set for a tagged root: its bridges are provably its own by name.
    pub tag: Option<String>,
}

impl Default for HostNames {
    /// The default root's names.
    fn default() -> HostNames {
        HostNames {
            table: "rcorch".into(),
            bridge_prefix: "rcorch".into(),
            tag: None,
        }
    }
}

/// 8 hex digits naming the instance at `root`: another instance's
/// bridges in the same namespace are never taken for lost ones.
pub fn instance_tag(root: &Path) -> String {
    let digest = crate::image::sha256::digest_hex(root.as_os_str().as_encoded_bytes());
    digest[..8].to_string()
}

/// `rcorchN`: the default root's bridge names, which earlier versions
/// gave every root's bridges.
pub fn is_default_bridge(name: &str) -> bool {
    name.strip_prefix("rcorch")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl HostNames {
    pub fn for_root(root: &Path) -> HostNames {
        if root == Path::new(DEFAULT_ROOT) {
            return HostNames::default();
        }
        let tag = instance_tag(root);
        HostNames {
            table: format!("rcorch-{tag}"),
            // "rc-" + 8 + "-" + up to 3 digits fits IFNAMSIZ (15), and
            // never matches `rcorch*` nor a veth (`rc` + hex id).
            bridge_prefix: format!("rc-{tag}-"),
            tag: Some(tag),
        }
    }

    /// The names of the root at `root` whose networks have `bridges`.
    pub fn for_root_holding<'a>(
        root: &Path,
        mut bridges: impl Iterator<Item = &'a str>,
    ) -> HostNames {
        let names = HostNames::for_root(root);
        if names.tag.is_some() && bridges.any(is_default_bridge) {
            return HostNames::default();
        }
        names
    }

    pub fn bridge(&self, n: usize) -> String {
        format!("{}{n}", self.bridge_prefix)
    }

    /// The wildcard matching this root's bridges only.
    pub fn own_bridges(&self) -> String {
        format!("{}*", self.bridge_prefix)
    }

    /// Whether `name` is one of this root's bridges by its name alone:
    /// only tagged names say whose they are.
    pub fn owns_by_name(&self, name: &str) -> bool {
        self.tag.is_some()
            && name
                .strip_prefix(&self.bridge_prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_root_keeps_its_names() {
        assert_eq!(DEFAULT_ROOT, crate::instance::DEFAULT_ROOT);
        let names = HostNames::for_root(Path::new("/var/lib/rcorch"));
        assert_eq!(names, HostNames::default());
        assert_eq!(names.table, "rcorch");
        assert_eq!(names.bridge(0), "rcorch0");
        assert_eq!(names.own_bridges(), "rcorch*");
        assert!(!names.owns_by_name("rcorch0"));
    }

    #[test]
    fn other_roots_carry_their_tag_and_never_share_a_name() {
        let a = HostNames::for_root(Path::new("/tmp/a"));
        let b = HostNames::for_root(Path::new("/tmp/b"));
        let tag = instance_tag(Path::new("/tmp/a"));
        assert_eq!(a.table, format!("rcorch-{tag}"));
        assert_eq!(a.bridge(0), format!("rc-{tag}-0"));
        assert!(a.bridge(999).len() <= 15, "{}", a.bridge(999));
        assert_ne!(a.table, b.table);
        assert_ne!(a.bridge(0), b.bridge(0));
        assert!(a.owns_by_name(&a.bridge(3)));
        assert!(!a.owns_by_name(&b.bridge(3)));
        assert!(!a.owns_by_name(&format!("rc-{tag}-x")));
        // The default root's wildcard never takes a tagged bridge for its own.
        assert!(!a.bridge(0).starts_with("rcorch"));
        assert!(a
            .bridge(0)
            .starts_with(EVERY_BRIDGE[1].trim_end_matches('*')));
    }

    /// A root an earlier version made keeps the names its records and
    /// its rules already use.
    #[test]
    fn a_root_holding_untagged_bridges_keeps_the_default_names() {
        let root = Path::new("/tmp/old-root");
        let tagged = HostNames::for_root(root);
        let fresh = HostNames::for_root_holding(root, [tagged.bridge(0).as_str()].into_iter());
        assert_eq!(fresh, tagged);
        assert_eq!(
            HostNames::for_root_holding(root, std::iter::empty()),
            tagged
        );
        let old = HostNames::for_root_holding(root, ["rcorch0", "rcorch1"].into_iter());
        assert_eq!(old, HostNames::default());
        let default = Path::new(DEFAULT_ROOT);
        let held = HostNames::for_root_holding(default, ["rcorch0"].into_iter());
        assert_eq!(held, HostNames::default());
        assert!(!is_default_bridge("rcorchx") && !is_default_bridge("rcorch"));
    }
}
