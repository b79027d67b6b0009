//! Root-only: named volumes through `volume create|ls|inspect|rm|prune`,
//! `run -v NAME:/path` (persistence, first-use copy, in-use refusal) and
//! compose projects (`down` keeps them, `down -v` removes them).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::project::Project;
use common::volumes::{inspect_volume, mountpoint, names};
use common::{assert_unchanged, TestEnv};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn create_ls_inspect_rm() {
    let Some(env) = TestEnv::new() else { return };
    assert_eq!(
        env.rcorch(&["volume", "create", "--label", "a=b", "data"])
            .ok(),
        "data"
    );
    let anonymous = env.rcorch(&["volume", "create"]).ok();
    assert_eq!(anonymous.len(), 64, "{anonymous}");
    assert!(anonymous.chars().all(|c| c.is_ascii_hexdigit()));
    // Creating an existing volume is fine and changes nothing.
    assert_eq!(env.rcorch(&["volume", "create", "data"]).ok(), "data");

    let table = env.rcorch(&["volume", "ls"]).ok();
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.contains("DRIVER") && header.contains("VOLUME NAME"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("local") && l.contains("data")),
        "{table}"
    );
    let mut want = vec![anonymous.clone(), "data".to_string()];
    want.sort();
    assert_eq!(names(&env), want);

    let out = env.rcorch(&["volume", "inspect", "data", &anonymous]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
    let all = v.as_array().expect("inspect gives an array");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["Name"], "data");
    assert_eq!(all[0]["Driver"], "local");
    assert_eq!(all[0]["Labels"]["a"], "b");
    assert!(all[0]["CreatedAt"].as_str().unwrap().ends_with('Z'));
    let mp = PathBuf::from(all[0]["Mountpoint"].as_str().unwrap());
    assert_eq!(mp, env.root.join("volumes/data/_data"));
    assert!(mp.is_dir());

    let out = env.rcorch(&["volume", "rm", "data", &anonymous]);
    assert_eq!(out.ok(), format!("data\n{anonymous}"));
    assert!(names(&env).is_empty());
    assert!(!mp.exists());
}

#[test]
fn data_outlives_the_container_that_wrote_it() {
    let Some(env) = TestEnv::new() else { return };
    let w = env.run_busybox(&["-v", "keep:/data"], &["sh", "-c", "echo kept > /data/f"]);
    assert_eq!(w.code, 0, "{w:#?}");
    assert_eq!(names(&env), ["keep"], "run creates a missing volume");
    let r = env.run_busybox(&["-v", "keep:/data:ro"], &["cat", "/data/f"]);
    assert_eq!(r.ok(), "kept");
    let ro = env.run_busybox(&["-v", "keep:/data:ro"], &["touch", "/data/g"]);
    assert_ne!(ro.code, 0, "a :ro volume is writable: {ro:#?}");
}

#[test]
fn first_use_copies_the_image_and_a_used_volume_is_kept() {
    let Some(env) = TestEnv::new() else { return };
    // A fresh volume on /etc gets the image's /etc.
    let out = env.run_busybox(&["-v", "etc:/etc"], &["cat", "/etc/passwd"]);
    assert!(out.ok().starts_with("root:"), "{out:#?}");
    let data = mountpoint(&env, "etc");
    assert!(data.join("passwd").is_file(), "passwd was not copied");
    assert!(data.join("group").is_file(), "group was not copied");
    // /bin: symlinks stay symlinks, and the copy runs.
    let out = env.run_busybox(&["-v", "bin:/bin"], &["/bin/echo", "copied"]);
    assert_eq!(out.ok(), "copied");
    let sh = std::fs::symlink_metadata(mountpoint(&env, "bin").join("sh")).expect("bin/sh");
    assert!(sh.file_type().is_symlink());

    // A volume with data is never overwritten by the image.
    let w = env.run_busybox(&["-v", "mine:/d"], &["sh", "-c", "echo mine > /d/passwd"]);
    assert_eq!(w.code, 0, "{w:#?}");
    let out = env.run_busybox(
        &["-v", "mine:/etc"],
        &[
            "sh",
            "-c",
            "cat /etc/passwd; test -e /etc/group && echo group; true",
        ],
    );
    assert_eq!(out.ok(), "mine");

    // nocopy: the image's content stays out.
    let out = env.run_busybox(
        &["-v", "bare:/etc:nocopy"],
        &[
            "sh",
            "-c",
            "test -e /etc/passwd && echo copied || echo bare",
        ],
    );
    assert_eq!(out.ok(), "bare");
}

#[test]
fn rm_refuses_while_a_container_uses_it_and_prune_spares_it() {
    let Some(env) = TestEnv::new() else { return };
    env.rcorch(&["volume", "create", "idle"]).ok();
    let id = env.run_detached(&["--name", "user", "-v", "busy:/data"], &["true"]);
    env.wait_exited(&id, WAIT);
    let mounts = env.inspect("user")["Mounts"].clone();
    assert_eq!(mounts[0]["Type"], "volume", "{mounts}");
    assert_eq!(mounts[0]["Name"], "busy", "{mounts}");
    assert_eq!(mounts[0]["Destination"], "/data", "{mounts}");
    assert_eq!(mounts[0]["RW"], true, "{mounts}");
    assert_eq!(
        PathBuf::from(mounts[0]["Source"].as_str().unwrap()),
        mountpoint(&env, "busy")
    );

    // Stopped still counts, as in Docker.
    let out = env.rcorch(&["volume", "rm", "busy"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("user"), "{out:#?}");
    assert_eq!(names(&env), ["busy", "idle"]);

    let out = env.rcorch(&["volume", "prune"]);
    assert_ne!(out.code, 0, "prune without -f must not run: {out:#?}");
    assert_eq!(names(&env), ["busy", "idle"]);
    let out = env.rcorch(&["volume", "prune", "-f"]).ok();
    assert!(out.contains("idle") && !out.contains("busy"), "{out}");
    assert_eq!(names(&env), ["busy"]);

    // `rm -v` removes anonymous volumes only: a named one stays.
    env.rcorch(&["rm", "-v", "user"]).ok();
    assert_eq!(names(&env), ["busy"]);
    env.rcorch(&["volume", "rm", "busy"]).ok();
    assert!(names(&env).is_empty());
}

const APP: &str = r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo $$HOSTNAME >> /data/who; sleep 1000"]
    stop_grace_period: 1s
    volumes:
      - store:/data
volumes:
  store:
    labels:
      tier: db
"#;

#[test]
fn compose_volumes_survive_down_and_go_with_down_v() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "vp", APP);
    p.up();
    assert!(p.wait_running("db", 1, WAIT));
    assert_eq!(names(&env), ["vp_store"]);
    let v = inspect_volume(&env, "vp_store");
    assert_eq!(v["Labels"]["com.docker.compose.project"], "vp", "{v}");
    assert_eq!(v["Labels"]["rcorch.project"], "vp", "{v}");
    assert_eq!(v["Labels"]["tier"], "db", "{v}");
    let who = mountpoint(&env, "vp_store").join("who");
    assert!(
        common::wait_for(WAIT, || who.exists()),
        "replica wrote nothing"
    );

    assert_eq!(p.down().code, 0);
    assert_eq!(names(&env), ["vp_store"], "plain down removed the volume");
    assert!(who.exists());

    p.up();
    assert!(p.wait_running("db", 1, WAIT));
    let two = common::wait_for(WAIT, || {
        std::fs::read_to_string(&who).is_ok_and(|s| s.lines().count() == 2)
    });
    assert!(two, "the second replica did not see the first one's data");
    let out = env.rcorch(&["down", "-f", p.file_str(), "-p", "vp", "-v"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(out.stdout.contains("vp_store"), "{out:#?}");
    assert!(names(&env).is_empty());
}

#[test]
fn bad_input_changes_nothing() {
    let Some(env) = TestEnv::new() else { return };
    env.rcorch(&["volume", "create", "there"]).ok();
    let listing = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(env.root.join("volumes"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let before = listing();
    assert_unchanged(&env, || {
        for bad in ["a", "bad/name", "sp ace", ".hidden"] {
            let out = env.rcorch(&["volume", "create", bad]);
            assert_eq!(out.code, 1, "{bad}: {out:#?}");
            assert!(out.stderr.contains("invalid volume name"), "{out:#?}");
        }
        let out = env.rcorch(&["volume", "create", "--label", "=x", "lbl"]);
        assert_eq!(out.code, 1, "{out:#?}");
        let out = env.rcorch(&["volume", "rm", "nosuch"]);
        assert_eq!(out.code, 1, "{out:#?}");
        assert!(out.stderr.contains("no such volume: nosuch"), "{out:#?}");
        env.rcorch(&["volume", "rm", "-f", "nosuch"]).ok();
        let out = env.rcorch(&["volume", "inspect", "nosuch"]);
        assert_eq!(out.code, 1, "{out:#?}");
        for spec in ["x:/data", "./rel:/data", "vol:/data:nocopyy", "vol:rel"] {
            let out = env.rcorch(&["run", "--rm", "-v", spec, "busybox", "true"]);
            assert_eq!(out.code, 125, "{spec}: {out:#?}");
        }
    });
    assert_eq!(listing(), before);
    assert_eq!(names(&env), ["there"]);
}
