//! `wait`, `rename`, `top`, `cp`, `diff`, `export` and the `container …`
//! spellings, checked by their effects: the printed exit code, the new
//! name in `ps`, the copied file inside the container and on the host.

mod common;

use std::time::Duration;

use common::TestEnv;

const NONE: [&str; 2] = ["--network", "none"];

#[test]
fn wait_prints_the_exit_code_once_the_container_stops() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(
        &[&NONE[..], &["--name", "w"]].concat(),
        &["sh", "-c", "sleep 0.5; exit 7"],
    );
    assert_eq!(env.rcorch(&["wait", "w"]).ok(), "7");
    assert_eq!(
        env.inspect("w")["State"]["ExitCode"],
        7,
        "it had really stopped"
    );
    assert_eq!(
        env.rcorch(&["container", "wait", "w"]).ok(),
        "7",
        "a stopped one: at once"
    );
    let missing = env.rcorch(&["wait", "ghost"]);
    assert!(
        missing.code == 1 && missing.stderr.contains("ghost"),
        "{missing:#?}"
    );
    env.rcorch(&["rm", "w"]).ok();
}

#[test]
fn rename_changes_the_name_everywhere() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(&["--name", "old"], &["sleep", "1000"]);
    env.run_detached(
        &[&NONE[..], &["--name", "taken"]].concat(),
        &["sleep", "1000"],
    );
    env.rcorch(&["rename", "old", "new"]).ok();
    let names = env
        .rcorch(&["ps", "--format", "{{.Names}}", "-f", "name=new"])
        .ok();
    assert_eq!(names, "new");
    assert_eq!(env.inspect("new")["Name"], "/new");
    assert_ne!(
        env.rcorch(&["inspect", "old"]).code,
        0,
        "the old name is gone"
    );
    let on_bridge = env
        .rcorch(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}}{{end}}",
            "bridge",
        ])
        .ok();
    assert_eq!(on_bridge, "new", "the network answers to the new name");
    let clash = env.rcorch(&["rename", "new", "taken"]);
    assert!(
        clash.code == 1 && clash.stderr.contains("already in use"),
        "{clash:#?}"
    );
    let bad = env.rcorch(&["rename", "new", "no/slash"]);
    assert!(
        bad.code == 1 && bad.stderr.contains("invalid container name"),
        "{bad:#?}"
    );
    assert_eq!(
        env.inspect("new")["Name"],
        "/new",
        "failed renames change nothing"
    );
    env.rcorch(&["rm", "-f", "new", "taken"]).ok();
}

#[test]
fn top_lists_only_the_containers_processes() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(
        &[&NONE[..], &["--name", "t"]].concat(),
        &["sh", "-c", "sleep 1000 & sleep 1001"],
    );
    assert!(common::wait_for(Duration::from_secs(5), || {
        env.rcorch(&["top", "t"]).stdout.contains("sleep 1001")
    }));
    let out = env.rcorch(&["top", "t"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("PID") && lines[0].contains("CMD"),
        "{out}"
    );
    // sh execs its last command: the two sleeps are all there is.
    assert_eq!(lines.len(), 3, "the header and two sleeps: {out}");
    assert!(
        out.contains("sleep 1000") && out.contains("sleep 1001"),
        "{out}"
    );
    let custom = env
        .rcorch(&["container", "top", "t", "-o", "pid,comm"])
        .ok();
    assert!(
        custom.starts_with("    PID COMMAND") || custom.contains("PID COMMAND"),
        "{custom}"
    );
    assert_eq!(
        custom.lines().filter(|l| l.ends_with("sleep")).count(),
        2,
        "{custom}"
    );
    env.rcorch(&["rm", "-f", "t"]).ok();
}

#[test]
fn cp_copies_both_ways_and_through_tar_streams() {
    let Some(env) = TestEnv::new() else { return };
    env.rcorch(&["volume", "create", "cpvol"]).ok();
    env.run_detached(
        &[&NONE[..], &["--name", "box", "-v", "cpvol:/data"]].concat(),
        &["sleep", "1000"],
    );
    let cat = |path: &str| env.rcorch(&["exec", "box", "cat", path]).ok();
    let file = env.scratch_file("in.txt", "hello");
    env.rcorch(&["cp", file.to_str().unwrap(), "box:/tmp/"])
        .ok();
    assert_eq!(cat("/tmp/in.txt"), "hello", "into an existing directory");
    env.rcorch(&["cp", file.to_str().unwrap(), "box:/tmp/renamed.txt"])
        .ok();
    assert_eq!(cat("/tmp/renamed.txt"), "hello", "as a new name");
    let dir = env.scratch.join("tree");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/deep"), "deep").unwrap();
    env.rcorch(&["cp", dir.to_str().unwrap(), "box:/data"]).ok();
    assert_eq!(cat("/data/tree/sub/deep"), "deep");
    let mountpoint = env
        .rcorch(&["volume", "inspect", "-f", "{{.Mountpoint}}", "cpvol"])
        .ok();
    let in_volume = std::path::Path::new(&mountpoint).join("tree/sub/deep");
    assert_eq!(
        std::fs::read_to_string(in_volume).unwrap(),
        "deep",
        "the container's view: its volume"
    );

    let out = env.scratch.join("hostname.out");
    env.rcorch(&["cp", "box:/etc/hostname", out.to_str().unwrap()])
        .ok();
    let hostname = cat("/etc/hostname");
    assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), hostname);
    let back = env.scratch.join("back");
    env.rcorch(&[
        "container",
        "cp",
        "box:/data/tree/.",
        back.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(back.join("sub/deep")).unwrap(),
        "deep",
        "SRC/. copies the contents"
    );

    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_mode(0o644);
    tar.append_data(&mut header, "from-stdin", &b"piped"[..])
        .unwrap();
    let bytes = tar.into_inner().unwrap();
    let piped = env.rcorch_stdin(&["cp", "-", "box:/tmp"], &bytes);
    assert_eq!(piped.code, 0, "{piped:#?}");
    assert_eq!(cat("/tmp/from-stdin"), "piped");
    let streamed = env.rcorch(&["cp", "box:/tmp/from-stdin", "-"]);
    assert_eq!(streamed.code, 0, "{streamed:#?}");
    let mut archive = tar::Archive::new(streamed.stdout.as_bytes());
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["from-stdin"]);

    let owned = env.scratch_file("owned", "mine");
    std::os::unix::fs::chown(&owned, Some(1234), Some(4321)).unwrap();
    let owner = |path: &str| {
        env.rcorch(&["exec", "box", "stat", "-c", "%u:%g", path])
            .ok()
    };
    env.rcorch(&["cp", owned.to_str().unwrap(), "box:/tmp/plain"])
        .ok();
    assert_eq!(
        owner("/tmp/plain"),
        "0:0",
        "owned by root at the destination"
    );
    env.rcorch(&["cp", "-a", owned.to_str().unwrap(), "box:/tmp/kept"])
        .ok();
    assert_eq!(owner("/tmp/kept"), "1234:4321", "-a keeps the owner");

    let missing = env.rcorch(&["cp", "box:/nonexistent", out.to_str().unwrap()]);
    assert!(
        missing.code == 1 && missing.stderr.contains("/nonexistent"),
        "{missing:#?}"
    );
    let no_container = env.rcorch(&["cp", "a", "b"]);
    assert!(
        no_container.code == 1 && no_container.stderr.contains("CONTAINER:PATH"),
        "{no_container:#?}"
    );
    env.rcorch(&["rm", "-f", "box"]).ok();
    env.rcorch(&["volume", "rm", "cpvol"]).ok();
}

#[test]
fn diff_and_export_show_the_containers_filesystem() {
    let Some(env) = TestEnv::new() else { return };
    let script = "echo x > /new; rm /bin/vi; mkdir /etc/d; touch /ready; sleep 1000";
    env.run_detached(
        &[&NONE[..], &["--name", "d"]].concat(),
        &["sh", "-c", script],
    );
    assert!(common::wait_for(Duration::from_secs(5), || {
        env.rcorch(&["diff", "d"]).stdout.contains("/ready")
    }));
    let diff = env.rcorch(&["diff", "d"]).ok();
    for line in ["A /new", "D /bin/vi", "C /bin", "C /etc", "A /etc/d"] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing from:\n{diff}"
        );
    }
    let tar_path = env.scratch.join("d.tar");
    env.rcorch(&["export", "-o", tar_path.to_str().unwrap(), "d"])
        .ok();
    let file = std::fs::File::open(&tar_path).unwrap();
    let names: Vec<String> = tar::Archive::new(file)
        .entries()
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .unwrap()
                .display()
                .to_string()
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    for present in ["new", "bin/sh", "etc/d"] {
        assert!(names.iter().any(|n| n == present), "{present} not exported");
    }
    assert!(
        !names.iter().any(|n| n == "bin/vi"),
        "deleted file exported"
    );
    env.rcorch(&["container", "rm", "-f", "d"]).ok();
}

#[test]
fn container_spellings_reach_the_same_verbs() {
    let Some(env) = TestEnv::new() else { return };
    let id = env
        .rcorch(&[
            "container",
            "run",
            "-d",
            "--name",
            "spelled",
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ])
        .ok();
    assert_eq!(
        env.rcorch(&["container", "ls", "--format", "{{.Names}}"])
            .ok(),
        "spelled"
    );
    assert_eq!(env.rcorch(&["container", "ps", "-q"]).ok(), &id[..12]);
    assert_eq!(
        env.rcorch(&["container", "inspect", "-f", "{{.Id}}", "spelled"])
            .ok(),
        id
    );
    let not_image = env.rcorch(&["container", "inspect", "busybox"]);
    assert_eq!(
        not_image.code, 1,
        "container inspect finds containers only: {not_image:#?}"
    );
    assert_eq!(
        env.rcorch(&["container", "exec", "spelled", "echo", "hi"])
            .ok(),
        "hi"
    );
    let run_error = env.rcorch(&["container", "run", "nosuchimage"]);
    assert_eq!(run_error.code, 125, "{run_error:#?}");
    env.rcorch(&["container", "stop", "-t", "0", "spelled"])
        .ok();
    env.rcorch(&["container", "rm", "spelled"]).ok();
    assert_eq!(env.rcorch(&["container", "ls", "-a", "-q"]).ok(), "");
}

#[test]
fn cp_reaches_a_stopped_containers_layers() {
    let Some(env) = TestEnv::new() else { return };
    let script = "echo made > /made; rm /etc/group; mkdir /out; ln -s /var/tmp /lnk";
    let out = env.rcorch(&[
        "run",
        "--name",
        "s",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.code, 0, "{out:#?}");
    let host = |name: &str| env.scratch.join(name);
    env.rcorch(&["cp", "s:/made", host("made").to_str().unwrap()])
        .ok();
    assert_eq!(
        std::fs::read_to_string(host("made")).unwrap(),
        "made\n",
        "from the upper layer"
    );
    env.rcorch(&["cp", "s:/etc/passwd", host("passwd").to_str().unwrap()])
        .ok();
    assert!(
        std::fs::read_to_string(host("passwd"))
            .unwrap()
            .starts_with("root:"),
        "from the image"
    );
    let gone = env.rcorch(&["cp", "s:/etc/group", host("group").to_str().unwrap()]);
    assert_eq!(gone.code, 1, "deleted in the container: {gone:#?}");

    let conf = env.scratch_file("new.conf", "conf");
    env.rcorch(&["cp", conf.to_str().unwrap(), "s:/etc/"]).ok();
    env.rcorch(&["cp", conf.to_str().unwrap(), "s:/usr/sbin/renamed.conf"])
        .ok();
    let diff = env.rcorch(&["diff", "s"]).ok();
    for line in ["A /etc/new.conf", "C /usr/sbin", "A /usr/sbin/renamed.conf"] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing from:\n{diff}"
        );
    }
    env.rcorch(&[
        "cp",
        "s:/usr/sbin/renamed.conf",
        host("back").to_str().unwrap(),
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(host("back")).unwrap(), "conf");

    let escape = env.rcorch(&["cp", conf.to_str().unwrap(), "s:/lnk/escaped"]);
    assert_eq!(escape.code, 1, "{escape:#?}");
    assert!(escape.stderr.contains("symlink"), "{escape:#?}");
    assert!(
        !std::path::Path::new("/var/tmp/escaped").exists(),
        "written through the link"
    );
    let no_dir = env.rcorch(&["cp", conf.to_str().unwrap(), "s:/nodir/x"]);
    assert!(
        no_dir.code == 1 && no_dir.stderr.contains("no such directory"),
        "{no_dir:#?}"
    );
    env.rcorch(&["rm", "s"]).ok();
}
