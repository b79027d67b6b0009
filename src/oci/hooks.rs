//! The hooks the runtime runs on the host (prestart, createRuntime,
//! poststart, poststop) and what a failing one means at each stage.

use super::spec_map::HookRecord;
use super::OciError;

/// Whether a failing hook at `stage` stops the lifecycle. The spec: a
/// failing prestart/createRuntime hook is an error (the container is torn
/// down); a failing poststart or poststop hook is a warning, and the
/// remaining hooks still run.
pub(super) fn hook_failure_is_fatal(stage: &str) -> bool {
    !matches!(stage, "poststart" | "poststop")
}

/// Runs `hooks` in order. At a fatal stage the first failure is the
/// error; otherwise every hook runs and each failure is printed as a
/// warning (returned too, for the caller's tests).
pub(super) fn run_host_hooks(
    stage: &str,
    hooks: &[HookRecord],
    state: &[u8],
) -> Result<Vec<String>, OciError> {
    let mut warnings = Vec::new();
    for hook in hooks {
        if let Err(e) = crate::runtime::hooks::run(&hook.hook(), state) {
            let message = format!("{stage} {e}");
            if hook_failure_is_fatal(stage) {
                return Err(OciError::Start(message));
            }
            eprintln!("rcorch-runtime: warning: {message}");
            warnings.push(message);
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: String) -> HookRecord {
        HookRecord {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script],
            ..HookRecord::default()
        }
    }

    #[test]
    fn a_failing_post_hook_warns_and_the_next_one_still_runs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let hooks = [
            sh("exit 3".into()),
            sh(format!("echo ran >> {}", out.display())),
        ];
        for stage in ["poststart", "poststop"] {
            let warnings = run_host_hooks(stage, &hooks, b"{}").unwrap();
            assert_eq!(warnings.len(), 1, "{stage}: {warnings:?}");
            assert!(warnings[0].contains("exited with status 3"), "{warnings:?}");
        }
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "ran\nran\n");
    }

    #[test]
    fn a_failing_prestart_hook_stops_the_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let hooks = [
            sh("exit 3".into()),
            sh(format!("echo ran >> {}", out.display())),
        ];
        for stage in ["prestart", "createRuntime"] {
            let err = run_host_hooks(stage, &hooks, b"{}").unwrap_err();
            assert!(err.to_string().contains(stage), "{err}");
        }
        assert!(!out.exists());
    }
}
