use super::*;

fn node() -> Node {
    Node {
        id: "abc".into(),
        hostname: "box1".into(),
        role: "manager".into(),
        arch: "x86_64".into(),
        os: "linux".into(),
        labels: [
            ("zone".to_string(), "east".to_string()),
            ("ssd".into(), "true".into()),
        ]
        .into_iter()
        .collect(),
    }
}

fn holds(text: &str) -> bool {
    parse_constraint(text).unwrap().matches(&node())
}

#[test]
fn constraints_parse_with_swarm_syntax() {
    let c = parse_constraint("node.labels.zone == east").unwrap();
    assert_eq!(
        (c.key.as_str(), c.op, c.value.as_str()),
        ("node.labels.zone", Op::Eq, "east")
    );
    assert_eq!(parse_constraint("node.role!=worker").unwrap().op, Op::Ne);
    assert_eq!(c.to_string(), "node.labels.zone==east");
}

#[test]
fn bad_constraints_say_what_is_wrong() {
    for (text, reason) in [
        ("node.labels.zone=east", "no == or != operator"),
        ("node.labels.zone==", "no value"),
        ("node.colour==red", "unknown key"),
        ("node.labels.==x", "unknown key"),
        ("a==b!=c", "more than one operator"),
    ] {
        let e = parse_constraint(text).unwrap_err().to_string();
        assert!(e.contains(reason) && e.contains(text), "{text}: {e}");
    }
}

#[test]
fn node_properties_and_labels_match_as_in_swarm() {
    assert!(holds("node.labels.zone==east"));
    assert!(!holds("node.labels.zone==EAST"), "labels compare exactly");
    assert!(holds("node.labels.zone!=west"));
    assert!(
        holds("node.labels.gpu!=true"),
        "a missing label differs from anything"
    );
    assert!(!holds("node.labels.gpu==true"));
    assert!(holds("node.role==manager"));
    assert!(!holds("node.role==worker"));
    assert!(
        holds("node.hostname==BOX1"),
        "properties compare case-insensitively"
    );
    assert!(holds("node.platform.arch==x86_64"));
    assert!(holds("node.platform.os==linux"));
    assert!(holds("engine.labels.ssd==true"));
}

#[test]
fn the_first_unmet_constraint_is_the_pending_reason() {
    let cs: Vec<Constraint> = ["node.role==manager", "node.labels.zone==west"]
        .iter()
        .map(|t| parse_constraint(t).unwrap())
        .collect();
    assert_eq!(
        unmet(&cs, &node()).as_deref(),
        Some("unsatisfied placement constraint node.labels.zone==west on node box1")
    );
    assert_eq!(unmet(&cs[..1], &node()), None);
}

#[test]
fn preferences_take_spread_over_labels() {
    assert_eq!(
        parse_preference("spread=node.labels.zone").unwrap(),
        "node.labels.zone"
    );
    assert!(parse_preference("spread=node.role").is_err());
    assert!(parse_preference("binpack=node.labels.zone").is_err());
}

#[test]
fn node_labels_read_from_key_value_lines() {
    let labels = parse_labels("# site\nzone=east\n\nssd = true\n").unwrap();
    assert_eq!(labels.get("ssd").map(String::as_str), Some("true"));
    assert!(parse_labels("nonsense").is_err());
}
