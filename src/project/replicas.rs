//! The supervisor's hands: what it observes of a project's containers and
//! how it starts, stops and removes replicas. Thin over the runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;

use super::translate::{ProjectRecord, ServiceRecord};
use super::{LABEL_PROJECT, LABEL_REVISION, LABEL_SERVICE, LABEL_SLOT};
use crate::container::build::RunRequest;
use crate::container::store::Record;
use crate::container::{FileMount, Status};
use crate::instance::Instance;
use crate::runtime::control::{self, observed_status};
use crate::runtime::net::ConnectArgs;
use crate::runtime::run::{self, RunOutcome};
use crate::runtime::sys;
use crate::supervisor::health::HealthState;
use crate::supervisor::health_log::HealthReport;
use crate::supervisor::restart::{ExitCause, ExitInfo, RestartHistory};
use crate::supervisor::{
    container_name_for, ObservedReplica, ObservedState, ReplicaStatus, SlotKey, Time,
};
use crate::util::time::parse_rfc3339;

/// What the shell remembers between passes; the decisions see it through
/// `ObservedState`.
#[derive(Debug, Default)]
pub struct ShellMemory {
    pub histories: BTreeMap<SlotKey, RestartHistory>,
    pub health: BTreeMap<String, HealthState>,
    /// Containers we sent a stop signal: when to SIGKILL, and why they stop.
    pub stopping: BTreeMap<String, (Time, ExitCause)>,
    /// Why containers that we stopped exited.
    pub causes: BTreeMap<String, ExitCause>,
    /// Exits already fed into the restart histories.
    pub exits_recorded: BTreeSet<String>,
    /// Exited containers the kernel OOM killer hit (`State.OOMKilled`).
    pub oom_exits: BTreeSet<String>,
    /// Containers a stop is asked for, out of the balancer since when: the
    /// signal waits for `lb::stop_signal_at`.
    pub draining: BTreeMap<String, Time>,
    /// Slots whose start failed before a container existed: retry after.
    pub start_backoff: BTreeMap<SlotKey, (Time, Duration)>,
    /// `State.Health` of each probed container, until it is removed.
    pub health_reports: BTreeMap<String, HealthReport>,
    /// Exited containers waiting out their restart backoff (`Restarting`).
    pub restarting: BTreeSet<String>,
    /// Slots admission holds back, with why (`ps`, `events`).
    pub pending: BTreeMap<SlotKey, String>,
}

impl ShellMemory {
    /// Whether a `Start` of `key` would run now: not held by admission and
    /// not waiting out a failed start's backoff. Only such a start makes the
    /// loop look again at once; the others wait for their deadline (a slot
    /// whose start keeps failing must not spin the loop).
    pub fn start_due(&self, key: &SlotKey, now: Time) -> bool {
        let backing_off = self.start_backoff.get(key).is_some_and(|(at, _)| *at > now);
        !backing_off && !self.pending.contains_key(key)
    }
}

/// Converts a wall-clock timestamp into the supervisor's clock.
pub fn to_time(timestamp: Option<&str>, now: Time, wall_now: SystemTime) -> Time {
    let ago = timestamp
        .and_then(parse_rfc3339)
        .and_then(|t| wall_now.duration_since(t).ok())
        .unwrap_or_default();
    Time::from_millis(now.as_millis().saturating_sub(ago.as_millis() as u64))
}

/// The replica labels of a container of `project`: (service, slot, revision).
pub fn replica_labels(record: &Record, project: &str) -> Option<(String, u32, u64)> {
    let labels = &record.config.labels;
    if labels.get(LABEL_PROJECT).map(String::as_str) != Some(project) {
        return None;
    }
    Some((
        labels.get(LABEL_SERVICE)?.clone(),
        labels.get(LABEL_SLOT)?.parse().ok()?,
        labels
            .get(LABEL_REVISION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
    ))
}

/// True while a container's PID 1 is gone but its monitor has not yet
/// written the exit: observing now would lose the exit code.
pub fn settling(record: &Record) -> bool {
    let state = &record.state;
    let alive =
        |pid: Option<i32>, ticks| pid.is_some_and(|pid| sys::same_process_alive(pid, ticks));
    state.status() == Status::Running
        && !alive(state.pid, state.pid_start_ticks)
        && alive(state.monitor_pid, None)
}

pub fn observe(
    records: &[Record],
    project: &ProjectRecord,
    history: &super::history::History,
    memory: &ShellMemory,
    now: Time,
) -> ObservedState {
    let wall_now = SystemTime::now();
    let mut replicas = Vec::new();
    for record in records {
        let Some((service, slot, revision)) = replica_labels(record, &project.name) else {
            continue;
        };
        let id = record.config.id.clone();
        let state = &record.state;
        let status = match observed_status(state) {
            Status::Created => ReplicaStatus::Starting,
            Status::Running => ReplicaStatus::Running {
                since: to_time(state.started_at.as_deref(), now, wall_now),
            },
            Status::Exited => ReplicaStatus::Exited(ExitInfo {
                code: state.exit_code.unwrap_or(255),
                at: to_time(state.finished_at.as_deref(), now, wall_now),
                cause: memory.causes.get(&id).copied().unwrap_or(ExitCause::Exited),
            }),
        };
        let has_check = super::history::definition(project, history, &service, revision)
            .is_some_and(|s| s.spec.health.is_some());
        let health = match (&status, has_check) {
            (ReplicaStatus::Running { since }, true) => Some(
                memory
                    .health
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| HealthState::new(*since)),
            ),
            _ => None,
        };
        replicas.push(ObservedReplica {
            key: SlotKey::new(&service, slot),
            container: id,
            revision,
            status,
            health,
        });
    }
    ObservedState {
        replicas,
        restarts: memory.histories.clone(),
    }
}

/// The `run -d` request for slot `slot` of `service`, as container `name`
/// (see `container_name_for`).
pub fn replica_request(
    project: &str,
    service: &ServiceRecord,
    slot: u32,
    name: String,
) -> RunRequest {
    let t = &service.template;
    let mut labels = t.labels.clone();
    labels.extend([
        format!("{LABEL_PROJECT}={project}"),
        format!("{LABEL_SERVICE}={}", service.spec.name),
        format!("{LABEL_SLOT}={slot}"),
        format!("{LABEL_REVISION}={}", service.spec.revision),
    ]);
    labels.extend(super::admit::reservation_labels(&t.reservation));
    RunRequest {
        image: t.image.clone(),
        image_pin: service.image_id.clone(),
        command: t.command.clone(),
        entrypoint: t.entrypoint.clone(),
        name: Some(name),
        env: t.env.clone(),
        volumes: t.volumes.clone(),
        tmpfs: t.tmpfs.clone(),
        ulimits: t.ulimits.clone(),
        read_only: t.read_only,
        memory: t.memory.clone(),
        cpus: t.cpus.clone(),
        pids_limit: t.pids_limit.clone(),
        network: t.network.clone(),
        network_aliases: t.network_aliases.clone(),
        user: t.user.clone(),
        workdir: t.workdir.clone(),
        hostname: t.hostname.clone(),
        cap_add: t.cap_add.clone(),
        cap_drop: t.cap_drop.clone(),
        init: t.init,
        stop_signal: t.stop_signal.clone(),
        stop_timeout: Some(t.stop_timeout),
        labels,
        log_driver: t.log_driver.clone(),
        log_opts: t.log_opts.clone(),
        dns: t.dns.clone(),
        extras: crate::container::extras::ExtrasRequest {
            add_host: t.extra_hosts.clone(),
            sysctl: t.sysctls.clone(),
            shm_size: t.shm_size.clone(),
            device: t.devices.clone(),
            ..Default::default()
        },
        // The supervisor probes replicas itself (compose `healthcheck`).
        health: crate::container::health::HealthRequest {
            disabled: true,
            ..Default::default()
        },
        ..RunRequest::default()
    }
}

/// Why a replica could not start: `run`'s message, and its exit code when
/// the command itself could not be started (126/127, 125 for its setup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFailure {
    pub message: String,
    pub code: Option<i32>,
}

impl From<String> for StartFailure {
    fn from(message: String) -> Self {
        StartFailure {
            message,
            code: None,
        }
    }
}

/// Starts a replica detached on its first network, then joins it to the
/// service's others; returns its id or why it could not start. A replica
/// that cannot join them all is removed again (the caller retries). The
/// slot may still hold the old replica (a start-first update): the new one
/// then takes a name of its own.
pub fn start(
    instance: &Instance,
    project: &str,
    service: &ServiceRecord,
    slot: u32,
) -> Result<String, StartFailure> {
    let taken: BTreeSet<String> = instance
        .containers
        .list()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| r.config.name)
        .collect();
    let revision = service.spec.revision;
    let name = match &service.template.container_name {
        // A start-first update's new replica while the old one holds the name.
        Some(n) if taken.contains(n) => format!("{n}-r{revision}"),
        Some(n) => n.clone(),
        None => container_name_for(project, &service.spec.name, slot, revision, |n| {
            taken.contains(n)
        }),
    };
    let mut request = replica_request(project, service, slot, name);
    request.files = template_files(instance, project, service);
    reuse_anonymous_volumes(instance, &mut request);
    if let Some(want) = service.template.cpu_placement {
        request.tuning.cpuset_cpus = Some(super::admit::place_cpus(instance, want)?);
    }
    let id = match run::run(instance, &request, true) {
        Ok(RunOutcome::Detached(id)) => id,
        Ok(RunOutcome::Exited(code)) => return Err(format!("exited with {code}").into()),
        Err(e) => {
            return Err(StartFailure {
                message: e.to_string(),
                code: e.start_code(),
            })
        }
    };
    for args in extra_connections(service, &id) {
        if let Err(e) = crate::runtime::net::connect(instance, &args) {
            let _ = control::remove(instance, &id, true);
            return Err(format!("cannot join network {}: {e}", args.network).into());
        }
    }
    Ok(id)
}

/// The service's secrets and configs, as the files a replica mounts.
pub fn template_files(
    instance: &Instance,
    project: &str,
    service: &ServiceRecord,
) -> Vec<FileMount> {
    let store = super::ProjectDir::new(&instance.root, project).dir;
    service
        .template
        .files
        .iter()
        .map(|f| FileMount {
            source: super::files::stored_path(&store, &f.kind, &f.name),
            target: f.target.clone().into(),
            uid: f.uid,
            gid: f.gid,
            mode: f.mode,
        })
        .collect()
}

/// A recreated replica (stop then start, a new revision) gets its slot's
/// anonymous volumes back, as compose does: each `-v /path` whose volume is
/// still there and unused becomes `-v NAME:/path`. Best effort: without
/// them the replica gets fresh ones.
fn reuse_anonymous_volumes(instance: &Instance, request: &mut RunRequest) {
    if !request.volumes.iter().any(|v| !v.contains(':')) {
        return;
    }
    let store = crate::volume::store::VolumeStore::open(&instance.root);
    let (Ok(volumes), Ok(containers), Ok(labels)) = (
        store.list(),
        instance.containers.configs(),
        crate::volume::parse_labels(&request.labels),
    ) else {
        return;
    };
    for spec in request.volumes.iter_mut().filter(|v| !v.contains(':')) {
        if let Some(name) = crate::volume::reusable_anonymous(&volumes, &containers, &labels, spec)
        {
            *spec = format!("{name}:{spec}");
        }
    }
}

/// `network connect` requests for the service's networks after the first.
/// The service name is an alias on each, as compose does: the balancer
/// answers it on the first network only.
pub fn extra_connections(service: &ServiceRecord, container: &str) -> Vec<ConnectArgs> {
    service
        .template
        .extra_networks
        .iter()
        .map(|(network, aliases)| {
            let mut aliases = aliases.clone();
            if !aliases.contains(&service.spec.name) {
                aliases.push(service.spec.name.clone());
            }
            ConnectArgs {
                network: network.clone(),
                container: container.to_string(),
                ip: None,
                aliases,
            }
        })
        .collect()
}

/// Sends the container's stop signal (the SIGKILL comes later, from the loop).
pub fn signal_stop(instance: &Instance, container: &str) {
    if let Ok(record) = instance.containers.load(container) {
        let signal = Signal::try_from(record.config.stop_signal).unwrap_or(Signal::SIGTERM);
        let _ = control::kill(instance, container, signal);
    }
}

pub fn kill(instance: &Instance, container: &str) {
    let _ = control::kill(instance, container, Signal::SIGKILL);
}

pub fn remove(instance: &Instance, container: &str) -> Result<(), String> {
    control::remove(instance, container, true)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn extra_networks_are_joined_with_their_aliases_and_the_service_name() {
        let mut service = ServiceRecord::plain(
            crate::supervisor::ServiceSpec::new("front", 1),
            Default::default(),
        );
        service.template.network = Some("p_a".into());
        service.template.network_aliases = vec!["edge".into()];
        service.template.extra_networks = vec![
            ("p_b".into(), vec!["www".into()]),
            ("p_c".into(), vec!["front".into()]),
        ];
        let request = replica_request("p", &service, 2, "p-front-2".into());
        assert_eq!(request.network.as_deref(), Some("p_a"));
        assert_eq!(request.network_aliases, ["edge"]);
        let joins = extra_connections(&service, "abc");
        let got: Vec<(&str, &str, Vec<&str>)> = joins
            .iter()
            .map(|j| {
                let aliases = j.aliases.iter().map(String::as_str).collect();
                (j.network.as_str(), j.container.as_str(), aliases)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("p_b", "abc", vec!["www", "front"]),
                ("p_c", "abc", vec!["front"])
            ]
        );
    }

    #[test]
    fn a_replica_runs_its_revisions_image_id_under_the_services_image_name() {
        let mut service = ServiceRecord::plain(
            crate::supervisor::ServiceSpec::new("web", 1),
            crate::project::ReplicaTemplate {
                image: "p-web".into(),
                ..Default::default()
            },
        );
        let request = replica_request("p", &service, 1, "p-web-1".into());
        assert_eq!((request.image.as_str(), request.image_pin), ("p-web", None));
        service.image_id = Some("sha256:0ld".into());
        let request = replica_request("p", &service, 1, "p-web-1".into());
        assert_eq!(request.image, "p-web");
        assert_eq!(request.image_pin.as_deref(), Some("sha256:0ld"));
    }

    #[test]
    fn a_start_is_due_unless_admission_holds_it_or_its_backoff_runs() {
        let key = SlotKey::new("web", 1);
        let mut memory = ShellMemory::default();
        let now = Time::from_secs(10);
        assert!(memory.start_due(&key, now));
        let retry = Time::from_secs(11);
        memory
            .start_backoff
            .insert(key.clone(), (retry, Duration::from_secs(1)));
        assert!(!memory.start_due(&key, now), "backing off");
        assert!(memory.start_due(&key, retry), "backoff over");
        memory.start_backoff.clear();
        memory
            .pending
            .insert(key.clone(), "insufficient memory".into());
        assert!(!memory.start_due(&key, now), "held by admission");
    }

    #[test]
    fn wall_clock_times_map_onto_the_supervisor_clock() {
        let wall_now = UNIX_EPOCH + Duration::from_secs(1_000);
        let now = Time::from_secs(50);
        let five_ago = crate::util::time::format_rfc3339(UNIX_EPOCH + Duration::from_secs(995));
        assert_eq!(to_time(Some(&five_ago), now, wall_now), Time::from_secs(45));
        assert_eq!(to_time(None, now, wall_now), now);
        let long_ago = crate::util::time::format_rfc3339(UNIX_EPOCH);
        assert_eq!(to_time(Some(&long_ago), now, wall_now), Time::ZERO);
    }
}
