use super::*;

const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;
const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;

fn native_arch() -> u32 {
    match std::env::consts::ARCH {
        "x86_64" => AUDIT_ARCH_X86_64,
        _ => AUDIT_ARCH_AARCH64,
    }
}

/// A tiny classic-BPF interpreter for the opcodes seccompiler and this module emit, so the
/// compiled program's verdicts can be checked without installing it.
fn run(prog: &BpfProgram, arch: u32, nr: i64, args: [u64; 6]) -> u32 {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(&(nr as i32).to_le_bytes());
    data.extend_from_slice(&arch.to_le_bytes());
    data.extend_from_slice(&0u64.to_le_bytes());
    args.iter()
        .for_each(|a| data.extend_from_slice(&a.to_le_bytes()));
    let (mut acc, mut pc) = (0u32, 0usize);
    loop {
        let i = &prog[pc];
        pc += 1;
        match i.code {
            0x20 => acc = u32::from_le_bytes(data[i.k as usize..][..4].try_into().unwrap()),
            0x54 => acc &= i.k,
            0x05 => pc += i.k as usize,
            0x15 | 0x25 | 0x35 => {
                let taken = match i.code {
                    0x15 => acc == i.k,
                    0x25 => acc > i.k,
                    _ => acc >= i.k,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            0x06 => return i.k,
            code => panic!("unexpected BPF opcode {code:#x} at {}", pc - 1),
        }
    }
}

fn verdict(prog: &BpfProgram, nr: i64, args: [u64; 6]) -> u32 {
    run(prog, native_arch(), nr, args)
}

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
const NEWUSER: u64 = libc::CLONE_NEWUSER as u64;

#[test]
fn default_profile_denies_the_dangerous_calls() {
    let profile = default_profile();
    assert_eq!(profile.default_action, SeccompAction::Allow);
    for name in [
        "kexec_load",
        "init_module",
        "bpf",
        "keyctl",
        "add_key",
        "reboot",
        "mount",
        "umount2",
        "pivot_root",
        "fsopen",
        "move_mount",
        "setns",
        "io_uring_setup",
        "clock_settime",
        "open_by_handle_at",
        "userfaultfd",
        "perf_event_open",
        "syslog",
    ] {
        let rules: Vec<_> = profile.rules_for(name).collect();
        assert_eq!(rules.len(), 1, "{name}");
        assert_eq!(rules[0].action, EPERM, "{name}");
        assert!(rules[0].conditions.is_empty(), "{name}");
    }
    assert_eq!(
        profile.rules_for("ptrace").count(),
        0,
        "ptrace is allowed like Docker"
    );
    assert_eq!(profile.rules_for("getpid").count(), 0);
    let clone3: Vec<_> = profile.rules_for("clone3").collect();
    assert_eq!(clone3[0].action, SeccompAction::Errno(libc::ENOSYS as u32));
    for name in ["clone", "unshare", "personality"] {
        assert!(
            !profile
                .rules_for(name)
                .next()
                .unwrap()
                .conditions
                .is_empty(),
            "{name}"
        );
    }
}

#[test]
fn compiled_default_is_small_and_fast_to_build() {
    let start = std::time::Instant::now();
    let prog = compile(&default_profile()).unwrap();
    eprintln!(
        "default seccomp filter: {} instructions, compiled in {:?}",
        prog.len(),
        start.elapsed()
    );
    assert!(
        prog.len() < 320,
        "filter grew to {} instructions",
        prog.len()
    );
}

#[test]
fn compiled_verdicts() {
    let prog = compile(&default_profile()).unwrap();
    let no_args = [0; 6];
    assert_eq!(verdict(&prog, libc::SYS_getpid, no_args), ALLOW);
    assert_eq!(verdict(&prog, libc::SYS_ptrace, no_args), ALLOW);
    assert_eq!(verdict(&prog, libc::SYS_keyctl, no_args), RET_EPERM);
    assert_eq!(verdict(&prog, libc::SYS_mount, no_args), RET_EPERM);
    assert_eq!(verdict(&prog, libc::SYS_clone3, no_args), RET_ENOSYS);
    let flags = |f: u64| [f, 0, 0, 0, 0, 0];
    let fork_flags = libc::SIGCHLD as u64 | libc::CLONE_NEWNS as u64;
    assert_eq!(verdict(&prog, libc::SYS_clone, flags(fork_flags)), ALLOW);
    assert_eq!(
        verdict(&prog, libc::SYS_clone, flags(fork_flags | NEWUSER)),
        RET_EPERM
    );
    assert_eq!(verdict(&prog, libc::SYS_unshare, flags(NEWUSER)), RET_EPERM);
    assert_eq!(
        verdict(&prog, libc::SYS_unshare, flags(libc::CLONE_NEWNS as u64)),
        ALLOW
    );
    for persona in PERSONALITY_ALLOWED {
        assert_eq!(
            verdict(&prog, libc::SYS_personality, flags(persona)),
            ALLOW,
            "{persona:#x}"
        );
    }
    // ADDR_NO_RANDOMIZE would weaken ASLR.
    assert_eq!(
        verdict(&prog, libc::SYS_personality, flags(0x0040000)),
        RET_EPERM
    );
    // 32-bit ABI calls are killed outright.
    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    assert_eq!(run(&prog, AUDIT_ARCH_I386, 20, no_args), kill);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_syscalls_get_enosys() {
    let prog = compile(&default_profile()).unwrap();
    let x32_keyctl = libc::SYS_keyctl | 0x4000_0000;
    assert_eq!(verdict(&prog, x32_keyctl, [0; 6]), RET_ENOSYS);
}

#[test]
fn first_action_wins_and_default_rules_are_ignored() {
    let nr = libc::SYS_getpid;
    let profile = SeccompProfile {
        default_action: SeccompAction::Allow,
        rules: vec![
            rule("getpid", nr, SeccompAction::Allow, vec![]),
            rule("getpid", nr, EPERM, vec![]),
            rule(
                "getpid",
                nr,
                SeccompAction::Errno(libc::EACCES as u32),
                vec![],
            ),
        ],
    };
    let prog = compile(&profile).unwrap();
    assert_eq!(verdict(&prog, nr, [0; 6]), RET_EPERM);
}

#[test]
fn unconditional_rule_overrides_conditional_one() {
    let nr = libc::SYS_unshare;
    let profile = SeccompProfile {
        default_action: SeccompAction::Allow,
        rules: vec![
            rule("unshare", nr, EPERM, newuser_flag()),
            rule("unshare", nr, EPERM, vec![]),
        ],
    };
    let prog = compile(&profile).unwrap();
    assert_eq!(verdict(&prog, nr, [0; 6]), RET_EPERM);
}

#[test]
fn empty_profile_compiles_to_default() {
    let profile = SeccompProfile {
        default_action: EPERM,
        rules: vec![],
    };
    let prog = compile(&profile).unwrap();
    assert_eq!(verdict(&prog, libc::SYS_getpid, [0; 6]), RET_EPERM);
}

#[test]
fn bad_condition_names_the_syscall() {
    let mut cond = newuser_flag();
    cond[0].index = 6;
    let profile = SeccompProfile {
        default_action: SeccompAction::Allow,
        rules: vec![rule("unshare", libc::SYS_unshare, EPERM, cond)],
    };
    let err = compile(&profile).unwrap_err();
    assert!(
        matches!(&err, SeccompError::Rule { name, .. } if name == "unshare"),
        "{err}"
    );
}

#[test]
fn security_opt_resolution() {
    assert_eq!(profile_for(None).unwrap(), Some(default_profile()));
    assert_eq!(profile_for(Some("unconfined")).unwrap(), None);
    let err = profile_for(Some("/etc/p.json")).unwrap_err();
    assert!(err.to_string().contains("/etc/p.json"), "{err}");
}

#[test]
fn only_x86_64_and_aarch64() {
    assert_eq!(target_arch("x86_64").unwrap(), TargetArch::x86_64);
    assert_eq!(target_arch("aarch64").unwrap(), TargetArch::aarch64);
    let err = target_arch("riscv64").unwrap_err();
    assert!(err.to_string().contains("riscv64"), "{err}");
}

/// Returns `code` unless `rc` is -1 with errno `want`.
fn expect_errno(rc: libc::c_long, want: i32, code: i32) -> i32 {
    let errno = std::io::Error::last_os_error().raw_os_error();
    if rc == -1 && errno == Some(want) {
        0
    } else {
        code
    }
}

/// Runs in the forked child with the filter installed; returns the exit code (0 = pass).
/// Only raw syscalls, no allocation: the parent (the test harness) is multi-threaded.
fn child_checks() -> i32 {
    // SAFETY (all calls below): raw syscalls with integer or null arguments; any that the
    // filter wrongly allowed would fail with EINVAL/EFAULT or are handled (the clone case).
    unsafe {
        if libc::syscall(libc::SYS_getpid) <= 0 {
            return 10;
        }
        let rc = libc::syscall(libc::SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
        let mut code = expect_errno(rc, libc::EPERM, 11);
        if code == 0 {
            code = expect_errno(libc::unshare(libc::CLONE_NEWUSER) as _, libc::EPERM, 12);
        }
        if code == 0 {
            let rc = libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0);
            code = expect_errno(rc, libc::ENOSYS, 13);
        }
        if code == 0 {
            let flags = libc::CLONE_NEWUSER | libc::SIGCHLD;
            let rc = libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0);
            if rc == 0 {
                libc::_exit(99); // the filter failed and we are the grandchild
            }
            code = expect_errno(rc, libc::EPERM, 14);
        }
        if code == 0 && libc::syscall(libc::SYS_personality, 0xffff_ffffu64) == -1 {
            code = 15;
        }
        code
    }
}

#[test]
fn installed_filter_blocks_in_child() {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    let prog = compile(&default_profile()).unwrap();
    // SAFETY: the child only makes raw syscalls (no allocation, no locks) and `_exit`s.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = match set_no_new_privs().and_then(|()| install(&prog)) {
                Ok(()) => child_checks(),
                Err(_) => 2,
            };
            // SAFETY: `_exit` never returns and skips the harness's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            let status = waitpid(child, None).expect("waitpid");
            assert_eq!(
                status,
                WaitStatus::Exited(child, 0),
                "child exit code (see child_checks)"
            );
        }
    }
}
