//! OCI hooks: a program run with the container's state on its stdin, killed
//! if it outlives its timeout. Used by the OCI front end on the host
//! (prestart, createRuntime, poststart, poststop) and by the init in the
//! container's namespaces (createContainer, startContainer).

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub path: PathBuf,
    /// argv, argv[0] included (the spec's `args`); empty: just the path.
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<Duration>,
}

/// Runs `hook` to completion; the error says which hook and why.
pub fn run(hook: &Hook, state: &[u8]) -> Result<(), String> {
    let mut command = Command::new(&hook.path);
    if let Some((arg0, rest)) = hook.args.split_first() {
        command.arg0(arg0).args(rest);
    }
    command.env_clear();
    for entry in &hook.env {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        command.env(key, value);
    }
    command.stdin(Stdio::piped()).stdout(Stdio::null());
    let name = hook.path.display();
    let mut child = command
        .spawn()
        .map_err(|e| format!("hook {name}: cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state may close stdin early.
        let _ = stdin.write_all(state);
    }
    let deadline = hook.timeout.map(|t| Instant::now() + t);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(format!("hook {name}: wait: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("hook {name}: timed out"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(format!("hook {name}: exited with status {code}")),
        (None, Some(signal)) => Err(format!("hook {name}: killed by signal {signal}")),
        _ => Err(format!("hook {name}: failed")),
    }
}

/// Runs `hooks` in order, stopping at the first failure.
pub fn run_all(hooks: &[Hook], state: &[u8]) -> Result<(), String> {
    hooks.iter().try_for_each(|hook| run(hook, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Option<Duration>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["GREETING=hi".into()],
            timeout,
        }
    }

    #[test]
    fn hook_gets_state_on_stdin_and_its_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {0}; echo \" $GREETING\" >> {0}", out.display());
        run(&sh(&script, None), b"{\"id\":\"x\"}").unwrap();
        let got = std::fs::read_to_string(out).unwrap();
        assert_eq!(got, "{\"id\":\"x\"} hi\n");
    }

    #[test]
    fn failing_and_slow_hooks_are_errors() {
        let err = run(&sh("exit 3", None), b"").unwrap_err();
        assert!(err.contains("status 3"), "{err}");
        let err = run(&sh("sleep 5", Some(Duration::from_millis(100))), b"").unwrap_err();
        assert!(err.contains("timed out"), "{err}");
    }
}
