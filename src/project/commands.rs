//! `up`, `down`, `scale`: change a project's desired state, make sure its
//! supervisor runs (a detached `rcorch supervise`), and tell it (SIGHUP).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::image_plan::Recreate;
use super::replicas::replica_labels;
use super::select::{merge_selected, selected_services};
use super::translate::{translate_built, volume_name};
use super::{ProjectDir, ProjectError, ProjectRecord, Result};
use crate::compose::model::Project;
use crate::compose::sources::Readers;
use crate::container::Status;
use crate::instance::Instance;
use crate::network::ops::{CreateRequest, NetError};
use crate::runtime::control::{self, observed_status};
use crate::runtime::sys;
use crate::supervisor::RunState;
use crate::util::time::now_rfc3339;
use crate::volume::store::VolumeStore;

/// The volumes there are now, for an `up` that may have to undo itself.
pub fn volume_names(instance: &Instance) -> Vec<String> {
    let store = VolumeStore::open(&instance.root);
    let volumes = store.list().unwrap_or_default();
    volumes.into_iter().map(|v| v.name).collect()
}

/// Records `project` as desired (new revisions for changed services) and
/// returns the record.
/// The project's networks are created first and its published ports
/// checked, so a busy port or a bad network changes nothing.
pub fn apply(instance: &Instance, project: &Project) -> Result<ProjectRecord> {
    apply_services(instance, project, &[])
}

/// `up SERVICE…`: as `apply`, for the named services and their
/// dependencies only (all when `named` is empty); see `select`.
pub fn apply_services(
    instance: &Instance,
    project: &Project,
    named: &[String],
) -> Result<ProjectRecord> {
    apply_services_reading(
        instance,
        project,
        named,
        &Readers::host(),
        Recreate::Changed,
    )
}

/// As `apply_services`, the secrets' and configs' bytes read by `readers`
/// (`kube play` serves them from the manifests, not from host files).
pub fn apply_services_reading(
    instance: &Instance,
    project: &Project,
    named: &[String],
    readers: &Readers,
    recreate: Recreate,
) -> Result<ProjectRecord> {
    let selected = selected_services(project, named)?;
    if selected.is_empty() {
        return Err(ProjectError::NoServices {
            project: project.name.clone(),
        });
    }
    let images = crate::image::ImageStore::open(instance.root.join("images"))?;
    super::precheck::runnable(&images, project, &selected)?;
    super::admit::precheck(&instance.root, project, &selected)?;
    let dir = ProjectDir::new(&instance.root, &project.name);
    let files = super::files::read(&dir, project, &selected, readers)?;
    let previous = dir.load().ok();
    let mut fresh = translate_built(project, previous.as_ref(), &image_ids(&images, project));
    super::image_plan::apply_recreate(&mut fresh, previous.as_ref(), recreate, &selected);
    let mut record = match named.is_empty() {
        true => fresh,
        false => merge_selected(fresh, previous.as_ref(), &selected),
    };
    super::precheck::replicas(instance, &record, &selected)?;
    let mut history = dir.load_history();
    super::history::record_changes(&mut history, &mut record, wall_clock());
    let created = create_networks(instance, &record)?;
    if let Err(e) = create_volumes(instance, project) {
        remove_networks(instance, &created);
        return Err(e);
    }
    super::files::store(files)?;
    dir.save(&record)?;
    dir.save_history(&history)?;
    Ok(record)
}

/// The image id each service's image reference names now (a service with
/// `build:` has its image named by `up` before this): as `docker compose up`,
/// a rebuild, a `pull` or a `load` that moved the tag replaces its replicas.
fn image_ids(
    images: &crate::image::ImageStore,
    project: &Project,
) -> std::collections::BTreeMap<String, String> {
    let services = project.services.iter();
    services
        .filter_map(|(name, s)| Some((name.clone(), images.resolve(s.image.as_deref()?).ok()?.id)))
        .collect()
}

/// Wall-clock seconds, as the history records them.
fn wall_clock() -> crate::supervisor::Time {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::supervisor::Time::from_secs(since_epoch.as_secs())
}

/// The project's volumes, as compose makes them: its own ones created
/// (`PROJECT_KEY`, labelled) if missing, external ones required to exist.
fn create_volumes(instance: &Instance, project: &Project) -> Result<()> {
    let store = VolumeStore::open(&instance.root);
    let lock = store.lock()?;
    for (key, def) in &project.volumes {
        let name = volume_name(project, key);
        if def.external {
            store.get(&name)?;
            continue;
        }
        let labels = crate::volume::compose_labels(&project.name, key, &def.labels);
        store.create(&lock, &name, &labels, &now_rfc3339())?;
    }
    Ok(())
}

/// `down -v`: removes the volumes compose created for project `name`
/// (found by label, so no compose file is needed). Tries each; the first
/// failure (say, a volume another container uses) is returned after.
/// Volumes named in `keep` stay (an `up` undoing itself keeps the ones
/// that were there before it).
pub fn remove_volumes(instance: &Instance, name: &str, keep: &[String]) -> Result<Vec<String>> {
    let store = VolumeStore::open(&instance.root);
    let lock = store.lock()?;
    let containers = instance.containers.configs()?;
    let (mut removed, mut failure) = (Vec::new(), None);
    let ours = store.list()?.into_iter().filter(|v| {
        v.labels
            .get(crate::volume::LABEL_COMPOSE_PROJECT)
            .map(String::as_str)
            == Some(name)
            && v.labels.get(super::LABEL_PROJECT).map(String::as_str) == Some(name)
            && !keep.contains(&v.name)
    });
    for v in ours {
        match store.remove(&lock, &v.name, &containers) {
            Ok(()) => removed.push(v.name),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(removed),
    }
}

/// Checks the services' published ports, then creates the project's
/// networks; on failure, the networks made here are removed again.
fn create_networks(instance: &Instance, record: &ProjectRecord) -> Result<Vec<String>> {
    let networks = crate::runtime::net::networks(&instance.root);
    for service in &record.services {
        service
            .lb_strategy()
            .map_err(|source| ProjectError::Balancer {
                service: service.spec.name.clone(),
                source,
            })?;
        networks.precheck_service_ports(&record.name, &service.spec.name, &service.ports)?;
    }
    let mut created = Vec::new();
    for network in &record.networks {
        let exists = networks.list()?.networks.contains_key(&network.name);
        if exists {
            continue;
        }
        if network.external {
            return Err(NetError::Unknown(network.name.clone()).into());
        }
        let request = CreateRequest {
            name: network.name.clone(),
            internal: network.internal,
            ..CreateRequest::default()
        };
        match networks.ensure_network(&request, &crate::util::time::now_rfc3339()) {
            Ok(_) => created.push(network.name.clone()),
            Err(e) => {
                remove_networks(instance, &created);
                return Err(e.into());
            }
        }
    }
    Ok(created)
}

fn remove_networks(instance: &Instance, names: &[String]) {
    let networks = crate::runtime::net::networks(&instance.root);
    for name in names {
        let _ = networks.remove(name);
    }
}

/// As `docker compose up -d` and `start`: the exited replicas of `services`
/// (all when empty) — killed, crashed or done, whatever their restart
/// policy — are removed, so the supervisor starts them anew at once instead
/// of `up` waiting for replicas nothing would restart. Returns their names.
pub fn clear_exited(instance: &Instance, project: &str, services: &[String]) -> Vec<String> {
    let Ok(records) = instance.containers.list() else {
        return Vec::new();
    };
    let mut cleared = Vec::new();
    for r in records {
        let Some((service, _, _)) = replica_labels(&r, project) else {
            continue;
        };
        let wanted = services.is_empty() || services.contains(&service);
        if wanted
            && observed_status(&r.state) == Status::Exited
            && control::remove(instance, &r.config.id, true).is_ok()
        {
            cleared.push(r.config.name);
        }
    }
    cleared
}

/// `up`'s metrics check: the address must parse and be free, unless the
/// project's running supervisor serves it already.
pub fn check_metrics(instance: &Instance, project: &Project) -> Result<()> {
    let dir = ProjectDir::new(&instance.root, &project.name);
    // Looking for a supervisor takes its lock file: not for a new project
    // (a refused `up` must leave no directory behind).
    let served = match dir.exists() && dir.supervisor_pid().is_some() {
        true => dir.load().ok().and_then(|r| r.metrics),
        false => None,
    };
    super::metrics::check(project, served.as_deref())?;
    Ok(())
}

/// Starts the project's supervisor unless one runs; otherwise wakes it.
pub fn ensure_supervisor(instance: &Instance, name: &str, exe: &Path) -> Result<()> {
    let dir = ProjectDir::new(&instance.root, name);
    if let Some(pid) = dir.supervisor_pid() {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGHUP);
        return Ok(());
    }
    let mut command = Command::new(exe);
    command
        .arg("--root")
        .arg(&instance.root)
        .arg("--cgroup-parent")
        .arg(&instance.cgroup_parent)
        .arg("--cgroup-manager")
        .arg(instance.cgroup_manager.name())
        .arg("supervise")
        .arg(name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe; it detaches the supervisor from our
    // session so it outlives this command and its terminal.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    command.spawn().map_err(|source| ProjectError::Io {
        path: exe.to_path_buf(),
        source,
    })?;
    // Return once it holds its lock, so a `down` right after finds it.
    let start = Instant::now();
    while dir.supervisor_pid().is_none() && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// `scale web=5 db=1`.
pub fn scale(instance: &Instance, name: &str, requests: &[String]) -> Result<ProjectRecord> {
    let dir = ProjectDir::new(&instance.root, name);
    let mut record = dir.load()?;
    for request in requests {
        let (service, count) = request
            .split_once('=')
            .ok_or_else(|| ProjectError::Scale(request.clone()))?;
        let count: u32 = count
            .parse()
            .map_err(|_| ProjectError::Scale(request.clone()))?;
        let entry = record
            .services
            .iter_mut()
            .find(|s| s.spec.name == service)
            .ok_or_else(|| ProjectError::NoService {
                project: name.into(),
                service: service.into(),
            })?;
        entry.spec.replicas = count;
    }
    dir.save(&record)?;
    if let Some(pid) = dir.supervisor_pid() {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGHUP);
    }
    Ok(record)
}

/// Stops the supervisor (containers first keep running), then stops and
/// removes every replica, then forgets the project.
pub fn down(instance: &Instance, name: &str) -> Result<Vec<String>> {
    let dir = ProjectDir::new(&instance.root, name);
    if let Some(pid) = dir.supervisor_pid() {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
        if let Ok(fd) = sys::pidfd_open(pid) {
            if !sys::wait_pidfd(&fd, 5_000) {
                // It must not outlive `down` and recreate what we remove.
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                sys::wait_pidfd(&fd, 5_000);
            }
        }
    }
    let networks = crate::runtime::net::networks(&instance.root);
    // Out of the balancer first: no new connection goes to a stopping replica.
    networks.remove_project_services(name)?;
    let mut removed = Vec::new();
    let records = instance.containers.list()?;
    let ours: Vec<_> = records
        .iter()
        .filter(|r| replica_labels(r, name).is_some())
        .collect();
    // Signal all first, so their grace periods run in parallel.
    for r in &ours {
        if observed_status(&r.state) == Status::Running {
            let signal = Signal::try_from(r.config.stop_signal).unwrap_or(Signal::SIGTERM);
            let _ = control::kill(instance, &r.config.id, signal);
        }
    }
    let signalled = Instant::now();
    for r in &ours {
        // The grace period started when all were signalled, not now.
        let left = Duration::from_secs(r.config.stop_timeout).saturating_sub(signalled.elapsed());
        let _ = control::stop(instance, &r.config.id, Some(left.as_secs()));
        if control::remove(instance, &r.config.id, true).is_ok() {
            removed.push(r.config.name.clone());
        }
    }
    if let Ok(record) = dir.load() {
        for network in record.networks.iter().filter(|n| !n.external) {
            match networks.remove(&network.name) {
                Ok(_) | Err(NetError::Unknown(_)) => {}
                Err(e) => eprintln!("rcorch: network {} kept: {e}", network.name),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir.dir);
    Ok(removed)
}

/// `stop`/`start -p NAME [SERVICE…]`: the services' replicas are wanted
/// stopped or running; the supervisor does it (gracefully) and keeps it so.
pub fn set_run_state(
    instance: &Instance,
    name: &str,
    services: &[String],
    run: RunState,
) -> Result<ProjectRecord> {
    let dir = ProjectDir::new(&instance.root, name);
    let mut record = dir.load()?;
    for service in services {
        if record.service(service).is_none() {
            return Err(ProjectError::NoService {
                project: name.into(),
                service: service.clone(),
            });
        }
    }
    for entry in record.services.iter_mut() {
        if services.is_empty() || services.contains(&entry.spec.name) {
            entry.spec.run = run;
        }
    }
    dir.save(&record)?;
    if let Some(pid) = dir.supervisor_pid() {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGHUP);
    }
    Ok(record)
}

/// `rollback [SERVICE…] [--to N]`: each service (all when none is named)
/// gets its previous definition (or revision N's) back as a new revision,
/// with the image id that revision ran (refused if that image is gone);
/// the supervisor rolls it out following `deploy.rollback_config`.
/// Returns (service, restored revision, new revision). Nothing changes
/// unless every service can be rolled back.
pub fn rollback(
    instance: &Instance,
    name: &str,
    services: &[String],
    to: Option<u64>,
) -> Result<Vec<(String, u64, u64)>> {
    let dir = ProjectDir::new(&instance.root, name);
    let mut record = dir.load()?;
    let mut history = dir.load_history();
    let images = crate::image::ImageStore::open(instance.root.join("images"))?;
    for service in services {
        if record.service(service).is_none() {
            return Err(ProjectError::NoService {
                project: name.into(),
                service: service.clone(),
            });
        }
    }
    let mut done = Vec::new();
    for entry in record.services.iter_mut() {
        if !services.is_empty() && !services.contains(&entry.spec.name) {
            continue;
        }
        let restored = super::history::rollback_record(&mut history, entry, to, wall_clock())
            .map_err(|source| ProjectError::History {
                service: entry.spec.name.clone(),
                source,
            })?;
        let from = history[&entry.spec.name]
            .current()
            .and_then(|r| r.restored_from)
            .unwrap_or_default();
        super::history::check_image(&images, &restored, from)?;
        done.push((entry.spec.name.clone(), from, restored.spec.revision));
        *entry = restored;
    }
    dir.save(&record)?;
    dir.save_history(&history)?;
    if let Some(pid) = dir.supervisor_pid() {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGHUP);
    }
    Ok(done)
}
