//! Root-only: a failed first command gives a fresh root back as it found
//! it (absent, with the parents it made, or empty), and never takes the
//! root from under a command running beside it.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{wait_for, TestEnv};

/// Everything under `dir` (relative paths), sorted; empty if it is absent.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path.clone());
            }
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    found.sort();
    found
}

/// A failing first command per store and per place a failure is caught:
/// before open, at open's own checks, in a store, after taking its lock.
fn failing_first_commands(env: &TestEnv) -> Vec<Vec<String>> {
    let garbage = env.scratch_file("garbage.tar", "not a tar\n");
    let garbage = garbage.to_str().unwrap().to_string();
    let project = env.scratch.join("proj");
    fs::create_dir_all(&project).unwrap();
    let compose = project.join("compose.yaml");
    fs::write(&compose, "services:\n  web:\n    image: nosuch:1\n").unwrap();
    let compose = compose.to_str().unwrap().to_string();
    let table: &[&[&str]] = &[
        &["run", "nosuch-image"],
        &["run", "-d", "-p", "8080:80", "nosuch-image"],
        &["run", "-v", "/nonexistent-bind-source:/x", "nosuch-image"],
        &["create", "--name", "c1", "nosuch-image"],
        // Refused only once the instance is open.
        &["--cgroup-manager", "bogus", "run", "nosuch-image"],
        &["import", "/nonexistent.tar", "x:1"],
        &["import", &garbage, "x:1"],
        &["load", "-i", &garbage],
        &["pull", "--insecure", "127.0.0.1:1/x:1"],
        &["network", "create", "--subnet", "bad", "n1"],
        &["volume", "create", "bad/name"],
        &["up", "-d", "-f", &compose, "-p", "fresh"],
        &["rm", "-f", "nosuch"],
        &["network", "rm", "nosuch"],
        &["volume", "rm", "nosuch"],
        &["rmi", "nosuch"],
        &["logs", "nosuch"],
        &["exec", "nosuch", "true"],
    ];
    table
        .iter()
        .map(|args| args.iter().map(|a| a.to_string()).collect())
        .collect()
}

#[test]
fn a_failed_first_command_leaves_an_absent_root_absent() {
    let Some(mut env) = TestEnv::bare() else {
        return;
    };
    // Parents that do not exist either: they go too.
    let outer = env.root.clone();
    env.root = outer.join("a/root");
    for args in failing_first_commands(&env) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.rcorch(&args);
        assert_ne!(out.code, 0, "{args:?} succeeded: {out:?}");
        assert!(
            !outer.exists(),
            "{args:?} left {:?} under {}",
            tree(&outer),
            outer.display()
        );
        assert_eq!(env.leftovers(), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn a_failed_first_command_leaves_an_empty_root_empty() {
    let Some(env) = TestEnv::bare() else { return };
    fs::create_dir(&env.root).unwrap();
    for args in failing_first_commands(&env) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.rcorch(&args);
        assert_ne!(out.code, 0, "{args:?} succeeded: {out:?}");
        assert!(env.root.is_dir(), "{args:?} removed the root");
        assert_eq!(tree(&env.root), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn a_root_in_use_keeps_its_scaffolding() {
    let Some(env) = TestEnv::bare() else { return };
    env.rcorch(&["volume", "create", "v1"]).ok();
    let before = tree(&env.root);
    let out = env.rcorch(&["network", "create", "--subnet", "bad", "n1"]);
    assert_ne!(out.code, 0, "{out:?}");
    // Its own lock stays (the root was not fresh), the volume is whole.
    let after = tree(&env.root);
    assert!(
        before.iter().all(|p| after.contains(p)),
        "{before:?} -> {after:?}"
    );
    assert_eq!(env.rcorch(&["volume", "ls", "-q"]).ok(), "v1");
}

/// Whether process `pid` holds a flock on `dir` (from /proc/locks).
fn holds_flock(pid: u32, dir: &Path) -> bool {
    let Ok(ino) = fs::metadata(dir).map(|m| std::os::unix::fs::MetadataExt::ino(&m)) else {
        return false;
    };
    let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.get(1) == Some(&"FLOCK")
            && w.get(4) == Some(&pid.to_string().as_str())
            && w.get(5).is_some_and(|id| id.ends_with(&format!(":{ino}")))
    })
}

#[test]
fn a_failed_first_command_leaves_the_root_to_a_command_running_beside_it() {
    let Some(env) = TestEnv::bare() else { return };
    let first = env.scratch.join("first");
    nix::unistd::mkfifo(&first, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // The first command finds the root absent, then waits on its input:
    // once the FIFO opens for writing, it is inside.
    let mut failing = env.spawn(&["load", "-i", first.to_str().unwrap()]);
    let mut to_failing = fs::OpenOptions::new().write(true).open(&first).unwrap();
    // `events` streams until killed: another command inside the root.
    let mut events = env.spawn(&["events"]);
    let inside = wait_for(Duration::from_secs(20), || {
        holds_flock(events.id(), &env.root)
    });
    to_failing.write_all(b"not a tar\n").unwrap();
    drop(to_failing);
    let failed = common::exit_code(failing.wait().unwrap());
    let kept = env.root.join("containers").is_dir();
    let _ = events.kill();
    let _ = events.wait();
    assert!(inside, "events never held the root");
    assert_ne!(failed, 0);
    assert!(kept, "the root was emptied under a running command");
}

#[test]
fn failing_and_succeeding_first_commands_race_on_one_root() {
    let Some(env) = TestEnv::bare() else { return };
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let env = &env;
                s.spawn(move || {
                    if i % 2 == 0 {
                        (i, env.rcorch(&["volume", "create", &format!("v{i}")]))
                    } else {
                        (
                            i,
                            env.rcorch(&["network", "create", "--subnet", "bad", "n1"]),
                        )
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, out) in &outs {
        // Every success is a success: no root went from under it.
        assert_eq!(out.code == 0, i % 2 == 0, "{i}: {out:?}");
    }
    let listed = env.rcorch(&["volume", "ls", "-q"]).ok();
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort();
    assert_eq!(listed, ["v0", "v10", "v2", "v4", "v6", "v8"]);
}
