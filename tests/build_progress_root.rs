//! Root-only: `rcorch build`'s plain progress as BuildKit writes it — each
//! step `#N [STAGE K/TOTAL] …`, a RUN's output on stderr as `#N SECS text`
//! (never on stdout, which carries the image id), `-q` silent.
//! Needs RCORCH_TEST_BUSYBOX_TAR.

mod common;

use std::fs;

use common::TestEnv;

const DOCKERFILE: &str = "FROM busybox AS build
RUN echo compiling && echo warn >&2 && printf 'no newline'
FROM busybox
COPY --from=build /bin/busybox /bb
RUN echo final
";

/// Whether `line` is `#STEP SECS TEXT` with SECS like `0.123`.
fn timed(line: &str, step: &str, text: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("#{step} ")) else {
        return false;
    };
    let Some((secs, said)) = rest.split_once(' ') else {
        return false;
    };
    let frac = secs.split_once('.').map(|(_, f)| f.len());
    said == text && frac == Some(3) && secs.parse::<f64>().is_ok()
}

#[test]
fn plain_progress_numbers_steps_and_prefixes_run_output() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = env.scratch.join("progress");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    let args = [
        "build",
        "--network",
        "none",
        "--progress",
        "plain",
        "-t",
        "pr",
    ];
    let mut argv = args.to_vec();
    argv.push(ctx.to_str().unwrap());
    let out = env.rcorch(&argv);
    out.ok();
    let err: Vec<&str> = out.stderr.lines().collect();
    let has = |l: &str| err.contains(&l);
    assert!(has("#1 [build 1/2] FROM busybox"), "{}", out.stderr);
    assert!(
        has("#2 [build 2/2] RUN echo compiling && echo warn >&2 && printf 'no newline'"),
        "{}",
        out.stderr
    );
    assert!(has("#3 [stage-1 1/3] FROM busybox"), "{}", out.stderr);
    assert!(has("#5 [stage-1 3/3] RUN echo final"), "{}", out.stderr);
    for (step, text) in [
        ("2", "compiling"),
        ("2", "warn"),
        ("2", "no newline"),
        ("5", "final"),
    ] {
        assert!(
            err.iter().any(|l| timed(l, step, text)),
            "#{step} {text}: {}",
            out.stderr
        );
    }
    assert!(
        !out.stdout.contains("compiling"),
        "RUN output stays off stdout: {out:#?}"
    );
    assert!(out.stdout.trim().starts_with("sha256:"), "{out:#?}");
    // -q: only the id, nothing on stderr from the steps.
    let mut quiet = argv.clone();
    quiet.insert(1, "--no-cache");
    quiet.insert(1, "-q");
    let q = env.rcorch(&quiet);
    q.ok();
    assert!(
        !q.stderr.contains("compiling") && !q.stderr.contains('#'),
        "{q:#?}"
    );
    assert_eq!(q.stdout.trim().lines().count(), 1, "{q:#?}");
}
