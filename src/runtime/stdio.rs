//! The container's standard streams: pipes the monitor reads (logged, and
//! echoed in the foreground), or a pty for `-t`.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sys::termios::{self, SetArg, Termios};

use super::logs::Stream;
use super::monitor::ParentSide;

pub enum ContainerStdio {
    Pipes {
        stdin: OwnedFd,
        stdout: (OwnedFd, OwnedFd),
        stderr: (OwnedFd, OwnedFd),
        echo: bool,
    },
    Tty {
        master: OwnedFd,
        slave: OwnedFd,
        slave_path: PathBuf,
        stdin_forward: bool,
        terminal: Option<TerminalGuard>,
    },
}

pub struct StdioRequest {
    pub tty: bool,
    pub interactive: bool,
    /// Attached to the user's terminal (foreground `run`), not detached.
    pub foreground: bool,
}

impl ContainerStdio {
    pub fn open(req: &StdioRequest) -> nix::Result<ContainerStdio> {
        if req.tty {
            return open_tty(req);
        }
        let stdin = if req.interactive && req.foreground {
            nix::unistd::dup(0).map(|fd| {
                let _ = nix::fcntl::fcntl(
                    fd,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                );
                // SAFETY: dup just returned this fd.
                unsafe { OwnedFd::from_raw_fd(fd) }
            })?
        } else {
            dev_null()?
        };
        Ok(ContainerStdio::Pipes {
            stdin,
            stdout: nix::unistd::pipe2(OFlag::O_CLOEXEC)?,
            stderr: nix::unistd::pipe2(OFlag::O_CLOEXEC)?,
            echo: req.foreground,
        })
    }

    /// The fds the child dups onto 0, 1 and 2.
    pub fn child_fds(&self) -> [RawFd; 3] {
        match self {
            ContainerStdio::Pipes {
                stdin,
                stdout,
                stderr,
                ..
            } => [
                stdin.as_raw_fd(),
                stdout.1.as_raw_fd(),
                stderr.1.as_raw_fd(),
            ],
            ContainerStdio::Tty { slave, .. } => [slave.as_raw_fd(); 3],
        }
    }

    pub fn console_path(&self) -> Option<PathBuf> {
        match self {
            ContainerStdio::Tty { slave_path, .. } => Some(slave_path.clone()),
            ContainerStdio::Pipes { .. } => None,
        }
    }

    /// Drops the child's ends (so EOF arrives when the container closes its
    /// own) and keeps ours.
    pub fn into_parent_side(self) -> ParentSide {
        match self {
            ContainerStdio::Pipes {
                stdout,
                stderr,
                echo,
                ..
            } => ParentSide {
                outputs: vec![(stdout.0, Stream::Stdout), (stderr.0, Stream::Stderr)],
                echo,
                stdin_to_master: None,
                terminal: None,
            },
            ContainerStdio::Tty {
                master,
                stdin_forward,
                terminal,
                ..
            } => ParentSide {
                outputs: vec![(master, Stream::Stdout)],
                echo: terminal.is_some(),
                stdin_to_master: stdin_forward.then_some(0),
                terminal,
            },
        }
    }
}

fn dev_null() -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        "/dev/null",
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open just returned this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_tty(req: &StdioRequest) -> nix::Result<ContainerStdio> {
    let attached = req.foreground && nix::unistd::isatty(0).unwrap_or(false);
    let winsize = attached.then(|| window_size(0)).flatten();
    let pty = nix::pty::openpty(winsize.as_ref(), None)?;
    for fd in [&pty.master, &pty.slave] {
        nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )?;
    }
    let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))
        .map_err(|_| nix::errno::Errno::ENOTTY)?;
    let terminal = if attached {
        TerminalGuard::raw(0).ok()
    } else {
        None
    };
    Ok(ContainerStdio::Tty {
        master: pty.master,
        slave: pty.slave,
        slave_path,
        stdin_forward: req.interactive && req.foreground,
        terminal,
    })
}

fn window_size(fd: RawFd) -> Option<nix::pty::Winsize> {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the struct we pass.
    let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0;
    ok.then_some(ws)
}

/// Puts the user's terminal in raw mode while attached, and restores it.
pub struct TerminalGuard {
    fd: RawFd,
    saved: Termios,
}

impl TerminalGuard {
    pub fn raw(fd: RawFd) -> nix::Result<TerminalGuard> {
        // SAFETY: fd 0 stays open for the life of the process.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let saved = termios::tcgetattr(borrowed)?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(borrowed, SetArg::TCSANOW, &raw)?;
        Ok(TerminalGuard { fd, saved })
    }

    /// Gives the pty the user's window size (on start and on SIGWINCH).
    pub fn copy_size_to(&self, master: RawFd) {
        if let Some(ws) = window_size(self.fd) {
            // SAFETY: TIOCSWINSZ reads the struct we pass.
            unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &ws) };
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // SAFETY: as in `raw`.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(borrowed, SetArg::TCSANOW, &self.saved);
    }
}

/// A pty for `exec -t`: the slave goes to the process, and we copy between
/// the master and the user's terminal until the process closes it.
pub struct ExecPty {
    master: OwnedFd,
    slave: Option<OwnedFd>,
    forward_stdin: bool,
    terminal: Option<TerminalGuard>,
}

impl ExecPty {
    pub fn open(interactive: bool) -> nix::Result<ExecPty> {
        let attached = nix::unistd::isatty(0).unwrap_or(false);
        let winsize = if attached { window_size(0) } else { None };
        let pty = nix::pty::openpty(winsize.as_ref(), None)?;
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )?;
        }
        let terminal = if attached && interactive {
            TerminalGuard::raw(0).ok()
        } else {
            None
        };
        Ok(ExecPty {
            master: pty.master,
            slave: Some(pty.slave),
            forward_stdin: interactive,
            terminal,
        })
    }

    pub fn slave_fd(&self) -> RawFd {
        self.slave.as_ref().map(|s| s.as_raw_fd()).unwrap_or(-1)
    }

    /// Copies until the master reports EOF or EIO (every slave closed).
    pub fn relay(mut self) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        drop(self.slave.take());
        let mut buf = vec![0u8; 16 * 1024];
        let mut stdin_open = self.forward_stdin;
        loop {
            // SAFETY: fd 0 stays open for the life of the process.
            let stdin = unsafe { std::os::fd::BorrowedFd::borrow_raw(0) };
            let mut fds = vec![PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            if stdin_open {
                fds.push(PollFd::new(stdin, PollFlags::POLLIN));
            }
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            let master_ready = fds[0].any().unwrap_or(false);
            let stdin_ready = fds.get(1).and_then(|f| f.any()).unwrap_or(false);
            if master_ready {
                match nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        use std::io::Write;
                        let mut out = std::io::stdout();
                        let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
                    }
                }
            }
            if stdin_ready {
                match nix::unistd::read(0, &mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(n) => {
                        let _ = nix::unistd::write(&self.master, &buf[..n]);
                    }
                }
            }
        }
        drop(self.terminal.take());
    }
}

/// Points 0, 1 and 2 at /dev/null, for a detached monitor.
pub fn detach_standard_streams() {
    if let Ok(null) = dev_null() {
        for target in 0..3 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), target);
        }
        let _ = null.into_raw_fd();
    }
}
