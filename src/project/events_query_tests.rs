use super::*;

fn event(
    time: &str,
    service: &str,
    slot: u32,
    action: &str,
    container: &str,
    detail: &str,
) -> Event {
    Event {
        time: time.into(),
        service: service.into(),
        slot,
        action: action.into(),
        container: container.into(),
        detail: detail.into(),
        name: String::new(),
        code: None,
        revision: None,
    }
}

fn recorded() -> Vec<Event> {
    vec![
        event(
            "2026-12-06T22:00:00.5Z",
            "web",
            1,
            "start",
            "aaaaaaaaaaaa",
            "revision 1",
        ),
        event(
            "2026-12-06T22:00:01Z",
            "hog",
            1,
            "exited",
            "bbbbbbbbbbbb",
            "code 137 (OOMKilled)",
        ),
        event(
            "2026-12-06T22:00:01Z",
            "hog",
            1,
            "oom",
            "bbbbbbbbbbbb",
            "killed",
        ),
        event(
            "2026-12-06T22:00:02Z",
            "hog",
            1,
            "restart",
            "bbbbbbbbbbbb",
            "reason oom, backoff 0ms",
        ),
        event(
            "2026-12-06T22:05:00Z",
            "web",
            0,
            "autoscale",
            "",
            "1 -> 3 replicas",
        ),
    ]
}

fn filters(values: &[&str]) -> Filters {
    parse_filters(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>()).unwrap()
}

fn pick(values: &[&str]) -> Vec<String> {
    let all = (None, None);
    select(&recorded(), "shop", &filters(values), all, &Output::Json).unwrap()
}

fn actions(values: &[&str]) -> Vec<String> {
    pick(values)
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["Action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn filters_or_within_a_key_and_across_keys() {
    assert_eq!(actions(&["event=oom"]), ["oom"]);
    assert_eq!(actions(&["event=die", "event=oom"]), ["die", "oom"]);
    assert_eq!(actions(&["service=hog", "type=service"]), ["restart"]);
    assert_eq!(actions(&["type=service"]), ["restart", "autoscale"]);
    assert_eq!(actions(&["container=shop-web-1"]), ["start"]);
    assert_eq!(actions(&["container=aaaa"]), ["start"]);
    assert_eq!(
        actions(&["container=bbbbbbbbbbbb0123456789"]),
        ["die", "oom", "restart"]
    );
    assert_eq!(actions(&["project=other"]), Vec::<String>::new());
    assert_eq!(actions(&[]).len(), 5);
}

#[test]
fn bad_filters_name_the_input() {
    let err = parse_filters(&["colour=red".into()]).unwrap_err();
    assert_eq!(
        err,
        QueryError::UnknownKey {
            key: "colour".into()
        }
    );
    assert!(err
        .to_string()
        .contains("type, container, service, event, project"));
    for bad in ["event", "event=", "=oom"] {
        let err = parse_filters(&[bad.into()]).unwrap_err();
        assert_eq!(err, QueryError::BadFilter { value: bad.into() }, "{bad}");
    }
}

#[test]
fn die_carries_the_exit_code_as_docker_does() {
    let m = message(&recorded()[1], "shop");
    assert_eq!(m["Type"], "container");
    assert_eq!(m["Action"], "die");
    assert_eq!(m["Actor"]["ID"], "bbbbbbbbbbbb");
    assert_eq!(m["Actor"]["Attributes"]["exitCode"], "137");
    assert_eq!(m["Actor"]["Attributes"]["name"], "shop-hog-1");
    assert_eq!(
        m["Actor"]["Attributes"]["com.docker.compose.service"],
        "hog"
    );
    assert_eq!(m["time"], 1_796_594_401u64);
    assert_eq!(m["timeNano"], 1_796_594_401_000_000_000u64);
}

#[test]
fn times_in_docker_forms() {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let t = |s: &str| parse_time("since", s, now).unwrap();
    assert_eq!(t("10m"), now - Duration::from_secs(600));
    assert_eq!(t("1h30m"), now - Duration::from_secs(5400));
    assert_eq!(
        t("1765058400"),
        UNIX_EPOCH + Duration::from_secs(1_765_058_400)
    );
    assert_eq!(t("1.5"), UNIX_EPOCH + Duration::from_millis(1500));
    assert_eq!(
        t("1970-01-01T00:00:10Z"),
        UNIX_EPOCH + Duration::from_secs(10)
    );
    for bad in ["yesterday", "-5", "10x", ""] {
        let err = parse_time("until", bad, now).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid --until"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn since_and_until_bound_the_window() {
    let since = parse_rfc3339("2026-12-06T22:00:01Z");
    let until = parse_rfc3339("2026-12-06T22:00:02Z");
    let lines = select(
        &recorded(),
        "shop",
        &Filters::default(),
        (since, until),
        &Output::Lines,
    )
    .unwrap();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].ends_with("hog-1 exited bbbbbbbbbbbb code 137 (OOMKilled)"),
        "{lines:#?}"
    );
}

#[test]
fn templates_reach_into_the_actor() {
    let out = parse_format(Some(
        "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}",
    ))
    .unwrap();
    let lines = select(
        &recorded(),
        "shop",
        &filters(&["event=die"]),
        (None, None),
        &out,
    )
    .unwrap();
    assert_eq!(lines, ["die shop-hog-1 137"]);
    assert!(matches!(parse_format(Some("json")), Ok(Output::Json)));
    let typo = parse_format(Some("{{.Colour}}")).unwrap();
    let err = select(
        &recorded(),
        "shop",
        &Filters::default(),
        (None, None),
        &typo,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown field"), "{err}");
}

#[test]
fn detailed_actions_match_their_bare_name_as_in_docker() {
    let m = |action: &str| json!({"Type": "container", "Action": action, "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}}, "timeNano": 1_000_000_123u64});
    let f = filters(&["event=health_status"]);
    assert!(f.matches(&m("health_status: healthy")));
    assert!(!f.matches(&m("health_statusx")));
    assert!(filters(&["event=exec_start"]).matches(&m("exec_start: ls -l")));
    assert!(!filters(&["event=start"]).matches(&m("exec_start: ls")));
    assert!(filters(&["event=health_status: unhealthy"]).matches(&m("health_status: unhealthy")));
    assert_eq!(
        docker_line(&m("die")),
        "1970-01-01T00:00:01.000000123Z container die abc (image=busybox, name=web)"
    );
    let t = |s| Some(UNIX_EPOCH + Duration::from_secs(s));
    assert!(in_window(&m("die"), (t(1), t(2))));
    assert!(!in_window(&m("die"), (t(2), None)));
}

#[test]
fn a_surge_replica_is_named_with_its_revision() {
    let mut e = event("2026-12-06T22:00:00Z", "web", 2, "start", "abc", "");
    assert_eq!(
        message(&e, "shop")["Actor"]["Attributes"]["name"],
        "shop-web-2"
    );
    e.name = "shop-web-2-r3".into();
    assert_eq!(
        message(&e, "shop")["Actor"]["Attributes"]["name"],
        "shop-web-2-r3"
    );
}
