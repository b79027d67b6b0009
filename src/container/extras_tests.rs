use super::*;

fn req() -> ExtrasRequest {
    ExtrasRequest::default()
}

#[test]
fn hosts_take_names_ips_and_the_host_gateway() {
    let r = ExtrasRequest {
        add_host: vec![
            "db:10.0.0.5".into(),
            "gw:host-gateway".into(),
            "six:[::1]".into(),
            "eq=1.2.3.4".into(),
        ],
        ..req()
    };
    let e = parse(&r, true, None).unwrap();
    let names: Vec<(&str, &str)> = e
        .extra_hosts
        .iter()
        .map(|(n, i)| (n.as_str(), i.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("db", "10.0.0.5"),
            ("gw", "host-gateway"),
            ("six", "::1"),
            ("eq", "1.2.3.4")
        ]
    );
    for bad in ["nocolon", "x:notanip", ":1.2.3.4"] {
        let r = ExtrasRequest {
            add_host: vec![bad.into()],
            ..req()
        };
        assert!(parse(&r, true, None).unwrap_err().contains(bad));
    }
}

#[test]
fn groups_by_number_or_by_the_images_name() {
    let r = ExtrasRequest {
        group_add: vec!["7".into(), "audio".into()],
        ..req()
    };
    let groups = "root:x:0:\naudio:x:29:\n";
    assert_eq!(parse(&r, true, Some(groups)).unwrap().group_add, [7, 29]);
    let r = ExtrasRequest {
        group_add: vec!["nope".into()],
        ..req()
    };
    assert!(parse(&r, true, Some(groups)).unwrap_err().contains("nope"));
}

#[test]
fn only_namespaced_sysctls_are_allowed() {
    let ok = ExtrasRequest {
        sysctl: vec![
            "net.ipv4.ip_forward=1".into(),
            "kernel.shmmax=1000000".into(),
            "fs/mqueue/msg_max=20".into(),
        ],
        ..req()
    };
    let e = parse(&ok, true, None).unwrap();
    assert_eq!(e.sysctls["fs.mqueue.msg_max"], "20");
    assert_eq!(e.sysctls.len(), 3);
    for (bad, net, word) in [
        ("vm.swappiness=1", true, "not namespaced"),
        ("kernel.hostname=x", true, "not namespaced"),
        ("net.ipv4.ip_forward=1", false, "--network host"),
        ("net.ipv4", true, "KEY=VALUE"),
    ] {
        let r = ExtrasRequest {
            sysctl: vec![bad.into()],
            ..req()
        };
        let err = parse(&r, net, None).unwrap_err();
        assert!(err.contains(word), "{bad}: {err}");
    }
}

#[test]
fn security_opts_set_privileges_and_seccomp_or_are_refused() {
    let set = |opts: &[&str]| {
        let r = ExtrasRequest {
            security_opt: opts.iter().map(|s| s.to_string()).collect(),
            ..req()
        };
        parse(&r, true, None)
    };
    let e = set(&["no-new-privileges:false", "seccomp=unconfined"]).unwrap();
    assert!(e.new_privileges && e.seccomp_unconfined);
    assert!(!set(&["no-new-privileges"]).unwrap().new_privileges);
    assert!(!set(&["no-new-privileges=true"]).unwrap().new_privileges);
    assert!(set(&["seccomp=/p.json"])
        .unwrap_err()
        .contains("not supported"));
    assert!(set(&["bogus"]).unwrap_err().contains("bogus"));
}

#[test]
fn oom_score_and_shm_size_are_range_checked() {
    let r = ExtrasRequest {
        oom_score_adj: Some(500),
        shm_size: Some("1m".into()),
        ..req()
    };
    let e = parse(&r, true, None).unwrap();
    assert_eq!((e.oom_score_adj, e.shm_size), (Some(500), Some(1 << 20)));
    let r = ExtrasRequest {
        oom_score_adj: Some(1001),
        ..req()
    };
    assert!(parse(&r, true, None).unwrap_err().contains("1001"));
    let r = ExtrasRequest {
        shm_size: Some("lots".into()),
        ..req()
    };
    assert!(parse(&r, true, None).unwrap_err().contains("lots"));
}
