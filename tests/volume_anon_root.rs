//! Root-only: anonymous volumes (`run -v /path`, an image's VOLUME, compose
//! `volumes: ["/path"]`): filled from the image, removed with `--rm` and
//! `rm -v`, kept by plain `rm` and `down` for `volume prune`, removed by
//! `down -v`, and kept by a replica across `stop`/`start`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::project::Project;
use common::volumes::{inspect_volume, mountpoint, names};
use common::TestEnv;
use rcorch::image::sha256::Sha256;

const WAIT: Duration = Duration::from_secs(20);

fn is_anonymous_name(name: &str) -> bool {
    name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn run_anonymous_volumes_go_with_rm_v_and_run_rm_only() {
    let Some(env) = TestEnv::new() else { return };
    // --rm: filled from the image, then gone with the container; a named
    // volume next to it stays.
    let out = env.run_busybox(&["-v", "/etc", "-v", "named:/n"], &["cat", "/etc/passwd"]);
    assert!(out.ok().starts_with("root:"), "{out:#?}");
    assert_eq!(names(&env), ["named"]);

    // Plain rm keeps it (as Docker does); prune can remove it.
    let id = env.run_detached(
        &["--name", "keep", "-v", "/etc"],
        &["sh", "-c", "echo mine > /etc/mark"],
    );
    env.wait_exited(&id, WAIT);
    let anon: Vec<String> = names(&env).into_iter().filter(|n| n != "named").collect();
    assert_eq!(anon.len(), 1, "{anon:?}");
    let anon = &anon[0];
    assert!(is_anonymous_name(anon), "{anon}");
    let v = inspect_volume(&env, anon);
    assert_eq!(v["Labels"]["com.docker.volume.anonymous"], "", "{v}");
    assert_eq!(v["Labels"]["rcorch.container"], id.as_str(), "{v}");
    let data = mountpoint(&env, anon);
    assert!(
        data.join("passwd").is_file(),
        "the image's /etc was not copied"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("mark")).unwrap(),
        "mine\n"
    );
    let mounts = env.inspect("keep")["Mounts"].clone();
    assert_eq!(mounts[0]["Name"], anon.as_str(), "{mounts}");
    assert_eq!(mounts[0]["Destination"], "/etc", "{mounts}");
    env.rcorch(&["rm", "keep"]).ok();
    assert!(names(&env).contains(anon), "plain rm removed the volume");
    let out = env.rcorch(&["volume", "prune", "-f"]).ok();
    assert!(out.contains(anon.as_str()), "{out}");
    assert!(names(&env).is_empty());

    // rm -v: the anonymous one goes, a named one stays.
    let id = env.run_detached(
        &["--name", "gone", "-v", "/data", "-v", "named:/n"],
        &["true"],
    );
    env.wait_exited(&id, WAIT);
    assert_eq!(names(&env).len(), 2);
    env.rcorch(&["rm", "-v", "gone"]).ok();
    assert_eq!(names(&env), ["named"]);

    // Detached --rm: the monitor removes it with the container.
    let id = env.run_detached(&["--rm", "-v", "/data"], &["true"]);
    let gone = common::wait_for(WAIT, || {
        env.rcorch(&["inspect", &id]).code != 0 && names(&env) == ["named"]
    });
    assert!(gone, "{:?}", names(&env));
    env.rcorch(&["volume", "rm", "named"]).ok();

    for bad in ["/data:ro", "/"] {
        let out = env.rcorch(&["run", "--rm", "-v", bad, "busybox", "true"]);
        assert_eq!(out.code, 125, "{bad}: {out:#?}");
    }
    assert!(names(&env).is_empty());
}

fn digest(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    format!("sha256:{}", h.finalize_hex())
}

/// A docker-save archive of busybox whose config declares `VOLUME /etc`.
fn volume_image(env: &TestEnv) -> PathBuf {
    let layer = std::fs::read(common::busybox_tar()).unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Volumes": {"/etc": {}}},
        "rootfs": {"type": "layers", "diff_ids": [digest(&layer)]}
    }))
    .unwrap();
    let manifest = serde_json::json!([{"Config": "config.json",
        "RepoTags": ["withvol:1"], "Layers": ["0/layer.tar"]}]);
    let out = env.scratch.join("withvol.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    let files = [
        ("0/layer.tar", layer),
        ("config.json", config),
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
    ];
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.finish().unwrap();
    out
}

#[test]
fn an_images_volume_gets_an_anonymous_volume_unless_mounted() {
    let Some(env) = TestEnv::new() else { return };
    let archive = volume_image(&env);
    env.rcorch(&["load", "-i", archive.to_str().unwrap()]).ok();
    let id = env
        .rcorch(&[
            "run",
            "-d",
            "--name",
            "iv",
            "withvol:1",
            "cat",
            "/etc/passwd",
        ])
        .ok();
    env.wait_exited(&id, WAIT);
    let vols = names(&env);
    assert_eq!(vols.len(), 1, "{vols:?}");
    assert!(is_anonymous_name(&vols[0]));
    assert!(mountpoint(&env, &vols[0]).join("passwd").is_file());
    env.rcorch(&["rm", "-v", "iv"]).ok();
    assert!(names(&env).is_empty());

    // A mount of the user's own on the path replaces the image's volume.
    let out = env.rcorch(&["run", "--rm", "-v", "mine:/etc", "withvol:1", "true"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(names(&env), ["mine"]);
    env.rcorch(&["volume", "rm", "mine"]).ok();
}

const APP: &str = r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo $$HOSTNAME >> /data/who; sleep 1000"]
    stop_grace_period: 1s
    volumes:
      - /data
"#;

#[test]
fn a_replicas_anonymous_volume_survives_stop_start_and_goes_with_down_v() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "av", APP);
    p.up();
    assert!(p.wait_running("db", 1, WAIT));
    let vols = names(&env);
    assert_eq!(vols.len(), 1, "{vols:?}");
    let anon = vols[0].clone();
    assert!(is_anonymous_name(&anon), "{anon}");
    let v = inspect_volume(&env, &anon);
    assert_eq!(v["Labels"]["com.docker.compose.project"], "av", "{v}");
    assert_eq!(v["Labels"]["rcorch.project"], "av", "{v}");
    let who = mountpoint(&env, &anon).join("who");
    assert!(common::wait_for(WAIT, || who.exists()), "no data written");

    // stop/start recreates the replica: it gets its volume back.
    assert_eq!(env.rcorch(&["compose", "-p", "av", "stop", "db"]).code, 0);
    assert_eq!(p.cmd("compose", &["start", "db"]).code, 0);
    assert!(p.wait_running("db", 1, WAIT));
    let two = common::wait_for(WAIT, || {
        std::fs::read_to_string(&who).is_ok_and(|s| s.lines().count() == 2)
    });
    assert!(two, "the new replica did not get the old one's volume");
    assert_eq!(names(&env), [anon.as_str()]);

    // Plain down keeps it, unused, so prune can remove it.
    assert_eq!(p.down().code, 0);
    assert_eq!(names(&env), [anon.as_str()]);
    let out = env.rcorch(&["volume", "prune", "-f"]).ok();
    assert!(out.contains(anon.as_str()), "{out}");
    assert!(names(&env).is_empty());

    // down -v removes it.
    p.up();
    assert!(p.wait_running("db", 1, WAIT));
    assert_eq!(names(&env).len(), 1);
    let out = env.rcorch(&["down", "-f", p.file_str(), "-p", "av", "-v"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(names(&env).is_empty(), "{:?}", names(&env));
}
