//! The seccomp profile of config.json → rcorch's [`SeccompProfile`], which
//! the runtime core compiles with seccompiler.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
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

/// Syscalls this kernel table does not know are skipped, as libseccomp
/// does for names it cannot resolve.
pub fn map_seccomp(spec: &LinuxSeccomp) -> Result<SeccompProfile, OciError> {
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
