//! Root-only: `create`, `start [-a]`, `restart`, `pause`/`unpause` of a
//! container, checked by their effects: the state `inspect` and `ps`
//! report, the output, the writable layer kept across a restart, the
//! processes frozen (and the freezer cgroup gone again), and `ps`'s
//! paused status and `--filter status=` words.

mod common;

use std::time::Duration;

use common::TestEnv;

const NONE: [&str; 2] = ["--network", "none"];

#[test]
fn create_makes_a_container_that_start_runs() {
    let Some(env) = TestEnv::new() else { return };
    let id = env
        .rcorch(&[
            "create",
            "--network",
            "none",
            "--name",
            "made",
            "-e",
            "A=1",
            "busybox",
            "sh",
            "-c",
            "echo A=$A; sleep 1000",
        ])
        .ok();
    assert_eq!(id.len(), 64, "create prints the id: {id}");
    let v = env.inspect("made");
    assert_eq!(v["State"]["Status"], "created", "{v}");
    let status = env
        .rcorch(&["ps", "-a", "--format", "{{.Status}}", "-f", "name=made"])
        .ok();
    assert_eq!(status, "Created");
    assert_eq!(env.rcorch(&["ps", "-q"]).ok(), "", "created is not running");
    assert_eq!(env.rcorch(&["start", "made"]).ok(), "made");
    assert_eq!(env.inspect("made")["State"]["Running"], true);
    let ok = common::wait_for(Duration::from_secs(5), || {
        env.rcorch(&["logs", "made"]).stdout.contains("A=1")
    });
    assert!(ok, "{:#?}", env.rcorch(&["logs", "made"]));
    // Starting a running container succeeds and changes nothing.
    let pid = env.inspect("made")["State"]["Pid"].clone();
    assert_eq!(env.rcorch(&["start", "made"]).ok(), "made");
    assert_eq!(env.inspect("made")["State"]["Pid"], pid);
    env.rcorch(&["rm", "-f", "made"]).ok();
    // A bad create leaves nothing behind.
    common::assert_unchanged(&env, || {
        let out = env.rcorch(&["create", "-v", "/nonexistent-src:/x", "busybox"]);
        assert_eq!(out.code, 125, "{out:#?}");
    });
}

#[test]
fn start_attached_prints_the_output_and_returns_the_exit_code() {
    let Some(env) = TestEnv::new() else { return };
    env.rcorch(&[
        "create",
        "--network",
        "none",
        "--name",
        "job",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 3",
    ])
    .ok();
    let out = env.rcorch(&["start", "-a", "job"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "run\n"), "{out:#?}");
    // A stopped container starts again: same record, logs appended.
    let again = env.rcorch(&["start", "-a", "job"]);
    assert_eq!(again.code, 3, "{again:#?}");
    assert_eq!(env.rcorch(&["logs", "job"]).stdout, "run\nrun\n");
    let two = env.rcorch(&["start", "-a", "job", "other"]);
    assert!(two.code != 0 && two.stderr.contains("several"), "{two:#?}");
}

#[test]
fn restart_keeps_the_writable_layer_and_runs_the_command_again() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(
        &[&NONE[..], &["--name", "r"]].concat(),
        &["sh", "-c", "echo boot >> /count; sleep 1000"],
    );
    let count = || env.rcorch(&["exec", "r", "cat", "/count"]).stdout;
    assert!(common::wait_for(Duration::from_secs(5), || count() == "boot\n"));
    let started = env.inspect("r")["State"]["StartedAt"].clone();
    assert_eq!(env.rcorch(&["restart", "-t", "0", "r"]).ok(), "r");
    assert!(
        common::wait_for(Duration::from_secs(5), || count() == "boot\nboot\n"),
        "{}",
        count()
    );
    assert_ne!(env.inspect("r")["State"]["StartedAt"], started);
    // stop, then start: the same.
    env.rcorch(&["stop", "-t", "0", "r"]).ok();
    assert_eq!(env.inspect("r")["State"]["Running"], false);
    env.rcorch(&["container", "start", "r"]).ok();
    assert!(common::wait_for(Duration::from_secs(5), || count()
        .lines()
        .count()
        == 3));
}

/// Lines the container has appended to /t so far.
fn ticks(env: &TestEnv) -> usize {
    let out = env.rcorch(&["exec", "p", "cat", "/t"]);
    out.stdout.lines().count()
}

#[test]
fn pause_freezes_every_process_until_unpause() {
    let Some(env) = TestEnv::new() else { return };
    let id = env.run_detached(
        &[&NONE[..], &["--name", "p"]].concat(),
        &["sh", "-c", "while true; do echo x >> /t; sleep 0.05; done"],
    );
    assert!(common::wait_for(Duration::from_secs(5), || ticks(&env) > 2));
    assert_eq!(env.rcorch(&["pause", "p"]).ok(), "p");
    let state = &env.inspect("p")["State"];
    assert_eq!(
        (&state["Status"], &state["Paused"]),
        (&"paused".into(), &true.into())
    );
    let frozen = ticks(&env);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(ticks(&env), frozen, "a paused container wrote on");
    let again = env.rcorch(&["pause", "p"]);
    assert!(again.stderr.contains("already paused"), "{again:#?}");
    assert_eq!(env.rcorch(&["unpause", "p"]).ok(), "p");
    assert!(common::wait_for(Duration::from_secs(5), || ticks(&env) > frozen));
    // No freezer cgroup outlives the pause (on v1 it is made for it).
    let leftover = env
        .cgroup_parent_dirs()
        .into_iter()
        .map(|d| d.join(&id))
        .find(|d| d.to_string_lossy().contains("/freezer/") && d.exists());
    assert!(leftover.is_none(), "{leftover:?}");
    assert_eq!(env.inspect("p")["State"]["Status"], "running");
    let not = env.rcorch(&["unpause", "p"]);
    assert!(not.stderr.contains("not paused"), "{not:#?}");
    // A paused container still stops (it is let go to see its signal).
    env.rcorch(&["pause", "p"]).ok();
    let out = env.rcorch_timeout(&["stop", "-t", "1", "p"], Duration::from_secs(15));
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(env.inspect("p")["State"]["Running"], false);
}

/// Names `ps -a --filter status=WORD` lists, sorted.
fn with_status(env: &TestEnv, word: &str) -> String {
    let filter = format!("status={word}");
    let out = env.rcorch(&["ps", "-a", "-f", &filter, "--format", "{{.Names}}"]);
    let mut names: Vec<String> = out.ok().lines().map(String::from).collect();
    names.sort();
    names.join(" ")
}

#[test]
fn ps_shows_a_paused_container_and_filters_each_state_as_docker() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(&[&NONE[..], &["--name", "up"]].concat(), &["sleep", "1000"]);
    env.run_detached(
        &[&NONE[..], &["--name", "frozen"]].concat(),
        &["sleep", "1000"],
    );
    env.rcorch(
        &[
            &["create"],
            &NONE[..],
            &["--name", "new", "busybox", "true"],
        ]
        .concat(),
    )
    .ok();
    env.rcorch(&[&["run"], &NONE[..], &["--name", "done", "busybox", "true"]].concat())
        .ok();
    env.rcorch(&["pause", "frozen"]).ok();
    // Docker: "Up 3 seconds (Paused)", State "paused", and still listed without -a.
    let listed = env.rcorch(&["ps", "--format", "{{.Names}}|{{.State}}|{{.Status}}"]);
    let line = listed
        .ok()
        .lines()
        .find(|l| l.starts_with("frozen|"))
        .map(String::from);
    let line = line.expect("a paused container is listed without -a");
    let (_, status) = line.rsplit_once('|').unwrap();
    assert!(line.starts_with("frozen|paused|Up "), "{line}");
    assert!(status.ends_with(" (Paused)"), "{line}");
    let table = env.rcorch(&["ps"]).ok();
    assert!(table.contains("(Paused)"), "{table}");
    assert_eq!(with_status(&env, "paused"), "frozen");
    assert_eq!(
        with_status(&env, "running"),
        "up",
        "a paused container is not running"
    );
    assert_eq!(with_status(&env, "created"), "new");
    assert_eq!(with_status(&env, "exited"), "done");
    assert_eq!(with_status(&env, "restarting"), "");
    env.rcorch(&["unpause", "frozen"]).ok();
    assert_eq!(with_status(&env, "paused"), "");
    assert_eq!(with_status(&env, "running"), "frozen up");
    let bad = env.rcorch(&["ps", "-f", "status=frozen"]);
    assert_ne!(bad.code, 0, "{bad:#?}");
    assert!(bad.stderr.contains("paused"), "{bad:#?}");
}

#[test]
fn commit_makes_an_image_of_the_containers_changes() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(
        &[&NONE[..], &["--name", "src"]].concat(),
        &["sh", "-c", "echo data > /made; rm /bin/vi; sleep 1000"],
    );
    let made = || env.rcorch(&["exec", "src", "cat", "/made"]).stdout;
    assert!(common::wait_for(Duration::from_secs(5), || made() == "data\n"));
    let id = env
        .rcorch(&[
            "commit",
            "-m",
            "snapshot",
            "-c",
            r#"CMD ["cat", "/made"]"#,
            "-c",
            "ENV X=1",
            "src",
            "me/snap:1",
        ])
        .ok();
    assert!(id.starts_with("sha256:"), "{id}");
    let run = |cmd: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "none", "me/snap:1"];
        args.extend_from_slice(cmd);
        env.rcorch(&args).ok()
    };
    assert_eq!(run(&[]), "data", "the new CMD and the new file");
    assert_eq!(run(&["sh", "-c", "echo $X"]), "1");
    let vi = run(&["sh", "-c", "test -e /bin/vi && echo there || echo gone"]);
    assert_eq!(vi, "gone", "a deletion is a whiteout in the layer");
    let top = env
        .rcorch(&["image", "history", "--format", "{{.Comment}}", "me/snap:1"])
        .ok();
    assert_eq!(top.lines().next(), Some("snapshot"));
    let state = &env.inspect("src")["State"];
    assert_eq!(
        (&state["Running"], &state["Paused"]),
        (&true.into(), &false.into())
    );
    let blobs = env.root.join("images/blobs/sha256");
    let count = || std::fs::read_dir(&blobs).map_or(0, |d| d.count());
    let before = count();
    assert!(before > 0, "blobs are under {}", blobs.display());
    let bad = env.rcorch(&["commit", "-c", "RUN true", "src", "me/bad"]);
    assert!(bad.code != 0 && bad.stderr.contains("RUN true"), "{bad:#?}");
    assert_eq!(count(), before, "a refused commit writes no layer");
}
