//! `dashboard [-p NAME | -f FILE] [--no-stream]`: one compose project at a
//! glance, redrawn each second on the alternate screen until `q` (or
//! Ctrl-C); one plain snapshot when stdout is not a terminal. This module
//! only reads the project's files and cgroups into a `DashboardModel` and
//! puts frames on the terminal; `dashboard_view` decides what they show.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use clap::Args;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

use super::dashboard_view::{
    self, BackendView, DashboardModel, History, Reading, ReplicaView, ServiceView,
};
use super::project::{project_name, ProjectArgs};
use super::{CliResult, Failure};
use crate::container::store::Record;
use crate::container::Status;
use crate::instance::Instance;
use crate::project::replicas::replica_labels;
use crate::project::{events, ProjectDir, ProjectRecord};
use crate::runtime::control::observed_status;
use crate::supervisor::health::HealthStatus;
use crate::supervisor::RunState;

#[derive(Args, Debug)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Print one plain snapshot and exit (also when stdout is not a terminal)
    #[arg(long)]
    no_stream: bool,
}

pub fn dashboard(instance: &Instance, args: &DashboardArgs) -> CliResult {
    let name = project_name(instance, &args.project)?;
    // A project that is not there is an error before any screen is taken.
    ProjectDir::new(&instance.root, &name).load()?;
    let mut collector = Collector {
        instance,
        dir: ProjectDir::new(&instance.root, &name),
        histories: BTreeMap::new(),
        last: Instant::now(),
    };
    if args.no_stream || !std::io::stdout().is_terminal() {
        // Two readings apart, so CPU % has a rate (as `stats --no-stream`).
        collector.refresh()?;
        std::thread::sleep(Duration::from_millis(500));
        let model = collector.refresh()?;
        for line in dashboard_view::render(&model, usize::MAX, usize::MAX) {
            println!("{line}");
        }
        return Ok(0);
    }
    live(&mut collector)
}

/// Reads the project each refresh, keeping the replicas' histories.
struct Collector<'a> {
    instance: &'a Instance,
    dir: ProjectDir,
    histories: BTreeMap<String, History>,
    last: Instant,
}

impl Collector<'_> {
    fn refresh(&mut self) -> Result<DashboardModel, Failure> {
        let name = self.dir.name.clone();
        // Gone since (a `down` meanwhile): an empty project, not an error.
        let record = self.dir.load().unwrap_or_else(|_| ProjectRecord {
            name: name.clone(),
            services: Vec::new(),
            networks: Vec::new(),
            metrics: None,
        });
        let mut running: Vec<Record> = self
            .instance
            .containers
            .list()?
            .into_iter()
            .filter(|r| replica_labels(r, &name).is_some())
            .filter(|r| observed_status(&r.state) == Status::Running)
            .collect();
        running.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        let now = Instant::now();
        let readings = self.readings(&running);
        self.histories = dashboard_view::advance(&self.histories, &readings, now - self.last);
        self.last = now;
        let replicas = running
            .iter()
            .filter_map(|r| {
                let history = self.histories.get(&r.config.id)?.clone();
                let name = r.config.name.clone();
                Some(ReplicaView { name, history })
            })
            .collect();
        let events = events::read(&self.dir.events_path());
        let skip = events.len().saturating_sub(dashboard_view::EVENT_LINES);
        let time = crate::util::time::now_rfc3339();
        Ok(DashboardModel {
            project: name.clone(),
            time: time.get(11..19).unwrap_or(&time).to_string(),
            services: services(&self.dir, &record, &running),
            replicas,
            backends: backends(self.instance, &record, &running),
            events: events[skip..].iter().map(events::Event::line).collect(),
        })
    }

    /// Each running replica's cgroup, read as `rcorch stats` reads it.
    fn readings(&self, running: &[Record]) -> Vec<Reading> {
        let Ok(layout) = self.instance.cgroup_layout() else {
            return Vec::new();
        };
        running
            .iter()
            .filter_map(|r| {
                let c = &r.config;
                let cgroup = crate::cgroups::container_manager(
                    &layout,
                    c.cgroup_manager,
                    &c.cgroup_parent,
                    &c.id,
                )
                .ok()?;
                let stats = cgroup.stats().ok()?;
                Some(Reading {
                    id: c.id.clone(),
                    cpu_ns: stats.cpu_usage_ns,
                    memory: stats.memory_usage,
                    memory_limit: stats.memory_limit,
                })
            })
            .collect()
    }
}

/// Desired, running and healthy replicas and the slots admission holds, per service.
fn services(dir: &ProjectDir, record: &ProjectRecord, running: &[Record]) -> Vec<ServiceView> {
    let health = dir.load_health();
    let pending = dir.load_pending();
    record
        .services
        .iter()
        .map(|s| {
            let name = &s.spec.name;
            let own: Vec<&Record> = running
                .iter()
                .filter(|r| replica_labels(r, &record.name).is_some_and(|(sv, _, _)| &sv == name))
                .collect();
            let healthy = own
                .iter()
                .filter(|r| {
                    let report = health.get(&r.config.id);
                    report.is_some_and(|h| h.status == HealthStatus::Healthy)
                })
                .count() as u32;
            let prefix = format!("{name}.");
            ServiceView {
                name: name.clone(),
                desired: s.spec.replicas,
                stopped: s.spec.run == RunState::Stopped,
                running: own.len() as u32,
                healthy: s.spec.health.is_some().then_some(healthy),
                pending: pending
                    .iter()
                    .filter(|(slot, _)| slot.starts_with(&prefix))
                    .map(|(slot, why)| (slot.clone(), why.clone()))
                    .collect(),
            }
        })
        .collect()
}

/// The project's balanced services' running replicas: whether each is a
/// member, and the established TCP connections it holds on the service's
/// container ports (counted in its network namespace, as the autoscaler does).
/// With `/metrics` served, also the balancer's selections of each.
fn backends(instance: &Instance, record: &ProjectRecord, running: &[Record]) -> Vec<BackendView> {
    let project = record.name.as_str();
    let selections =
        (record.metrics.as_deref()).and_then(|addr| super::dashboard_lb::fetch(addr, project));
    let net = super::netview::NetView::load(&instance.root);
    let state = net.state();
    let mut out = Vec::new();
    for lb in state.services.values().filter(|s| s.project == project) {
        let ports: Vec<u16> = lb.ports.iter().map(|p| p.container_port).collect();
        for e in state.endpoints_on(&lb.network) {
            let Some(r) = running.iter().find(|r| r.config.id == e.container_id) else {
                continue;
            };
            if !lb.replicas.contains(&e.ip) {
                continue;
            }
            let pid = r.state.pid.unwrap_or(0);
            let proc_root = std::path::Path::new("/proc");
            out.push(BackendView {
                service: lb.service.clone(),
                replica: r.config.name.clone(),
                address: e.ip.to_string(),
                member: lb.backends.contains(&e.ip),
                connections: crate::project::autoscaler::read_connections(proc_root, pid, &ports),
                selections: (selections.as_ref()).map(|s| {
                    let key = (lb.service.clone(), e.ip.to_string());
                    s.get(&key).copied().unwrap_or(0)
                }),
            });
        }
    }
    out.sort_by(|a, b| (&a.service, &a.replica).cmp(&(&b.service, &b.replica)));
    out
}

/// The terminal as the dashboard holds it: keys unbuffered and unechoed,
/// the alternate screen, no cursor. Dropped, it puts everything back.
struct Screen {
    saved: Option<Termios>,
}

const ENTER: &str = "\x1b[?1049h\x1b[?25l";
/// Shows the cursor and leaves the alternate screen.
pub const LEAVE: &str = "\x1b[?25h\x1b[?1049l";

impl Screen {
    fn take() -> Screen {
        let stdin = std::io::stdin();
        // Only when stdin is a terminal: there `q` can be read at once.
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(saved) = &saved {
            let mut raw = saved.clone();
            // ISIG stays: Ctrl-C arrives as SIGINT, through the signalfd.
            raw.local_flags
                .remove(LocalFlags::ICANON | LocalFlags::ECHO);
            raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 0;
            raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        }
        write_out(ENTER);
        Screen { saved }
    }

    fn draw(&self, lines: &[String]) {
        let mut text = String::from("\x1b[H");
        for line in lines {
            text.push_str(line);
            text.push_str("\x1b[K\r\n");
        }
        text.push_str("\x1b[J");
        write_out(&text);
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        write_out(LEAVE);
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

fn write_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn quit_signals() -> nix::Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block()?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK)
}

/// Redraws each second until `q`, Ctrl-C, or a SIGTERM/SIGHUP.
fn live(collector: &mut Collector) -> CliResult {
    let signals = quit_signals().map_err(|e| format!("cannot block signals: {e}"))?;
    let screen = Screen::take();
    let stdin = std::io::stdin();
    loop {
        let model = collector.refresh()?;
        let (width, height) = crate::util::term::size_of(std::io::stdout().as_raw_fd());
        screen.draw(&dashboard_view::render(&model, width, height));
        let deadline = Instant::now() + Duration::from_secs(1);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let ms = u16::try_from(left.as_millis()).unwrap_or(1000);
            let mut fds = [
                PollFd::new(signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
            ];
            // A terminal's stdin only: a closed pipe would poll ready forever.
            let watched = if screen.saved.is_some() { 2 } else { 1 };
            match poll(&mut fds[..watched], PollTimeout::from(ms)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("cannot wait for keys: {e}").into()),
                Ok(_) => {}
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            if ready(&fds[0]) {
                return Ok(0);
            }
            if watched == 2 && ready(&fds[1]) && quit_key(&mut stdin.lock()) {
                return Ok(0);
            }
        }
    }
}

/// Reads the keys pressed; whether one was `q` (or Ctrl-C typed without ISIG).
fn quit_key(input: &mut impl Read) -> bool {
    let mut keys = [0u8; 64];
    match input.read(&mut keys) {
        Ok(n) if n > 0 => keys[..n].iter().any(|k| matches!(k, b'q' | b'Q' | 3)),
        // Ready yet empty (the terminal hung up) or broken: nothing left
        // to watch, so quit.
        _ => true,
    }
}
