//! Root-only: `rcorch build` on the busybox image through the binary —
//! RUN in rcorch's runtime, COPY/ADD from the context, the image config
//! Docker would write, whiteouts, failures that leave nothing behind, and
//! reproducible ids with SOURCE_DATE_EPOCH. Needs RCORCH_TEST_BUSYBOX_TAR.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::TestEnv;

/// A build context in the scratch dir with `files` and a Dockerfile.
fn context(env: &TestEnv, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.scratch.join(name);
    fs::create_dir_all(&dir).unwrap();
    for (path, content) in files {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

fn build(env: &TestEnv, ctx: &Path, extra: &[&str]) -> common::Output {
    let mut args = vec!["build", "--network", "none"];
    args.extend_from_slice(extra);
    args.push(ctx.to_str().unwrap());
    env.rcorch(&args)
}

/// The config blob of an image.
fn config(env: &TestEnv, id: &str) -> serde_json::Value {
    let hex = id.trim().strip_prefix("sha256:").unwrap();
    let blob = fs::read(env.root.join("images/blobs/sha256").join(hex)).unwrap();
    serde_json::from_slice(&blob).unwrap()
}

fn run(env: &TestEnv, image: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "--network", "none", image];
    args.extend_from_slice(cmd);
    env.rcorch(&args).ok()
}

#[test]
fn build_run_copy_and_config() {
    let Some(env) = TestEnv::new() else { return };
    let df = r#"FROM busybox
ARG WHO=world
ENV GREETING="hello $WHO" PATH=/opt/bin:$PATH
WORKDIR /app
COPY hello.txt ./
COPY --chown=1000:100 --chmod=0750 sub/ /sub/
RUN echo "$GREETING from $WHO" > /app/out && rm /bin/vi
RUN <<EOF
echo heredoc > /app/h
EOF
COPY <<EOF /app/inline.txt
greeting is $GREETING
EOF
LABEL org.example.k="v 1"
EXPOSE 8080 53/udp
VOLUME /data
USER 1000
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --retries=2 CMD true
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/out"]
"#;
    let ctx = context(
        &env,
        "basic",
        df,
        &[("hello.txt", "hi\n"), ("sub/a", "a\n")],
    );
    let iid = env.scratch.join("iid");
    let iid_arg = iid.to_str().unwrap().to_string();
    let out = build(
        &env,
        &ctx,
        &[
            "-t",
            "built:1",
            "--build-arg",
            "WHO=rcorch",
            "--label",
            "extra=yes",
            "--iidfile",
            &iid_arg,
        ],
    );
    let id = out.ok();
    assert_eq!(fs::read_to_string(&iid).unwrap(), id);
    assert!(
        out.stderr.contains("#2 [ 5/17] COPY hello.txt ./"),
        "{}",
        out.stderr
    );
    assert_eq!(run(&env, "built:1", &[]), "hello rcorch from rcorch");
    let listing = run(&env, "built:1", &["cat /app/hello.txt /app/h /app/inline.txt; stat -c '%u:%g %a' /sub/a; pwd; id -u; ls /bin/vi 2>&1 || true"]);
    assert_eq!(listing, "hi\nheredoc\ngreeting is hello rcorch\n1000:100 750\n/app\n1000\nls: /bin/vi: No such file or directory");
    let c = config(&env, &id);
    let cfg = &c["config"];
    assert_eq!(
        cfg["Env"],
        serde_json::json!([
            "PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "GREETING=hello rcorch"
        ])
    );
    assert_eq!(cfg["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(cfg["Cmd"], serde_json::json!(["cat /app/out"]));
    assert_eq!(cfg["WorkingDir"], "/app");
    assert_eq!(cfg["User"], "1000");
    assert_eq!(
        cfg["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(cfg["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(
        cfg["Labels"],
        serde_json::json!({"org.example.k": "v 1", "extra": "yes"})
    );
    assert_eq!(cfg["StopSignal"], "SIGINT");
    assert_eq!(
        cfg["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 30_000_000_000u64, "Retries": 2})
    );
    // busybox's layer + 2 COPY + 2 RUN + 1 COPY heredoc.
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 6);
    let history = c["history"].as_array().unwrap();
    let layers = history
        .iter()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .count();
    assert_eq!(layers, 5, "{history:#?}");
    assert!(env.leftovers().is_empty(), "{:?}", env.leftovers());
    // `save` ships it.
    let archive = env.scratch.join("built.tar");
    env.rcorch(&["save", "-o", archive.to_str().unwrap(), "built:1"])
        .ok();
    assert!(fs::metadata(&archive).unwrap().len() > 0);
}

#[test]
fn failed_run_reports_line_code_and_output_and_leaves_nothing() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = context(
        &env,
        "fail",
        "FROM busybox\nRUN true\nRUN echo first; echo oops >&2; exit 3\n",
        &[],
    );
    let before = env.leftovers();
    let out = build(&env, &ctx, &["-t", "never"]);
    assert_eq!(out.code, 1, "{out:?}");
    let file = ctx.join("Dockerfile").display().to_string();
    let want = format!("{file}:3: RUN echo first; echo oops >&2; exit 3: did not complete successfully: exit code: 3");
    assert!(out.stderr.contains(&want), "{}", out.stderr);
    assert!(out.stderr.contains("oops"), "{}", out.stderr);
    assert_eq!(env.leftovers(), before);
    assert!(!env.rcorch(&["images"]).ok().contains("never"));
    assert!(fs::read_dir(env.root.join("build"))
        .unwrap()
        .next()
        .is_none());
}

#[test]
fn bad_sources_are_refused() {
    let Some(env) = TestEnv::new() else { return };
    let outside = context(&env, "outside", "FROM busybox\nCOPY ../secret /x\n", &[]);
    let out = build(&env, &outside, &[]);
    assert!(
        out.stderr
            .contains(":2: COPY ../secret /x: ../secret: outside the build context"),
        "{}",
        out.stderr
    );
    let missing = context(&env, "missing", "FROM busybox\nCOPY nope /x\n", &[]);
    assert!(build(&env, &missing, &[])
        .stderr
        .contains("nope: not found in the build context"));
    // A symlink out of the context resolves inside it, so reads nothing outside.
    let escape = context(&env, "escape", "FROM busybox\nCOPY link /x\n", &[]);
    symlink("/etc/hostname", escape.join("link")).unwrap();
    let out = build(&env, &escape, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("link: not found in the build context"),
        "{}",
        out.stderr
    );
    // A --chmod that is neither octal nor symbolic: one error naming it.
    let df = "FROM busybox\nCOPY --chmod=u+q a /x/\n";
    let dir = context(&env, "flags", df, &[("a", "a")]);
    let out = build(&env, &dir, &[]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains(":2: COPY --chmod=u+q a /x/: --chmod=u+q: unknown permission 'q'"),
        "{out:?}"
    );
    let unknown = context(&env, "unknown", "FROM busybox\nFROBNICATE\n", &[]);
    assert!(build(&env, &unknown, &[])
        .stderr
        .contains("Dockerfile:2: unknown instruction: FROBNICATE"));
    let target = context(&env, "target", "FROM busybox AS a\n", &[]);
    assert!(build(&env, &target, &["--target", "b"])
        .stderr
        .contains("target stage \"b\" could not be found"));
    assert!(env.leftovers().is_empty());
}

#[test]
fn dockerignore_wildcards_and_add_tar() {
    let Some(env) = TestEnv::new() else { return };
    let df = "FROM busybox\nCOPY *.txt /t/\nCOPY . /all/\nADD files.tar /x/\n";
    let files = [
        ("a.txt", "a"),
        ("b.txt", "b"),
        ("c.md", "c"),
        ("README.md", "r"),
        ("d/e.md", "e"),
        (".dockerignore", "*.md\n!README.md\n"),
    ];
    let ctx = context(&env, "ignore", df, &files);
    let tar_src = env.scratch.join("tarsrc");
    fs::create_dir_all(tar_src.join("in")).unwrap();
    fs::write(tar_src.join("in/file"), "from tar").unwrap();
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&tar_src)
        .arg("-cf")
        .arg(ctx.join("files.tar"))
        .arg("in")
        .status()
        .unwrap();
    assert!(status.success());
    build(&env, &ctx, &["-t", "ign"]).ok();
    let out = run(
        &env,
        "ign",
        &[
            "sh",
            "-c",
            "ls /t; ls -a /all | sort | tr '\\n' ' '; ls /all/d; cat /x/in/file",
        ],
    );
    assert_eq!(out, "a.txt\nb.txt\n. .. .dockerignore Dockerfile README.md a.txt b.txt d files.tar e.md\nfrom tar");
}

#[test]
fn source_date_epoch_gives_the_same_id() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = context(
        &env,
        "repro",
        "FROM busybox\nCOPY f /f\nRUN echo x > /made\n",
        &[("f", "content")],
    );
    let build_at = |tag: &str| {
        let args = [
            "--root",
            env.root.to_str().unwrap(),
            "--cgroup-parent",
            &env.cgroup_parent,
            "build",
            "--network",
            "none",
            "-q",
            "-t",
            tag,
            ctx.to_str().unwrap(),
        ];
        let out = std::process::Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--propagation",
                "private",
                env!("CARGO_BIN_EXE_rcorch"),
            ])
            .args(args)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let one = build_at("r:1");
    let two = build_at("r:2");
    assert_eq!(one, two);
    assert_eq!(config(&env, &one)["created"], "2023-11-14T22:13:20Z");
}

#[test]
fn multi_stage_builds_only_needed_stages_and_copies_from_them() {
    let Some(env) = TestEnv::new() else { return };
    let df = "FROM busybox AS build\nRUN mkdir -p /out && echo built > /out/result && ln -s result /out/link\nFROM busybox AS unused\nRUN exit 1\nFROM scratch AS final\nCOPY --from=build /out /app/\nCOPY --from=0 /bin/busybox /bin/\nCOPY --from=busybox /etc/passwd /etc/passwd\nCMD [\"/bin/busybox\", \"cat\", \"/app/result\"]\n";
    let ctx = context(&env, "multi", df, &[]);
    let out = build(&env, &ctx, &["-t", "ms"]);
    out.ok();
    assert!(!out.stderr.contains("RUN exit 1"), "{}", out.stderr);
    assert_eq!(run(&env, "ms", &[]), "built");
    assert_eq!(
        run(&env, "ms", &["/bin/busybox", "readlink", "/app/link"]),
        "result"
    );
    assert!(run(&env, "ms", &["/bin/busybox", "cat", "/etc/passwd"]).starts_with("root:"));
    // --target builds the named stage (and fails here on purpose).
    let failed = build(&env, &ctx, &["--target", "unused"]);
    assert!(
        failed.stderr.contains("Dockerfile:4: RUN exit 1"),
        "{}",
        failed.stderr
    );
    let missing = context(
        &env,
        "nostage",
        "FROM busybox\nCOPY --from=nowhere /x /x\n",
        &[],
    );
    assert!(build(&env, &missing, &[])
        .stderr
        .contains("--from=nowhere: not a stage of this file"));
    assert!(env.leftovers().is_empty());
}

#[test]
fn cache_reuses_unchanged_steps_and_rebuilds_from_a_change() {
    let Some(env) = TestEnv::new() else { return };
    let df = "FROM busybox\nARG V=1\nRUN cat /proc/sys/kernel/random/uuid > /first\nCOPY f /f\nRUN cat /proc/sys/kernel/random/uuid > /second\n";
    let ctx = context(&env, "cache", df, &[("f", "one")]);
    let first = build(&env, &ctx, &["-t", "c:1"]);
    let id = first.ok();
    let uuids = |tag: &str| run(&env, tag, &["cat", "/first", "/second"]);
    let before = uuids("c:1");
    let again = build(&env, &ctx, &["-t", "c:2"]);
    assert_eq!(again.ok(), id, "an unchanged rebuild gives the same image");
    assert_eq!(
        again.stderr.matches("CACHED").count(),
        3,
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("DONE"), "{}", again.stderr);
    // One copied file changes: the first RUN stays cached, the rest reruns.
    fs::write(ctx.join("f"), "two").unwrap();
    let changed = build(&env, &ctx, &["-t", "c:3"]);
    changed.ok();
    assert_eq!(
        changed.stderr.matches("CACHED").count(),
        1,
        "{}",
        changed.stderr
    );
    let after = uuids("c:3");
    assert_eq!(after.lines().next(), before.lines().next());
    assert_ne!(after.lines().nth(1), before.lines().nth(1));
    // A build arg is part of the key.
    let arg = build(&env, &ctx, &["-t", "c:4", "--build-arg", "V=2"]);
    assert_eq!(arg.ok().len(), 71);
    assert!(!arg.stderr.contains("CACHED"), "{}", arg.stderr);
    // --no-cache runs everything; prune forgets everything.
    let nocache = build(&env, &ctx, &["-t", "c:5", "--no-cache"]);
    nocache.ok();
    assert!(!nocache.stderr.contains("CACHED"), "{}", nocache.stderr);
    assert!(env
        .rcorch(&["builder", "prune"])
        .ok()
        .starts_with("Deleted build cache"));
    let pruned = build(&env, &ctx, &["-t", "c:6"]);
    pruned.ok();
    assert!(!pruned.stderr.contains("CACHED"), "{}", pruned.stderr);
}

#[test]
fn run_mounts_cache_tmpfs_secret_bind() {
    let Some(env) = TestEnv::new() else { return };
    let df = "FROM busybox\nRUN --mount=type=cache,target=/var/cache/app,id=c1,sharing=locked echo x >> /var/cache/app/hits && wc -l < /var/cache/app/hits > /hits\nRUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && ls /scratch > /tmpfs-seen\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /tok-len && wc -c < /run/secrets/tok > /tok-len\nRUN --mount=type=secret,id=tok,env=TOKEN test \"${#TOKEN}\" = 6\nRUN --mount=type=bind,source=data,target=/mnt cat /mnt/file > /from-bind\n";
    let ctx = context(&env, "mounts", df, &[("data/file", "bound")]);
    let secret = env.scratch_file("tok", "s3cret");
    let secret_arg = format!("id=tok,src={}", secret.display());
    build(&env, &ctx, &["-t", "m:1", "--secret", &secret_arg]).ok();
    build(
        &env,
        &ctx,
        &["-t", "m:2", "--no-cache", "--secret", &secret_arg],
    )
    .ok();
    let out = run(&env, "m:2", &["sh", "-c", "cat /hits /tmpfs-seen /tok-len /from-bind; ls /scratch /run/secrets /var/cache/app 2>&1 | wc -l"]);
    assert_eq!(
        out, "2\nt\n6\nbound3",
        "cache kept between builds; tmpfs, secret and cache not in the image"
    );
    let layers = env.root.join("images/blobs/sha256");
    let leaked = std::process::Command::new("grep")
        .args(["-rl", "s3cret"])
        .arg(&layers)
        .output()
        .unwrap();
    assert!(
        leaked.stdout.is_empty(),
        "the secret is in a blob: {leaked:?}"
    );
    let ssh = context(
        &env,
        "ssh",
        "FROM busybox\nRUN --mount=type=ssh true\n",
        &[],
    );
    assert!(build(&env, &ssh, &[]).stderr.contains(
        "Dockerfile:2: RUN --mount=type=ssh true: RUN --mount=type=ssh is not supported"
    ));
    let outside = context(
        &env,
        "bindout",
        "FROM busybox\nRUN --mount=type=bind,source=../..,target=/m true\n",
        &[],
    );
    assert!(build(&env, &outside, &[])
        .stderr
        .contains("outside the build context"));
    let missing = context(
        &env,
        "nosecret",
        "FROM busybox\nRUN --mount=type=secret,id=x,required true\n",
        &[],
    );
    assert!(build(&env, &missing, &[])
        .stderr
        .contains("secret x is required"));
    assert!(env.leftovers().is_empty(), "{:?}", env.leftovers());
}

#[test]
fn a_killed_build_is_cleaned_up_by_the_next() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = context(
        &env,
        "killed",
        "FROM busybox\nRUN touch /started && sleep 30\n",
        &[],
    );
    let before = env.leftovers();
    let log = env.scratch.join("killed.log");
    let mut child = env.spawn_to(
        &[
            "build",
            "--network",
            "none",
            "-t",
            "k",
            ctx.to_str().unwrap(),
        ],
        &log,
    );
    let running = common::wait_for(std::time::Duration::from_secs(20), || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("RUN touch")
    });
    assert!(running, "{}", fs::read_to_string(&log).unwrap_or_default());
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    // The next command cleans up what the killed one left.
    let next = context(&env, "next", "FROM busybox\nRUN true\n", &[]);
    build(&env, &next, &[]).ok();
    let gone = common::wait_for(std::time::Duration::from_secs(10), || {
        env.leftovers() == before
    });
    assert!(gone, "{:?}", env.leftovers());
    assert_eq!(fs::read_dir(env.root.join("build")).unwrap().count(), 0);
    assert!(!env.rcorch(&["images"]).ok().contains("k "));
}

#[test]
fn onbuild_triggers_run_in_the_child_build() {
    let Some(env) = TestEnv::new() else { return };
    let parent = context(
        &env,
        "parent",
        "FROM busybox\nONBUILD COPY marker /marker\nONBUILD RUN echo triggered > /triggered\n",
        &[],
    );
    let id = build(&env, &parent, &["-t", "parent"]).ok();
    assert_eq!(
        config(&env, &id)["config"]["OnBuild"],
        serde_json::json!(["COPY marker /marker", "RUN echo triggered > /triggered"])
    );
    let child = context(
        &env,
        "child",
        "FROM parent\nRUN cat /marker /triggered > /both\n",
        &[("marker", "m\n")],
    );
    let child_id = build(&env, &child, &["-t", "child"]).ok();
    assert_eq!(run(&env, "child", &["cat", "/both"]), "m\ntriggered");
    assert!(config(&env, &child_id)["config"].get("OnBuild").is_none());
}

#[test]
fn heredoc_scripts_with_a_shebang_run_as_files() {
    let Some(env) = TestEnv::new() else { return };
    let df = "FROM busybox\nRUN <<EOF\n#!/bin/sh -e\necho \"ran as $0\" > /how\nEOF\nRUN <<-EOT sh\n\techo tabs stripped > /tabs\n\tEOT\n";
    let ctx = context(&env, "shebang", df, &[]);
    build(&env, &ctx, &["-t", "sb"]).ok();
    assert_eq!(
        run(&env, "sb", &["cat", "/how", "/tabs"]),
        "ran as /.rcorch-heredoc-script\ntabs stripped"
    );
    assert!(
        !run(&env, "sb", &["ls", "-a", "/"]).contains("rcorch-heredoc"),
        "the script is not in the image"
    );
}

#[test]
fn output_writes_a_loadable_archive() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = context(&env, "out", "FROM busybox\nRUN echo o > /o\n", &[]);
    let dest = env.scratch.join("img.tar");
    let spec = format!("type=docker,dest={}", dest.display());
    build(&env, &ctx, &["-t", "outimg", "-o", &spec]).ok();
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&dest)
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        names.contains("manifest.json") && names.contains("index.json"),
        "{names}"
    );
    env.rcorch(&["rmi", "outimg"]).ok();
    env.rcorch(&["load", "-i", dest.to_str().unwrap()]).ok();
    assert_eq!(run(&env, "outimg", &["cat", "/o"]), "o");
    let bad = build(&env, &ctx, &["-o", "type=registry"]);
    assert!(
        bad.stderr.contains("expected type=oci|docker,dest=FILE"),
        "{}",
        bad.stderr
    );
}
