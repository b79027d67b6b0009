//! The init's smaller steps, kept apart from its sequence in `init.rs`:
//! joining namespaces, sysctls, rlimits, the OCI handshake, dropping
//! privileges. Each runs in the cloned child and reports a [`Failure`].

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

use super::hooks::Hook;
use super::init::{setup, ExecTarget, Failure, FailureKind, Rlimit, MSG_HOOKS};
use super::{caps, seccomp};

fn failed(message: String) -> Failure {
    Failure(FailureKind::Setup, message)
}

/// setns into each namespace file: the user namespace first (it owns the
/// others, and grants the capabilities to join them), the mount namespace
/// last, since joining it changes which paths the others' files are found at.
pub(super) fn join_namespaces(join: &[(CloneFlags, PathBuf)]) -> Result<(), Failure> {
    let mut ordered: Vec<&(CloneFlags, PathBuf)> = join.iter().collect();
    ordered.sort_by_key(|(flag, _)| match *flag {
        CloneFlags::CLONE_NEWUSER => 0,
        CloneFlags::CLONE_NEWNS => 2,
        _ => 1,
    });
    for (flag, path) in ordered {
        let file = std::fs::File::open(path)
            .map_err(|e| failed(format!("open namespace {}: {e}", path.display())))?;
        nix::sched::setns(file, *flag)
            .map_err(|e| failed(format!("join namespace {}: {}", path.display(), e.desc())))?;
    }
    Ok(())
}

/// In a user namespace the init starts as an unmapped user: become the
/// namespace's root, so the files it makes (/dev in a tmpfs the namespace
/// owns) have an owner there; otherwise the kernel answers EOVERFLOW.
pub(super) fn become_namespace_root() -> Result<(), Failure> {
    let (uid, gid) = (Uid::from_raw(0), Gid::from_raw(0));
    nix::unistd::setresgid(gid, gid, gid).map_err(setup("setgid 0 in the user namespace"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(setup("setuid 0 in the user namespace"))
}

pub(super) fn set_domainname(name: &str) -> Result<(), Failure> {
    // SAFETY: setdomainname reads `len` bytes from the pointer.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    nix::errno::Errno::result(rc)
        .map(drop)
        .map_err(setup("setdomainname"))
}

/// "net.ipv4.ip_forward" → /proc/sys/net/ipv4/ip_forward. The namespaced
/// sysctls show the namespaces of whoever opens them: ours by now.
pub(super) fn write_sysctls(sysctl: &[(String, String)]) -> Result<(), Failure> {
    for (key, value) in sysctl {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes())
            .map_err(|e| failed(format!("sysctl {key}={value}: {e}")))?;
    }
    Ok(())
}

pub(super) fn set_rlimits(rlimits: &[Rlimit]) -> Result<(), Failure> {
    for limit in rlimits {
        let value = libc::rlimit {
            rlim_cur: limit.soft,
            rlim_max: limit.hard,
        };
        // SAFETY: setrlimit reads the struct we pass.
        let rc = unsafe { libc::setrlimit(limit.resource as _, &value) };
        nix::errno::Errno::result(rc).map_err(|e| {
            failed(format!(
                "setrlimit resource {} to {}:{}: {}",
                limit.resource,
                limit.soft,
                limit.hard,
                e.desc()
            ))
        })?;
    }
    Ok(())
}

/// Tells the runtime the mounts are made (its prestart and createRuntime
/// hooks run now) and waits for the container's state in reply.
pub(super) fn hooks_point(channel: &OwnedFd) -> Result<Vec<u8>, Failure> {
    nix::unistd::write(channel, &[MSG_HOOKS]).map_err(setup("sync with the runtime"))?;
    let mut buffer = vec![0u8; 1 << 16];
    let n = nix::unistd::read(channel.as_raw_fd(), &mut buffer)
        .map_err(setup("sync with the runtime"))?;
    if n == 0 {
        return Err(failed("the runtime went away during create".into()));
    }
    buffer.truncate(n);
    Ok(buffer)
}

pub(super) fn run_hooks(stage: &str, hooks: &[Hook], state: &[u8]) -> Result<(), Failure> {
    super::hooks::run_all(hooks, state).map_err(|e| failed(format!("{stage} {e}")))
}

pub(super) fn open_proc() -> Option<OwnedFd> {
    let flags =
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open("/proc", flags, nix::sys::stat::Mode::empty()).ok()?;
    // SAFETY: open just returned this fd.
    Some(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Blocks until `start` opens the fifo for reading. The O_PATH fd can only
/// be reopened for writing through /proc: the host's, opened beforehand.
pub(super) fn wait_exec_fifo(proc_dir: &Option<OwnedFd>, fifo: RawFd) -> Result<OwnedFd, Failure> {
    let Some(proc_dir) = proc_dir else {
        return Err(failed("open the exec fifo: /proc is not mounted".into()));
    };
    let opened = nix::fcntl::openat(
        Some(proc_dir.as_raw_fd()),
        format!("self/fd/{fifo}").as_str(),
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(setup("open the exec fifo"))?;
    // SAFETY: openat just returned this fd.
    let opened: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(opened) };
    nix::unistd::write(&opened, b"0").map_err(setup("write the exec fifo"))?;
    Ok(opened)
}

pub(super) fn install_seccomp(target: &ExecTarget) -> Result<(), Failure> {
    let Some(program) = &target.seccomp else {
        return Ok(());
    };
    let installed = match (target.no_new_privs, target.seccomp_flags) {
        (true, 0) => seccomp::install(program),
        (true, flags) => {
            seccomp::set_no_new_privs().and_then(|()| seccomp::install_with_flags(program, flags))
        }
        (false, flags) => seccomp::install_with_flags(program, flags),
    };
    installed.map_err(|e| failed(format!("seccomp: {e}")))
}

/// no_new_privs, bounding set, user and groups, then the capability sets
/// (kept across setuid with PR_SET_KEEPCAPS) and the umask.
pub(super) fn drop_privileges(target: &ExecTarget) -> Result<(), Failure> {
    if target.no_new_privs {
        seccomp::set_no_new_privs().map_err(|e| failed(format!("no_new_privs: {e}")))?;
    }
    let caps_failed = |e: caps::CapsError| failed(format!("capabilities: {e}"));
    caps::drop_bounding_set(&target.capabilities.bounding).map_err(caps_failed)?;
    if !target.no_new_privs {
        // Without no_new_privs the kernel wants CAP_SYS_ADMIN: install now.
        install_seccomp(target)?;
    }
    nix::sys::prctl::set_keepcaps(true).map_err(setup("keep capabilities"))?;
    let (uid, gid) = (
        Uid::from_raw(target.user.uid),
        Gid::from_raw(target.user.gid),
    );
    let groups: Vec<Gid> = target.groups.iter().copied().map(Gid::from_raw).collect();
    nix::unistd::setgroups(&groups).map_err(setup("setgroups"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(setup("setgid"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(setup("setuid"))?;
    caps::apply_sets(&target.capabilities).map_err(caps_failed)?;
    let _ = nix::sys::prctl::set_keepcaps(false);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(target.umask));
    Ok(())
}
