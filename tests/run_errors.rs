//! Root-only: exit codes of `run`, and bad input that must fail cleanly
//! (exit 125/127, one clear message, nothing left behind).

mod common;

use common::{assert_unchanged, Output, TestEnv};

#[test]
fn exit_codes_pass_through() {
    let Some(env) = TestEnv::new() else { return };
    assert_eq!(env.run_busybox(&[], &["true"]).code, 0);
    assert_eq!(env.run_busybox(&[], &["sh", "-c", "exit 3"]).code, 3);
    assert_eq!(env.run_busybox(&[], &["false"]).code, 1);
}

#[test]
fn unknown_command_is_127() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.run_busybox(&[], &["no-such-command"]);
    assert_eq!(out.code, 127, "{out:?}");
    assert!(out.stderr.contains("no-such-command"), "{out:?}");
}

#[test]
fn non_executable_file_is_126() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.run_busybox(&[], &["/etc/passwd"]);
    assert_eq!(out.code, 126, "{out:?}");
    assert!(out.stderr.contains("/etc/passwd"), "{out:?}");
}

#[test]
fn self_kill_is_128_plus_signal() {
    let Some(env) = TestEnv::new() else { return };
    // PID 1 cannot SIGKILL itself from inside its namespace, so let --init
    // be PID 1 and the shell a normal process.
    let out = env.run_busybox(&["--init"], &["sh", "-c", "kill -9 $$"]);
    assert_eq!(out.code, 137, "{out:?}");
    let out = env.run_busybox(&["--init"], &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.code, 143, "{out:?}");
}

#[test]
fn bad_option_is_125() {
    let Some(env) = TestEnv::new() else { return };
    let out = assert_unchanged(&env, || env.rcorch(&["run", "--no-such-flag", "busybox"]));
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("--no-such-flag"), "{out:?}");
}

/// Exit code `code`, exactly one stderr line mentioning `needle`, nothing on
/// stdout.
#[track_caller]
fn assert_one_error(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.code, code, "{out:?}");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line: {out:?}");
    assert!(
        lines[0].contains(needle),
        "message should name {needle:?}: {out:?}"
    );
    assert_eq!(out.stdout.trim(), "", "{out:?}");
}

/// Runs `run ARGS...` (detached, so a success would not block) and checks it
/// fails with one message and changes nothing.
#[track_caller]
fn assert_rejected(env: &TestEnv, args: &[&str], code: i32, needle: &str) {
    let mut full = vec!["run"];
    full.extend_from_slice(args);
    let out = assert_unchanged(env, || env.rcorch(&full));
    assert_one_error(&out, code, needle);
}

#[test]
fn invalid_memory_size() {
    let Some(env) = TestEnv::new() else { return };
    assert_rejected(
        &env,
        &["-d", "--memory", "12q", "busybox", "true"],
        125,
        "12q",
    );
}

#[test]
fn unknown_image() {
    let Some(env) = TestEnv::new() else { return };
    assert_rejected(&env, &["-d", "no-such-image", "true"], 125, "no-such-image");
}

#[test]
fn duplicate_name() {
    let Some(env) = TestEnv::new() else { return };
    env.run_detached(&["--name", "taken"], &["sleep", "30"]);
    let args = ["-d", "--name", "taken", "busybox", "true"];
    assert_rejected(&env, &args, 125, "taken");
    assert_eq!(env.inspect("taken")["State"]["Running"], true);
}

#[test]
fn missing_bind_source() {
    let Some(env) = TestEnv::new() else { return };
    let src = env.scratch.join("does-not-exist");
    let vol = format!("{}:/data", src.display());
    let args = ["-d", "-v", &vol, "busybox", "true"];
    assert_rejected(&env, &args, 125, src.to_str().unwrap());
    assert!(!src.exists(), "rcorch created the missing bind source");
}

#[test]
fn invalid_volume_spec() {
    let Some(env) = TestEnv::new() else { return };
    for spec in ["nocolon", "b@d:/data", "/tmp:relative", "/tmp:/data:rx"] {
        assert_rejected(&env, &["-d", "-v", spec, "busybox", "true"], 125, spec);
    }
}

#[test]
fn too_many_cpus() {
    let Some(env) = TestEnv::new() else { return };
    assert_rejected(&env, &["-d", "--cpus", "99", "busybox", "true"], 125, "99");
}

#[test]
fn nonexistent_command_with_rm() {
    let Some(env) = TestEnv::new() else { return };
    let args = ["--rm", "busybox", "no-such-command"];
    assert_rejected(&env, &args, 127, "no-such-command");
}

#[test]
fn nonexistent_command_detached_with_rm() {
    let Some(env) = TestEnv::new() else { return };
    let args = ["-d", "--rm", "busybox", "no-such-command"];
    assert_rejected(&env, &args, 127, "no-such-command");
}

#[test]
fn a_nul_byte_in_an_env_file_is_refused_not_dropped() {
    let Some(env) = TestEnv::new() else { return };
    let file = env.scratch_file("nul.env", "A=1\nB=x\0y\n");
    let file = file.to_str().unwrap().to_string();
    assert_rejected(&env, &["--env-file", &file, "busybox", "true"], 125, "NUL");
}

/// (run arguments after `-d`, text the one error line must contain).
/// Bad values, including ones starting with '-' (Docker's flag parser
/// gives them to the flag, whose own check refuses them), and Docker
/// flags rcorch lacks: one line each, exit 125, nothing created.
const REFUSED: &[(&[&str], &str)] = &[
    (&["--memory", "-1"], "\"-1\""),
    (&["--cpus", "-1"], "\"-1\""),
    (&["--name", "-x"], "\"-x\""),
    (&["--health-cmd", "true", "--health-interval", "-1s"], "-1s"),
    (&["--stop-timeout", "-5"], "-5"),
    (&["--ipc", "host"], "--ipc flag is not implemented"),
    (&["--detatch"], "did you mean --detach?"),
    (&["-p", "65536:80"], "65536:80"),
    (&["-p", "8080-8081:80"], "8080-8081:80"),
    (&["-p", "80:80/sctpx"], "80:80/sctpx"),
    (&["--memory", "1x"], "1x"),
    (&["--cpus", "abc"], "abc"),
    (&["--pids-limit", "abc"], "abc"),
    (&["--ulimit", "nofile=10:5"], "nofile"),
    (&["-e", "=x"], "=x"),
    (&["--env-file", "/nonexistent.env"], "/nonexistent.env"),
    (&["--name", "a b"], "a b"),
    (&["--network", "nonet"], "nonet"),
    (&["--mount", "type=bind,src=/tmp,dst=/x,bogus=1"], "bogus"),
    (&["--tmpfs", "/x:bogus"], "bogus"),
    (&["--restart", "always:3"], "always:3"),
    (&["--user", "nosuchuser"], "nosuchuser"),
    (&["-w", "rel"], "rel"),
    (&["--device", "/dev/nonexistent"], "/dev/nonexistent"),
    (&["--sysctl", "kernel.hostname=x"], "kernel.hostname"),
    (&["--add-host", "h:notanip"], "h:notanip"),
    (&["--stop-signal", "BAD"], "BAD"),
];

#[test]
fn bad_flags_are_one_line_and_change_nothing() {
    let Some(env) = TestEnv::new() else { return };
    for (flags, needle) in REFUSED {
        let mut args = vec!["-d"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        assert_rejected(&env, &args, 125, needle);
    }
}

#[test]
fn a_negative_value_the_flag_accepts_is_taken_as_docker_takes_it() {
    let Some(env) = TestEnv::new() else { return };
    let args = ["--pids-limit", "-1", "--memory-swap", "-1", "-m", "32m"];
    assert_eq!(env.run_busybox(&args, &["true"]).code, 0);
}

#[test]
fn a_file_bound_over_a_directory_is_refused_before_a_record_exists() {
    let Some(env) = TestEnv::new() else { return };
    let args = ["-d", "-v", "/etc/passwd:/etc", "busybox", "true"];
    assert_rejected(&env, &args, 125, "cannot bind /etc/passwd onto /etc");
    let dir = env.scratch.to_str().unwrap().to_string();
    let over_file = format!("{dir}:/etc/passwd");
    let args = ["-d", "-v", &over_file, "busybox", "true"];
    assert_rejected(&env, &args, 125, "the target is a file in the image");
    assert_eq!(env.rcorch(&["ps", "-aq"]).stdout.trim(), "");
}
