use super::*;
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
    let lines = render(&build_ruleset(&RulesetPlan::from_state(&state())));
    let expected = include_str!("testdata/nft_ruleset.jsonl");
    let expected: Vec<&str> = expected.lines().collect();
    if lines != expected {
        eprintln!("actual ruleset:\n{}", lines.join("\n"));
    }
    assert_eq!(lines, expected);
}

#[test]
fn only_rcorch_table_is_touched() {
    let json = serde_json::to_value(build_ruleset(&RulesetPlan::from_state(&state()))).unwrap();
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

#[test]
fn internal_networks_publish_nothing_and_are_fenced() {
    let mut s = state();
    s.endpoints.get_mut("c1").unwrap().network = "back".into();
    let plan = RulesetPlan::from_state(&s);
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
    let text = render(&build_ruleset(&RulesetPlan::from_state(&state()))).join("\n");
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
