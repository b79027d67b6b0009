use super::*;

fn image() -> ImageDefaults {
    ImageDefaults {
        reference: "busybox".into(),
        id: "sha256:abc".into(),
        cmd: vec!["sh".into()],
        env: vec!["PATH=/bin".into(), "A=image".into()],
        ..ImageDefaults::default()
    }
}

fn build(req: &RunRequest) -> Result<ContainerConfig> {
    let lookup = |k: &str| (k == "FROM_HOST").then(|| "host".to_string());
    let host = HostFacts {
        cpus: 2,
        lookup_env: &lookup,
        cgroup_parent: "rcorch",
        cgroup_manager: Default::default(),
        now: "t".into(),
    };
    build_config(req, &image(), &host, &"ab".repeat(32))
}

fn req(image: &str) -> RunRequest {
    RunRequest {
        image: image.into(),
        ..RunRequest::default()
    }
}

#[test]
fn image_cmd_is_the_default_command() {
    assert_eq!(build(&req("busybox")).unwrap().args, ["sh"]);
}

#[test]
fn command_replaces_cmd_and_entrypoint_clears_it() {
    let mut r = req("busybox");
    r.command = vec!["echo".into(), "hi".into()];
    assert_eq!(build(&r).unwrap().args, ["echo", "hi"]);
    r.entrypoint = Some("/bin/env".into());
    assert_eq!(build(&r).unwrap().args, ["/bin/env", "echo", "hi"]);
    r.command.clear();
    assert_eq!(build(&r).unwrap().args, ["/bin/env"]);
}

#[test]
fn env_layers_image_then_files_then_flags() {
    let mut r = req("busybox");
    r.env_files = vec![("f".into(), "# comment\nA=file\nB=file\n".into())];
    r.env = vec!["B=flag".into(), "FROM_HOST".into(), "UNSET_ON_HOST".into()];
    let env = build(&r).unwrap().env;
    assert!(env.contains(&"A=file".to_string()));
    assert!(env.contains(&"B=flag".to_string()));
    assert!(env.contains(&"FROM_HOST=host".to_string()));
    assert!(!env.iter().any(|e| e.starts_with("UNSET_ON_HOST")));
    assert!(env.contains(&"HOME=/root".to_string()));
}

#[test]
fn limits_are_converted_and_bad_ones_rejected() {
    let mut r = req("busybox");
    r.memory = Some("64m".into());
    r.cpus = Some("0.5".into());
    r.pids_limit = Some("20".into());
    let limits = build(&r).unwrap().limits;
    assert_eq!(limits.memory, Some(64 * 1024 * 1024));
    assert_eq!(limits.cpu.map(|c| c.quota_us), Some(50_000));
    assert_eq!(limits.pids, Some(20));
    r.memory = Some("12q".into());
    let err = build(&r).unwrap_err().to_string();
    assert!(err.contains("12q"), "{err}");
}

#[test]
fn volumes_parse_and_reject_relative_paths() {
    let m = parse_volume("/src:/dst:ro").unwrap();
    assert_eq!(
        (m.source, m.destination, m.read_only),
        ("/src".into(), "/dst".into(), true)
    );
    assert!(!parse_volume("/a:/b").unwrap().read_only);
    for bad in [
        "./rel:/dst",
        "a/b:/dst",
        "/src:rel",
        "src",
        "/src:ro",
        "/a:/b:xx",
        "/a:/",
    ] {
        assert!(parse_volume(bad).is_err(), "{bad}");
    }
}

#[test]
fn image_volumes_become_anonymous_mounts_unless_mounted() {
    let mut img = image();
    img.volumes = vec!["/data".into(), "/logs".into()];
    let mut r = req("busybox");
    r.volumes = vec!["mine:/logs".into(), "/anon".into()];
    let lookup = |_: &str| None;
    let host = HostFacts {
        cpus: 2,
        lookup_env: &lookup,
        cgroup_parent: "rcorch",
        cgroup_manager: Default::default(),
        now: "t".into(),
    };
    let c = build_config(&r, &img, &host, &"ab".repeat(32)).unwrap();
    let got: Vec<(&str, Option<&str>)> = c
        .mounts
        .iter()
        .map(|m| (m.destination.to_str().unwrap(), m.volume.as_deref()))
        .collect();
    assert_eq!(
        got,
        [("/logs", Some("mine")), ("/anon", None), ("/data", None)]
    );
}

#[test]
fn users_resolve_numbers_and_names() {
    let passwd = "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
    let group = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:\n";
    assert_eq!(
        parse_user("1000", None, None).unwrap(),
        UserSpec {
            uid: 1000,
            gid: 1000
        }
    );
    assert_eq!(
        parse_user("1000:5", None, None).unwrap(),
        UserSpec { uid: 1000, gid: 5 }
    );
    assert_eq!(
        parse_user("nobody", Some(passwd), Some(group)).unwrap(),
        UserSpec {
            uid: 65534,
            gid: 65534
        }
    );
    assert_eq!(
        parse_user("nobody:staff", Some(passwd), Some(group)).unwrap(),
        UserSpec {
            uid: 65534,
            gid: 50
        }
    );
    assert!(parse_user("ghost", Some(passwd), Some(group)).is_err());
}

#[test]
fn signals_parse_by_name_and_number() {
    assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
    assert_eq!(parse_signal("kill").unwrap(), libc::SIGKILL);
    assert_eq!(parse_signal("2").unwrap(), 2);
    assert!(parse_signal("SIGNOPE").is_err());
    assert!(parse_signal("0").is_err());
}

#[test]
fn bad_names_networks_and_workdirs_are_rejected() {
    let mut r = req("busybox");
    r.name = Some("bad name".into());
    assert!(matches!(build(&r), Err(BuildError::Name(_))));
    let mut r = req("busybox");
    r.network = Some("bad net".into());
    assert!(matches!(build(&r), Err(BuildError::Network(_))));
    let mut r = req("busybox");
    r.workdir = Some("relative".into());
    assert!(matches!(build(&r), Err(BuildError::Workdir(_))));
}

#[test]
fn no_command_anywhere_is_an_error() {
    let host_lookup = |_: &str| None;
    let host = HostFacts {
        cpus: 1,
        lookup_env: &host_lookup,
        cgroup_parent: "p",
        cgroup_manager: Default::default(),
        now: "t".into(),
    };
    let bare = ImageDefaults {
        reference: "scratch".into(),
        ..ImageDefaults::default()
    };
    let err = build_config(&req("scratch"), &bare, &host, &"ab".repeat(32)).unwrap_err();
    assert!(matches!(err, BuildError::NoCommand(_)));
}

#[test]
fn network_flags_build_a_bridge_spec_and_need_a_bridge() {
    let r = req("busybox");
    match build(&r).unwrap().network {
        NetworkMode::Bridge(spec) => assert_eq!(spec.network, "bridge"),
        other => panic!("{other:?}"),
    }
    let mut r = req("busybox");
    r.network = Some("back".into());
    r.ip = Some("10.89.0.9".into());
    r.publish = vec!["8080:80".into()];
    r.network_aliases = vec!["www".into()];
    r.dns = vec!["1.1.1.1".into()];
    match build(&r).unwrap().network {
        NetworkMode::Bridge(spec) => {
            assert_eq!(spec.network, "back");
            assert_eq!(spec.ip, Some("10.89.0.9".parse().unwrap()));
            assert_eq!(spec.ports[0].host_port, 8080);
            assert_eq!(spec.aliases, ["www"]);
        }
        other => panic!("{other:?}"),
    }
    let mut r = req("busybox");
    r.network = Some("none".into());
    r.publish = vec!["8080:80".into()];
    assert!(matches!(build(&r), Err(BuildError::NeedsBridge("-p"))));
    let mut r = req("busybox");
    r.ip = Some("nope".into());
    assert!(matches!(build(&r), Err(BuildError::Ip(_))));
    let mut r = req("busybox");
    r.publish = vec!["8080-8081:80".into()];
    assert!(matches!(build(&r), Err(BuildError::Port(_))));
    // Docker's `-p 80`: a random host port, picked when the port is reserved.
    r.publish = vec!["80".into()];
    let NetworkMode::Bridge(spec) = build(&r).unwrap().network else {
        panic!("expected a bridge")
    };
    assert_eq!(spec.ports[0].host_port, crate::network::publish::RANDOM);
}

#[test]
fn the_systemd_manager_records_the_slice_its_scope_goes_to() {
    use crate::cgroups::systemd::Driver;
    let lookup = |_: &str| None;
    let on = |parent: &str| {
        let host = HostFacts {
            cpus: 1,
            lookup_env: &lookup,
            cgroup_parent: parent,
            cgroup_manager: Driver::Systemd,
            now: "t".into(),
        };
        build_config(&req("busybox"), &image(), &host, &"ab".repeat(32))
    };
    let config = on("rcorch").unwrap();
    assert_eq!(config.cgroup_manager, Driver::Systemd);
    assert_eq!(config.cgroup_parent, "rcorch.slice");
    assert_eq!(on("web.slice").unwrap().cgroup_parent, "web.slice");
    let err = on("mygroup").unwrap_err();
    assert!(matches!(err, BuildError::CgroupParent(_)), "{err}");
    assert_eq!(
        build(&req("busybox")).unwrap().cgroup_manager,
        Driver::Cgroupfs
    );
}
