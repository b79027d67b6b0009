//! Seccomp: a default profile in the spirit of Docker's, kept as plain data, compiled to BPF
//! with `seccompiler` (in the parent, before fork) and installed in the container init.
//!
//! The default profile is a DENYLIST (default action Allow). Docker ships an allowlist of ~350
//! syscalls, but what that list actually protects against is the short list of dangerous calls
//! it leaves out (kernel modules, kexec, bpf, keyrings, mounts, clock, namespaces...). Denying
//! those explicitly gives the same protection for them with a filter of a few hundred
//! instructions, and since every allowed syscall's verdict does not depend on its arguments,
//! the kernel's seccomp action cache (Linux 5.11+) lets them skip the filter entirely.
//! The trade-off: syscalls added to future kernels are allowed until listed here.
//!
//! Only the native ABI is allowed: 32-bit (i386/arm32) syscalls kill the process via
//! seccompiler's arch check, and x86_64 x32 syscalls get ENOSYS (see [`x32_guard`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use seccompiler::{
    sock_filter, BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp,
    SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

/// Errors of the seccomp module.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The running architecture has no syscall table here.
    #[error("seccomp filtering is only supported on x86_64 and aarch64, not {arch}")]
    UnsupportedArch { arch: String },
    /// A rule's argument condition was rejected by seccompiler (e.g. arg index > 5).
    #[error("invalid seccomp rule for syscall {name}")]
    Rule {
        name: String,
        #[source]
        source: BackendError,
    },
    /// seccompiler could not build a filter for one action group.
    #[error("failed to build the seccomp filter for action {action:?}")]
    Build {
        action: SeccompAction,
        #[source]
        source: BackendError,
    },
    /// The chained program exceeds the kernel's BPF length limit.
    #[error("seccomp filter has {len} instructions, more than the kernel limit of 4096")]
    TooLarge { len: usize },
    /// `--security-opt seccomp=<path>` (Docker-format JSON) is not implemented yet.
    #[error("custom seccomp profiles are not supported yet: {path}")]
    ProfileFileUnsupported { path: PathBuf },
    /// `prctl(PR_SET_NO_NEW_PRIVS)` failed.
    #[error("failed to set no_new_privs")]
    NoNewPrivs {
        #[source]
        source: nix::Error,
    },
    /// The `seccomp(SECCOMP_SET_MODE_FILTER)` call failed.
    #[error("failed to install the seccomp filter")]
    Install {
        #[source]
        source: seccompiler::Error,
    },
}

/// One comparison on a syscall argument (all of a rule's conditions must hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCondition {
    /// Argument index, 0..=5.
    pub index: u8,
    /// Compare the low 32 bits (`Dword`) or all 64 (`Qword`).
    pub width: SeccompCmpArgLen,
    pub op: SeccompCmpOp,
    pub value: u64,
}

/// `action` applies to syscall `nr` when all `conditions` hold (always, if empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallRule {
    /// Syscall name, for messages and lookups.
    pub name: String,
    /// Syscall number on the architecture this profile was built for.
    pub nr: i64,
    pub action: SeccompAction,
    pub conditions: Vec<ArgCondition>,
}

/// A seccomp profile as plain data. When several rules match a call, rules with the action
/// that appears first in `rules` win; rules whose action equals `default_action` are no-ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompProfile {
    pub default_action: SeccompAction,
    pub rules: Vec<SyscallRule>,
}

impl SeccompProfile {
    /// Rules for syscall `name`.
    pub fn rules_for<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a SyscallRule> + 'a {
        self.rules.iter().filter(move |rule| rule.name == name)
    }
}

/// Denied with EPERM on every supported arch. `create_module`, `vm86` and `vm86old` do not
/// exist on x86_64/aarch64 (i386-only or long removed), so they are not listed.
/// `ptrace` is deliberately absent: Docker allows it on kernels >= 4.8.
const DENIED: &[(&str, i64)] = &[
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("acct", libc::SYS_acct),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ("quotactl", libc::SYS_quotactl),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("syslog", libc::SYS_syslog),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("open_tree", libc::SYS_open_tree),
    ("move_mount", libc::SYS_move_mount),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("setns", libc::SYS_setns),
    ("vhangup", libc::SYS_vhangup),
    // Docker 25 blocks io_uring: it bypasses seccomp for the operations it performs.
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
];

/// x86_64-only syscalls Docker also blocks (port I/O and obsolete calls).
#[cfg(target_arch = "x86_64")]
const DENIED_ARCH: &[(&str, i64)] = &[
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
    ("uselib", libc::SYS_uselib),
    ("_sysctl", libc::SYS__sysctl),
    ("sysfs", libc::SYS_sysfs),
    ("ustat", libc::SYS_ustat),
];
#[cfg(not(target_arch = "x86_64"))]
const DENIED_ARCH: &[(&str, i64)] = &[];

/// `personality` values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 variants and the
/// 0xffffffff query.
pub const PERSONALITY_ALLOWED: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];

const EPERM: SeccompAction = SeccompAction::Errno(libc::EPERM as u32);

fn rule(name: &str, nr: i64, action: SeccompAction, conditions: Vec<ArgCondition>) -> SyscallRule {
    let name = name.to_string();
    SyscallRule {
        name,
        nr,
        action,
        conditions,
    }
}

/// `flags & CLONE_NEWUSER` set in arg0 (the flags argument of both `clone` and `unshare` on
/// x86_64 and aarch64). Creating a user namespace is the one namespace operation that needs
/// no capability, so it is denied here; the others already fail without CAP_SYS_ADMIN.
fn newuser_flag() -> Vec<ArgCondition> {
    let newuser = libc::CLONE_NEWUSER as u64;
    let op = SeccompCmpOp::MaskedEq(newuser);
    vec![ArgCondition {
        index: 0,
        width: SeccompCmpArgLen::Dword,
        op,
        value: newuser,
    }]
}

/// The built-in profile (see the module docs for why it is a denylist).
pub fn default_profile() -> SeccompProfile {
    let mut rules: Vec<SyscallRule> = DENIED
        .iter()
        .chain(DENIED_ARCH)
        .map(|&(name, nr)| rule(name, nr, EPERM, vec![]))
        .collect();
    // Deny unless arg0 is one of the allowed personas; the kernel reads it as 32 bits.
    let not_allowed = PERSONALITY_ALLOWED
        .iter()
        .map(|&value| ArgCondition {
            index: 0,
            width: SeccompCmpArgLen::Dword,
            op: SeccompCmpOp::Ne,
            value,
        })
        .collect();
    rules.push(rule(
        "personality",
        libc::SYS_personality,
        EPERM,
        not_allowed,
    ));
    rules.push(rule("clone", libc::SYS_clone, EPERM, newuser_flag()));
    rules.push(rule("unshare", libc::SYS_unshare, EPERM, newuser_flag()));
    // clone3 passes its flags in memory that BPF cannot read: ENOSYS makes glibc fall back to
    // clone, whose flags the rule above can inspect (what Docker does).
    let enosys = SeccompAction::Errno(libc::ENOSYS as u32);
    rules.push(rule("clone3", libc::SYS_clone3, enosys, vec![]));
    SeccompProfile {
        default_action: SeccompAction::Allow,
        rules,
    }
}

/// Resolves `--security-opt seccomp=<value>`: no option → the default profile,
/// "unconfined" → no filter, anything else is a profile path (not supported yet).
pub fn profile_for(opt: Option<&str>) -> Result<Option<SeccompProfile>, SeccompError> {
    match opt {
        None => Ok(Some(default_profile())),
        Some("unconfined") => Ok(None),
        Some(path) => Err(SeccompError::ProfileFileUnsupported {
            path: PathBuf::from(path),
        }),
    }
}

/// Maps an arch name (`std::env::consts::ARCH`) to a seccompiler target.
pub fn target_arch(arch: &str) -> Result<TargetArch, SeccompError> {
    match arch {
        "x86_64" => Ok(TargetArch::x86_64),
        "aarch64" => Ok(TargetArch::aarch64),
        other => Err(SeccompError::UnsupportedArch {
            arch: other.to_string(),
        }),
    }
}

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
const BPF_MAX_LEN: usize = 4096;
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_JMP_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// On x86_64, x32-ABI syscalls share AUDIT_ARCH_X86_64 but use `nr | 0x40000000`, which would
/// slip past a denylist keyed on native numbers; answer them ENOSYS as a kernel without x32
/// support does.
fn x32_guard(arch: TargetArch) -> BpfProgram {
    if arch != TargetArch::x86_64 {
        return Vec::new();
    }
    let enosys = u32::from(SeccompAction::Errno(libc::ENOSYS as u32));
    vec![
        insn(BPF_LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        insn(BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT),
        insn(BPF_RET_K, 0, 0, enosys),
    ]
}

/// One sub-filter's worth of rules: the action and the rule chain per syscall number.
type ActionGroup = (SeccompAction, BTreeMap<i64, Vec<SeccompRule>>);

/// Groups rules by action (in order of first appearance), merging rules of one syscall:
/// an unconditional rule makes the syscall match regardless of its other rules.
fn group_by_action(profile: &SeccompProfile) -> Result<Vec<ActionGroup>, SeccompError> {
    let mut groups: Vec<ActionGroup> = Vec::new();
    let mut unconditional: Vec<(usize, i64)> = Vec::new();
    for r in profile
        .rules
        .iter()
        .filter(|r| r.action != profile.default_action)
    {
        let idx = match groups.iter().position(|(action, _)| *action == r.action) {
            Some(idx) => idx,
            None => {
                groups.push((r.action.clone(), BTreeMap::new()));
                groups.len() - 1
            }
        };
        let chain = groups[idx].1.entry(r.nr).or_default();
        if r.conditions.is_empty() {
            unconditional.push((idx, r.nr));
        } else {
            chain.push(to_seccompiler_rule(r)?);
        }
    }
    // seccompiler encodes "match on the number alone" as an empty rule chain.
    for (idx, nr) in unconditional {
        groups[idx].1.insert(nr, Vec::new());
    }
    Ok(groups)
}

fn to_seccompiler_rule(r: &SyscallRule) -> Result<SeccompRule, SeccompError> {
    let err = |source| SeccompError::Rule {
        name: r.name.clone(),
        source,
    };
    let conditions = r
        .conditions
        .iter()
        .map(|c| SeccompCondition::new(c.index, c.width.clone(), c.op.clone(), c.value))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    SeccompRule::new(conditions).map_err(err)
}

/// Turns every "return `default`" of a non-final sub-program into a jump to its end, i.e. to
/// the next sub-program: the sub-program has no opinion on that syscall. Same length, so the
/// sub-program's own jump offsets stay valid.
fn fall_through(mut program: BpfProgram, default: &SeccompAction) -> BpfProgram {
    let ret_default = u32::from(default.clone());
    let len = program.len();
    for (i, insn) in program.iter_mut().enumerate() {
        if insn.code == BPF_RET_K && insn.k == ret_default {
            *insn = sock_filter {
                code: BPF_JMP_JA,
                jt: 0,
                jf: 0,
                k: (len - i - 1) as u32,
            };
        }
    }
    program
}

/// Compiles a profile for the running architecture. seccompiler filters have a single match
/// action, so one sub-filter is built per action and they are chained into one program.
pub fn compile(profile: &SeccompProfile) -> Result<BpfProgram, SeccompError> {
    let arch = target_arch(std::env::consts::ARCH)?;
    let default = &profile.default_action;
    let mut groups = group_by_action(profile)?;
    if groups.is_empty() {
        // seccompiler needs a match action distinct from the default even with no rules.
        let placeholder = match default {
            SeccompAction::Allow => SeccompAction::KillProcess,
            _ => SeccompAction::Allow,
        };
        groups.push((placeholder, BTreeMap::new()));
    }
    let mut program = x32_guard(arch);
    let last = groups.len() - 1;
    for (i, (action, rules)) in groups.into_iter().enumerate() {
        let build = |source| SeccompError::Build {
            action: action.clone(),
            source,
        };
        let filter =
            SeccompFilter::new(rules, default.clone(), action.clone(), arch).map_err(build)?;
        let sub: BpfProgram = filter.try_into().map_err(build)?;
        program.extend(if i == last {
            sub
        } else {
            fall_through(sub, default)
        });
    }
    if program.len() > BPF_MAX_LEN {
        return Err(SeccompError::TooLarge { len: program.len() });
    }
    Ok(program)
}

/// Sets `PR_SET_NO_NEW_PRIVS`, which lets an unprivileged process install a filter.
pub fn set_no_new_privs() -> Result<(), SeccompError> {
    nix::sys::prctl::set_no_new_privs().map_err(|source| SeccompError::NoNewPrivs { source })
}

/// Installs `prog` on the calling thread (call it in the container init, single-threaded).
/// Note: `seccompiler::apply_filter` itself sets no_new_privs before `seccomp(2)`, so
/// setuid/file-capability binaries never gain privileges under this filter (stricter than
/// Docker, which only sets it with `--security-opt no-new-privileges`). Allocation-free, so it
/// is safe right after `fork` in a multi-threaded parent.
pub fn install(prog: &BpfProgram) -> Result<(), SeccompError> {
    seccompiler::apply_filter(prog).map_err(|source| SeccompError::Install { source })
}

/// Installs the filter with seccomp(2) `flags` (SECCOMP_FILTER_FLAG_*)
/// and without setting no_new_privs (seccompiler's `apply_filter` always
/// sets it): for OCI configs that leave it off, which the kernel allows to
/// a process holding CAP_SYS_ADMIN. Allocation-free, as [`install`].
pub fn install_with_flags(prog: &BpfProgram, flags: u32) -> Result<(), SeccompError> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        // seccompiler's sock_filter is #[repr(C)] with libc's fields.
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccomp reads `fprog` and the `len` instructions it points to,
    // both alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    nix::errno::Errno::result(rc)
        .map(drop)
        .map_err(|e| SeccompError::Install {
            source: seccompiler::Error::Seccomp(std::io::Error::from_raw_os_error(e as i32)),
        })
}

/// The native syscall number of `name`, for profiles given by name.
pub fn syscall_number(name: &str) -> Option<i64> {
    if cfg!(target_arch = "x86_64") {
        syscalls::X86_64
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, nr)| *nr)
    } else {
        None
    }
}

mod syscalls;

#[cfg(test)]
mod tests;
