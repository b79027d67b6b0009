//! Root-only: Docker's exit codes, verb by verb (README, "Exit codes").
//! Every verb given a missing object exits 1 with one line naming it;
//! `run` exits 125 for its own errors, 126/127 when the command cannot be
//! invoked / is not found, as `exec` does inside a running container.

mod common;

use common::TestEnv;

/// (arguments, exit code, text the one-line message must contain)
const MISSING: &[(&[&str], i32, &str)] = &[
    (&["stop", "ghost"], 1, "no such container: ghost"),
    (&["kill", "ghost"], 1, "no such container: ghost"),
    (&["rm", "ghost"], 1, "no such container: ghost"),
    (&["inspect", "ghost"], 1, "no such container: ghost"),
    (&["logs", "ghost"], 1, "no such container: ghost"),
    (&["exec", "ghost", "true"], 1, "no such container: ghost"),
    (&["port", "ghost"], 1, "no such container: ghost"),
    (&["stats", "--no-stream", "ghost"], 1, "ghost"),
    (&["network", "inspect", "nonet"], 1, "nonet"),
    (&["network", "rm", "nonet"], 1, "nonet"),
    (&["network", "connect", "nonet", "ghost"], 1, "ghost"),
    (&["network", "disconnect", "nonet", "ghost"], 1, "ghost"),
    (&["volume", "inspect", "novol"], 1, "novol"),
    (&["volume", "rm", "novol"], 1, "novol"),
    (&["rmi", "noimg"], 1, "noimg"),
    (&["image", "inspect", "noimg"], 1, "noimg"),
    (&["tag", "noimg", "other"], 1, "noimg"),
    (&["run", "--rm", "noimg", "true"], 125, "noimg"),
];

#[test]
fn every_verb_exits_as_docker_does_on_a_missing_object() {
    let Some(env) = TestEnv::new() else { return };
    assert_table(&env, MISSING);
}

#[test]
fn a_command_that_cannot_run_is_126_or_127_from_run_and_exec() {
    let Some(env) = TestEnv::new() else { return };
    let run = |cmd: &str| env.rcorch(&["run", "--rm", "--network", "none", "busybox", cmd]);
    assert_eq!(run("/no/such").code, 127, "{:?}", run("/no/such"));
    assert_eq!(run("/etc").code, 126, "{:?}", run("/etc"));
    let id = env.run_detached(&["--network", "none"], &["sleep", "30"]);
    let exec = |cmd: &str| env.rcorch(&["exec", &id, cmd]);
    let missing = exec("/no/such");
    assert_eq!(missing.code, 127, "{missing:?}");
    assert!(missing.stderr.contains("/no/such"), "{missing:?}");
    assert_eq!(exec("/etc").code, 126, "{:?}", exec("/etc"));
    assert_eq!(env.rcorch(&["exec", &id, "sh", "-c", "exit 3"]).code, 3);
    env.rcorch(&["stop", "-t", "0", &id]).ok();
    let stopped = env.rcorch(&["exec", &id, "true"]);
    assert_eq!(stopped.code, 1, "exec in a stopped container: {stopped:?}");
    env.rcorch(&["rm", &id]).ok();
}

/// A verb's own bad input: (arguments, exit code, text of the one line).
/// A command line that does not parse is 125 on every verb, in one line
/// (no clap usage block or `-- --x` tip).
const BAD_INPUT: &[(&[&str], i32, &str)] = &[
    (&["kill", "-s", "BAD", "ghost"], 1, "BAD"),
    (&["load", "-i", "/etc/passwd"], 1, "not a tar stream"),
    (&["import", "/etc/passwd", "x"], 1, "not a tar stream"),
    (
        &["save", "-o", "/nonexistent-dir/x.tar", "busybox"],
        1,
        "cannot write /nonexistent-dir/x.tar:",
    ),
    (
        &["network", "create", "--subnet", "10.0.0.0/33", "n1"],
        1,
        "10.0.0.0/33",
    ),
    (
        &[
            "network",
            "create",
            "--subnet",
            "10.77.0.0/24",
            "--gateway",
            "10.78.0.1",
            "n1",
        ],
        1,
        "10.78.0.1",
    ),
    (&["network", "create", "bad name"], 1, "bad name"),
    (&["volume", "create", "a/b"], 1, "a/b"),
    (&["tag", "busybox", "a:b:c"], 1, "a:b:c"),
    (&["ps", "--filter", "bogus=1"], 1, "bogus"),
    (
        &["stop", "--bogus", "ghost"],
        125,
        "stop: unknown flag --bogus (see 'rcorch stop --help')",
    ),
    (&["update", "--cpus", "-1", "ghost"], 1, "ghost"),
    (&["save", "busybox"], 125, "--output"),
    (&["nosuchverb"], 125, "nosuchverb"),
];

#[test]
fn a_verbs_bad_input_is_one_line_with_dockers_code() {
    let Some(env) = TestEnv::new() else { return };
    assert_table(&env, BAD_INPUT);
}

/// Runs each (args, exit code, text) row; every row must exit with its code
/// and print one line containing its text. Lists all rows that do not.
fn assert_table(env: &TestEnv, table: &[(&[&str], i32, &str)]) {
    let mut wrong = Vec::new();
    for (args, code, text) in table {
        let out = env.rcorch(args);
        let one_line = out.stderr.trim().lines().count() == 1;
        if out.code != *code || !out.stderr.contains(text) || !one_line {
            wrong.push(format!(
                "{args:?}: want {code} and {text:?}, got {} {:?}",
                out.code, out.stderr
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
