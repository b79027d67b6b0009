//! Root-only: compose `secrets` and `configs` in running replicas — the
//! file at its target, read-only, with its owner and mode; the value in no
//! state file, log or `inspect` output, its copies owner-only and gone
//! after `down`; a missing secret file stops `up` before anything starts.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::project::Project;
use common::{assert_unchanged, wait_timeout, TestEnv};

const WAIT: Duration = Duration::from_secs(30);
const PW: &str = "pw-7f3a-secret-value";
const TOKEN: &str = "tok-91c2-secret-value";

const APP: &str = r#"
services:
  app:
    image: busybox
    command: ["sh", "-c", "echo started; exec sleep 3600"]
    stop_grace_period: 1s
    secrets:
      - db_pw
      - { source: token, target: /etc/token, uid: "1000", gid: "1001", mode: 0o400 }
    configs:
      - motd
      - { source: conf, target: /etc/app.conf, gid: "5", mode: 0o640 }
secrets:
  db_pw: { file: ./db_pw.txt }
  token: { environment: RCORCH_TEST_TOKEN }
configs:
  motd: { content: "hello from a config\n" }
  conf: { file: ./app.conf }
"#;

fn exec(env: &TestEnv, container: &str, script: &str) -> common::Output {
    env.rcorch(&["exec", container, "sh", "-c", script])
}

/// Every regular file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        // Container root filesystems are overlay mounts: their content is
        // the image's and the upper dir's, both walked on their own.
        if meta.is_dir() && path.file_name().is_some_and(|n| n != "rootfs") {
            found.extend(files_containing(&path, needle));
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(path);
            }
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn up_with_token(env: &TestEnv, p: &Project) {
    let args = [
        "up",
        "-d",
        "-f",
        p.file_str(),
        "-p",
        &p.name,
        "--wait-timeout",
        "30",
    ];
    let mut child = env.spawn_env(&args, &[("RCORCH_TEST_TOKEN", TOKEN)]);
    assert_eq!(wait_timeout(&mut child, WAIT * 2), Some(0), "up failed");
}

#[test]
fn secrets_and_configs_land_read_only_with_owner_and_mode() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "sec", APP);
    let dir = p.file.parent().unwrap().to_path_buf();
    std::fs::write(dir.join("db_pw.txt"), PW).unwrap();
    std::fs::write(dir.join("app.conf"), "key=value\n").unwrap();
    up_with_token(&env, &p);
    assert!(p.wait_running("app", 1, WAIT));
    let c = "sec-app-1";
    let stat = |path: &str| exec(&env, c, &format!("stat -c '%a %u %g' {path}")).ok();
    assert_eq!(stat("/run/secrets/db_pw"), "444 0 0");
    assert_eq!(stat("/etc/token"), "400 1000 1001");
    assert_eq!(stat("/motd"), "444 0 0");
    assert_eq!(stat("/etc/app.conf"), "640 0 5");
    assert_eq!(exec(&env, c, "cat /run/secrets/db_pw").ok(), PW);
    assert_eq!(exec(&env, c, "cat /etc/token").ok(), TOKEN);
    assert_eq!(exec(&env, c, "cat /motd").ok(), "hello from a config");
    assert_eq!(exec(&env, c, "cat /etc/app.conf").ok(), "key=value");
    // The owner and mode decide who reads it, as in the container's users.
    let as_user = |uid: &str| env.rcorch(&["exec", "-u", uid, c, "cat", "/etc/token"]);
    assert_eq!(as_user("1000").ok(), TOKEN);
    assert_ne!(as_user("1002").code, 0, "mode 0400 keeps others out");
    let write = exec(&env, c, "echo x > /run/secrets/db_pw");
    assert_ne!(write.code, 0, "a secret must be read-only: {write:#?}");
    assert_eq!(exec(&env, c, "cat /run/secrets/db_pw").ok(), PW);

    let inspect = env.rcorch(&["inspect", c]).ok();
    for value in [PW, TOKEN] {
        assert!(
            !inspect.contains(value),
            "inspect shows a secret: {inspect}"
        );
        let logs = env.rcorch(&["logs", c]).ok();
        assert!(!logs.contains(value), "{logs}");
        // Only the owner-only copies hold the value: no record, no log.
        for f in files_containing(&env.root, value) {
            let parent = f.parent().unwrap();
            assert!(
                parent.ends_with("files") || parent.ends_with("files/secrets"),
                "{}",
                f.display()
            );
            assert_eq!(mode(parent), 0o700, "{}", parent.display());
        }
    }
    let store = p.dir().join("files/secrets/db_pw");
    assert_eq!(mode(&store), 0o400);
    assert_eq!(std::fs::read_to_string(&store).unwrap(), PW);
    assert!(
        !files_containing(&env.root.join("containers"), PW).is_empty(),
        "the replica's copy"
    );

    p.down();
    assert!(
        files_containing(&env.root, PW).is_empty(),
        "copies outlive down"
    );
    assert!(
        files_containing(&env.root, TOKEN).is_empty(),
        "copies outlive down"
    );
}

#[test]
fn a_missing_secret_file_is_one_error_and_starts_nothing() {
    let Some(env) = TestEnv::new() else { return };
    let p = Project::new(&env, "nosec", APP);
    let dir = p.file.parent().unwrap().to_path_buf();
    std::fs::write(dir.join("app.conf"), "key=value\n").unwrap();
    let out = assert_unchanged(&env, || p.cmd("up", &["-d", "--wait-timeout", "10"]));
    assert_ne!(out.code, 0, "{out:#?}");
    let missing = dir.join("db_pw.txt");
    let want = format!("cannot read secret file {}", missing.display());
    assert!(out.stderr.contains(&want), "{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "one error: {out:#?}");
    assert!(!p.dir().exists(), "no project state");
    let ps = env.rcorch(&["ps", "-a", "-q"]).ok();
    assert!(ps.is_empty(), "{ps}");
}
