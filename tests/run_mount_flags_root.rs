//! Root-only: `--mount type=bind|volume|tmpfs` with Docker's keys, `-v`
//! with a `./relative` source and `:z`/`:Z`, checked inside the container.

mod common;

use std::process::Command;

use common::TestEnv;

fn sh(env: &TestEnv, opts: &[&str], script: &str) -> common::Output {
    let mut opts = opts.to_vec();
    opts.extend(["--network", "none"]);
    env.run_busybox(&opts, &["sh", "-c", script])
}

#[test]
fn a_bind_mount_is_read_only_when_asked_and_writable_otherwise() {
    let Some(env) = TestEnv::new() else { return };
    std::fs::create_dir(env.scratch.join("data")).unwrap();
    env.scratch_file("data/f", "hello");
    let src = env.scratch.join("data");
    let ro = format!(
        "type=bind,src={},dst=/data,readonly,bind-propagation=rprivate",
        src.display()
    );
    let out = sh(
        &env,
        &["--mount", &ro],
        "cat /data/f; echo; touch /data/x 2>/dev/null && echo wrote || echo refused",
    );
    assert_eq!(out.ok(), "hello\nrefused");
    let rw = format!("type=bind,source={},target=/data", src.display());
    sh(&env, &["--mount", &rw], "echo new > /data/made").ok();
    assert_eq!(std::fs::read_to_string(src.join("made")).unwrap(), "new\n");
}

#[test]
fn a_volume_mount_creates_the_named_volume_and_a_tmpfs_gets_its_size_and_mode() {
    let Some(env) = TestEnv::new() else { return };
    sh(
        &env,
        &["--mount", "type=volume,source=keep,target=/v"],
        "echo kept > /v/f",
    )
    .ok();
    let again = sh(
        &env,
        &["--mount", "src=keep,dst=/w,ro"],
        "cat /w/f; touch /w/x 2>/dev/null || echo ro",
    );
    assert_eq!(again.ok(), "kept\nro");
    let out = sh(
        &env,
        &["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770"],
        "stat -c %a /t; df -k /t | tail -1 | awk '{print $2}'; grep ' /t ' /proc/mounts",
    )
    .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1770", "{out}");
    assert_eq!(lines[1], "1024", "{out}");
    assert!(
        lines[2].contains("nosuid") && lines[2].contains("noexec"),
        "{out}"
    );
    let _ = env.rcorch(&["volume", "rm", "keep"]);
}

#[test]
fn v_takes_a_dot_relative_source_and_selinux_labels() {
    let Some(env) = TestEnv::new() else { return };
    std::fs::create_dir(env.scratch.join("rel")).unwrap();
    env.scratch_file("rel/f", "from-cwd");
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private"])
        .arg(env!("CARGO_BIN_EXE_rcorch"))
        .arg("--root")
        .arg(&env.root)
        .arg("--cgroup-parent")
        .arg(&env.cgroup_parent)
        .args(["run", "--rm", "--network", "none", "-v", "./rel:/r:ro,z"])
        .args([
            "-v",
            "../scratch/rel:/s:Z",
            "busybox",
            "sh",
            "-c",
            "cat /r/f /s/f",
        ])
        .current_dir(&env.scratch)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-cwdfrom-cwd");
}

#[test]
fn a_mount_rcorch_cannot_honour_is_refused_by_name_and_changes_nothing() {
    let Some(env) = TestEnv::new() else { return };
    for (spec, word) in [
        (
            "type=bind,src=/tmp,dst=/x,bind-propagation=rshared",
            "rshared",
        ),
        ("type=volume,src=v,dst=/x,volume-opt=o=1", "volume-opt"),
        ("type=tmpfs,dst=/x,tmpfs-size=huge", "size"),
    ] {
        let out = common::assert_unchanged(&env, || {
            env.rcorch(&["run", "--rm", "--mount", spec, "busybox", "true"])
        });
        assert_eq!(out.code, 125, "{spec}: {out:?}");
        assert!(out.stderr.contains("invalid --mount"), "{out:?}");
        assert!(out.stderr.contains(word), "{spec}: {out:?}");
    }
    let out = env.rcorch(&["run", "--rm", "-v", "data/sub:/x", "busybox", "true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("./relative/path"), "{out:?}");
}
