use super::*;

fn env() -> Env {
    [("A", "alpha"), ("EMPTY", ""), ("N", "3")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ok(t: &str) -> String {
    interpolate(t, &env()).unwrap().value
}

#[test]
fn plain_and_braced_names() {
    assert_eq!(ok("x-$A-${A}-$N"), "x-alpha-alpha-3");
    assert_eq!(ok("$A_B"), "", "the name is A_B, which is unset");
    assert_eq!(ok("${A}_B"), "alpha_B");
    assert_eq!(ok("no vars"), "no vars");
}

#[test]
fn dollar_dollar_is_a_literal_dollar() {
    assert_eq!(ok("cost $$5 and $${A}"), "cost $5 and ${A}");
}

#[test]
fn unset_without_default_is_empty_and_reported() {
    let r = interpolate("[${NOPE}][$ALSO]", &env()).unwrap();
    assert_eq!(r.value, "[][]");
    assert_eq!(r.unset, ["NOPE", "ALSO"]);
}

#[test]
fn defaults_colon_treats_empty_as_unset() {
    assert_eq!(ok("${NOPE:-d}"), "d");
    assert_eq!(ok("${EMPTY:-d}"), "d");
    assert_eq!(ok("${A:-d}"), "alpha");
    assert_eq!(ok("${NOPE-d}"), "d");
    assert_eq!(ok("${EMPTY-d}"), "");
    assert_eq!(ok("${A-d}"), "alpha");
    assert_eq!(ok("${NOPE:-}"), "");
}

#[test]
fn defaults_may_nest_and_contain_spaces() {
    assert_eq!(ok("${NOPE:-${A}}"), "alpha");
    assert_eq!(ok("${NOPE:-${ALSO:-deep $N}}"), "deep 3");
    assert_eq!(ok("${NOPE:-a b:c}"), "a b:c");
}

#[test]
fn alternatives() {
    assert_eq!(ok("${A:+alt}"), "alt");
    assert_eq!(ok("${EMPTY:+alt}"), "");
    assert_eq!(ok("${EMPTY+alt}"), "alt");
    assert_eq!(ok("${NOPE+alt}"), "");
    assert_eq!(ok("${NOPE:+alt}"), "");
}

#[test]
fn required_variables() {
    assert_eq!(ok("${A:?need A}"), "alpha");
    assert_eq!(ok("${EMPTY?need}"), "");
    let err = interpolate("${EMPTY:?set EMPTY $N}", &env()).unwrap_err();
    assert_eq!(
        err,
        InterpError::Required {
            variable: "EMPTY".into(),
            message: "set EMPTY 3".into()
        }
    );
    let err = interpolate("${NOPE?gone}", &env()).unwrap_err();
    assert!(matches!(err, InterpError::Required { variable, .. } if variable == "NOPE"));
}

#[test]
fn invalid_formats() {
    for bad in [
        "cost 5$", "$ x", "$1", "${", "${A", "${}", "${1A}", "${A:}", "${A!x}",
    ] {
        assert_eq!(interpolate(bad, &env()), Err(InterpError::Invalid), "{bad}");
    }
}

#[test]
fn tree_interpolates_values_not_keys_and_reports_paths() {
    let mut v: Value =
        serde_norway::from_str("services:\n  $A:\n    image: ${A}\n    x: [1, $NOPE]\n").unwrap();
    let unset = interpolate_tree(&mut v, &KeyPath::root(), &env()).unwrap();
    assert_eq!(v["services"]["$A"]["image"].as_str(), Some("alpha"));
    assert_eq!(unset.len(), 1);
    assert_eq!(unset[0].0.to_string(), "services.$A.x[1]");
    assert_eq!(unset[0].1, "NOPE");
}

#[test]
fn tree_error_carries_the_path() {
    let mut v: Value = serde_norway::from_str("a:\n  b: ${X:?missing}\n").unwrap();
    let err = interpolate_tree(&mut v, &KeyPath::root(), &env()).unwrap_err();
    assert_eq!(err.path.to_string(), "a.b");
}
