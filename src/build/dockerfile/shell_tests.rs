use super::shell::{expand_word, expand_words, split_raw, ExpandError, Used};

fn vars(name: &str) -> Option<String> {
    match name {
        "A" => Some("alpha".into()),
        "EMPTY" => Some(String::new()),
        "SP" => Some("x y".into()),
        "PATHISH" => Some("/usr/local/bin".into()),
        _ => None,
    }
}

fn w(s: &str) -> String {
    expand_word(s, &vars, '\\', &mut Used::default()).unwrap()
}

#[test]
fn plain_and_braced_names() {
    assert_eq!(w("$A"), "alpha");
    assert_eq!(w("${A}x"), "alphax");
    assert_eq!(w("$Ax"), "");
    assert_eq!(w("pre-$A-post"), "pre-alpha-post");
}

#[test]
fn modifiers_follow_the_reference() {
    assert_eq!(w("${UNSET:-def}"), "def");
    assert_eq!(w("${EMPTY:-def}"), "def");
    assert_eq!(w("${EMPTY-def}"), "");
    assert_eq!(w("${UNSET-def}"), "def");
    assert_eq!(w("${A:+set}"), "set");
    assert_eq!(w("${EMPTY:+set}"), "");
    assert_eq!(w("${EMPTY+set}"), "set");
    assert_eq!(w("${UNSET+set}"), "");
    assert_eq!(w("${UNSET:-$A}"), "alpha");
    assert_eq!(w("${PATHISH#/usr}"), "/local/bin");
    assert_eq!(w("${PATHISH%/bin}"), "/usr/local");
    assert_eq!(w("${PATHISH/local/opt}"), "/usr/opt/bin");
}

#[test]
fn required_variable_errors() {
    let err = expand_word("${UNSET:?must be set}", &vars, '\\', &mut Used::default()).unwrap_err();
    assert_eq!(
        err,
        ExpandError::Required {
            name: "UNSET".into(),
            message: "must be set".into()
        }
    );
}

#[test]
fn quotes_and_escapes() {
    assert_eq!(w("'$A'"), "$A");
    assert_eq!(w("\"$A b\""), "alpha b");
    assert_eq!(w("\\$A"), "$A");
    assert_eq!(w("\"\\$A\""), "$A");
    assert_eq!(w("\"a\\\"b\""), "a\"b");
    assert_eq!(w("\"a\\nb\""), "a\\nb");
    assert_eq!(w("$"), "$");
    assert_eq!(w("a$"), "a$");
    assert_eq!(
        expand_word("`$A", &vars, '`', &mut Used::default()).unwrap(),
        "$A"
    );
    assert_eq!(
        expand_word("C:\\app", &vars, '`', &mut Used::default()).unwrap(),
        "C:\\app"
    );
}

#[test]
fn unterminated_braces_and_quotes_are_errors() {
    assert!(expand_word("${A", &vars, '\\', &mut Used::default()).is_err());
    assert!(expand_word("'abc", &vars, '\\', &mut Used::default()).is_err());
}

#[test]
fn words_split_on_unquoted_whitespace_and_expansions() {
    let mut used = Used::default();
    assert_eq!(
        expand_words("80/tcp \"a b\" $SP $UNSET", &vars, '\\', &mut used).unwrap(),
        vec!["80/tcp", "a b", "x", "y"]
    );
    assert_eq!(used.unset, vec!["UNSET"]);
}

#[test]
fn unset_names_are_recorded_once() {
    let mut used = Used::default();
    expand_word("$X ${X} ${Y:-$A}", &vars, '\\', &mut used).unwrap();
    assert_eq!(used.unset, vec!["X", "Y"]);
}

#[test]
fn raw_split_keeps_quotes() {
    assert_eq!(
        split_raw(r#"a="x y" b=\" c='q r'"#, '\\'),
        vec![r#"a="x y""#, r#"b=\""#, "c='q r'"]
    );
}
