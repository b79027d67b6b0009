//! Signals and removal: `kill`, `stop` and `rm`, and how a stored record is
//! reconciled with what is really running (a crashed monitor or `run`
//! leaves a record whose process is gone).

use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use thiserror::Error;

use super::sys;
use crate::cgroups::CgroupError;
use crate::container::events;
use crate::container::store::{Record, StoreError};
use crate::container::{ContainerState, MountKind, MountSpec, Status};
use crate::instance::{Instance, InstanceError};
use crate::volume::store::VolumeStore;

/// How long `stop`/`rm -f` wait for the monitor to record the exit.
const MONITOR_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum ControlError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("container {name} is not running")]
    NotRunning { name: String },
    #[error("cannot remove running container {name}: stop it first or use rm -f")]
    Running { name: String },
    #[error("container {name} is restarting, wait until it is running (or stop it)")]
    Restarting { name: String },
    #[error("cannot signal container {name}: {source}")]
    Signal { name: String, source: nix::Error },
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
}

/// The status a record really has now: "running" only while its PID 1 is
/// alive and is the same process that was started.
pub fn observed_status(state: &ContainerState) -> Status {
    let pid_alive = || {
        state
            .pid
            .is_some_and(|pid| sys::same_process_alive(pid, state.pid_start_ticks))
    };
    match state.status() {
        // PID 1 is gone; until its monitor has recorded the exit (a few ms)
        // the container still counts as running, so nobody reads an exit
        // without its code. A dead monitor records nothing: exited.
        Status::Running if !pid_alive() && !monitor_alive(state) => Status::Exited,
        status => status,
    }
}

/// A monitor still owns the container while its process is alive (the
/// same process: pid and start time).
pub fn monitor_alive(state: &ContainerState) -> bool {
    state
        .monitor_pid
        .is_some_and(|pid| sys::same_process_alive(pid, state.monitor_start_ticks))
}

/// Exited, and its monitor (alive) is about to restart it (`--restart`).
pub fn restarting(state: &ContainerState) -> bool {
    state.restarting && state.status() == Status::Exited && monitor_alive(state)
}

/// Tells the monitor not to restart the container once it exits.
fn request_stop(instance: &Instance, record: &Record) {
    if !record.config.restart.is_no() {
        let _ = instance.containers.request_stop(&record.config.id);
    }
}

/// Ends a monitor's backoff: the request, a signal to wake it, then its exit.
fn cancel_restart(instance: &Instance, record: &Record) {
    let _ = instance.containers.request_stop(&record.config.id);
    if let Some(monitor) = record.state.monitor_pid {
        let _ = nix::sys::signal::kill(Pid::from_raw(monitor), Signal::SIGTERM);
        wait_for_exit(monitor, MONITOR_GRACE);
    }
}

fn wait_for_exit(pid: i32, timeout: Duration) -> bool {
    match sys::pidfd_open(pid) {
        Ok(fd) => sys::wait_pidfd(&fd, timeout.as_millis().min(i32::MAX as u128) as i32),
        Err(_) => true, // already gone
    }
}

pub fn kill(instance: &Instance, reference: &str, signal: Signal) -> Result<Record, ControlError> {
    let record = instance
        .containers
        .load(&instance.containers.resolve(reference)?)?;
    let name = record.config.name.clone();
    if restarting(&record.state) {
        return Err(ControlError::Restarting { name });
    }
    if observed_status(&record.state) != Status::Running {
        return Err(ControlError::NotRunning { name });
    }
    // Docker: the stop signal or SIGKILL ends restarting, others do not.
    if signal == Signal::SIGKILL || signal as i32 == record.config.stop_signal {
        request_stop(instance, &record);
    }
    let pid = Pid::from_raw(record.state.pid.unwrap_or(0));
    nix::sys::signal::kill(pid, signal).map_err(|source| ControlError::Signal { name, source })?;
    // As Docker: a paused container gets its signal (it is let go to see it).
    super::pause::thaw_quietly(instance, &record);
    let signal = (signal as i32).to_string();
    events::emit(
        &instance.root,
        &record.config,
        "kill",
        &[("signal", signal)],
    );
    Ok(record)
}

/// The stop signal, then SIGKILL after `timeout` (the container's own
/// `--stop-timeout` when None), then waits until the monitor recorded the exit.
pub fn stop(
    instance: &Instance,
    reference: &str,
    timeout: Option<u64>,
) -> Result<Record, ControlError> {
    stop_reporting(instance, reference, timeout, &mut |_| {})
}

/// `stop`, telling `progress` what it still waits for (after a second,
/// then every five) while the grace period runs.
pub fn stop_reporting(
    instance: &Instance,
    reference: &str,
    timeout: Option<u64>,
    progress: &mut dyn FnMut(&str),
) -> Result<Record, ControlError> {
    let record = instance
        .containers
        .load(&instance.containers.resolve(reference)?)?;
    if restarting(&record.state) {
        cancel_restart(instance, &record);
        return Ok(record);
    }
    if observed_status(&record.state) != Status::Running {
        return Ok(record); // Docker: stopping a stopped container succeeds.
    }
    request_stop(instance, &record);
    let pid = record.state.pid.unwrap_or(0);
    let grace = Duration::from_secs(timeout.unwrap_or(record.config.stop_timeout));
    let pidfd = sys::pidfd_open(pid).ok();
    let signal = Signal::try_from(record.config.stop_signal).unwrap_or(Signal::SIGTERM);
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
    super::pause::thaw_quietly(instance, &record);
    let emit = |action, extra: &[(&str, String)]| {
        events::emit(&instance.root, &record.config, action, extra)
    };
    emit("kill", &[("signal", (signal as i32).to_string())]);
    let exited = pidfd.as_ref().is_none_or(|fd| {
        let what = format!("{} to stop", record.config.name);
        wait_reporting(fd, grace, &what, progress)
    });
    if !exited {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        emit("kill", &[("signal", (Signal::SIGKILL as i32).to_string())]);
        if let Ok(cgroup) = instance.container_cgroup(&record.config) {
            let _ = cgroup.kill_all(Signal::SIGKILL);
        }
    }
    if let Some(monitor) = record.state.monitor_pid {
        wait_for_exit(monitor, MONITOR_GRACE);
    }
    emit("stop", &[]);
    Ok(record)
}

/// Waits up to `grace` for the pidfd, telling `progress` about `what`
/// after a second and then every five. True when the process exited.
fn wait_reporting(
    fd: &std::os::fd::OwnedFd,
    grace: Duration,
    what: &str,
    progress: &mut dyn FnMut(&str),
) -> bool {
    let mut waited = Duration::ZERO;
    let mut slice = Duration::from_secs(1);
    loop {
        let step = slice.min(grace.saturating_sub(waited));
        if sys::wait_pidfd(fd, step.as_millis() as i32) {
            return true;
        }
        waited += step;
        if waited >= grace {
            return false;
        }
        progress(&format!(
            "waiting for {what} ({}s of {}s, then SIGKILL)",
            waited.as_secs(),
            grace.as_secs()
        ));
        slice = Duration::from_secs(5);
    }
}

/// Removes a container completely: processes, cgroup, any leftover mount,
/// directory. Works on records left by a crashed `run` or monitor, and
/// (with `force`) on damaged ones: None then, as there is no record to
/// return.
pub fn remove(
    instance: &Instance,
    reference: &str,
    force: bool,
) -> Result<Option<Record>, ControlError> {
    let id = instance.containers.resolve(reference)?;
    let record = match instance.containers.load(&id) {
        Ok(record) => record,
        Err(StoreError::Unreadable { .. }) if force => {
            remove_damaged(instance, &id)?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let running = observed_status(&record.state) == Status::Running;
    if (running || restarting(&record.state)) && !force {
        return Err(ControlError::Running {
            name: record.config.name.clone(),
        });
    }
    if restarting(&record.state) {
        cancel_restart(instance, &record);
    } else if running {
        request_stop(instance, &record);
    }
    let cgroup = instance.container_cgroup(&record.config)?;
    if running {
        let _ = nix::sys::signal::kill(
            Pid::from_raw(record.state.pid.unwrap_or(0)),
            Signal::SIGKILL,
        );
        let signal = (Signal::SIGKILL as i32).to_string();
        events::emit(
            &instance.root,
            &record.config,
            "kill",
            &[("signal", signal)],
        );
    }
    let _ = cgroup.kill_all(Signal::SIGKILL);
    super::pause::thaw_quietly(instance, &record);
    if monitor_alive(&record.state) {
        wait_for_exit(record.state.monitor_pid.unwrap_or(0), MONITOR_GRACE);
    }
    cgroup.destroy()?;
    let rootfs = instance
        .containers
        .container_dir(&record.config.id)
        .join("rootfs");
    // The overlay lives in the container's mount namespace; this only
    // matters if something mounted it on the host.
    let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
    // The lease, rules and veth (already freed if the monitor saw the exit).
    let _ = super::net::release(&instance.root, &record.config.id, false);
    instance.containers.remove_dir(&record.config.id)?;
    events::emit(&instance.root, &record.config, "destroy", &[]);
    Ok(Some(record))
}

/// Removes a container whose record cannot be read, finding its processes
/// by what survives: the state file's pids (checked against their start
/// time), and the cgroup named by its id under this instance's cgroup
/// parent (where `run` put it, unless another --cgroup-parent was given).
fn remove_damaged(instance: &Instance, id: &str) -> Result<(), ControlError> {
    use crate::cgroups::systemd::{naming, Driver};
    let state = instance.containers.surviving_state(id).unwrap_or_default();
    let mut found = None;
    if let Some(pid) = state.pid {
        if sys::same_process_alive(pid, state.pid_start_ticks) {
            // Its own cgroup says where it lives, whatever --cgroup-parent
            // or --cgroup-manager this command was given.
            let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup"));
            found = cgroups.ok().and_then(|t| damaged_cgroup_in(&t, id));
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    let (driver, parent) = match found {
        Some(FoundCgroup::Scope { slice }) => (Driver::Systemd, slice),
        Some(FoundCgroup::Cgroupfs { parent }) => (Driver::Cgroupfs, parent),
        None => match instance.cgroup_manager {
            Driver::Systemd => (
                Driver::Systemd,
                naming::slice_for_parent(&instance.cgroup_parent).map_err(CgroupError::from)?,
            ),
            Driver::Cgroupfs => (Driver::Cgroupfs, instance.cgroup_parent.clone()),
        },
    };
    let layout = instance.cgroup_layout()?;
    let cgroup = crate::cgroups::container_manager(&layout, driver, &parent, id)?;
    let _ = cgroup.kill_all(Signal::SIGKILL);
    if monitor_alive(&state) {
        wait_for_exit(state.monitor_pid.unwrap_or(0), MONITOR_GRACE);
    }
    cgroup.destroy()?;
    let _ = super::net::release(&instance.root, id, false);
    instance.containers.remove_dir(id)?;
    Ok(())
}

/// Where a damaged container's cgroup is, as its process's
/// `/proc/PID/cgroup` shows it.
#[derive(Debug, PartialEq, Eq)]
pub enum FoundCgroup {
    /// `/PARENT/ID` (the cgroupfs driver).
    Cgroupfs { parent: String },
    /// `/…/SLICE/rcorch-ID.scope` (the systemd driver).
    Scope { slice: String },
}

/// The first line (`N:controllers:PATH`) whose path ends in container
/// `id`'s own cgroup; None if none does.
pub fn damaged_cgroup_in(proc_cgroup: &str, id: &str) -> Option<FoundCgroup> {
    let unit = crate::cgroups::systemd::naming::scope_unit(id);
    proc_cgroup.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        if let Some(above) = path.strip_suffix(&unit).and_then(|p| p.strip_suffix('/')) {
            let slice = above.rsplit('/').next()?;
            return slice.ends_with(".slice").then(|| FoundCgroup::Scope {
                slice: slice.to_string(),
            });
        }
        let parent = path.strip_suffix(id)?.strip_suffix('/')?;
        let parent = parent.trim_start_matches('/');
        (!parent.is_empty()).then(|| FoundCgroup::Cgroupfs {
            parent: parent.to_string(),
        })
    })
}

/// Removes the anonymous volumes container `id` mounted (`rm -v`,
/// `run --rm`), once its record is gone or going; one that another
/// container uses stays. Returns the names removed.
pub fn remove_anonymous_volumes(
    instance: &Instance,
    id: &str,
    mounts: &[MountSpec],
) -> Result<Vec<String>, ControlError> {
    if !mounts.iter().any(|m| m.kind == MountKind::Volume) {
        return Ok(Vec::new());
    }
    let volumes = VolumeStore::open(&instance.root);
    let lock = volumes.lock()?;
    let containers = instance.containers.configs()?;
    Ok(volumes.remove_anonymous(&lock, id, mounts, &containers)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_containers_cgroup_is_read_from_its_process() {
        let id = "f".repeat(64);
        let parent = |p: &str| Some(FoundCgroup::Cgroupfs { parent: p.into() });
        let text = format!("12:pids:/deep/parent/{id}\n0::/unified/{id}\n1:name=x:/\n");
        assert_eq!(damaged_cgroup_in(&text, &id), parent("deep/parent"));
        assert_eq!(damaged_cgroup_in("3:pids:/user.slice\n", &id), None);
        assert_eq!(damaged_cgroup_in(&format!("3:pids:/{id}\n"), &id), None);
        // The systemd driver's scope names its slice, nested or not.
        let scope = format!("0::/rcorch.slice/rcorch-web.slice/rcorch-{id}.scope\n");
        assert_eq!(
            damaged_cgroup_in(&scope, &id),
            Some(FoundCgroup::Scope {
                slice: "rcorch-web.slice".into()
            })
        );
        let not_a_slice = format!("0::/odd/rcorch-{id}.scope\n");
        assert_eq!(damaged_cgroup_in(&not_a_slice, &id), None);
    }

    #[test]
    fn a_running_record_whose_process_is_gone_is_exited() {
        let state = ContainerState {
            status: Some(Status::Running),
            pid: Some(i32::MAX - 1),
            pid_start_ticks: Some(1),
            ..ContainerState::default()
        };
        assert_eq!(observed_status(&state), Status::Exited);
    }

    #[test]
    fn a_running_record_of_a_live_process_is_running() {
        let me = std::process::id() as i32;
        let state = ContainerState {
            status: Some(Status::Running),
            pid: Some(me),
            pid_start_ticks: sys::process_start_ticks(me),
            ..ContainerState::default()
        };
        assert_eq!(observed_status(&state), Status::Running);
    }

    #[test]
    fn created_and_exited_records_keep_their_status() {
        let created = ContainerState::default();
        assert_eq!(observed_status(&created), Status::Created);
        let exited = ContainerState {
            status: Some(Status::Exited),
            ..ContainerState::default()
        };
        assert_eq!(observed_status(&exited), Status::Exited);
    }
}
