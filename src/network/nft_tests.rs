use super::*;
use crate::network::names::HostNames;
use crate::network::ports::parse_publish;
use crate::network::{Endpoint, NetState, Network};

fn state() -> NetState {
    let mut s = NetState::default();
    for (name, bridge, subnet, internal) in [
        ("bridge", "rcorch0", "172.17.0.0/16", false),
        ("back", "rcorch1", "10.89.0.0/24", true),
    ] {
        s.networks.insert(
            name.into(),
            Network {
                name: name.into(),
                bridge: bridge.into(),
                subnet: subnet.parse().unwrap(),
                gateway: subnet
                    .parse::<crate::network::Subnet>()
                    .unwrap()
                    .first_host(),
                internal,
                created: String::new(),
                labels: Default::default(),
            },
        );
    }
    s.endpoints.insert(
        "c1".into(),
        Endpoint {
            container_id: "c1".into(),
            container_name: "web".into(),
            network: "bridge".into(),
            ip: "172.17.0.2".parse().unwrap(),
            aliases: vec![],
            ports: vec![
                parse_publish("127.0.0.1:8080:80").unwrap(),
                parse_publish("53:53/udp").unwrap(),
            ],
            host_veth: "rcc1".into(),
            ifname: "eth0".into(),
            default_route: false,
        },
    );
    s
}

/// The batch rendered one command per line, so a diff shows what changed.
fn render(n: &Nftables) -> Vec<String> {
    n.objects
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect()
}

#[test]
fn empty_state_only_removes_the_table() {
    let lines = render(&build_ruleset(&RulesetPlan::default()));
    assert_eq!(
        lines,
        [
            r#"{"add":{"table":{"family":"inet","name":"rcorch"}}}"#,
            r#"{"delete":{"table":{"family":"inet","name":"rcorch"}}}"#,
        ]
    );
}

#[test]
fn ruleset_snapshot() {
    let lines = render(&build_ruleset(&RulesetPlan::from_state(
        &state(),
        &HostNames::default(),
    )));
    let expected = include_str!("testdata/nft_ruleset.jsonl");
    let expected: Vec<&str> = expected.lines().collect();
    if lines != expected {
        eprintln!("actual ruleset:\n{}", lines.join("\n"));
    }
    assert_eq!(lines, expected);
}

#[test]
fn only_rcorch_table_is_touched() {
    let json = serde_json::to_value(build_ruleset(&RulesetPlan::from_state(
        &state(),
        &HostNames::default(),
    )))
    .unwrap();
    for cmd in json["nftables"].as_array().unwrap() {
        let (_, obj) = cmd.as_object().unwrap().iter().next().unwrap();
        let (_, inner) = obj.as_object().unwrap().iter().next().unwrap();
        let table = inner.get("table").or_else(|| inner.get("name")).unwrap();
        assert!(inner["family"] == "inet");
        if inner.get("table").is_some() {
            assert_eq!(table, "rcorch");
        }
    }
}

/// Another root's batch touches its own table only, and fences its own
/// lost bridges only: the default root's bridges are left to its table.
#[test]
fn another_root_has_its_own_table_and_fences() {
    let names = HostNames::for_root(std::path::Path::new("/tmp/other-root"));
    let mut s = state();
    for n in s.networks.values_mut() {
        n.bridge = n.bridge.replace("rcorch", &names.bridge_prefix);
    }
    let batch = build_ruleset(&RulesetPlan::from_state(&s, &names));
    let json = serde_json::to_value(&batch).unwrap();
    for cmd in json["nftables"].as_array().unwrap() {
        let (_, obj) = cmd.as_object().unwrap().iter().next().unwrap();
        let (_, inner) = obj.as_object().unwrap().iter().next().unwrap();
        let table = inner.get("table").or_else(|| inner.get("name")).unwrap();
        if inner.get("table").is_some() || obj.get("table").is_some() {
            assert_eq!(table.as_str(), Some(names.table.as_str()), "{cmd}");
        }
    }
    let text = render(&batch).join("\n");
    let own = format!(r#""right":"{}","op":"==""#, names.own_bridges());
    assert!(text.contains(&own), "{text}");
    // The unknown-bridge fence never names the default root's bridges.
    assert!(!text.contains(r#"{"match":{"left":{"meta":{"key":"iifname"}},"right":"rcorch*","op":"=="}},{"match":{"left":{"meta":{"key":"iifname"}},"right":{"set""#), "{text}");
    // Its networks are still fenced from every rcorch bridge, any root's.
    let b0 = names.bridge(0);
    let fence = format!(
        r#"{{"match":{{"left":{{"meta":{{"key":"iifname"}}}},"right":"{b0}","op":"=="}}}},{{"match":{{"left":{{"meta":{{"key":"oifname"}}}},"right":"rcorch*","op":"=="}}}}"#
    );
    assert!(text.contains(&fence), "{text}");
}

#[test]
fn internal_networks_publish_nothing_and_are_fenced() {
    let mut s = state();
    s.endpoints.get_mut("c1").unwrap().network = "back".into();
    let plan = RulesetPlan::from_state(&s, &HostNames::default());
    assert!(plan.ports.is_empty());
    let text = render(&build_ruleset(&plan)).join("\n");
    assert!(text.contains(
        r#"{"match":{"left":{"meta":{"key":"iifname"}},"right":"rcorch1","op":"=="}},{"match":{"left":{"meta":{"key":"oifname"}},"right":"rcorch1","op":"!="}},{"drop":null}"#
    ));
}

/// Fenced from every rcorch bridge by wildcard, so a bridge whose record
/// is lost (not in the state) stays fenced when the table is rebuilt.
#[test]
fn bridges_are_fenced_from_any_rcorch_bridge_not_only_known_ones() {
    let text = render(&build_ruleset(&RulesetPlan::from_state(
        &state(),
        &HostNames::default(),
    )))
    .join("\n");
    for (inner, outer) in [("iifname", "oifname"), ("oifname", "iifname")] {
        let rule = format!(
            r#"{{"match":{{"left":{{"meta":{{"key":"{inner}"}}}},"right":"rcorch0","op":"=="}}}},{{"match":{{"left":{{"meta":{{"key":"{outer}"}}}},"right":"rcorch*","op":"=="}}}},{{"match":{{"left":{{"meta":{{"key":"{outer}"}}}},"right":"rcorch0","op":"!="}}}},{{"drop":null}}"#
        );
        assert!(text.contains(&rule), "{rule}\n{text}");
    }
    assert!(!text.contains(r#""right":"rcorch1","op":"=="}},{"match":{"left":{"meta":{"key":"oifname"}},"right":"rcorch0""#));
}

#[test]
fn the_install_hint_only_when_nft_is_missing() {
    use nftables::helper::NftablesError as E;
    let missing = NftError::Apply(E::NftExecution {
        program: "nft".into(),
        inner: std::io::Error::from(std::io::ErrorKind::NotFound),
    });
    assert!(missing.to_string().contains("not installed"), "{missing}");
    let refused = NftError::Apply(E::NftFailed {
        program: "nft".into(),
        hint: "applying ruleset".into(),
        stdout: String::new(),
        stderr: "Error: Could not process rule: No such file or directory\n".into(),
    });
    let text = refused.to_string();
    assert!(
        !text.contains("installed") && text.contains("Could not process rule"),
        "{text}"
    );
}

/// A tagged root's table names its root (for `stale_tables`); the default
/// root's, and a root whose path nft could not hold, do not.
#[test]
fn a_tagged_roots_table_is_marked_with_its_root() {
    let root = std::path::Path::new("/tmp/marked-root");
    let names = HostNames::for_root(root);
    let plan = RulesetPlan::from_state(&state(), &names).owned_by(root);
    let batch = build_ruleset(&plan);
    let listing = serde_json::json!({"nftables": serde_json::to_value(&batch).unwrap()["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.get("add").cloned())
        .collect::<Vec<_>>()});
    assert_eq!(
        crate::network::stale_tables::owner_in(&listing),
        Some(root.to_path_buf())
    );
    let default = RulesetPlan::from_state(&state(), &HostNames::default()).owned_by(root);
    assert_eq!(default.owner, None);
    let long = std::path::PathBuf::from(format!("/{}", "x".repeat(200)));
    let plan = RulesetPlan::from_state(&state(), &HostNames::for_root(&long)).owned_by(&long);
    assert!(!render(&build_ruleset(&plan)).join("\n").contains("owner"));
}
