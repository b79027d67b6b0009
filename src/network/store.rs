//! The persistent network state (`<root>/networks/state.json`): networks and
//! leases. Every read-modify-write happens under an exclusive flock on
//! `<root>/networks/lock`, so concurrent `run`s never hand out one address twice.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use thiserror::Error;

use super::NetState;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: nix::Error },
    #[error("corrupt network state {path}: {source}; run `rcorch system check --repair`")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub struct NetStore {
    dir: PathBuf,
}

/// Proof that the caller holds the state lock; released on drop.
pub struct StateLock {
    _lock: Flock<File>,
}

impl NetStore {
    pub fn open(root: &Path) -> NetStore {
        NetStore {
            dir: root.join("networks"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
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
        Ok(StateLock { _lock: lock })
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn load(&self, _lock: &StateLock) -> Result<NetState, StoreError> {
        self.read()
    }

    /// A snapshot without the lock, for readers that tolerate a moment's lag
    /// (`network ls`, the DNS server); writes are atomic renames, so it is whole.
    pub fn read(&self) -> Result<NetState, StoreError> {
        let path = self.state_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<NetState>(&bytes)
                .map(NetState::normalized)
                .map_err(|source| StoreError::Parse {
                    path: path.clone(),
                    source,
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NetState::default()),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    pub fn save(&self, _lock: &StateLock, state: &NetState) -> Result<(), StoreError> {
        let path = self.state_path();
        let json = serde_json::to_vec_pretty(state).expect("state serializes");
        crate::util::atomic::write_atomic(&path, &json).map_err(Self::io(&path))?;
        super::state_watch::notify(&self.dir);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Endpoint, NetState};

    #[test]
    fn saves_and_loads_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let store = NetStore::open(dir.path());
        let lock = store.lock().unwrap();
        assert_eq!(store.load(&lock).unwrap(), NetState::default());
        let mut state = NetState::default();
        state.insert_endpoint(Endpoint {
            container_id: "abc".into(),
            container_name: "web".into(),
            network: "bridge".into(),
            ip: "172.17.0.2".parse().unwrap(),
            aliases: vec![],
            ports: vec![],
            host_veth: "rcabc".into(),
            ifname: "eth0".into(),
            default_route: false,
        });
        store.save(&lock, &state).unwrap();
        drop(lock);
        assert_eq!(store.read().unwrap(), state);
    }

    #[test]
    fn concurrent_lockers_serialize() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let root = root.clone();
                std::thread::spawn(move || {
                    let store = NetStore::open(&root);
                    let lock = store.lock().unwrap();
                    let mut state = store.load(&lock).unwrap();
                    let n = state.networks.len();
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    state.networks.insert(
                        format!("n{i}"),
                        crate::network::Network {
                            name: format!("n{i}"),
                            bridge: format!("b{n}"),
                            subnet: "10.1.0.0/24".parse().unwrap(),
                            gateway: "10.1.0.1".parse().unwrap(),
                            internal: false,
                            created: String::new(),
                            labels: Default::default(),
                        },
                    );
                    store.save(&lock, &state).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(NetStore::open(&root).read().unwrap().networks.len(), 8);
    }
}
