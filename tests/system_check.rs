//! Root-only: `rcorch system check` reports every unreadable record
//! (containers, projects, network state, volumes, images index) and
//! `--repair` restores what can be restored and removes or sets aside the
//! rest, saying which; afterwards the instance checks clean and works.

mod common;

use std::fs;

use common::{pid_alive, wait_for, TestEnv};

#[test]
fn check_reports_every_damaged_record_and_repair_puts_each_right() {
    let Some(env) = TestEnv::new() else { return };
    let stopped = env.run_detached(&["--network", "none"], &["true"]);
    env.wait_exited(&stopped, std::time::Duration::from_secs(15));
    let running = env.run_detached(&["--network", "none"], &["sleep", "30"]);
    let running_pid = env.inspect(&running)["State"]["Pid"].as_i64().unwrap() as i32;
    env.rcorch(&["volume", "create", "keep"]).ok();
    let c = env.root.join("containers");
    let project = env.root.join("projects/shop");
    fs::create_dir_all(&project).unwrap();
    fs::create_dir_all(env.root.join("networks")).unwrap();
    let damaged = [
        c.join(&stopped).join("state.json"),
        c.join(&running).join("config.json"),
        env.root.join("volumes/keep/meta.json"),
        project.join("desired.json"),
        project.join("health.json"),
        env.root.join("networks/state.json"),
    ];
    for path in &damaged {
        fs::write(path, b"{\"torn\": ").unwrap();
    }

    let check = env.rcorch(&["system", "check"]);
    assert_eq!(check.code, 1, "{check:?}");
    for path in &damaged {
        let shown = path.display().to_string();
        assert_eq!(
            check.stdout.matches(&shown).count(),
            1,
            "{shown}: {check:?}"
        );
    }
    assert!(
        fs::read(&damaged[0]).unwrap().starts_with(b"{\"torn"),
        "check changed a record"
    );

    let repair = env.rcorch(&["system", "check", "--repair"]);
    assert_eq!(repair.code, 0, "{repair:?}");
    let line = |path: &std::path::Path| {
        let shown = path.display().to_string();
        repair
            .stdout
            .lines()
            .find(|l| l.starts_with(&shown))
            .unwrap_or_else(|| panic!("{shown} not in {repair:?}"))
            .to_string()
    };
    assert!(line(&damaged[0]).contains("restored"), "{repair:?}");
    assert!(line(&damaged[1]).contains("removed"), "{repair:?}");
    assert!(line(&damaged[2]).contains("restored"), "{repair:?}");
    assert!(line(&damaged[3]).contains("set aside"), "{repair:?}");
    assert!(line(&damaged[4]).contains("removed"), "{repair:?}");
    assert!(line(&damaged[5]).contains("set aside"), "{repair:?}");
    assert!(project.join("desired.json.damaged").exists());

    assert_eq!(env.rcorch(&["system", "check"]).code, 0);
    assert!(wait_for(std::time::Duration::from_secs(10), || !pid_alive(
        running_pid
    )));
    let ps = env.rcorch(&["ps", "-aq"]).ok();
    assert_eq!(ps, &stopped[..12], "only the restored container is left");
    assert_eq!(env.inspect(&stopped)["State"]["Status"], "exited");
    assert_eq!(env.rcorch(&["volume", "ls", "-q"]).ok(), "keep");
    env.rcorch(&["run", "--rm", "--network", "none", "busybox", "true"])
        .ok();
    env.rcorch(&["rm", &stopped]).ok();
    env.rcorch(&["volume", "rm", "keep"]).ok();

    // The images index last: setting it aside forgets busybox.
    let index = env.root.join("images/images.json");
    fs::write(&index, b"").unwrap();
    let check = env.rcorch(&["system", "check", "--repair"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.contains("images.json (empty): set aside"),
        "{check:?}"
    );
    assert_eq!(env.rcorch(&["images"]).code, 0);
}

/// A directory where a record's file should be (a volume's metadata, an
/// image record and its copy, a network record and its copy), and a
/// volume's metadata gone from beside its data: each is that record's
/// damage alone, reported by check and put right by --repair.
#[test]
fn a_directory_in_place_of_a_record_blocks_nothing_and_is_repaired() {
    let Some(env) = TestEnv::new() else { return };
    for v in ["keep", "dir", "bare"] {
        env.rcorch(&["volume", "create", v]).ok();
    }
    env.rcorch(&["network", "create", "neta"]).ok();
    env.rcorch(&["network", "create", "netb"]).ok();
    env.rcorch(&["tag", "busybox", "other:1"]).ok();
    let content = env.scratch.join("x");
    fs::create_dir_all(&content).unwrap();
    fs::write(content.join("f"), b"x").unwrap();
    let tar = env.scratch.join("x.tar");
    common::tar_dir(&content, &tar);
    let id = env.rcorch(&["import", tar.to_str().unwrap(), "x:1"]).ok();
    let hex = id.trim().trim_start_matches("sha256:").to_string();
    let to_dir = |path: std::path::PathBuf| {
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        path
    };
    let shown = [
        to_dir(env.root.join("volumes/dir/meta.json")),
        to_dir(env.root.join(format!("images/records/{hex}.json"))),
        to_dir(env.root.join("networks/records/neta.json")),
    ];
    to_dir(env.root.join(format!("images/copies/{hex}.json")));
    to_dir(env.root.join("networks/copies/neta.json"));
    fs::remove_file(env.root.join("volumes/bare/meta.json")).unwrap();

    let volumes = env.rcorch(&["volume", "ls", "-q"]);
    assert_eq!(volumes.code, 0, "{volumes:?}");
    assert_eq!(volumes.stdout.trim(), "keep", "{volumes:?}");
    let images = env.rcorch(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(images.code, 0, "{images:?}");
    assert!(images.stdout.contains("other"), "{images:?}");
    let nets = env.rcorch(&["network", "ls"]);
    assert_eq!(nets.code, 0, "{nets:?}");
    assert!(nets.stdout.contains("netb"), "{nets:?}");
    let run = env.rcorch(&["run", "--rm", "--network", "none", "other:1", "true"]);
    assert_eq!(run.code, 0, "{run:?}");

    let check = env.rcorch(&["system", "check"]);
    assert_eq!(check.code, 1, "{check:?}");
    for path in &shown {
        let path = path.display().to_string();
        assert_eq!(check.stdout.matches(&path).count(), 1, "{path}: {check:?}");
    }
    assert!(check.stdout.contains("volumes/bare/meta.json"), "{check:?}");
    let repair = env.rcorch(&["system", "check", "--repair"]);
    assert_eq!(repair.code, 0, "{repair:?}");
    assert_eq!(env.rcorch(&["system", "check"]).code, 0);
    let volumes = env.rcorch(&["volume", "ls", "-q"]).ok();
    assert_eq!(
        volumes.split_whitespace().collect::<Vec<_>>(),
        ["bare", "dir", "keep"]
    );
    for v in ["keep", "dir", "bare"] {
        env.rcorch(&["volume", "rm", v]).ok();
    }
    env.rcorch(&["network", "rm", "netb"]).ok();
}
