//! Thin wrappers over the few syscalls nix does not cover. Each one is a
//! single call with its error mapped to `nix::Error`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;

/// `clone(2)` with fork semantics (no new stack, SIGCHLD on exit) plus
/// namespace flags: the child returns 0 and continues on a copy of our stack.
///
/// # Safety
/// As with `fork`, the caller must be single-threaded and the child may only
/// do async-signal-safe work until it execs (we never run other threads).
pub unsafe fn clone_fork(namespace_flags: libc::c_int) -> nix::Result<libc::pid_t> {
    // SAFETY: a raw clone without CLONE_VM and with a null stack behaves like fork.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (namespace_flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    Errno::result(ret).map(|pid| pid as libc::pid_t)
}

/// A file descriptor that becomes readable when the process exits.
pub fn pidfd_open(pid: libc::pid_t) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just handed us this fd; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Waits until the process behind `pidfd` exits or `timeout_ms` passes
/// (-1 waits forever). Returns true if it exited.
pub fn wait_pidfd(pidfd: &OwnedFd, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n >= 0 || Errno::last() != Errno::EINTR {
            return n > 0;
        }
    }
}

/// Marks every descriptor from `first` up close-on-exec, so nothing of ours
/// leaks into the container while fds we still need keep working until exec.
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    // SAFETY: close_range with CLOEXEC only sets flags on descriptors.
    Errno::result(unsafe {
        libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int)
    })
    .map(drop)
}

/// Closes every descriptor from 3 up except `keep`: a forked monitor must
/// not hold its parent's files (a supervisor's lock, its signalfd) for the
/// life of a container.
pub fn close_fds_except(keep: RawFd) {
    let keep = keep as u32;
    // SAFETY: close_range only closes descriptors; `keep` stays open.
    unsafe {
        if keep > 3 {
            libc::close_range(3, keep - 1, 0);
        }
        libc::close_range(keep.max(2) + 1, u32::MAX, 0);
    }
}

/// Opens `path` inside the tree rooted at `root` as if `root` were `/`: no
/// `..` or symlink (absolute or relative) can lead outside it. This is what
/// keeps a hostile image from redirecting our mounts onto host paths.
pub fn open_in_root(root: &OwnedFd, path: &Path, flags: libc::c_int) -> nix::Result<OwnedFd> {
    // The root itself is "." to openat2, which rejects an empty path.
    let bytes = path.as_os_str().as_encoded_bytes();
    let c_path =
        CString::new(if bytes.is_empty() { b"." } else { bytes }).map_err(|_| Errno::EINVAL)?;
    let mut how: libc::open_how = unsafe_zeroed_open_how();
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid dirfd, NUL-terminated path and an initialised open_how of the size we pass.
    let fd = Errno::result(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c_path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })?;
    // SAFETY: the kernel just handed us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn unsafe_zeroed_open_how() -> libc::open_how {
    // SAFETY: open_how is plain integers; all-zero is its documented default.
    unsafe { std::mem::zeroed() }
}

/// `/proc/self/fd/N`: a path that names exactly the object behind `fd`, for
/// syscalls (mount) that take paths.
pub fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Start time of a live process in clock ticks since boot (field 22 of
/// /proc/PID/stat), which tells a live process from a reused PID. A zombie
/// (dead, not yet reaped: a container whose monitor died waits for the
/// host's init to reap it) is not alive: None.
pub fn process_start_ticks(pid: libc::pid_t) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    if !parse_alive(&stat) {
        return None;
    }
    parse_start_ticks(&stat)
}

/// The inode of our PID namespace (`/proc/self/ns/pid`).
pub fn own_pid_namespace() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
}

/// Field 3 of /proc/PID/stat: Z (zombie) and X (dead) are not running.
pub fn parse_alive(stat: &str) -> bool {
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | Some("x") | None)
}

/// The comm field may hold spaces and parentheses, so fields are counted
/// after its last ')'.
pub fn parse_start_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// True if `pid` is alive and is still the process that started at `ticks`.
pub fn same_process_alive(pid: libc::pid_t, ticks: Option<u64>) -> bool {
    match (process_start_ticks(pid), ticks) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Brings up `lo` in our (new) network namespace, as Docker does, so
/// 127.0.0.1 works even with `--network none`.
pub fn loopback_up() -> nix::Result<()> {
    // SAFETY: a plain datagram socket used only for interface ioctls.
    let sock = Errno::result(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    })?;
    // SAFETY: the kernel just handed us this fd.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    // SAFETY: ifreq is plain data; zero is a valid starting value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we pass.
    unsafe {
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req))?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req))?;
    }
    Ok(())
}

/// Rewrites our own command line (what `ps` shows) in place, within the
/// space the original argv occupied. Used by the `--init` reaper so the
/// container does not see the host's `rcorch run …` command line.
pub fn overwrite_cmdline(name: &str) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let Some((start, end)) = parse_arg_range(&stat) else {
        return;
    };
    if end <= start {
        return;
    }
    let len = end - start;
    let mut bytes = vec![0u8; len];
    let name = name.as_bytes();
    let n = name.len().min(len.saturating_sub(1));
    bytes[..n].copy_from_slice(&name[..n]);
    // SAFETY: [arg_start, arg_end) is this process's own argv area on its
    // stack, writable and no longer read by us (Rust copied what it needed).
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, len) };
}

/// arg_start and arg_end: fields 48 and 49 of /proc/PID/stat.
pub fn parse_arg_range(stat: &str) -> Option<(usize, usize)> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(45);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// Drops from our page tables the code and read-only file pages that the
/// CLI touched before it became a monitor. They stay in the page cache and
/// fault back in if used; the monitor's loop needs only a few of them, so
/// its resident memory falls from about 2 MiB to well under 1 MiB.
pub fn release_startup_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for (start, end) in droppable_mappings(&maps) {
        // SAFETY: these mappings are private, file-backed and never written
        // (code, or a file's first read-only segment), so discarding them only
        // means re-reading identical pages from the file.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
}

/// Mappings safe to discard: executable file mappings, and read-only file
/// mappings at offset 0 (ELF headers and read-only data, which the loader
/// never writes; the relocated RELRO segment sits at a later offset).
pub fn droppable_mappings(maps: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let offset = fields.next()?;
            let _device = fields.next()?;
            let inode = fields.next()?;
            let path = fields.next()?;
            let file_backed = inode != "0" && path.starts_with('/');
            let safe =
                perms == "r-xp" || (perms == "r--p" && u64::from_str_radix(offset, 16).ok()? == 0);
            if !(file_backed && safe) {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_range_is_fields_48_and_49() {
        let ours = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (start, end) = parse_arg_range(&ours).unwrap();
        assert!(end > start);
        let total: usize = std::env::args_os().map(|a| a.len() + 1).sum();
        assert_eq!(end - start, total);
    }

    #[test]
    fn only_code_and_first_read_only_segments_are_droppable() {
        let maps = "\
1000-2000 r--p 00000000 fe:00 5309365 /usr/bin/rcorch
2000-3000 r-xp 00067000 fe:00 5309365 /usr/bin/rcorch
3000-4000 r--p 001da000 fe:00 5309365 /usr/bin/rcorch
4000-5000 rw-p 001e5000 fe:00 5309365 /usr/bin/rcorch
5000-6000 rw-p 00000000 00:00 0 [heap]
6000-7000 r-xp 00000000 00:00 0 [vdso]
7000-8000 r-xp 00026000 fe:00 326279 /usr/lib/x86_64-linux-gnu/libc.so.6
";
        assert_eq!(
            droppable_mappings(maps),
            [(0x1000, 0x2000), (0x2000, 0x3000), (0x7000, 0x8000)]
        );
    }

    #[test]
    fn zombies_and_dead_processes_are_not_alive() {
        let stat = |state: &str| format!("42 (sle ep)) {state} 1 42 42 0 -1");
        assert!(parse_alive(&stat("S")));
        assert!(parse_alive(&stat("R")));
        assert!(!parse_alive(&stat("Z")));
        assert!(!parse_alive(&stat("X")));
        assert!(!parse_alive("garbage"));
    }

    #[test]
    fn start_ticks_skip_a_comm_with_spaces_and_parens() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 200";
        assert_eq!(parse_start_ticks(stat), Some(98765));
    }

    #[test]
    fn our_own_process_is_alive() {
        let me = std::process::id() as i32;
        let ticks = process_start_ticks(me);
        assert!(ticks.is_some());
        assert!(same_process_alive(me, ticks));
        assert!(!same_process_alive(me, ticks.map(|t| t + 1)));
    }
}
