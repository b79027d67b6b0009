use super::*;
use crate::util::records::Damage;

/// The default root's names, with tag 0123abcd in its aliases.
fn default_owner() -> Owner {
    Owner {
        tag: "0123abcd".into(),
        names: HostNames::default(),
    }
}

fn link(index: u32, name: &str, alias: Option<&str>, controller: Option<u32>) -> HostLink {
    HostLink {
        index,
        name: name.into(),
        alias: alias.map(String::from),
        controller,
    }
}

#[test]
fn the_alias_names_the_network_and_its_instance() {
    let alias = alias_for(Path::new("/var/lib/rcorch"), "neta");
    let tag = instance_tag(Path::new("/var/lib/rcorch"));
    assert_eq!(alias, format!("rcorch network neta @{tag}"));
    assert_ne!(tag, instance_tag(Path::new("/tmp/other")));
}

#[test]
fn a_lost_networks_bridge_is_found_by_its_alias_with_its_ports() {
    let links = [
        link(1, "lo", None, None),
        link(2, "rcorch1", Some("rcorch network neta @0123abcd"), None),
        link(3, "rcorch2", Some("rcorch network netb @0123abcd"), None),
        link(4, "rcabc_0", None, Some(2)),
        link(5, "eth0", Some("uplink"), None),
        // Another instance's, in the same namespace.
        link(6, "rcorch3", Some("rcorch network neta @ffffffff"), None),
    ];
    let found = bridges(&links, &default_owner(), &[]);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].ports, vec!["rcabc_0".to_string()]);
    let mut state = NetState::default();
    let damage = Damage {
        path: "x".into(),
        problem: "truncated".into(),
        recovered: false,
    };
    state.damaged.insert("neta".into(), damage);
    let names = |b: Vec<HostBridge>| b.into_iter().map(|b| b.name).collect::<Vec<_>>();
    assert_eq!(
        names(unclaimed(&state, found.clone(), true)),
        ["rcorch1", "rcorch2"]
    );
    assert_eq!(names(unclaimed(&state, found, false)), ["rcorch2"]);
}

/// Bridges of earlier versions are this root's only when what it
/// holds of a lost network names them; any other stays.
#[test]
fn older_bridges_are_taken_only_on_the_roots_own_evidence() {
    let links = [
        // Before the instance tag.
        link(1, "rcorch1", Some("rcorch network neta"), None),
        // Before aliases.
        link(2, "rcorch2", None, None),
        // Neither named by a leftover, nor rcorch's name.
        link(3, "rcorch3", Some("rcorch network other"), None),
        link(4, "rcorch4", None, None),
        link(5, "br0", Some("rcorch network neta"), None),
        link(6, "rcorchx", None, None),
    ];
    let leftovers = [
        Leftover {
            network: "neta".into(),
            bytes: b"{\"network\": ".to_vec(),
        },
        Leftover {
            network: "netb".into(),
            bytes: b"{\"network\": {\"name\": \"netb\", \"bridge\": \"rcorch2\", \"sub".to_vec(),
        },
    ];
    let found: Vec<(String, String)> = bridges(&links, &default_owner(), &leftovers)
        .into_iter()
        .map(|b| (b.name, b.network))
        .collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(found, [pair("rcorch1", "neta"), pair("rcorch2", "netb")]);
    assert!(bridges(&links, &default_owner(), &[]).is_empty());
}

/// A tagged root's bridge cut short before its alias is its own by name,
/// and so removable by `system check --repair`; another root's is not.
#[test]
fn a_tagged_bridge_without_alias_is_the_roots_by_its_name() {
    let root = Path::new("/tmp/some-root");
    let owner = Owner::of(root, HostNames::for_root(root));
    let other = HostNames::for_root(Path::new("/tmp/other-root"));
    let links = [
        link(1, &owner.names.bridge(0), None, None),
        link(2, &other.bridge(0), None, None),
        link(3, "rcorch0", None, None),
    ];
    let found = bridges(&links, &owner, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, owner.names.bridge(0));
    assert_eq!(found[0].network, UNRECORDED);
    let state = NetState::default();
    assert_eq!(unclaimed(&state, found, false).len(), 1);
    // The default root's untagged names prove nothing.
    assert!(bridges(&links, &default_owner(), &[]).is_empty());
}

#[test]
fn an_existing_bridge_is_ours_adopted_or_refused() {
    let ours = alias_for(Path::new("/tmp/a"), "bridge");
    let theirs = alias_for(Path::new("/tmp/b"), "bridge");
    assert_eq!(judge_existing(Some(&ours), "bridge", &ours), Existing::Ours);
    // Cut short before its alias, or made before tags.
    assert_eq!(judge_existing(None, "bridge", &ours), Existing::Adopt);
    let old = "rcorch network bridge";
    assert_eq!(judge_existing(Some(old), "bridge", &ours), Existing::Adopt);
    assert_eq!(
        judge_existing(Some(&theirs), "bridge", &ours),
        Existing::Foreign(theirs.clone())
    );
    assert_eq!(
        judge_existing(Some("rcorch network other"), "bridge", &ours),
        Existing::Foreign("rcorch network other".into())
    );
    assert_eq!(
        judge_existing(Some("my bridge"), "bridge", &ours),
        Existing::Foreign("my bridge".into())
    );
}
