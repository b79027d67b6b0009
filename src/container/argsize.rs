//! What execve accepts: each argument or `KEY=VALUE` at most MAX_ARG_STRLEN
//! bytes (with its NUL), and all of them together well under ARG_MAX. A
//! container that breaks these could never start (E2BIG), so it is refused
//! before anything is created, naming the variable.

/// Linux's MAX_ARG_STRLEN: 32 pages, counting the terminating NUL.
pub const MAX_ARG_STRLEN: usize = 32 * 4096;
/// The total rcorch allows: a quarter of the usual 8 MiB stack, ARG_MAX's default.
pub const MAX_TOTAL: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgSizeError {
    #[error("environment variable {key} is {len} bytes; Linux passes at most {} bytes per variable to a program", MAX_ARG_STRLEN - 1)]
    EnvTooLong { key: String, len: usize },
    #[error("argument {index} is {len} bytes; Linux passes at most {} bytes per argument", MAX_ARG_STRLEN - 1)]
    ArgTooLong { index: usize, len: usize },
    #[error("arguments and environment total {total} bytes; Linux passes at most about {MAX_TOTAL} bytes to a program")]
    TooLarge { total: usize },
    /// execve's strings end at the first NUL: the rest would be lost.
    #[error(
        "environment variable {key} contains a NUL byte, which no program can receive; remove it"
    )]
    EnvNul { key: String },
    #[error("argument {index} contains a NUL byte, which no program can receive; remove it")]
    ArgNul { index: usize },
}

/// Checks a command line and environment (`KEY=VALUE` entries).
pub fn check(args: &[String], env: &[String]) -> Result<(), ArgSizeError> {
    if let Some(index) = args.iter().position(|a| a.contains('\0')) {
        return Err(ArgSizeError::ArgNul { index });
    }
    if let Some(e) = env.iter().find(|e| e.contains('\0')) {
        let key = e.split('=').next().unwrap_or_default().to_string();
        return Err(ArgSizeError::EnvNul { key });
    }
    for (index, a) in args.iter().enumerate() {
        if a.len() >= MAX_ARG_STRLEN {
            return Err(ArgSizeError::ArgTooLong {
                index,
                len: a.len(),
            });
        }
    }
    for e in env {
        if e.len() >= MAX_ARG_STRLEN {
            let key = e.split('=').next().unwrap_or_default().to_string();
            return Err(ArgSizeError::EnvTooLong { key, len: e.len() });
        }
    }
    // Each string also costs its NUL and an 8-byte pointer.
    let total: usize = args.iter().chain(env).map(|s| s.len() + 9).sum();
    if total > MAX_TOTAL {
        return Err(ArgSizeError::TooLarge { total });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_byte_is_refused_not_dropped() {
        let e = check(&["echo".into()], &["B=x\0y".into()]).unwrap_err();
        assert_eq!(e, ArgSizeError::EnvNul { key: "B".into() });
        let e = check(&["echo".into(), "a\0b".into()], &[]).unwrap_err();
        assert_eq!(e, ArgSizeError::ArgNul { index: 1 });
    }

    #[test]
    fn a_huge_variable_is_named() {
        let big = format!("BIG={}", "x".repeat(5 << 20));
        let e = check(&["sleep".into()], &["A=1".into(), big]).unwrap_err();
        assert!(
            matches!(&e, ArgSizeError::EnvTooLong { key, .. } if key == "BIG"),
            "{e}"
        );
    }

    #[test]
    fn many_medium_values_add_up() {
        let env: Vec<String> = (0..40)
            .map(|i| format!("V{i}={}", "x".repeat(100_000)))
            .collect();
        assert!(matches!(
            check(&[], &env),
            Err(ArgSizeError::TooLarge { .. })
        ));
        assert!(check(&[], &env[..10]).is_ok());
    }
}
