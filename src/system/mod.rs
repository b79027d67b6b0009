//! `rcorch system check [--repair]`: every record of an instance read once
//! (containers, projects, network state, volumes, images index), the
//! unreadable ones reported with their path, and with --repair put right as
//! `plan` decides.

pub mod plan;

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use crate::container::damage::parse_record;
use crate::container::{ContainerState, Status};
use crate::instance::Instance;
use crate::network::host_bridges::Dropped;
use crate::network::store::NetStore;
use crate::util::time::now_rfc3339;
use crate::volume::store::VolumeStore;
use plan::{Finding, Kind, Repair};

/// Every unreadable record of the instance.
pub fn check(instance: &Instance) -> Vec<Finding> {
    let mut findings = containers(instance);
    findings.extend(projects(&instance.root));
    findings.extend(networks(&instance.root));
    findings.extend(bridges(&instance.root));
    findings.extend(stale_tables(&instance.root));
    if let Ok(damaged) = VolumeStore::open(&instance.root).damaged() {
        for (name, path, problem) in damaged {
            let problem = problem_of(&path, problem);
            findings.push(finding(Kind::VolumeMeta { name }, path, problem));
        }
    }
    findings.extend(images(instance));
    findings.extend(orphan_layers(instance));
    let index = instance.root.join("images/images.json");
    if let Ok(bytes) = std::fs::read(&index) {
        if let Err(problem) = parse_record::<serde_json::Value>(&bytes) {
            findings.push(finding(Kind::ImageIndex, index, problem.to_string()));
        }
    }
    findings
}

/// The problem as `parse_record` names it (empty, truncated, …), else
/// `otherwise` (valid JSON of the wrong shape, an I/O error).
fn problem_of(path: &Path, otherwise: String) -> String {
    match std::fs::read(path) {
        Ok(bytes) => match parse_record::<serde_json::Value>(&bytes) {
            Err(problem) => problem.to_string(),
            Ok(_) => otherwise,
        },
        Err(e) => e.to_string(),
    }
}

fn finding(kind: Kind, path: PathBuf, problem: String) -> Finding {
    Finding {
        kind,
        path,
        problem,
    }
}

fn images(instance: &Instance) -> Vec<Finding> {
    let Ok(store) = instance.images() else {
        return Vec::new();
    };
    let Ok((recovered, lost)) = store.damaged() else {
        return Vec::new();
    };
    let recovered = recovered.into_iter().map(|d| {
        let id = d.path.file_stem().unwrap_or_default().to_string_lossy();
        let kind = Kind::ImageRecord {
            id: format!("sha256:{id}"),
            recovered: d.recovered,
        };
        finding(kind, d.path, d.problem)
    });
    let lost = lost.into_iter().map(|l| {
        let kind = Kind::ImageRecord {
            id: l.id,
            recovered: false,
        };
        finding(kind, l.damage.path, l.damage.problem)
    });
    recovered.chain(lost).collect()
}

/// What may name a layer besides the image records: every container's
/// config (torn or not) and the build cache.
pub fn layer_mentions(root: &Path) -> Vec<Vec<u8>> {
    let configs = std::fs::read_dir(root.join("containers"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("config.json")).ok());
    configs
        .chain(std::fs::read(root.join("build-cache.json")).ok())
        .collect()
}

/// Whether a `build` is running: its work directory (`build/PID`) is
/// there and its process alive.
fn building(root: &Path) -> bool {
    let entries = std::fs::read_dir(root.join("build")).into_iter().flatten();
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.parse::<u32>().is_ok() && Path::new("/proc").join(&name).exists()
    })
}

/// The layers no image, container or build uses; none while a build
/// runs (the layers it made are in no image yet).
fn orphan_digests(instance: &Instance, store: &crate::image::ImageStore) -> Vec<String> {
    if building(&instance.root) {
        return Vec::new();
    }
    store
        .orphan_layers(&layer_mentions(&instance.root))
        .unwrap_or_default()
}

fn orphan_layers(instance: &Instance) -> Vec<Finding> {
    let Ok(store) = instance.images() else {
        return Vec::new();
    };
    orphan_digests(instance, &store)
        .into_iter()
        .map(|digest| {
            let path = store.layer_path(&digest);
            let problem = "a layer no image or container uses".to_string();
            finding(Kind::OrphanLayer { digest }, path, problem)
        })
        .collect()
}

/// Removes the layers no image, container or build uses (`image prune`,
/// `system prune`, as Docker reclaims them); returns their digests.
pub fn prune_orphan_layers(instance: &Instance) -> Result<Vec<String>, String> {
    let store = instance.images().map_err(|e| e.to_string())?;
    let mentions = layer_mentions(&instance.root);
    let busy = || building(&instance.root);
    let mut removed = Vec::new();
    for digest in orphan_digests(instance, &store) {
        if store
            .remove_orphan_layer(&digest, &mentions, &busy)
            .map_err(|e| e.to_string())?
        {
            removed.push(digest);
        }
    }
    Ok(removed)
}

/// The orphan layers' directories (what `system df` counts as reclaimable).
pub fn orphan_layer_dirs(instance: &Instance) -> Vec<PathBuf> {
    let Ok(store) = instance.images() else {
        return Vec::new();
    };
    let digests = orphan_digests(instance, &store);
    digests.iter().map(|d| store.layer_path(d)).collect()
}

/// Bridges left by networks no record holds any more.
fn bridges(root: &Path) -> Vec<Finding> {
    let networks = crate::runtime::net::networks(root);
    networks
        .unclaimed_bridges()
        .into_iter()
        .map(|b| {
            let problem = match b.ports.is_empty() {
                true => format!("the bridge of network {}, which no record holds", b.network),
                false => format!(
                    "the bridge of network {}, which no record holds, still used by {}",
                    b.network,
                    b.ports.join(", ")
                ),
            };
            let path = PathBuf::from(format!("bridge {}", b.name));
            finding(Kind::OrphanBridge { bridge: b.name }, path, problem)
        })
        .collect()
}

/// Tables of other roots in the namespace that are gone.
fn stale_tables(root: &Path) -> Vec<Finding> {
    let networks = crate::runtime::net::networks(root);
    networks
        .stale_tables()
        .into_iter()
        .map(|t| {
            let problem = format!(
                "the nft rules of rcorch root {}, which holds no network state any more",
                t.root.display()
            );
            let path = PathBuf::from(format!("nft table inet {}", t.table));
            let kind = Kind::StaleTable {
                table: t.table,
                root: t.root,
            };
            finding(kind, path, problem)
        })
        .collect()
}

/// Removes what `drop` kept, failing while containers are plugged in.
fn kept_bridges(dropped: Vec<Dropped>) -> Result<(), String> {
    let kept: Vec<String> = dropped
        .into_iter()
        .filter_map(|d| match d {
            Dropped::Kept(b) => Some(format!("{} ({})", b.name, b.ports.join(", "))),
            Dropped::Removed(_) => None,
        })
        .collect();
    match kept.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "bridge {} kept: containers are still plugged in; `rcorch rm -f` them and repair again",
            kept.join(", ")
        )),
    }
}

fn networks(root: &Path) -> Vec<Finding> {
    let store = NetStore::open(root);
    let mut findings = Vec::new();
    let legacy = store.legacy_path();
    if let Ok(bytes) = std::fs::read(&legacy) {
        if let Err(problem) = parse_record::<crate::network::NetState>(&bytes) {
            findings.push(finding(Kind::NetworkState, legacy, problem.to_string()));
        }
    }
    let Ok(state) = store.read() else {
        return findings;
    };
    for (name, damage) in state.damaged {
        let kind = Kind::NetworkRecord {
            name,
            recovered: damage.recovered,
        };
        findings.push(finding(kind, damage.path, damage.problem));
    }
    findings
}

fn containers(instance: &Instance) -> Vec<Finding> {
    let Ok(scan) = instance.containers.scan() else {
        return Vec::new();
    };
    scan.broken
        .into_iter()
        .map(|b| {
            let kind = if b.path.ends_with("state.json") {
                Kind::ContainerState {
                    live: has_processes(instance, &b.id),
                    id: b.id,
                }
            } else {
                Kind::ContainerConfig { id: b.id }
            };
            finding(kind, b.path, b.problem)
        })
        .collect()
}

fn has_processes(instance: &Instance, id: &str) -> bool {
    instance
        .cgroup(&instance.cgroup_parent, id)
        .and_then(|c| Ok(c.pids()?))
        .is_ok_and(|pids| !pids.is_empty())
}

fn projects(root: &Path) -> Vec<Finding> {
    let Ok(entries) = std::fs::read_dir(root.join("projects")) else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for entry in entries.flatten() {
        let project = entry.file_name().to_string_lossy().into_owned();
        for (file, kind) in [
            (
                "desired.json",
                Kind::ProjectDesired {
                    project: project.clone(),
                },
            ),
            (
                "history.json",
                Kind::ProjectHistory {
                    project: project.clone(),
                },
            ),
            ("health.json", Kind::ProjectCache),
            ("rollouts.json", Kind::ProjectCache),
        ] {
            let path = entry.path().join(file);
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if let Err(problem) = parse_record::<serde_json::Value>(&bytes) {
                findings.push(finding(kind, path, problem.to_string()));
            }
        }
    }
    findings
}

/// Applies the repair `plan` gives `finding`; returns it, or why it failed.
pub fn repair(instance: &Instance, finding: &Finding) -> Result<Repair, String> {
    let repair = plan::plan(&finding.kind);
    let path = &finding.path;
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    match (&repair, &finding.kind) {
        (Repair::RestoreExitedState, Kind::ContainerState { id, .. }) => {
            let state = ContainerState {
                status: Some(Status::Exited),
                finished_at: Some(now_rfc3339()),
                error: Some("its state record was unreadable; restored by `system check`".into()),
                ..ContainerState::default()
            };
            // Its cgroup is empty; remove it with the stale record, where
            // its config says its manager put it.
            let cgroup = match instance.containers.surviving_config(id) {
                Some(config) => instance.container_cgroup(&config),
                None => instance.cgroup(&instance.cgroup_parent, id),
            };
            if let Ok(cgroup) = cgroup {
                let _ = cgroup.kill_all(Signal::SIGKILL);
                let _ = cgroup.destroy();
            }
            instance
                .containers
                .save_state(id, &state)
                .map_err(|e| failed(&e))?;
        }
        (Repair::RemoveContainer, Kind::ContainerConfig { id }) => {
            crate::runtime::control::remove(instance, id, true).map_err(|e| failed(&e))?;
        }
        (Repair::RestoreVolumeMeta, Kind::VolumeMeta { name }) => {
            let volumes = VolumeStore::open(&instance.root);
            let _lock = volumes.lock().map_err(|e| failed(&e))?;
            volumes
                .restore_meta(name, &now_rfc3339())
                .map_err(|e| failed(&e))?;
        }
        (Repair::RestoreFromCopy, Kind::NetworkRecord { .. }) => {
            // A locked rewrite writes every record that differs from its value.
            let store = NetStore::open(&instance.root);
            let lock = store.lock().map_err(|e| failed(&e))?;
            let state = store.load(&lock).map_err(|e| failed(&e))?;
            store.save(&lock, &state).map_err(|e| failed(&e))?;
        }
        (Repair::SetAside { .. }, Kind::NetworkRecord { name, .. }) => {
            let store = NetStore::open(&instance.root);
            let lock = store.lock().map_err(|e| failed(&e))?;
            store.set_aside(&lock, name).map_err(|e| failed(&e))?;
            drop(lock);
            let networks = crate::runtime::net::networks(&instance.root);
            // The record is set aside either way; a bridge still in use
            // is reported again by the next check.
            let _ = networks.drop_bridges_of(name);
        }
        (Repair::RemoveBridge, Kind::OrphanBridge { bridge }) => {
            let networks = crate::runtime::net::networks(&instance.root);
            let dropped = networks
                .remove_unclaimed_bridge(bridge)
                .map_err(|e| failed(&e))?;
            kept_bridges(dropped).map_err(|e| failed(&e))?;
        }
        (Repair::RemoveTable, Kind::StaleTable { table, root }) => {
            let stale = crate::network::stale_tables::StaleTable {
                table: table.clone(),
                root: root.clone(),
            };
            crate::network::stale_tables::remove(&stale).map_err(|e| failed(&e))?;
        }
        (Repair::RestoreFromCopy, Kind::ImageRecord { .. }) => {
            let store = instance.images().map_err(|e| failed(&e))?;
            store.heal().map_err(|e| failed(&e))?;
        }
        (Repair::SetAside { .. }, Kind::ImageRecord { id, .. }) => {
            let store = instance.images().map_err(|e| failed(&e))?;
            store.set_aside(id).map_err(|e| failed(&e))?;
        }
        (Repair::RemoveLayer, Kind::OrphanLayer { digest }) => {
            let store = instance.images().map_err(|e| failed(&e))?;
            let mentions = layer_mentions(&instance.root);
            let busy = || building(&instance.root);
            store
                .remove_orphan_layer(digest, &mentions, &busy)
                .map_err(|e| failed(&e))?;
        }
        (Repair::Discard, _) => std::fs::remove_file(path).map_err(|e| failed(&e))?,
        (Repair::SetAside { .. }, _) => {
            let mut aside = path.clone().into_os_string();
            aside.push(".damaged");
            std::fs::rename(path, aside).map_err(|e| failed(&e))?;
        }
        _ => {}
    }
    Ok(repair)
}
