//! The container's standard streams: pipes the monitor reads (logged, and
//! echoed in the foreground), or a pty for `-t`.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::termios::{self, SetArg, Termios};

use super::console::{receive_master, ConsoleSocket};
use super::echo::Echo;
use super::logs::Stream;
use super::monitor::ParentSide;

pub enum ContainerStdio {
    Pipes {
        stdin: OwnedFd,
        stdout: (OwnedFd, OwnedFd),
        stderr: (OwnedFd, OwnedFd),
        echo: Echo,
    },
    /// The pty is made inside the container; its master arrives on `socket`.
    Tty {
        socket: ConsoleSocket,
        size: Option<nix::pty::Winsize>,
        stdin_forward: bool,
        /// Detached `-it`: the FIFO the monitor copies into the pty.
        stdin_fifo: Option<OwnedFd>,
        echo: Echo,
        terminal: Option<TerminalGuard>,
    },
}

pub struct StdioRequest {
    pub tty: bool,
    pub interactive: bool,
    /// Attached to the user's terminal (foreground `run`), not detached.
    pub foreground: bool,
    /// Copy the output to rcorch's own stdout/stderr (foreground `run`;
    /// a quiet build step only logs it).
    pub echo: Echo,
    /// Detached `-i`: the FIFO `attach` writes the container's input into.
    pub stdin_fifo: Option<PathBuf>,
}

/// The name of the stdin FIFO in a container's directory.
pub const STDIN_FIFO: &str = "stdin";

impl StdioRequest {
    /// A detached (or restarted) container's streams: only the log, and
    /// with `-i` a FIFO in `dir` for `attach`.
    pub fn detached(config: &crate::container::ContainerConfig, dir: &Path) -> StdioRequest {
        StdioRequest {
            tty: config.tty,
            interactive: config.interactive,
            foreground: false,
            echo: Echo::Off,
            stdin_fifo: config.interactive.then(|| dir.join(STDIN_FIFO)),
        }
    }
}

/// Opens (making it first) the FIFO read and written both ways, so the
/// container never sees EOF as attachers come and go (Docker's `-i`).
fn open_stdin_fifo(path: &Path) -> nix::Result<OwnedFd> {
    match nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    let fd = nix::fcntl::open(
        path,
        OFlag::O_RDWR | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open just returned this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
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
        } else if let Some(fifo) = req.stdin_fifo.as_deref().filter(|_| req.interactive) {
            open_stdin_fifo(fifo)?
        } else {
            dev_null()?
        };
        Ok(ContainerStdio::Pipes {
            stdin,
            stdout: nix::unistd::pipe2(OFlag::O_CLOEXEC)?,
            stderr: nix::unistd::pipe2(OFlag::O_CLOEXEC)?,
            echo: req.echo.clone(),
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
            ContainerStdio::Tty { .. } => [-1; 3],
        }
    }

    /// The container side of the console socket and the size to give the pty.
    pub fn console_request(&self) -> Option<(RawFd, Option<nix::pty::Winsize>)> {
        match self {
            ContainerStdio::Tty { socket, size, .. } => Some((socket.child.as_raw_fd(), *size)),
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
                socket,
                stdin_forward,
                stdin_fifo,
                echo,
                terminal,
                ..
            } => ParentSide {
                outputs: receive_master(&socket.parent)
                    .map(|master| vec![(master, Stream::Stdout)])
                    .unwrap_or_default(),
                echo,
                // The monitor keeps the FIFO open for the container's life.
                stdin_to_master: match stdin_fifo {
                    Some(fifo) => Some(fifo.into_raw_fd()),
                    None => stdin_forward.then_some(0),
                },
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
    let terminal = if attached {
        TerminalGuard::raw(0).ok()
    } else {
        None
    };
    Ok(ContainerStdio::Tty {
        socket: ConsoleSocket::new()?,
        size: if attached { window_size(0) } else { None },
        stdin_forward: req.interactive && req.foreground,
        stdin_fifo: match req.stdin_fifo.as_deref().filter(|_| req.interactive) {
            Some(path) if !req.foreground => Some(open_stdin_fifo(path)?),
            _ => None,
        },
        echo: req.echo.clone(),
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
    socket: ConsoleSocket,
    size: Option<nix::pty::Winsize>,
    forward_stdin: bool,
    terminal: Option<TerminalGuard>,
}

impl ExecPty {
    pub fn open(interactive: bool) -> nix::Result<ExecPty> {
        let attached = nix::unistd::isatty(0).unwrap_or(false);
        let terminal = if attached && interactive {
            TerminalGuard::raw(0).ok()
        } else {
            None
        };
        Ok(ExecPty {
            socket: ConsoleSocket::new()?,
            size: if attached { window_size(0) } else { None },
            forward_stdin: interactive,
            terminal,
        })
    }

    /// What the process in the container needs to make its pty.
    pub fn console_request(&self) -> (RawFd, Option<nix::pty::Winsize>) {
        (self.socket.child.as_raw_fd(), self.size)
    }

    /// Copies until the master reports EOF or EIO (every slave closed).
    pub fn relay(self) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let ExecPty {
            socket,
            forward_stdin,
            terminal,
            ..
        } = self;
        // Our copy of the container end must go, or a process that fails
        // before sending its master would leave us waiting forever.
        drop(socket.child);
        let Ok(master) = receive_master(&socket.parent) else {
            return;
        };
        let mut buf = vec![0u8; 16 * 1024];
        let mut stdin_open = forward_stdin;
        loop {
            // SAFETY: fd 0 stays open for the life of the process.
            let stdin = unsafe { std::os::fd::BorrowedFd::borrow_raw(0) };
            let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            if stdin_open {
                fds.push(PollFd::new(stdin, PollFlags::POLLIN));
            }
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            let master_ready = fds[0].any().unwrap_or(false);
            let stdin_ready = fds.get(1).and_then(|f| f.any()).unwrap_or(false);
            if master_ready {
                match nix::unistd::read(master.as_raw_fd(), &mut buf) {
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
                        let _ = nix::unistd::write(&master, &buf[..n]);
                    }
                }
            }
        }
        drop(terminal);
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
