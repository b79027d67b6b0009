//! `--format` Go templates and `--filter` on `ps`, `images`, `volume ls`,
//! `network ls`, `stats`, and `inspect -f` over Docker's inspect shape,
//! checked by what they print for real containers (and against podman).

mod common;

use std::path::Path;
use std::process::Command;

use common::podman::{podman, PodmanDir};
use common::TestEnv;

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn inspect_format_reads_dockers_fields() {
    let Some(env) = TestEnv::new() else { return };
    let opts = [
        "--name",
        "insp",
        "-l",
        "tier=front",
        "-e",
        "A=1",
        "-m",
        "64m",
        "--pids-limit",
        "50",
        "-p",
        "18081:80",
    ];
    env.run_detached(&opts, &["sleep", "1000"]);
    let f = |t: &str| env.rcorch(&["inspect", "-f", t, "insp"]).ok();
    let json_pid = env.inspect("insp")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(f("{{.State.Pid}}"), json_pid.to_string());
    assert_eq!(
        f("{{.Name}} {{.State.Status}} {{.State.Running}}"),
        "/insp running true"
    );
    assert_eq!(f("{{json .Config.Labels}}"), r#"{"tier":"front"}"#);
    assert_eq!(f(r#"{{index .Config.Labels "tier"}}"#), "front");
    assert!(lines(&f("{{range .Config.Env}}{{println .}}{{end}}")).contains(&"A=1"));
    assert_eq!(f("{{.Config.Cmd}}"), "[sleep 1000]");
    assert_eq!(
        f("{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}"),
        "67108864 50"
    );
    let ip = f("{{.NetworkSettings.IPAddress}}");
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    assert_eq!(
        f("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"),
        ip
    );
    let port = r#"{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}"#;
    assert_eq!(f(port), "18081");
    let binding =
        r#"{{range $p, $b := .HostConfig.PortBindings}}{{$p}}={{(index $b 0).HostPort}}{{end}}"#;
    assert_eq!(f(binding), "80/tcp=18081");
    let published = |spec: &str| {
        let filter = format!("publish={spec}");
        env.rcorch(&["ps", "-f", &filter, "--format", "{{.Names}}"])
            .ok()
    };
    assert_eq!(published("80"), "insp");
    assert_eq!(published("70-90/tcp"), "insp");
    assert_eq!(published("80/udp"), "");
    assert_eq!(
        published("18081"),
        "",
        "the container's port, not the host's"
    );
    let bad = env.rcorch(&["ps", "-f", "publish=http"]);
    assert!(
        bad.code == 1 && bad.stderr.contains("publish=http"),
        "{bad:#?}"
    );
    let bad = env.rcorch(&["inspect", "-f", "{{.State.Pdi}}", "insp"]);
    assert_eq!(bad.code, 1, "{bad:#?}");
    assert!(
        bad.stdout.is_empty() && bad.stderr.contains("unknown field \"Pdi\""),
        "{bad:#?}"
    );
    assert!(
        bad.stderr.contains("Pid"),
        "names the fields there: {bad:#?}"
    );
    // One line per object, of any kind `inspect` finds.
    env.run_detached(&["--name", "two", "--network", "none"], &["sleep", "1000"]);
    assert_eq!(
        env.rcorch(&["inspect", "-f", "{{.Name}}", "insp", "two"])
            .ok(),
        "/insp\n/two"
    );
    let image_id = env
        .rcorch(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
        .ok();
    assert!(image_id.starts_with("sha256:"), "{image_id}");
    assert_eq!(
        env.rcorch(&["inspect", "-f", "{{.Id}}", "busybox"]).ok(),
        image_id
    );
    assert_eq!(f("{{.Image}}"), image_id);
    let missing = env.rcorch(&["inspect", "-f", "{{.Id}}", "ghost"]);
    assert_eq!(missing.code, 1, "{missing:#?}");
    env.rcorch(&["rm", "-f", "insp", "two"]).ok();
}

#[test]
fn ps_filters_follow_dockers_semantics() {
    let Some(env) = TestEnv::new() else { return };
    let none = ["--network", "none"];
    env.run_detached(
        &[&none[..], &["--name", "web1", "-l", "tier=front"]].concat(),
        &["sleep", "1000"],
    );
    env.run_detached(
        &[&none[..], &["--name", "web2", "-l", "tier=back"]].concat(),
        &["sleep", "1000"],
    );
    let db = env.run_busybox(
        &["--name", "db", "--network", "none"],
        &["sh", "-c", "exit 3"],
    );
    assert_eq!(db.code, 3, "{db:#?}");
    // `--rm` removed it: run one that stays.
    let db = env.rcorch(&[
        "run",
        "--name",
        "db",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(db.code, 3, "{db:#?}");
    let ps = |filters: &[&str]| {
        let mut args = vec!["ps", "--format", "{{.Names}}"];
        args.extend_from_slice(filters);
        let out = env.rcorch(&args).ok();
        let mut names: Vec<String> = out.lines().map(String::from).collect();
        names.sort();
        names.join(" ")
    };
    assert_eq!(ps(&[]), "web1 web2", "running only");
    assert_eq!(ps(&["-a"]), "db web1 web2");
    assert_eq!(
        ps(&["--filter", "name=web"]),
        "web1 web2",
        "a name matches as a substring"
    );
    assert_eq!(ps(&["-f", "name=^web1$"]), "web1");
    assert_eq!(ps(&["-f", "label=tier=front"]), "web1");
    assert_eq!(ps(&["-f", "label=tier"]), "web1 web2");
    assert_eq!(
        ps(&["-a", "-f", "name=web1", "-f", "name=db"]),
        "db web1",
        "same key: OR"
    );
    assert_eq!(
        ps(&["-f", "name=web", "-f", "label=tier=back"]),
        "web2",
        "keys: AND"
    );
    assert_eq!(
        ps(&["-f", "status=exited"]),
        "db",
        "status looks at stopped ones without -a"
    );
    assert_eq!(ps(&["-f", "status=running"]), "web1 web2");
    assert_eq!(ps(&["-f", "exited=3"]), "db");
    assert_eq!(ps(&["-f", "exited=0"]), "");
    assert_eq!(ps(&["-a", "-f", "ancestor=busybox"]), "db web1 web2");
    assert_eq!(ps(&["-a", "-f", "ancestor=alpine"]), "");
    assert_eq!(ps(&["-a", "-f", "since=web1"]), "db web2");
    assert_eq!(ps(&["-a", "-f", "before=web2"]), "web1");
    assert_eq!(ps(&["-f", "network=none"]), "web1 web2");
    assert_eq!(ps(&["-f", "id=nosuchid"]), "");
    assert_eq!(ps(&["-l"]), "db", "the latest, whatever its state");
    assert_eq!(ps(&["-n", "2"]), "db web2");
    let full = env
        .rcorch(&["ps", "-q", "--no-trunc", "-f", "name=web1"])
        .ok();
    assert_eq!(full.len(), 64, "{full}");
    let id = env
        .rcorch(&["ps", "--no-trunc", "--format", "{{.ID}}", "-f", "name=web1"])
        .ok();
    assert_eq!(id, full);
    let table = env
        .rcorch(&[
            "ps",
            "-f",
            "name=web1",
            "--format",
            "table {{.Names}}\\t{{.Label \"tier\"}}\\t{{.State}}",
        ])
        .ok();
    assert_eq!(
        table,
        "NAMES               STATE\nweb1      front     running"
    );
    for (bad, names) in [
        ("colour=red", "colour"),
        ("status=sleeping", "sleeping"),
        ("name", "KEY=VALUE"),
    ] {
        let out = env.rcorch(&["ps", "-f", bad]);
        assert_eq!(out.code, 1, "{out:#?}");
        assert!(
            out.stdout.is_empty() && out.stderr.contains(names),
            "{out:#?}"
        );
        assert_eq!(out.stderr.lines().count(), 1, "one line: {out:#?}");
    }
    env.rcorch(&["rm", "-f", "web1", "web2", "db"]).ok();
}

#[test]
fn images_volumes_and_networks_take_formats_and_filters() {
    let Some(env) = TestEnv::new() else { return };
    let images = |args: &[&str]| env.rcorch(&[&["images"], args].concat()).ok();
    assert_eq!(
        images(&["--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:latest"
    );
    env.rcorch(&["tag", "busybox", "mine:v1"]).ok();
    let fmt = ["--format", "{{.Repository}}:{{.Tag}} {{.Containers}}"];
    assert_eq!(
        images(&[&fmt[..], &["-f", "reference=mine"]].concat()),
        "mine:v1 0"
    );
    assert_eq!(
        images(&[&fmt[..], &["-f", "reference=*:v1"]].concat()),
        "mine:v1 0"
    );
    assert_eq!(images(&["-q", "-f", "dangling=true"]), "");
    assert_eq!(images(&["--format", "{{.ID}}", "mine"]).len(), 12);
    let full = images(&["--no-trunc", "--format", "{{.ID}}", "mine"]);
    assert!(full.starts_with("sha256:") && full.len() == 71, "{full}");
    let digests = images(&["--digests", "mine"]);
    assert!(
        digests.contains("TAG  DIGEST  IMAGE ID") && digests.contains("<none>"),
        "{digests}"
    );

    env.rcorch(&["volume", "create", "--label", "k=v", "vol-a"])
        .ok();
    env.rcorch(&["volume", "create", "vol-b"]).ok();
    env.run_detached(
        &["--name", "user", "--network", "none", "-v", "vol-b:/data"],
        &["sleep", "1000"],
    );
    let vols = |args: &[&str]| {
        env.rcorch(&[&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"], args].concat())
            .ok()
    };
    assert_eq!(vols(&["-f", "dangling=true"]), "vol-a local");
    assert_eq!(vols(&["-f", "dangling=false"]), "vol-b local");
    assert_eq!(vols(&["-f", "label=k=v"]), "vol-a local");
    assert_eq!(vols(&["-f", "name=b"]), "vol-b local");
    let mountpoint = env
        .rcorch(&["volume", "inspect", "-f", "{{.Mountpoint}}", "vol-a"])
        .ok();
    assert!(Path::new(&mountpoint).is_dir(), "{mountpoint}");
    let mounts = env
        .rcorch(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}",
            "user",
        ])
        .ok();
    assert_eq!(mounts, "vol-b:/data");

    env.rcorch(&["network", "create", "--subnet", "10.77.0.0/24", "backnet"])
        .ok();
    let nets = |args: &[&str]| {
        env.rcorch(
            &[
                &["network", "ls", "--format", "{{.Name}} {{.Driver}}"],
                args,
            ]
            .concat(),
        )
        .ok()
    };
    assert_eq!(nets(&["-f", "name=back"]), "backnet bridge");
    assert_eq!(nets(&["-f", "type=custom"]), "backnet bridge");
    let subnet = "{{range .IPAM.Config}}{{.Subnet}}{{end}}";
    assert_eq!(
        env.rcorch(&["network", "inspect", "-f", subnet, "backnet"])
            .ok(),
        "10.77.0.0/24"
    );
    let id = env
        .rcorch(&["inspect", "--type", "network", "-f", "{{.Id}}", "backnet"])
        .ok();
    assert_eq!(nets(&["-f", &format!("id={}", &id[..6])]), "backnet bridge");
    let bad = env.rcorch(&["network", "ls", "-f", "colour=red"]);
    assert!(
        bad.code == 1 && bad.stderr.contains("name, id, label, driver, type"),
        "{bad:#?}"
    );

    let stats = env
        .rcorch(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}}",
            "user",
        ])
        .ok();
    assert_eq!(stats, "user 1");
    let net = env
        .rcorch(&["stats", "--no-stream", "--format", "{{.NetIO}}", "user"])
        .ok();
    assert_eq!(
        net, "0B / 0B",
        "--network none: loopback only, which is not counted"
    );
    env.rcorch(&["rm", "-f", "user"]).ok();
    env.rcorch(&["volume", "rm", "vol-a", "vol-b"]).ok();
    env.rcorch(&["network", "rm", "backnet"]).ok();
}

/// The same templates over the same container give podman's output. Podman
/// only creates it (its runc cannot raise rlimits on this host), so the
/// templates read fields fixed at create time.
#[test]
fn templates_print_what_podman_prints() {
    if Command::new("podman").arg("--version").output().is_err() {
        eprintln!("skipping: no podman");
        return;
    }
    let Some(env) = TestEnv::new() else { return };
    let pod = PodmanDir(tempfile::tempdir().expect("tempdir"));
    let tar = common::busybox_tar().to_str().unwrap().to_string();
    assert!(podman(pod.0.path(), &["import", &tar, "busybox:latest"])
        .status
        .success());
    let src = env.scratch.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let vol = format!("{}:/data:ro", src.display());
    let opts = [
        "--name",
        "cmp",
        "-l",
        "tier=front",
        "-l",
        "v=2",
        "-m",
        "64m",
        "-v",
        &vol,
        "--network",
        "none",
    ];
    let cmd = ["sleep", "1000"];
    let created = podman(
        pod.0.path(),
        &[&["create"], &opts[..], &["busybox:latest"], &cmd[..]].concat(),
    );
    assert!(created.status.success(), "{created:?}");
    env.run_detached(&opts, &cmd);
    for template in [
        "{{.Config.Cmd}}",
        "{{json .Config.Cmd}}",
        "{{json .Config.Labels}}",
        r#"{{index .Config.Labels "tier"}}"#,
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
        "{{.Config.Labels}}",
        "{{.HostConfig.Memory}} {{.HostConfig.NetworkMode}}",
        "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}}{{end}}",
        "{{len .Mounts}} {{upper .Config.Hostname | len}}",
        r#"{{if eq .HostConfig.NetworkMode "none"}}isolated{{else}}net{{end}}"#,
    ] {
        let theirs = podman(pod.0.path(), &["inspect", "-f", template, "cmp"]);
        let theirs = String::from_utf8_lossy(&theirs.stdout).trim().to_string();
        let ours = env.rcorch(&["inspect", "-f", template, "cmp"]).ok();
        assert_eq!(ours, theirs, "{template}");
    }
    // Podman's `.Labels` is a map where Docker's is a string: compare names.
    for filters in [
        &["label=tier=front"][..],
        &["label=v=3"],
        &["label=v", "name=cm"],
    ] {
        let mut ps = vec!["ps", "-a", "--format", "{{.Names}}"];
        filters.iter().for_each(|f| ps.extend(["--filter", f]));
        let theirs = podman(pod.0.path(), &ps);
        let theirs = String::from_utf8_lossy(&theirs.stdout).trim().to_string();
        assert_eq!(env.rcorch(&ps).ok(), theirs, "{filters:?}");
    }
    let unknown = ["inspect", "-f", "{{.Nope}}", "cmp"];
    assert!(!podman(pod.0.path(), &unknown).status.success());
    assert_eq!(env.rcorch(&unknown).code, 1);
    env.rcorch(&["rm", "-f", "cmp"]).ok();
}
