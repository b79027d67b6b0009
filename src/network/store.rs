//! The persistent network state: one record per network
//! (`<root>/networks/records/NAME.json`, its copy under `copies/`) holding
//! the network, its leases and its balanced services, so a damaged record
//! of one network never stops commands about the others
//! (`util::records`). Every read-modify-write happens under an exclusive
//! flock on `<root>/networks/lock`, so concurrent `run`s never hand out one
//! address twice. The single `state.json` of earlier versions is split into
//! records by the first locked command.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{Endpoint, NetState, Network, ServiceLb};
use crate::util::records::{parse_record, Records};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: nix::Error },
}

/// What one network's record holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub network: Network,
    pub endpoints: Vec<Endpoint>,
    pub services: Vec<ServiceLb>,
}

pub struct NetStore {
    dir: PathBuf,
    records: Records,
}

/// Proof that the caller holds the state lock; released on drop.
pub struct StateLock {
    _lock: Flock<File>,
}

impl NetStore {
    pub fn open(root: &Path) -> NetStore {
        let dir = root.join("networks");
        NetStore {
            records: Records::new(dir.join("records"), dir.join("copies")),
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of network `name`'s record.
    pub fn record_path(&self, name: &str) -> PathBuf {
        self.records.path(name)
    }

    /// The single-file state of earlier versions.
    pub fn legacy_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn lock(&self) -> Result<StateLock, StoreError> {
        std::fs::create_dir_all(&self.dir).map_err(Self::io(&self.dir))?;
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Self::io(&path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, source)| StoreError::Lock { path, source })?;
        let lock = StateLock { _lock: lock };
        self.migrate(&lock)?;
        self.records.sweep_dead_temps();
        Ok(lock)
    }

    /// Splits a whole `state.json` into records; a damaged one is left for
    /// `system check` to report and set aside.
    fn migrate(&self, lock: &StateLock) -> Result<(), StoreError> {
        let legacy = self.legacy_path();
        let Some(old) = self.read_legacy() else {
            return Ok(());
        };
        let mut state = self.read()?;
        for (name, network) in old.networks {
            state.networks.entry(name).or_insert(network);
        }
        for (key, endpoint) in old.endpoints {
            state.endpoints.entry(key).or_insert(endpoint);
        }
        for (key, service) in old.services {
            state.services.entry(key).or_insert(service);
        }
        self.save(lock, &state)?;
        std::fs::remove_file(&legacy).map_err(Self::io(&legacy))
    }

    fn read_legacy(&self) -> Option<NetState> {
        let bytes = std::fs::read(self.legacy_path()).ok()?;
        parse_record::<NetState>(&bytes)
            .ok()
            .map(NetState::normalized)
    }

    pub fn load(&self, _lock: &StateLock) -> Result<NetState, StoreError> {
        self.read()
    }

    /// A snapshot without the lock, for readers that tolerate a moment's lag
    /// (`network ls`, the DNS server); writes are atomic renames, so each
    /// record is whole. Damaged records are in `NetState::damaged`.
    pub fn read(&self) -> Result<NetState, StoreError> {
        let scan = self
            .records
            .scan::<NetworkRecord>()
            .map_err(Self::io(&self.dir))?;
        let mut state = NetState {
            damaged: scan.damaged,
            ..NetState::default()
        };
        for (name, record) in scan.records {
            for endpoint in record.endpoints {
                state.insert_endpoint(endpoint);
            }
            for service in record.services {
                state
                    .services
                    .insert(ServiceLb::key(&service.project, &service.service), service);
            }
            state.networks.insert(name, record.network);
        }
        // Before the first locked command splits it.
        if let Some(old) = self.read_legacy() {
            for (name, network) in old.networks {
                state.networks.entry(name).or_insert(network);
            }
            state.endpoints.extend(old.endpoints);
            state.services.extend(old.services);
        }
        Ok(state)
    }

    /// Writes the record of every network whose content changed and removes
    /// those of networks no longer in `state`; the record of a network lost
    /// to damage stays as it is until `network rm` or `system check` deals
    /// with it.
    pub fn save(&self, _lock: &StateLock, state: &NetState) -> Result<(), StoreError> {
        for (name, record) in records_of(state) {
            let json = serde_json::to_vec_pretty(&record).expect("record serializes");
            let path = self.records.path(&name);
            self.records.write(&name, &json).map_err(Self::io(&path))?;
        }
        let on_disk = self
            .records
            .scan::<serde_json::Value>()
            .map_err(Self::io(&self.dir))?;
        let names = on_disk.records.keys().chain(on_disk.damaged.keys());
        for name in names {
            let lost = state.damaged.get(name).is_some_and(|d| !d.recovered);
            if !state.networks.contains_key(name) && !lost {
                let path = self.records.path(name);
                self.records.remove(name).map_err(Self::io(&path))?;
            }
        }
        super::state_watch::notify(&self.dir);
        Ok(())
    }

    /// The bytes of every record file (or copy, whole or set aside) of a
    /// network `state` does not hold: what names the bridges of older
    /// versions (`host_bridges`).
    pub fn leftovers(&self, state: &NetState) -> Vec<super::host_bridges::Leftover> {
        let mut found = Vec::new();
        for dir in ["records", "copies"] {
            let entries = std::fs::read_dir(self.dir.join(dir)).into_iter().flatten();
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let name = file.strip_suffix(".damaged").unwrap_or(&file);
                let Some(network) = name.strip_suffix(".json") else {
                    continue;
                };
                if state.networks.contains_key(network) {
                    continue;
                }
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    found.push(super::host_bridges::Leftover {
                        network: network.to_string(),
                        bytes,
                    });
                }
            }
        }
        found
    }

    /// Renames a lost network's record `*.damaged` (`system check --repair`).
    pub fn set_aside(&self, _lock: &StateLock, name: &str) -> Result<(), StoreError> {
        let path = self.records.path(name);
        self.records.set_aside(name).map_err(Self::io(&path))
    }
}

/// `state` split by network; endpoints and services of a network that is
/// not there are dropped.
fn records_of(state: &NetState) -> BTreeMap<String, NetworkRecord> {
    state
        .networks
        .iter()
        .map(|(name, network)| {
            let record = NetworkRecord {
                network: network.clone(),
                endpoints: state.endpoints_on(name).cloned().collect(),
                services: state.services_on(name).cloned().collect(),
            };
            (name.clone(), record)
        })
        .collect()
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
