//! Terminals for `-t`, made the way runc makes them: inside the container's
//! own devpts instance, so `tty` and ttyname() work there, with the master
//! end passed back to rcorch over a unix socket (SCM_RIGHTS).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::pty::Winsize;
use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::Mode;

/// A socket pair: rcorch keeps `parent`, the container side gets `child`.
pub struct ConsoleSocket {
    pub parent: OwnedFd,
    pub child: OwnedFd,
}

impl ConsoleSocket {
    pub fn new() -> nix::Result<ConsoleSocket> {
        let (parent, child) = socket::socketpair(
            socket::AddressFamily::Unix,
            socket::SockType::Stream,
            None,
            socket::SockFlag::SOCK_CLOEXEC,
        )?;
        Ok(ConsoleSocket { parent, child })
    }
}

/// In the container, after its /dev is mounted: opens a pty in its devpts,
/// sizes it, optionally shows it as /dev/console, sends the master to rcorch
/// and returns the slave for the process's stdio.
pub fn create_in_container(
    socket: RawFd,
    size: Option<Winsize>,
    bind_console: bool,
) -> nix::Result<RawFd> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let slave_path = nix::pty::ptsname_r(&master)?;
    let slave = nix::fcntl::open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        Mode::empty(),
    )?;
    if let Some(size) = size {
        // SAFETY: TIOCSWINSZ reads the struct we pass.
        Errno::result(unsafe { libc::ioctl(slave, libc::TIOCSWINSZ, &size) })?;
    }
    if bind_console {
        let _ = nix::fcntl::open(
            "/dev/console",
            OFlag::O_CREAT | OFlag::O_WRONLY,
            Mode::from_bits_truncate(0o600),
        )
        .map(nix::unistd::close);
        let none: Option<&str> = None;
        nix::mount::mount(
            Some(slave_path.as_str()),
            "/dev/console",
            none,
            nix::mount::MsFlags::MS_BIND,
            none,
        )?;
    }
    let fds = [master.as_raw_fd()];
    let control = [ControlMessage::ScmRights(&fds)];
    socket::sendmsg::<()>(
        socket,
        &[IoSlice::new(b"m")],
        &control,
        MsgFlags::empty(),
        None,
    )?;
    Ok(slave)
}

/// Receives the master end sent by `create_in_container`.
pub fn receive_master(socket: &OwnedFd) -> nix::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = socket::recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel installed this fd for us with the message.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(Errno::EBADMSG)
}
