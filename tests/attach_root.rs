//! Root-only: `attach` to a detached container: its new output on our
//! stdout/stderr and its exit code as ours, our input into its stdin
//! (`-i`), our signals forwarded (`--sig-proxy`), `--no-stdin`, and the
//! detach keys of a TTY container; and `run`'s `--sig-proxy=false` and
//! `--detach-keys`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use common::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");
const WAIT: Duration = Duration::from_secs(30);

/// rcorch ARGS with piped streams; its stdout lines arrive on the channel.
struct Attached {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

fn attach(env: &TestEnv, args: &[&str]) -> Attached {
    let mut child = Command::new(BIN)
        .arg("--root")
        .arg(&env.root)
        .arg("--cgroup-parent")
        .arg(&env.cgroup_parent)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rcorch");
    let (tx, lines) = channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    Attached {
        stdin: child.stdin.take(),
        child,
        lines,
        stderr,
    }
}

impl Attached {
    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    #[track_caller]
    fn expect_line(&self, want: &str) {
        let line = self.lines.recv_timeout(WAIT).expect("a line in time");
        assert_eq!(line, want);
    }

    /// Exit code (None: killed by a signal), the rest of stdout, stderr.
    fn finish(mut self) -> (Option<i32>, Vec<String>, String) {
        drop(self.stdin.take());
        let code = common::wait_timeout(&mut self.child, WAIT);
        if code.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            panic!("attach did not end");
        }
        let status = self.child.wait().unwrap();
        let rest = self.lines.try_iter().collect();
        (status.code(), rest, self.stderr.join().unwrap())
    }
}

fn detached(env: &TestEnv, name: &str, opts: &[&str], script: &str) {
    let mut args = vec!["--name", name, "--network", "none"];
    args.extend_from_slice(opts);
    env.run_detached(&args, &["sh", "-c", script]);
}

#[test]
fn attach_sends_input_and_streams_output_until_the_exit_code() {
    let Some(env) = TestEnv::new() else { return };
    let script = "read a; echo \"got $a\"; echo warn >&2; read b; echo \"got $b\"; exit 7";
    detached(&env, "talk", &["-i"], script);
    let mut a = attach(&env, &["attach", "talk"]);
    a.send("one\n");
    a.expect_line("got one");
    a.send("two\n");
    let (code, rest, stderr) = a.finish();
    assert_eq!(code, Some(7));
    assert_eq!(rest, ["got two"]);
    assert_eq!(stderr, "warn\n");
}

#[test]
fn attach_forwards_signals_unless_sig_proxy_is_false() {
    let Some(env) = TestEnv::new() else { return };
    let script = "trap 'echo term; exit 3' TERM; while read l; do echo \"$l\"; done";
    detached(&env, "sig", &["-i"], script);
    let mut quiet = attach(&env, &["attach", "--sig-proxy=false", "sig"]);
    quiet.send("first\n");
    quiet.expect_line("first");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(quiet.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (code, _, _) = quiet.finish();
    assert_eq!(code, None, "attach itself was terminated");
    assert_eq!(env.inspect("sig")["State"]["Running"], true);

    let mut proxy = attach(&env, &["attach", "sig"]);
    proxy.send("second\n");
    proxy.expect_line("second");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(proxy.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (code, rest, _) = proxy.finish();
    assert_eq!(rest, ["term"], "the container got SIGTERM");
    assert_eq!(code, Some(3));
}

#[test]
fn no_stdin_keeps_our_input_from_the_container() {
    let Some(env) = TestEnv::new() else { return };
    detached(&env, "nin", &["-i"], "read l; echo \"got $l\"; exit 5");
    let mut watcher = attach(&env, &["attach", "--no-stdin", "nin"]);
    watcher.send("not-this\n");
    let mut writer = attach(&env, &["attach", "nin"]);
    writer.send("this\n");
    writer.expect_line("got this");
    let (code, _, _) = writer.finish();
    assert_eq!(code, Some(5));
    let (code, rest, _) = watcher.finish();
    assert_eq!(code, Some(5));
    assert!(!rest.iter().any(|l| l.contains("not-this")), "{rest:?}");
    let logs = env.rcorch(&["logs", "nin"]).ok();
    assert_eq!(logs, "got this");
}

#[test]
fn attach_refuses_a_stopped_container_and_bad_keys_with_one_line() {
    let Some(env) = TestEnv::new() else { return };
    let out = env.rcorch(&[
        "run",
        "--name",
        "done",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = env.rcorch(&["attach", "done"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("stopped container"), "{out:?}");
    detached(&env, "up", &[], "sleep 30");
    for (flags, word) in [
        (&["--detach-keys", "ctrl-1"][..], "ctrl-1"),
        (&["--sig-proxy=maybe"][..], "maybe"),
    ] {
        let out = env.rcorch(&[&["attach"][..], flags, &["up"]].concat());
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stderr.contains(word), "{out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    }
}

/// `COMMAND` run on a pty by script(1), `input` typed into it.
fn on_a_pty(command: &str, input: &[u8]) -> (Option<i32>, String) {
    let mut child = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script(1)");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Keep the pty's input open until the command ends.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        let _ = stdin.flush();
        std::thread::sleep(Duration::from_secs(5));
        drop(stdin);
    });
    let mut out = String::new();
    let mut reader = child.stdout.take().unwrap();
    let _ = std::io::Read::read_to_string(&mut reader, &mut out);
    let code = common::wait_timeout(&mut child, WAIT);
    let _ = writer.join();
    (code, out)
}

fn shell_line(env: &TestEnv, args: &[&str]) -> String {
    format!(
        "{BIN} --root {} --cgroup-parent {} {}",
        env.root.display(),
        env.cgroup_parent,
        args.join(" ")
    )
}

#[test]
fn a_tty_container_takes_typed_input_and_the_detach_keys_leave_it_running() {
    let Some(env) = TestEnv::new() else { return };
    detached(
        &env,
        "term",
        &["-it"],
        "while read l; do echo \"seen $l\"; done",
    );
    let command = shell_line(&env, &["attach", "--detach-keys", "ctrl-a,d", "term"]);
    let (code, out) = on_a_pty(&command, b"hello\r\x01d");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("read escape sequence"), "{out}");
    assert_eq!(env.inspect("term")["State"]["Running"], true);
    assert!(common::wait_for(WAIT, || env
        .rcorch(&["logs", "term"])
        .stdout
        .contains("seen hello")));
}

#[test]
fn run_with_sig_proxy_false_leaves_the_container_running_when_signalled() {
    let Some(env) = TestEnv::new() else { return };
    let base = ["--network", "none", "--name"];
    let out = env.rcorch(
        &[
            &["run", "--rm", "--sig-proxy=false"][..],
            &base,
            &[
                "quick",
                "busybox",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 4",
            ],
        ]
        .concat(),
    );
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (4, "out\n", "err\n")
    );
    assert_eq!(env.rcorch(&["ps", "-aq"]).ok(), "", "--rm removed it");
    let script = "trap 'echo term; exit 3' TERM; while read l; do echo \"$l\"; done";
    let args = [
        &["run", "-i", "--sig-proxy=false"][..],
        &base,
        &["stays", "busybox", "sh", "-c", script],
    ]
    .concat();
    let mut run = attach(&env, &args);
    run.send("up\n");
    run.expect_line("up");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (code, _, _) = run.finish();
    assert_eq!(code, None, "run itself was terminated");
    assert_eq!(env.inspect("stays")["State"]["Running"], true);
    // A later attach still reaches it, input and all.
    let mut again = attach(&env, &["attach", "--sig-proxy=false", "stays"]);
    again.send("back\n");
    again.expect_line("back");
    env.rcorch(&["kill", "-s", "TERM", "stays"]).ok();
    let (code, rest, _) = again.finish();
    assert_eq!((code, rest), (Some(3), vec!["term".to_string()]));
}

#[test]
fn run_detach_keys_leave_a_tty_container_running() {
    let Some(env) = TestEnv::new() else { return };
    let command = format!(
        "unshare --net --mount --propagation private {}",
        shell_line(
            &env,
            &[
                "run",
                "-it",
                "--name",
                "tt",
                "--network",
                "none",
                "--detach-keys",
                "ctrl-a,d",
                "busybox",
                "sh"
            ]
        )
    );
    let (code, out) = on_a_pty(&command, b"echo hi-$((2+2))\r\x01d");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("read escape sequence"), "{out}");
    assert_eq!(env.inspect("tt")["State"]["Running"], true);
    // The typed line reached the shell before the detach.
    assert!(common::wait_for(WAIT, || env
        .rcorch(&["logs", "tt"])
        .stdout
        .contains("hi-4")));
    let logs = env.rcorch(&["logs", "tt"]).ok();
    assert!(
        logs.contains("/ # "),
        "a TTY's prompt is logged as it comes: {logs}"
    );
}

#[test]
fn start_a_of_a_running_container_attaches_as_docker() {
    let Some(env) = TestEnv::new() else { return };
    detached(&env, "sa", &["-i"], "read l; echo \"got $l\"; exit 2");
    let mut a = attach(&env, &["start", "-a", "-i", "sa"]);
    a.send("x\n");
    a.expect_line("got x");
    let (code, _, _) = a.finish();
    assert_eq!(code, Some(2));
}
