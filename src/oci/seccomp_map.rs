//! The seccomp profile of config.json → rcorch's [`SeccompProfile`], which
//! the runtime core compiles with seccompiler.

use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp};

use super::OciError;
use crate::runtime::seccomp::{syscall_number, ArgCondition, SeccompProfile, SyscallRule};

const EPERM: u32 = libc::EPERM as u32;

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction, OciError> {
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(errno.unwrap_or(EPERM)),
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(EPERM)),
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActNotify => return Err(OciError::InvalidConfig {
            message:
                "seccomp action SCMP_ACT_NOTIFY (a listener) is not supported: use SCMP_ACT_ERRNO"
                    .into(),
        }),
    })
}

fn operator(op: LinuxSeccompOperator, value_two: Option<u64>) -> SeccompCmpOp {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => SeccompCmpOp::Ne,
        LinuxSeccompOperator::ScmpCmpLt => SeccompCmpOp::Lt,
        LinuxSeccompOperator::ScmpCmpLe => SeccompCmpOp::Le,
        LinuxSeccompOperator::ScmpCmpEq => SeccompCmpOp::Eq,
        LinuxSeccompOperator::ScmpCmpGe => SeccompCmpOp::Ge,
        LinuxSeccompOperator::ScmpCmpGt => SeccompCmpOp::Gt,
        LinuxSeccompOperator::ScmpCmpMaskedEq => SeccompCmpOp::MaskedEq(value_two.unwrap_or(0)),
    }
}

fn unsupported(what: &str) -> OciError {
    OciError::InvalidConfig {
        message: format!(
            "linux.seccomp.{what} needs a seccomp listener (SCMP_ACT_NOTIFY), which \
             rcorch-runtime does not support: remove it"
        ),
    }
}

/// The config's `flags` as the flags argument of seccomp(2).
pub fn filter_flags(spec: &LinuxSeccomp) -> Result<u32, OciError> {
    let mut bits = 0;
    for flag in spec.flags().iter().flatten() {
        bits |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            // The kernel takes it only with a listener (NEW_LISTENER).
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                return Err(unsupported("flags SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"))
            }
        } as u32;
    }
    Ok(bits)
}

/// Syscalls this kernel table does not know are skipped, as libseccomp
/// does for names it cannot resolve. Only the native table is compiled:
/// a syscall of another of the config's `architectures` (i386 on x86_64)
/// kills the process (x32 ones get ENOSYS), never passes unfiltered.
pub fn map_seccomp(spec: &LinuxSeccomp) -> Result<SeccompProfile, OciError> {
    if spec.listener_path().is_some() {
        return Err(unsupported("listenerPath"));
    }
    let default_action = action(spec.default_action(), spec.default_errno_ret())?;
    let mut rules = Vec::new();
    for entry in spec.syscalls().iter().flatten() {
        let act = action(entry.action(), entry.errno_ret())?;
        let mut conditions = Vec::new();
        for arg in entry.args().iter().flatten() {
            let (value, op) = match arg.op() {
                // seccompiler's MaskedEq carries the mask; the value compared is value_two.
                LinuxSeccompOperator::ScmpCmpMaskedEq => (
                    arg.value_two().unwrap_or(0),
                    SeccompCmpOp::MaskedEq(arg.value()),
                ),
                other => (arg.value(), operator(other, arg.value_two())),
            };
            conditions.push(ArgCondition {
                index: arg.index() as u8,
                width: SeccompCmpArgLen::Qword,
                op,
                value,
            });
        }
        for name in entry.names() {
            if let Some(nr) = syscall_number(name) {
                rules.push(SyscallRule {
                    name: name.clone(),
                    nr,
                    action: act.clone(),
                    conditions: conditions.clone(),
                });
            }
        }
    }
    Ok(SeccompProfile {
        default_action,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn errno_values_come_from_the_rule_and_the_default() {
        let spec = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"}
            ]
        }));
        let mapped = map_seccomp(&spec).unwrap();
        assert_eq!(mapped.default_action, SeccompAction::Errno(38));
        let action = |name| mapped.rules_for(name).next().unwrap().action.clone();
        assert_eq!(action("getcwd"), SeccompAction::Errno(13));
        assert_eq!(
            action("mkdir"),
            SeccompAction::Errno(1),
            "EPERM unless told"
        );
        assert_eq!(action("read"), SeccompAction::Allow);
    }

    #[test]
    fn flags_become_the_seccomp_flags_argument() {
        let spec = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
        }));
        assert_eq!(filter_flags(&spec).unwrap(), 2 | 4);
        let none = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        assert_eq!(filter_flags(&none).unwrap(), 0);
        let tsync = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC"]
        }));
        assert_eq!(filter_flags(&tsync).unwrap(), 1);
    }

    #[test]
    fn a_listener_is_refused_by_name() {
        let listener = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"
        }));
        let err = map_seccomp(&listener).unwrap_err().to_string();
        assert!(err.contains("listenerPath"), "{err}");
        let killable = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
        }));
        let err = filter_flags(&killable).unwrap_err().to_string();
        assert!(err.contains("WAIT_KILLABLE_RECV"), "{err}");
    }
}
