//! Tables of roots that are gone. Each tagged root's table carries its
//! root's path (a rule comment in its `owner` chain, `nft::build_ruleset`),
//! so a table left when its root was deleted with containers still
//! publishing (its DNAT rules would take those ports from whoever uses
//! them next) can be told from a live one and removed by any root's
//! `system check --repair`. The default table (`inet rcorch`) is never
//! judged: its root is the default path or an earlier version's root.

use std::path::{Path, PathBuf};

use super::host_bridges::HostLink;
use super::names::HostNames;

/// What the `owner` chain's rule comment starts with.
pub const OWNER_MARK: &str = "rcorch root ";

/// A table of a root that is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleTable {
    pub table: String,
    pub root: PathBuf,
}

/// The root named in `nft -j list chain inet T owner`'s output.
pub fn owner_in(listing: &serde_json::Value) -> Option<PathBuf> {
    listing["nftables"].as_array()?.iter().find_map(|o| {
        let comment = o["rule"]["comment"].as_str()?;
        comment.strip_prefix(OWNER_MARK).map(PathBuf::from)
    })
}

/// The `inet` table names in `nft -j list tables`'s output.
pub fn tables_in(listing: &serde_json::Value) -> Vec<String> {
    let Some(objects) = listing["nftables"].as_array() else {
        return Vec::new();
    };
    objects
        .iter()
        .filter(|o| o["table"]["family"] == "inet")
        .filter_map(|o| o["table"]["name"].as_str().map(String::from))
        .collect()
}

/// Whether `table`, marked as `owner`'s, is a table of a root that is
/// gone: its name must be the one that root gives its table (so the mark
/// is not borrowed), and the root must hold no network state any more.
pub fn is_stale(table: &str, owner: &Path, holds_networks: bool) -> bool {
    let names = HostNames::for_root(owner);
    names.tag.is_some() && names.table == table && !holds_networks
}

/// Where a root keeps its network state.
pub fn network_dir(root: &Path) -> PathBuf {
    root.join("networks")
}

/// The stale tables among the namespace's, other than `own`'s.
pub fn find(own: &str) -> Vec<StaleTable> {
    list("tables")
        .map(|l| tables_in(&l))
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t != own && t.starts_with("rcorch-"))
        .filter_map(|table| {
            let root = owner_in(&list(&format!("chain inet {table} owner"))?)?;
            let stale = is_stale(&table, &root, network_dir(&root).is_dir());
            stale.then_some(StaleTable { table, root })
        })
        .collect()
}

/// `nft -j list WHAT` parsed; None when nft fails (no such chain).
fn list(what: &str) -> Option<serde_json::Value> {
    let mut args = vec!["-j", "list"];
    args.extend(what.split(' '));
    let out = std::process::Command::new("nft").args(args).output().ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())?
}

/// Why a stale table could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum StaleError {
    #[error(transparent)]
    Nft(#[from] super::nft::NftError),
    #[error(transparent)]
    Link(#[from] super::link::LinkError),
}

/// The bridges, among `links`, of the gone root `root` that nothing is
/// plugged into: its name says whose each is.
pub fn idle_bridges_of(root: &Path, links: &[HostLink]) -> Vec<String> {
    let names = HostNames::for_root(root);
    links
        .iter()
        .filter(|l| names.owns_by_name(&l.name))
        .filter(|l| !links.iter().any(|p| p.controller == Some(l.index)))
        .map(|l| l.name.clone())
        .collect()
}

/// Deletes `stale`'s table, and its root's idle bridges, if it is still
/// a gone root's. A bridge with containers plugged in stays.
pub fn remove(stale: &StaleTable) -> Result<(), StaleError> {
    if !is_stale(&stale.table, &stale.root, network_dir(&stale.root).is_dir()) {
        return Ok(());
    }
    super::nft::delete_table(&stale.table)?;
    for bridge in idle_bridges_of(&stale.root, &super::host_bridges::links()?) {
        super::link::delete_link(&bridge)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_owner_is_read_from_the_owner_chains_comment() {
        let listing = json!({"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"chain": {"family": "inet", "table": "rcorch-x", "name": "owner"}},
            {"rule": {"family": "inet", "table": "rcorch-x", "chain": "owner",
                      "expr": [{"accept": null}], "comment": "rcorch root /tmp/a"}}
        ]});
        assert_eq!(owner_in(&listing), Some(PathBuf::from("/tmp/a")));
        let unmarked = json!({"nftables": [{"rule": {"comment": "someone"}}]});
        assert_eq!(owner_in(&unmarked), None);
        assert_eq!(owner_in(&json!({})), None);
    }

    #[test]
    fn only_inet_tables_are_listed() {
        let listing = json!({"nftables": [
            {"metainfo": {}},
            {"table": {"family": "inet", "name": "rcorch-1", "handle": 1}},
            {"table": {"family": "ip", "name": "nat", "handle": 2}}
        ]});
        assert_eq!(tables_in(&listing), ["rcorch-1"]);
    }

    #[test]
    fn a_gone_roots_idle_bridges_go_with_its_table() {
        let root = Path::new("/tmp/gone-root");
        let names = HostNames::for_root(root);
        let link = |index, name: String, controller| HostLink {
            index,
            name,
            alias: None,
            controller,
        };
        let links = [
            link(1, names.bridge(0), None),
            link(2, names.bridge(1), None),
            link(3, "rcabc".into(), Some(2)),
            link(
                4,
                HostNames::for_root(Path::new("/tmp/live")).bridge(0),
                None,
            ),
            link(5, "rcorch0".into(), None),
        ];
        assert_eq!(idle_bridges_of(root, &links), [names.bridge(0)]);
    }

    #[test]
    fn a_table_is_stale_only_when_its_marked_root_is_gone() {
        let root = Path::new("/tmp/gone-root");
        let table = HostNames::for_root(root).table;
        assert!(is_stale(&table, root, false));
        assert!(!is_stale(&table, root, true));
        // A mark naming another root than the table's name says.
        assert!(!is_stale(&table, Path::new("/tmp/other"), false));
        // The default root's table is never judged.
        assert!(!is_stale("rcorch", Path::new("/var/lib/rcorch"), false));
    }
}
