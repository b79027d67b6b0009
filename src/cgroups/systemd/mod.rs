//! The systemd cgroup driver: each container's cgroup is a transient scope
//! (`rcorch-<id>.scope`) in a slice (`rcorch.slice` by default), created
//! through systemd's D-Bus API with `Delegate=true`, as runc's systemd
//! driver does. systemd gets the limits it has properties for; the cgroupfs
//! backend writes every limit into the delegated scope, so what the
//! cgroupfs driver enforces is enforced here too.

mod bus;
pub mod dbus;
pub mod driver;
pub mod naming;
mod oom_watch;
pub mod props;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::devices::DeviceAccess;
use super::{CgroupManager, Layout, Limits, Result, Stats, Usage};
use dbus::Value;
pub use driver::{choose, observe, Driver, DriverError, SystemdFacts};

/// How long systemd may take to move a process into its new scope (or to
/// remove a stopped one) — seconds normally, longer in an emulated guest.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("cannot reach systemd over D-Bus ({tried}); is systemd PID 1? use --cgroup-manager cgroupfs otherwise")]
    Connect { tried: String },
    #[error("talking to systemd over D-Bus: {0}")]
    Io(std::io::Error),
    #[error("systemd refused D-Bus authentication: {reply:?}")]
    Auth { reply: String },
    #[error("malformed D-Bus message from systemd: {0}")]
    Decode(#[from] dbus::DecodeError),
    #[error("systemd {method} {unit}: {name}: {message}")]
    Call {
        method: &'static str,
        unit: String,
        name: String,
        message: String,
    },
    #[error("systemd did not move pid {pid} into {unit} within {}s", JOB_TIMEOUT.as_secs())]
    Timeout { unit: String, pid: i32 },
    #[error(
        "--cgroup-parent {parent:?} is not a systemd slice: with --cgroup-manager systemd \
         name a slice (e.g. {parent}.slice) or use --cgroup-manager cgroupfs"
    )]
    NotASlice { parent: String },
    #[error("invalid systemd slice name {slice:?} (expected NAME.slice, dash-separated parts)")]
    InvalidSlice { slice: String },
}

/// What waits for the scope: the limits and devices asked for before the
/// container's process (which the scope is created around) existed.
#[derive(Debug, Default)]
struct Pending {
    limits: Limits,
    devices: Option<DeviceAccess>,
}

/// A container's cgroup as a systemd scope; the cgroupfs manager of the
/// scope's directory does the reading and writing.
#[derive(Debug)]
pub struct SystemdManager {
    inner: Box<dyn CgroupManager>,
    unit: String,
    slice: String,
    /// The scope's path below the hierarchy root ("rcorch.slice/rcorch-<id>.scope").
    path: String,
    description: String,
    pending: Mutex<Pending>,
    /// The running scope's memory.events watch (made by `enter`).
    oom: Mutex<Option<oom_watch::OomWatch>>,
}

impl SystemdManager {
    /// The scope of container `id` in `slice` (a name ending in ".slice").
    pub fn new(layout: &Layout, slice: &str, id: &str) -> Result<SystemdManager> {
        let scope = naming::OciScope {
            slice: slice.to_string(),
            unit: naming::scope_unit(id),
        };
        SystemdManager::for_scope(layout, &scope, format!("rcorch container {id}"))
    }

    /// The scope a caller named (an OCI cgroupsPath under `--systemd-cgroup`).
    pub fn for_scope(
        layout: &Layout,
        scope: &naming::OciScope,
        description: String,
    ) -> Result<SystemdManager> {
        let parent = naming::slice_path(&scope.slice)?;
        Ok(SystemdManager {
            inner: super::manager_for(layout, &parent, &scope.unit)?,
            unit: scope.unit.clone(),
            slice: scope.slice.clone(),
            path: format!("{parent}/{}", scope.unit),
            description,
            pending: Mutex::new(Pending::default()),
            oom: Mutex::new(None),
        })
    }

    fn exists(&self) -> bool {
        self.inner.cgroup_dirs().iter().any(|d| d.exists())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn oom(&self) -> std::sync::MutexGuard<'_, Option<oom_watch::OomWatch>> {
        self.oom.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_scope(&self, bus: &mut bus::Bus, pid: i32, limits: &Limits) -> Result<()> {
        let props = props::scope_properties(pid as u32, &self.slice, &self.description, limits);
        let body = || {
            vec![
                Value::Str(self.unit.clone()),
                Value::Str("fail".into()),
                Value::Array("(sv)".into(), props.clone()),
                Value::Array("(sa(sv))".into(), Vec::new()),
            ]
        };
        match bus.manager_call("StartTransientUnit", &self.unit, body()) {
            // The previous run's scope, still stopping (a restart).
            Err(SystemdError::Call { name, .. }) if name.ends_with(".UnitExists") => {
                self.stop_unit(bus);
                bus.manager_call("StartTransientUnit", &self.unit, body())?;
            }
            other => {
                other?;
            }
        }
        wait_until(|| self.holds(pid)).ok_or(SystemdError::Timeout {
            unit: self.unit.clone(),
            pid,
        })?;
        Ok(())
    }

    /// Whether `pid` is in the scope's cgroup (on any hierarchy).
    fn holds(&self, pid: i32) -> bool {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let suffix = format!("/{}", self.path);
        text.lines().any(|l| l.ends_with(&suffix))
    }

    /// Stops the unit and waits for systemd to remove its cgroup; a unit
    /// that is already gone is fine.
    fn stop_unit(&self, bus: &mut bus::Bus) {
        let name = Value::Str(self.unit.clone());
        let mode = Value::Str("replace".into());
        if bus
            .manager_call("StopUnit", &self.unit, vec![name.clone(), mode])
            .is_ok()
        {
            wait_until(|| !self.exists());
        }
        // A scope whose processes were killed ends "failed": forget it.
        let _ = bus.manager_call("ResetFailedUnit", &self.unit, vec![name]);
    }
}

/// Polls `done` until it holds or [`JOB_TIMEOUT`] passes.
fn wait_until(done: impl Fn() -> bool) -> Option<()> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > JOB_TIMEOUT {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Some(())
}

impl CgroupManager for SystemdManager {
    /// Remembered for the scope [`enter`](CgroupManager::enter) creates;
    /// written at once to a scope that exists (`update`), and told to
    /// systemd so a daemon-reload keeps them.
    fn apply_limits(&self, limits: &Limits) -> Result<()> {
        self.pending().limits = limits.clone();
        if !self.exists() {
            return Ok(());
        }
        self.inner.apply_limits(limits)?;
        let mut bus = bus::Bus::connect()?;
        let props = props::limit_properties(limits);
        let body = vec![
            Value::Str(self.unit.clone()),
            Value::Bool(true),
            Value::Array("(sv)".into(), props),
        ];
        bus.manager_call("SetUnitProperties", &self.unit, body)?;
        Ok(())
    }

    fn set_devices(&self, access: &DeviceAccess) -> Result<()> {
        self.pending().devices = Some(access.clone());
        match self.exists() {
            true => self.inner.set_devices(access),
            false => Ok(()),
        }
    }

    fn needs_pid(&self) -> bool {
        true
    }

    /// Creates the scope around `pid` (the container's process, waiting
    /// before its setup), then writes the limits and devices into it.
    fn enter(&self, pid: i32) -> Result<()> {
        let (limits, devices) = {
            let p = self.pending();
            (p.limits.clone(), p.devices.clone())
        };
        let mut bus = bus::Bus::connect()?;
        let _ = bus.manager_call(
            "ResetFailedUnit",
            &self.unit,
            vec![Value::Str(self.unit.clone())],
        );
        self.start_scope(&mut bus, pid, &limits)?;
        let applied = self
            .inner
            .apply_limits(&limits)
            .and_then(|()| match &devices {
                Some(d) => self.inner.set_devices(d),
                None => Ok(()),
            });
        if applied.is_err() {
            let _ = self.inner.kill_all(Signal::SIGKILL);
            self.stop_unit(&mut bus);
        }
        // A new scope per start (restarts too): a new watch, nothing seen.
        *self.oom() = self
            .inner
            .cgroup_dirs()
            .iter()
            .map(|d| d.join("memory.events"))
            .find(|f| f.exists())
            .and_then(|f| oom_watch::OomWatch::new(&f));
        applied
    }

    fn lift_pids_limit(&self) -> Result<()> {
        self.inner.lift_pids_limit()?;
        let mut bus = bus::Bus::connect()?;
        let infinity = dbus::property("TasksMax", Value::U64(u64::MAX));
        let body = vec![
            Value::Str(self.unit.clone()),
            Value::Bool(true),
            Value::Array("(sv)".into(), vec![infinity]),
        ];
        bus.manager_call("SetUnitProperties", &self.unit, body)?;
        Ok(())
    }

    fn procs_files(&self) -> Vec<PathBuf> {
        self.inner.procs_files()
    }

    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        self.inner.cgroup_dirs()
    }

    fn pids(&self) -> Result<Vec<i32>> {
        self.inner.pids()
    }

    fn stats(&self) -> Result<Stats> {
        self.inner.stats()
    }

    /// What the watch saw while the scope ran (systemd removes the cgroup,
    /// memory.events with it, once its last process is gone), else the
    /// file if it is still there, else the scope's `Result` (systemd 253+
    /// sets "oom-kill"; it stays until `ResetFailedUnit`).
    fn oom_killed(&self) -> Result<bool> {
        if self.oom().as_ref().is_some_and(|w| w.seen()) {
            return Ok(true);
        }
        if self.inner.oom_killed().unwrap_or(false) {
            return Ok(true);
        }
        let result = bus::Bus::connect().and_then(|mut bus| {
            bus.unit_property(&self.unit, "org.freedesktop.systemd1.Scope", "Result")
        });
        Ok(matches!(result, Ok(Value::Str(r)) if r == "oom-kill"))
    }

    fn events_fd(&self) -> Option<std::os::fd::RawFd> {
        self.oom().as_ref().map(|w| w.fd())
    }

    fn note_events(&self) {
        if let Some(w) = self.oom().as_ref() {
            w.read();
        }
    }

    fn usage(&self) -> Result<Usage> {
        self.inner.usage()
    }

    fn kill_all(&self, signal: Signal) -> Result<()> {
        match self.exists() {
            true => self.inner.kill_all(signal),
            false => Ok(()),
        }
    }

    /// Stops the unit (systemd removes its cgroup) and resets it, so no
    /// unit is left; removes the directory itself if systemd could not.
    fn destroy(&self) -> Result<()> {
        if let Ok(mut bus) = bus::Bus::connect() {
            self.stop_unit(&mut bus);
        }
        self.inner.destroy()
    }
}
