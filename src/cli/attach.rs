//! `attach [--no-stdin] [--sig-proxy=BOOL] [--detach-keys K] CONTAINER`.
//!
//! rcorch has no daemon holding a container's streams, so attach is built
//! from what the monitor keeps: the output is the container's log,
//! followed from its end (a partial line, such as a shell prompt, shows
//! once its newline arrives); the input goes into the FIFO the monitor of
//! a detached `-i` container gives it as stdin (or copies into its pty);
//! signals are forwarded as `kill` sends them.

use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::CliResult;
use crate::container::detach_keys::{self, Matcher};
use crate::container::logging::LogDriver;
use crate::container::{ContainerConfig, Status};
use crate::instance::Instance;
use crate::runtime::control::{self, observed_status};
use crate::runtime::logs::LOG_FILE;
use crate::runtime::stdio::{TerminalGuard, STDIN_FIFO};

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  rcorch run -dit --name box busybox sh\n  rcorch attach box    (ctrl-p ctrl-q leaves it running)"
)]
pub struct AttachArgs {
    /// Do not send this terminal's input to the container
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Forward signals to the container (not with a TTY, as Docker)
    #[arg(long = "sig-proxy", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: Option<String>,
    /// Keys that detach from a TTY container (default ctrl-p,ctrl-q)
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    pub container: String,
}

/// `--sig-proxy[=true|false]`.
pub fn sig_proxy(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(format!("invalid --sig-proxy {v:?}: use true or false")),
    }
}

/// The signals a proxy forwards (Docker's, but those that stop or
/// resize the terminal): blocked, read from a signalfd.
pub fn proxy_signals() -> nix::Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
    ] {
        mask.add(s);
    }
    mask.thread_block()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK)
}

/// Forwards what arrived on `signals` to the container (it may be gone).
pub fn forward_pending(instance: &Instance, id: &str, signals: &SignalFd) {
    while let Ok(Some(info)) = signals.read_signal() {
        if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
            let _ = control::kill(instance, id, signal);
        }
    }
}

/// How to attach: our stdin to the container's, signals, detach keys.
pub struct AttachOptions {
    pub stdin: bool,
    pub sig_proxy: bool,
    pub keys: Vec<u8>,
}

pub fn attach(instance: &Instance, args: &AttachArgs) -> CliResult {
    let options = AttachOptions {
        stdin: !args.no_stdin,
        sig_proxy: sig_proxy(args.sig_proxy.as_deref())?,
        keys: detach_keys::parse(args.detach_keys.as_deref().unwrap_or(detach_keys::DEFAULT))?,
    };
    let id = instance.containers.resolve(&args.container)?;
    let record = instance.containers.load(&id)?;
    if observed_status(&record.state) != Status::Running {
        return Err("You cannot attach to a stopped container, start it first".into());
    }
    if crate::runtime::pause::is_paused(instance, &record) {
        return Err("You cannot attach to a paused container, unpause it first".into());
    }
    if record.config.log.driver == LogDriver::None {
        return Err(format!(
            "cannot attach to {}: rcorch attaches through the log, and it was run with --log-driver none",
            record.config.name
        )
        .into());
    }
    // Where the output starts: before any input of ours can produce more.
    let log = instance.containers.container_dir(&id).join(LOG_FILE);
    let mut file = std::fs::File::open(&log)?;
    file.seek(std::io::SeekFrom::End(0))?;
    follow_container(instance, &record.config, file, &options)
}

/// `run --sig-proxy=false` or `--detach-keys` in the foreground: the
/// container starts with a detached monitor (so it outlives us, as with
/// Docker's daemon) and we attach to it from its first line.
pub fn run_attached(
    instance: &Instance,
    request: &crate::container::build::RunRequest,
    options: &AttachOptions,
) -> CliResult {
    use crate::runtime::run;
    let start = |e: run::RunError| super::Failure::of_start(&e, e.start_code());
    if request.log_driver.as_deref() == Some("none") {
        return Err("--sig-proxy=false and --detach-keys attach through the log: not with --log-driver none".into());
    }
    let id = run::create(instance, request).map_err(start)?;
    let config = instance.containers.load(&id)?.config;
    // Opened before the start, so a --rm container removed at once is
    // still read whole.
    let log = instance.containers.container_dir(&id).join(LOG_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(&log)?;
    run::start_existing(instance, &config, (false, false)).map_err(start)?;
    follow_container(instance, &config, file, options)
}

/// Streams the log from `file`'s position, our input into the FIFO,
/// signals to PID 1, until the container ends (its code) or we detach.
fn follow_container(
    instance: &Instance,
    config: &ContainerConfig,
    file: std::fs::File,
    options: &AttachOptions,
) -> CliResult {
    let id = &config.id;
    let dir = instance.containers.container_dir(id);
    let tty = config.tty;
    // Blocked before the stdin thread exists, so it inherits the mask.
    let signals = if options.sig_proxy && !tty {
        Some(proxy_signals()?)
    } else {
        None
    };
    let detached = Arc::new(AtomicBool::new(false));
    let mut terminal = None;
    if options.stdin && config.interactive {
        match open_fifo(&dir.join(STDIN_FIFO)) {
            Some(fifo) => {
                if tty && nix::unistd::isatty(0).unwrap_or(false) {
                    terminal = TerminalGuard::raw(0).ok();
                }
                let matcher = tty.then(|| Matcher::new(options.keys.clone()));
                let flag = detached.clone();
                std::thread::spawn(move || copy_input(fifo, matcher, &flag));
            }
            None => eprintln!(
                "rcorch: {}'s input belongs to the run that started it in the foreground: attaching its output only",
                config.name
            ),
        }
    }
    let mut stop = || {
        if let Some(fd) = &signals {
            forward_pending(instance, id, fd);
        }
        detached.load(Ordering::SeqCst)
    };
    super::logs::follow(instance, id, (file, &dir.join(LOG_FILE)), false, &mut stop)?;
    drop(terminal);
    if detached.load(Ordering::SeqCst) {
        // Docker's words and code for a detach.
        eprintln!("\r\nread escape sequence");
        return Ok(1);
    }
    Ok(exit_code(instance, id))
}

/// The container's exit code; once `--rm` removed it, its last `die` event's.
fn exit_code(instance: &Instance, id: &str) -> i32 {
    if let Ok(record) = instance.containers.load(id) {
        return record.state.exit_code.unwrap_or(0);
    }
    let events = crate::container::events::EventLog::open(&instance.root).read_all();
    events
        .iter()
        .rev()
        .find(|e| e["id"] == id && e["Action"] == "die")
        .and_then(|e| e["Actor"]["Attributes"]["exitCode"].as_str()?.parse().ok())
        .unwrap_or(0)
}

/// The FIFO for writing, if a monitor holds it (a foreground run has none).
fn open_fifo(path: &std::path::Path) -> Option<OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    // Non-blocking: ENXIO rather than a wait when nobody reads it.
    let fd = nix::fcntl::open(
        path,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    // SAFETY: open just returned this fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::empty())).ok()?;
    Some(fd)
}

/// Copies our stdin into the container's until EOF or the detach keys.
fn copy_input(fifo: OwnedFd, mut matcher: Option<Matcher>, detached: &AtomicBool) {
    let mut fifo = std::fs::File::from(fifo);
    let mut buf = [0u8; 4096];
    let mut stdin = std::io::stdin().lock();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let (bytes, detach) = match matcher.as_mut() {
            Some(m) => {
                let fed = m.feed(&buf[..n]);
                (fed.forward, fed.detach)
            }
            None => (buf[..n].to_vec(), false),
        };
        if fifo.write_all(&bytes).is_err() {
            return;
        }
        if detach {
            detached.store(true, Ordering::SeqCst);
            return;
        }
    }
}
