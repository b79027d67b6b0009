//! Root-only: `rcorch build`'s plain progress as BuildKit writes it — each
//! step `#N [STAGE K/TOTAL] …`, a RUN's output on stderr as `#N SECS text`
//! (never on stdout, which carries the image id), `-q` silent; on a
//! terminal the live view, redrawn in place.
//! Needs RCORCH_TEST_BUSYBOX_TAR.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");

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

/// `rcorch ARGS` on a pty made by script(1), in the test's namespaces:
/// its exit code and everything it wrote to the terminal.
fn build_on_a_pty(env: &TestEnv, args: &[&str]) -> (Option<i32>, String) {
    let line = format!(
        "unshare --net --mount --propagation private {BIN} --root {} --cgroup-parent {} {}",
        env.root.display(),
        env.cgroup_parent,
        args.join(" ")
    );
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("BUILDKIT_PROGRESS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script(1)");
    // The pty's input stays open (script ends its command at EOF).
    let stdin = child.stdin.take();
    let mut out = String::new();
    let mut reader = child.stdout.take().unwrap();
    let _ = std::io::Read::read_to_string(&mut reader, &mut out);
    let code = common::wait_timeout(&mut child, Duration::from_secs(120));
    drop(stdin);
    (code, out)
}

#[test]
fn on_a_terminal_the_live_view_redraws_steps_times_and_the_running_output() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = env.scratch.join("live");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN for i in 1 2 3; do echo tick$i; sleep 0.4; done\nRUN echo second\n",
    )
    .unwrap();
    let context = ctx.to_str().unwrap();
    let args = ["build", "--network", "none", "-t", "live", context];
    let (code, out) = build_on_a_pty(&env, &args);
    assert_eq!(code, Some(0), "{out}");
    // Redrawn in place: back up over the last frame, clear below.
    assert!(out.contains("\x1b[J") && out.contains("F\x1b[J"), "{out:?}");
    assert!(out.contains("[+] Building "), "{out}");
    assert!(out.contains(" => [1/3] FROM busybox"), "{out}");
    // The running step's output in its tail, not as plain `#2 0.123` lines.
    assert!(out.contains(" => => # tick2"), "{out}");
    assert!(!out.contains("#2 0."), "{out}");
    let last = out.rsplit("\x1b[J").next().unwrap();
    let rows: Vec<&str> = last.lines().map(str::trim_end).collect();
    assert!(rows[0].ends_with("(3/3) FINISHED"), "{last}");
    assert!(rows[2].starts_with(" => [2/3] RUN for i in"), "{last}");
    assert!(
        rows[2].ends_with('s') && !rows[2].ends_with(" 0.0s"),
        "{last}"
    );
    assert!(
        !last.contains(" => => #"),
        "the last frame has no tail: {last}"
    );
    // An unchanged rebuild: each step CACHED.
    let (code, out) = build_on_a_pty(&env, &args);
    assert_eq!(code, Some(0), "{out}");
    let last = out.rsplit("\x1b[J").next().unwrap();
    assert!(last.contains(" => CACHED [2/3] RUN for i in"), "{last}");
    assert!(last.contains(" => CACHED [3/3] RUN echo second"), "{last}");
    // --progress plain on a terminal: the plain lines.
    let plain = [
        "build",
        "--network",
        "none",
        "--progress",
        "plain",
        "--no-cache",
        context,
    ];
    let (code, out) = build_on_a_pty(&env, &plain);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("#2 DONE") && !out.contains("[+] Building"),
        "{out}"
    );
}

#[test]
fn a_failed_step_ends_the_live_view_with_error_and_tty_needs_a_terminal() {
    let Some(env) = TestEnv::new() else { return };
    let ctx = env.scratch.join("fail");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo about to fail; exit 3\n",
    )
    .unwrap();
    let context = ctx.to_str().unwrap();
    let (code, out) = build_on_a_pty(&env, &["build", "--network", "none", context]);
    assert_eq!(code, Some(1), "{out}");
    let last = out.rsplit("\x1b[J").next().unwrap();
    assert!(last.contains("(2/2) ERROR"), "{last}");
    assert!(
        last.contains(" => ERROR [2/2] RUN echo about to fail"),
        "{last}"
    );
    assert!(
        last.contains("exit code: 3") && last.contains("about to fail"),
        "{last}"
    );
    // Asked for, the live view needs a terminal: one line, nothing built.
    let out = env.rcorch(&["build", "--progress", "tty", context]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("not a terminal"), "{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
}
