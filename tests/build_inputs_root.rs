//! Root-only: where a build's inputs come from — a Dockerfile or a context
//! tar on stdin (`rcorch build -`, `-f -`), base images pulled from a
//! registry (Debian's docker-registry) when missing or on `--pull`, and
//! `ADD URL` from an HTTP server. Servers run in a network namespace of the
//! test's own, shared with the rcorch commands that reach them.
//! Needs RCORCH_TEST_BUSYBOX_TAR.

mod common;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::netns::Netns;
use common::registry::registry_with;
use common::TestEnv;

fn run(env: &TestEnv, image: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "--network", "none", image];
    args.extend_from_slice(cmd);
    env.rcorch(&args).ok()
}

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn stdin_gives_a_dockerfile_or_a_context_tar() {
    let Some(env) = TestEnv::new() else { return };
    let df = "FROM busybox\nRUN echo from-stdin > /o\n";
    let out = env.rcorch_stdin(
        &["build", "--network", "none", "-t", "s1", "-"],
        df.as_bytes(),
    );
    out.ok();
    assert_eq!(run(&env, "s1", &["cat", "/o"]), "from-stdin");
    // With a Dockerfile on stdin the context is empty: COPY finds nothing.
    let copy = "FROM busybox\nCOPY x /x\n";
    let out = env.rcorch_stdin(&["build", "--network", "none", "-"], copy.as_bytes());
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("x: not found in the build context"),
        "{out:#?}"
    );

    let tar = tar_of(&[
        ("Dockerfile", "FROM busybox\nCOPY sub/f /f\n"),
        ("other.Dockerfile", "FROM busybox\nCOPY sub/f /g\n"),
        ("sub/f", "in-the-tar\n"),
    ]);
    env.rcorch_stdin(&["build", "--network", "none", "-t", "s2", "-"], &tar)
        .ok();
    assert_eq!(run(&env, "s2", &["cat", "/f"]), "in-the-tar");
    // -f names a Dockerfile inside the tar context.
    let args = [
        "build",
        "--network",
        "none",
        "-t",
        "s3",
        "-f",
        "other.Dockerfile",
        "-",
    ];
    env.rcorch_stdin(&args, &tar).ok();
    assert_eq!(run(&env, "s3", &["cat", "/g"]), "in-the-tar");
    // -f - with a context dir: the Dockerfile from stdin, files from the dir.
    let dir = env.scratch.join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("f"), "from-dir\n").unwrap();
    let args = [
        "build",
        "--network",
        "none",
        "-t",
        "s4",
        "-f",
        "-",
        dir.to_str().unwrap(),
    ];
    env.rcorch_stdin(&args, b"FROM busybox\nCOPY f /f\n").ok();
    assert_eq!(run(&env, "s4", &["cat", "/f"]), "from-dir");
    let both = env.rcorch_stdin(&["build", "-f", "-", "-"], b"FROM busybox\n");
    assert_ne!(both.code, 0);
    assert!(both.stderr.contains("cannot read both"), "{both:#?}");
    // No stdin context outlives its build.
    let left: Vec<_> = fs::read_dir(env.root.join("build"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn pull_fetches_missing_bases_and_refreshes_with_pull() {
    let Some(env) = TestEnv::new() else { return };
    let remote = "127.0.0.1:5000/test/bb:v1";
    let Some(ns) = registry_with(&env, remote) else {
        return;
    };
    let tar = common::busybox_tar().to_str().unwrap();

    let ctx = env.scratch.join("pull");
    fs::create_dir_all(&ctx).unwrap();
    let build = |df: &str, extra: &[&str]| {
        fs::write(ctx.join("Dockerfile"), df).unwrap();
        let mut args = vec!["build", "--network", "none"];
        args.extend_from_slice(extra);
        args.push(ctx.to_str().unwrap());
        ns.rcorch(&env, &args, None)
    };
    // A base the store lacks is pulled.
    let df = format!("FROM {remote}\nRUN test ! -e /marker\n");
    let out = build(&df, &["-t", "p1"]);
    out.ok();
    assert!(
        out.stderr.contains("pulling 127.0.0.1:5000/test/bb:v1"),
        "{out:#?}"
    );
    // The registry's v1 moves on (it gains /marker); the store keeps the old.
    build("FROM busybox\nRUN echo two > /marker\n", &["-t", remote]).ok();
    ns.rcorch(&env, &["push", "--insecure", remote], None).ok();
    env.rcorch(&["import", tar, remote]).ok();
    let df = format!("FROM {remote}\nRUN cat /marker > /seen\n");
    let stale = build(&df, &["-t", "p2"]);
    assert_ne!(stale.code, 0, "without --pull the store's base is used");
    build(&df, &["-t", "p2", "--pull"]).ok();
    assert_eq!(run(&env, "p2", &["cat", "/seen"]), "two");
    // compose `build.pull: true` pulls too; `no_cache: true` runs every step.
    env.rcorch(&["import", tar, remote]).ok();
    let yaml = format!(
        "services:\n  app:\n    build:\n      context: {}\n      pull: true\n      no_cache: true\n",
        ctx.display()
    );
    let file = env.scratch_file("pull-compose.yaml", &yaml);
    let compose = ["compose", "-f", file.to_str().unwrap(), "-p", "pc", "build"];
    let first = ns.rcorch(&env, &compose, None);
    first.ok();
    assert!(first.stderr.contains("pulling"), "{first:#?}");
    assert_eq!(run(&env, "pc-app", &["cat", "/seen"]), "two");
    let again = ns.rcorch(&env, &compose, None);
    again.ok();
    assert!(!again.stderr.contains("CACHED"), "{again:#?}");
    // An unreachable registry: one clear error naming the image.
    let out = build("FROM 127.0.0.1:5999/none/such:v1\n", &[]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("base image 127.0.0.1:5999/none/such:v1"),
        "{out:#?}"
    );
}

#[test]
fn add_fetches_urls_with_checksum_and_mtime_and_clones_local_git() {
    let Some(env) = TestEnv::new() else { return };
    let mut ns = Netns::new();
    let www = env.scratch.join("www");
    fs::create_dir_all(&www).unwrap();
    let file = www.join("f.txt");
    fs::write(&file, "served\n").unwrap();
    let when = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(when)
        .unwrap();
    let argv = [
        "python3",
        "-m",
        "http.server",
        "8000",
        "--bind",
        "127.0.0.1",
    ];
    ns.serve(&argv, &www, 8000);
    let sum = rcorch::image::sha256::digest_hex(b"served\n");
    let ctx = env.scratch.join("add");
    fs::create_dir_all(&ctx).unwrap();
    let build = |df: &str, tag: &str| {
        fs::write(ctx.join("Dockerfile"), df).unwrap();
        let args = [
            "build",
            "--network",
            "none",
            "-t",
            tag,
            ctx.to_str().unwrap(),
        ];
        ns.rcorch(&env, &args, None)
    };
    let df = format!(
        "FROM busybox\nADD --checksum=sha256:{sum} http://127.0.0.1:8000/f.txt /d/\n\
         ADD --chmod=644 http://127.0.0.1:8000/f.txt /named\n"
    );
    build(&df, "u1").ok();
    let seen = run(
        &env,
        "u1",
        &["stat", "-c", "%n %a %Y", "/d/f.txt", "/named"],
    );
    assert_eq!(seen, "/d/f.txt 600 1000000000\n/named 644 1000000000");
    assert_eq!(run(&env, "u1", &["cat", "/d/f.txt"]), "served");
    // A wrong checksum, a missing file, an unreachable server: one clear error each.
    let bad = build(
        "FROM busybox\nADD --checksum=sha256:0000 http://127.0.0.1:8000/f.txt /x\n",
        "u2",
    );
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("--checksum mismatch"), "{bad:#?}");
    let missing = build("FROM busybox\nADD http://127.0.0.1:8000/nope /x\n", "u3");
    assert!(missing.stderr.contains("404"), "{missing:#?}");
    let down = build("FROM busybox\nADD http://127.0.0.1:8999/f /x\n", "u4");
    assert_ne!(down.code, 0);
    assert!(
        down.stderr
            .contains("ADD http://127.0.0.1:8999/f: cannot fetch it"),
        "{down:#?}"
    );

    // git: a local repository is cloned; --keep-git-dir keeps its .git.
    let repo = env.scratch.join("repo.git");
    fs::create_dir_all(&repo).unwrap();
    fs::write(repo.join("README"), "from git\n").unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&repo)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "README"]);
    git(&["commit", "-qm", "one"]);
    let url = format!("file://{}", repo.display());
    let df = format!("FROM busybox\nADD {url} /src\nADD --keep-git-dir {url}#main /kept\n");
    build(&df, "g1").ok();
    let seen = run(
        &env,
        "g1",
        &[
            "sh",
            "-c",
            "cat /src/README; ls -a /src | wc -l; test -d /kept/.git && echo git",
        ],
    );
    assert_eq!(seen, "from git\n3\ngit");
    let remote = build("FROM busybox\nADD git@github.com:moby/moby.git /m\n", "g2");
    assert_ne!(remote.code, 0);
    assert!(
        remote.stderr.contains("clones only local git repositories"),
        "{remote:#?}"
    );
}

/// The id of `service`'s only running replica.
fn only_running(p: &common::project::Project, service: &str) -> String {
    assert!(
        p.wait_running(service, 1, Duration::from_secs(60)),
        "{:?}",
        p.events()
    );
    p.running(service)[0].id.clone()
}

#[test]
fn up_pulls_by_policy_and_flag_and_recreates_on_request() {
    let Some(env) = TestEnv::new() else { return };
    let remote = "127.0.0.1:5000/test/app:v1";
    let Some(ns) = registry_with(&env, remote) else {
        return;
    };
    let tar = common::busybox_tar().to_str().unwrap();

    let yaml = |cmd: &str| {
        format!(
            "services:\n  app:\n    image: {remote}\n    network_mode: none\n    \
             stop_grace_period: 1s\n    command: [\"sleep\", \"{cmd}\"]\n"
        )
    };
    let p = common::project::Project::new(&env, "pp", &yaml("3600"));
    let up = |extra: &[&str]| {
        let mut args = vec![
            "up",
            "-f",
            p.file_str(),
            "-p",
            "pp",
            "-d",
            "--wait-timeout",
            "60",
        ];
        args.extend_from_slice(extra);
        ns.rcorch(&env, &args, None)
    };
    // --pull never: the missing image is up's error, and nothing starts.
    let never = up(&["--pull", "never"]);
    assert_ne!(never.code, 0, "{never:#?}");
    assert!(
        never.stderr.contains("service app") && never.stderr.contains("rcorch pull"),
        "{never:#?}"
    );
    assert!(!never.stderr.contains("pulling"), "{never:#?}");
    assert!(p.replicas("app").is_empty());
    // By default (pull_policy missing) the missing image is pulled.
    let first = up(&[]);
    assert_eq!(first.code, 0, "{first:#?}");
    assert!(first.stderr.contains("pulling app"), "{first:#?}");
    let id1 = only_running(&p, "app");
    // The registry's tag moves on; the store keeps the old image.
    let ctx = env.scratch.join("moved");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo two > /marker\n",
    )
    .unwrap();
    let build = [
        "build",
        "--network",
        "none",
        "-t",
        remote,
        ctx.to_str().unwrap(),
    ];
    ns.rcorch(&env, &build, None).ok();
    ns.rcorch(&env, &["push", "--insecure", remote], None).ok();
    env.rcorch(&["import", tar, remote]).ok();
    let again = up(&[]);
    assert_eq!(again.code, 0, "{again:#?}");
    assert!(!again.stderr.contains("pulling"), "present: {again:#?}");
    assert_eq!(only_running(&p, "app"), id1);
    // --pull always fetches the moved tag, which replaces the replica.
    let always = up(&["--pull", "always"]);
    assert_eq!(always.code, 0, "{always:#?}");
    assert!(always.stderr.contains("pulling app"), "{always:#?}");
    let moved = common::wait_for(Duration::from_secs(60), || {
        p.running("app").first().is_some_and(|r| r.id != id1)
    });
    assert!(moved, "{:?}", p.events());
    let id2 = only_running(&p, "app");
    assert_eq!(
        env.rcorch(&["exec", &id2, "cat", "/marker"]).ok().trim(),
        "two"
    );
    // --force-recreate replaces an unchanged replica.
    let forced = up(&["--force-recreate"]);
    assert_eq!(forced.code, 0, "{forced:#?}");
    let replaced = common::wait_for(Duration::from_secs(60), || {
        p.running("app").first().is_some_and(|r| r.id != id2)
    });
    assert!(replaced, "{:?}", p.events());
    let id3 = only_running(&p, "app");
    // --no-recreate keeps it although its command changed.
    fs::write(&p.file, yaml("3601")).unwrap();
    let kept = up(&["--no-recreate"]);
    assert_eq!(kept.code, 0, "{kept:#?}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(only_running(&p, "app"), id3);
    let both = up(&["--force-recreate", "--no-recreate"]);
    assert_ne!(both.code, 0);
    assert!(both.stderr.contains("--no-recreate"), "{both:#?}");
    let bad = up(&["--pull", "sometimes"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("always, missing, never"), "{bad:#?}");
    p.down();
}
