//! Root-only: BuildKit's COPY flags and RUN bind mounts, checked in the
//! built image — `--exclude`, `--parents` (with a `/./` pivot), symbolic
//! `--chmod`, and `--mount=type=bind` from a stage or an image, or `rw`
//! (writes reach neither the context nor the layer).
//! Needs RCORCH_TEST_BUSYBOX_TAR.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::TestEnv;

fn run(env: &TestEnv, image: &str, script: &str) -> String {
    let args = [
        "run",
        "--rm",
        "--network",
        "none",
        image,
        "sh",
        "-c",
        script,
    ];
    env.rcorch(&args).ok()
}

#[test]
fn copy_exclude_parents_chmod_and_bind_mounts() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = env.scratch.join("ctx");
    let files = [
        "docs/a.txt",
        "docs/b.md",
        "docs/sub/skip",
        "docs/sub/keep",
        "home1.txt",
        "home2.log",
        "homedir/f.log",
        "homedir/g",
        "x/a.txt",
        "y/b",
        "x/deep/c.txt",
        "x/deep/d.bin",
        "run.sh",
        "tree/f",
        "tree/sub/e",
    ];
    for f in files {
        let p = ctx.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, format!("{f}\n")).unwrap();
    }
    let mode =
        |f: &str, m: u32| fs::set_permissions(ctx.join(f), fs::Permissions::from_mode(m)).unwrap();
    mode("run.sh", 0o664);
    mode("tree/f", 0o600);
    mode("tree/sub", 0o700);
    mode("tree/sub/e", 0o700);
    let df = r#"FROM busybox AS src
RUN mkdir -p /data && echo stage > /data/s
FROM busybox
COPY --exclude=*.md --exclude=sub/skip docs/ /docs/
COPY --exclude=*.log hom* /homes/
COPY --parents x/a.txt y/ /p/
COPY --parents ./x/./deep/*.txt /q/
COPY --chmod=u+x,g=r run.sh /run.sh
COPY --chmod=a+X tree/ /tree/
RUN --mount=type=bind,from=src,source=/data,target=/mnt cat /mnt/s > /from-stage
RUN --mount=type=bind,source=.,target=/ctx,rw echo scribble > /ctx/new && cat /ctx/x/a.txt > /from-ctx
RUN --mount=type=bind,from=busybox,target=/bb,rw rm /bb/bin/ls && test -e /bin/ls && echo kept > /rw-image
"#;
    fs::write(ctx.join("Dockerfile"), df).unwrap();
    let out = env.rcorch(&[
        "build",
        "--network",
        "none",
        "-t",
        "flags",
        ctx.to_str().unwrap(),
    ]);
    out.ok();
    let tree = run(
        &env,
        "flags",
        "cd / && find docs homes p q tree | sort | tr '\\n' ' '",
    );
    assert_eq!(
        tree,
        "docs docs/a.txt docs/sub docs/sub/keep homes homes/g homes/home1.txt \
         p p/x p/x/a.txt p/y p/y/b q q/deep q/deep/c.txt \
         tree tree/f tree/sub tree/sub/e"
    );
    let modes = run(
        &env,
        "flags",
        "stat -c '%n %a' /run.sh /tree/f /tree/sub /tree/sub/e",
    );
    assert_eq!(
        modes,
        "/run.sh 744\n/tree/f 600\n/tree/sub 711\n/tree/sub/e 711"
    );
    let seen = run(
        &env,
        "flags",
        "cat /from-stage /from-ctx /rw-image; ls /bb /ctx /mnt 2>&1 | wc -l",
    );
    assert_eq!(
        seen, "stage\nx/a.txt\nkept\n3",
        "mountpoints never reach the image"
    );
    assert!(
        !ctx.join("new").exists(),
        "an rw bind never writes the context"
    );
    // Changing the stage a bind shows reruns the step (the cache keys it).
    let df2 = df.replace("echo stage", "echo stage2");
    fs::write(ctx.join("Dockerfile"), df2).unwrap();
    env.rcorch(&[
        "build",
        "--network",
        "none",
        "-t",
        "flags2",
        ctx.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(run(&env, "flags2", "cat /from-stage"), "stage2");
    // A bind source outside its stage is refused, naming it.
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN --mount=type=bind,from=busybox,source=/nope,target=/m true\n",
    )
    .unwrap();
    let bad = env.rcorch(&["build", "--network", "none", ctx.to_str().unwrap()]);
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr
            .contains("bind source /nope: not found in stage or image busybox"),
        "{bad:#?}"
    );
    assert!(env.leftovers().is_empty(), "{:?}", env.leftovers());
}

#[test]
fn concurrent_builds_keep_both_cache_entries() {
    let Some(env) = TestEnv::new() else { return };
    let mut ctxs = Vec::new();
    for name in ["one", "two"] {
        let dir = env.scratch.join(name);
        fs::create_dir_all(&dir).unwrap();
        let df = format!("FROM busybox\nRUN echo {name} > /n && sleep 1\nRUN cat /n > /m\n");
        fs::write(dir.join("Dockerfile"), df).unwrap();
        ctxs.push(dir);
    }
    let builds: Vec<_> = ctxs
        .iter()
        .enumerate()
        .map(|(n, dir)| {
            let out = env.scratch.join(format!("build-{n}.log"));
            let args = ["build", "--network", "none", dir.to_str().unwrap()];
            (env.spawn_to(&args, &out), out)
        })
        .collect();
    for (mut child, log) in builds {
        let status = child.wait().unwrap();
        assert!(status.success(), "{}", fs::read_to_string(log).unwrap());
    }
    // Both builds' steps were kept: each rebuild is all cache hits.
    for dir in &ctxs {
        let out = env.rcorch(&["build", "--network", "none", dir.to_str().unwrap()]);
        out.ok();
        assert_eq!(out.stderr.matches(" CACHED").count(), 2, "{out:#?}");
        assert!(!out.stderr.contains(" DONE "), "{out:#?}");
    }
}

#[test]
fn a_dockerfiles_own_ignore_file_replaces_the_contexts() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = env.scratch.join("ign");
    fs::create_dir_all(ctx.join("docker")).unwrap();
    for f in ["a.txt", "b.txt"] {
        fs::write(ctx.join(f), f).unwrap();
    }
    fs::write(ctx.join(".dockerignore"), "a.txt\n").unwrap();
    let df = "FROM busybox\nCOPY *.txt /out/\n";
    fs::write(ctx.join("Dockerfile"), df).unwrap();
    fs::write(ctx.join("docker/app.Dockerfile"), df).unwrap();
    fs::write(ctx.join("docker/app.Dockerfile.dockerignore"), "b.txt\n").unwrap();
    let build = |tag: &str, extra: &[&str]| {
        let mut args = vec!["build", "--network", "none", "-t", tag];
        args.extend_from_slice(extra);
        args.push(ctx.to_str().unwrap());
        env.rcorch(&args).ok();
    };
    build("ign-ctx", &[]);
    assert_eq!(run(&env, "ign-ctx", "ls /out"), "b.txt");
    let own = ctx.join("docker/app.Dockerfile");
    build("ign-own", &["-f", own.to_str().unwrap()]);
    assert_eq!(
        run(&env, "ign-own", "ls /out"),
        "a.txt",
        "not merged with .dockerignore"
    );
    // --check reads the same file: COPY of b.txt is CopyIgnoredFile there.
    fs::write(&own, "FROM busybox\nCOPY b.txt /b\n").unwrap();
    let args = [
        "build",
        "--check",
        "-f",
        own.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ];
    let check = env.rcorch(&args);
    assert!(check.stderr.contains("CopyIgnoredFile"), "{check:#?}");
}

#[test]
fn copy_from_a_stage_expands_wildcards_in_the_stage() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = env.scratch.join("glob");
    fs::create_dir_all(&ctx).unwrap();
    let df = "FROM busybox AS build
RUN mkdir -p /out/sub && echo a > /out/a.so && echo b > /out/b.so && echo t > /out/c.txt \\
 && echo x > /out/sub/x.so
FROM busybox
COPY --from=build /out/*.so /lib2/
COPY --from=build /out/*/x.so /deep/
COPY --from=build --exclude=b.so /out/*.so /ex/
";
    fs::write(ctx.join("Dockerfile"), df).unwrap();
    let build = |tag: &str| {
        env.rcorch(&[
            "build",
            "--network",
            "none",
            "-t",
            tag,
            ctx.to_str().unwrap(),
        ])
    };
    build("glob").ok();
    let seen = run(&env, "glob", "ls /lib2; cat /deep/x.so; ls /ex");
    assert_eq!(seen, "a.so\nb.so\nx\na.so");
    fs::write(
        ctx.join("Dockerfile"),
        format!("{df}COPY --from=build /out/*.h /h/\n"),
    )
    .unwrap();
    let none = build("glob2");
    assert_ne!(none.code, 0);
    assert!(
        none.stderr
            .contains("/out/*.h: not found in the source stage"),
        "{none:#?}"
    );
}
