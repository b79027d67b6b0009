//! rcorch's bridges as the kernel has them. Each bridge carries its
//! network's name and its instance in its alias (`rcorch network NAME @ROOT`,
//! ROOT 8 hex digits of the state root's digest), so a network whose
//! record and copy are both lost can still have its bridge removed by
//! `network rm` or `system check --repair` once no container is plugged in.
//! A root other than the default one also names its bridges with its tag
//! (`names`): such a bridge is its own even before its alias is set.
//!
//! Bridges made by earlier versions carry less: `rcorch network NAME`
//! (before the instance tag) or no alias at all (before aliases), named
//! `rcorchN` either way. Any rcorch instance in the namespace may have made
//! them, so one is taken as this root's only when what the root still
//! holds of a network it cannot read (an unreadable or set-aside record,
//! `Leftover`) names it: the network's name for the first, the bridge's
//! name in the record's bytes for the second.

use std::collections::BTreeSet;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::LinkAttribute;

use super::link::{self, block_on, nl, Result};
use super::names::{instance_tag, is_default_bridge, HostNames};
use super::ops::Networks;
use super::NetState;

const ALIAS_PREFIX: &str = "rcorch network ";

pub fn alias_for(root: &Path, network: &str) -> String {
    format!("{ALIAS_PREFIX}{network} @{}", instance_tag(root))
}

/// One link as netlink lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLink {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    /// The bridge it is plugged into.
    pub controller: Option<u32>,
}

/// An rcorch bridge on the host, with its ports (the veths plugged in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBridge {
    pub name: String,
    pub network: String,
    pub ports: Vec<String>,
}

/// What a root holds of a network it cannot read: the bytes of its
/// unreadable or set-aside record (or copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub network: String,
    pub bytes: Vec<u8>,
}

/// Whose an existing bridge with the name a network wants is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// Its alias is the one this root gives it.
    Ours,
    /// Its creation was cut short (no alias yet), or an earlier version
    /// of this root made it (an alias without a tag): finish it.
    Adopt,
    /// Another root's (or not rcorch's at all): plugging into it, or
    /// rebuilding rules for it, would break whoever owns it.
    Foreign(String),
}

/// Judges the bridge `name` found with `alias`, wanted by network
/// `network` of the root whose alias for it is `ours`.
pub fn judge_existing(alias: Option<&str>, network: &str, ours: &str) -> Existing {
    match alias {
        Some(a) if a == ours => Existing::Ours,
        None => Existing::Adopt,
        Some(a) if a.strip_prefix(ALIAS_PREFIX) == Some(network) => Existing::Adopt,
        Some(a) => Existing::Foreign(a.to_string()),
    }
}

/// Stands for the network of a bridge this root made (its name says so)
/// before its alias or record was written: no record says which.
pub const UNRECORDED: &str = "(unrecorded)";

/// The network of this instance that `link` is the bridge of, if any.
fn network_of(link: &HostLink, owner: &Owner, leftovers: &[Leftover]) -> Option<String> {
    let rcorchs = is_default_bridge(&link.name) || owner.names.owns_by_name(&link.name);
    match link.alias.as_deref() {
        Some(alias) => {
            let named = alias.strip_prefix(ALIAS_PREFIX)?;
            match named.rsplit_once(" @") {
                Some((network, t)) => (t == owner.tag).then(|| network.to_string()),
                // An alias without a tag: made before tags.
                None => leftovers
                    .iter()
                    .any(|l| l.network == named && rcorchs)
                    .then(|| named.to_string()),
            }
        }
        // No alias: made before aliases, or cut short before its alias.
        None if rcorchs => {
            let spaced = format!("\"bridge\": \"{}\"", link.name);
            let tight = format!("\"bridge\":\"{}\"", link.name);
            let recorded = leftovers.iter().find(|l| {
                let text = String::from_utf8_lossy(&l.bytes);
                text.contains(&spaced) || text.contains(&tight)
            });
            match recorded {
                Some(l) => Some(l.network.clone()),
                // A tagged name is this root's without any record.
                None if owner.names.owns_by_name(&link.name) => Some(UNRECORDED.to_string()),
                None => None,
            }
        }
        None => None,
    }
}

/// Who a root is in the namespace: the tag in its bridges' aliases, and
/// the names it gives them.
#[derive(Debug, Clone)]
pub struct Owner {
    pub tag: String,
    pub names: HostNames,
}

impl Owner {
    pub fn of(root: &Path, names: HostNames) -> Owner {
        Owner {
            tag: instance_tag(root),
            names,
        }
    }
}

/// The bridges of networks of the instance `owner` names: by their alias
/// (or tagged name), and older ones by what `leftovers` say of them.
pub fn bridges(links: &[HostLink], owner: &Owner, leftovers: &[Leftover]) -> Vec<HostBridge> {
    links
        .iter()
        .filter_map(|l| {
            let network = network_of(l, owner, leftovers)?;
            let ports = links
                .iter()
                .filter(|p| p.controller == Some(l.index))
                .map(|p| p.name.clone())
                .collect();
            Some(HostBridge {
                name: l.name.clone(),
                network,
                ports,
            })
        })
        .collect()
}

/// The bridges no readable network uses: those of lost networks (when
/// `lost_too`) and of networks gone without them (a removal that kept a
/// bridge containers were still plugged into).
pub fn unclaimed(state: &NetState, bridges: Vec<HostBridge>, lost_too: bool) -> Vec<HostBridge> {
    let known: BTreeSet<&str> = state.networks.values().map(|n| n.bridge.as_str()).collect();
    bridges
        .into_iter()
        .filter(|b| !known.contains(b.name.as_str()))
        .filter(|b| lost_too || state.lost(&b.network).is_none())
        .collect()
}

/// What became of an unclaimed bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    Removed(String),
    /// Containers are still plugged in: left until they are gone.
    Kept(HostBridge),
}

impl Networks {
    /// Deletes the unclaimed bridges `which` picks, keeping those that
    /// still have ports. Call under the state lock with the state as saved.
    /// `leftovers`: read before the records were removed.
    pub(super) fn drop_unclaimed(
        &self,
        state: &NetState,
        leftovers: &[Leftover],
        which: impl Fn(&HostBridge) -> bool,
    ) -> Result<Vec<Dropped>> {
        let mut dropped = Vec::new();
        let owner = Owner::of(&self.root(), self.names(state));
        for bridge in unclaimed(state, bridges(&links()?, &owner, leftovers), false) {
            if !which(&bridge) {
                continue;
            }
            if bridge.ports.is_empty() {
                link::delete_link(&bridge.name)?;
                dropped.push(Dropped::Removed(bridge.name));
            } else {
                dropped.push(Dropped::Kept(bridge));
            }
        }
        Ok(dropped)
    }

    /// The bridges of networks no record names (`system check`).
    pub fn unclaimed_bridges(&self) -> Vec<HostBridge> {
        let (Ok(state), Ok(links)) = (self.store.read(), links()) else {
            return Vec::new();
        };
        let leftovers = self.store.leftovers(&state);
        let owner = Owner::of(&self.root(), self.names(&state));
        unclaimed(&state, bridges(&links, &owner, &leftovers), false)
    }

    /// Deletes `bridge` if no record claims it and nothing is plugged in.
    pub fn remove_unclaimed_bridge(
        &self,
        bridge: &str,
    ) -> std::result::Result<Vec<Dropped>, super::ops::NetError> {
        let lock = self.store.lock()?;
        let state = self.store.load(&lock)?;
        let leftovers = self.store.leftovers(&state);
        let dropped = self.drop_unclaimed(&state, &leftovers, |b| b.name == bridge)?;
        self.reapply(&state)?;
        Ok(dropped)
    }

    /// Rebuilds the table from `state` alone: a network lost to damage kept
    /// its rules (its ports' DNAT, an internal one's fence) from before, and
    /// its bridge, if kept, is fenced by the rule for bridges no network names.
    pub(super) fn reapply(
        &self,
        state: &NetState,
    ) -> std::result::Result<(), super::nft::NftError> {
        let plan = super::nft::RulesetPlan::from_state(state, &self.names(state));
        super::nft::apply(&super::nft::build_ruleset(&plan.owned_by(&self.root())))
    }

    /// The tables of roots that are gone (`system check`).
    pub fn stale_tables(&self) -> Vec<super::stale_tables::StaleTable> {
        let Ok(state) = self.store.read() else {
            return Vec::new();
        };
        super::stale_tables::find(&self.names(&state).table)
    }

    /// Deletes the bridges of the lost network `name` just set aside.
    pub fn drop_bridges_of(
        &self,
        name: &str,
    ) -> std::result::Result<Vec<Dropped>, super::ops::NetError> {
        let lock = self.store.lock()?;
        let state = self.store.load(&lock)?;
        let leftovers = self.store.leftovers(&state);
        let dropped = self.drop_unclaimed(&state, &leftovers, |b| b.network == name)?;
        self.reapply(&state)?;
        Ok(dropped)
    }
}

/// Every link of the current network namespace.
pub fn links() -> Result<Vec<HostLink>> {
    block_on(|h| async move {
        let mut stream = h.link().get().execute();
        let mut links = Vec::new();
        while let Some(msg) = stream.try_next().await.map_err(nl("list", "links"))? {
            let mut link = HostLink {
                index: msg.header.index,
                name: String::new(),
                alias: None,
                controller: None,
            };
            for attribute in msg.attributes {
                match attribute {
                    LinkAttribute::IfName(n) => link.name = n,
                    LinkAttribute::IfAlias(a) => link.alias = Some(a),
                    LinkAttribute::Controller(c) => link.controller = Some(c),
                    _ => {}
                }
            }
            links.push(link);
        }
        Ok(links)
    })
}

#[cfg(test)]
#[path = "host_bridges_tests.rs"]
mod tests;
