//! `wait` and `rename`: a container's exit code once it stops, and a new
//! name for it (its record and the name its networks resolve).

use std::time::Duration;

use thiserror::Error;

use super::control::{monitor_alive, observed_status};
use super::sys;
use crate::container::names::valid_name;
use crate::container::store::{write_json_atomic, Record, StoreError};
use crate::container::Status;
use crate::instance::Instance;
use crate::network::store::NetStore;
use crate::network::NetState;

#[derive(Debug, Error)]
pub enum ManageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid container name \"{name}\": use [a-zA-Z0-9][a-zA-Z0-9_.-]*")]
    InvalidName { name: String },
    #[error("container {name} is already called {name}")]
    SameName { name: String },
    #[error("cannot update the network records of {name}: {source}")]
    Network {
        name: String,
        source: crate::network::store::StoreError,
    },
}

/// How often `wait` looks again when it cannot wait on the monitor's pidfd.
const POLL: Duration = Duration::from_millis(100);

/// Blocks until the container is not running and returns its exit code
/// (Docker's `wait`: a created or exited container returns at once).
pub fn wait(instance: &Instance, reference: &str) -> Result<i32, ManageError> {
    let id = instance.containers.resolve(reference)?;
    loop {
        let record = instance.containers.load(&id)?;
        if observed_status(&record.state) != Status::Running && !monitor_alive(&record.state) {
            return Ok(record.state.exit_code.unwrap_or(0));
        }
        // The monitor records the exit code, then exits: wait for it.
        let waited = record
            .state
            .monitor_pid
            .and_then(|pid| sys::pidfd_open(pid).ok())
            .map(|fd| sys::wait_pidfd(&fd, 1000));
        if waited.is_none() {
            std::thread::sleep(POLL);
        }
    }
}

/// Endpoints of `id` answer to `name` from now on.
pub fn rename_endpoints(state: &mut NetState, id: &str, name: &str) {
    for e in state
        .endpoints
        .values_mut()
        .filter(|e| e.container_id == id)
    {
        e.container_name = name.to_string();
    }
}

/// Renames a container, running or not; the name must be free.
pub fn rename(instance: &Instance, reference: &str, new_name: &str) -> Result<Record, ManageError> {
    if !valid_name(new_name) {
        return Err(ManageError::InvalidName {
            name: new_name.into(),
        });
    }
    let store = &instance.containers;
    let lock = store.lock()?;
    let mut record = store.load(&store.resolve(reference)?)?;
    if record.config.name == new_name {
        return Err(ManageError::SameName {
            name: new_name.into(),
        });
    }
    if let Some(other) = store
        .list()?
        .into_iter()
        .find(|r| r.config.name == new_name)
    {
        return Err(StoreError::NameInUse {
            name: new_name.into(),
            id: other.config.id,
        }
        .into());
    }
    let old = std::mem::replace(&mut record.config.name, new_name.to_string());
    let network = |source| ManageError::Network {
        name: old.clone(),
        source,
    };
    // Network records first: if they cannot be written, nothing changed.
    let nets = NetStore::open(&instance.root);
    let net_lock = nets.lock().map_err(network)?;
    let mut state = nets.load(&net_lock).map_err(network)?;
    let id = record.config.id.clone();
    if state.endpoints.values().any(|e| e.container_id == id) {
        rename_endpoints(&mut state, &id, new_name);
        nets.save(&net_lock, &state).map_err(network)?;
    }
    let path = store.container_dir(&id).join("config.json");
    if let Err(e) = write_json_atomic(&path, &record.config) {
        rename_endpoints(&mut state, &id, &old);
        let _ = nets.save(&net_lock, &state);
        return Err(e.into());
    }
    drop(lock);
    Ok(record)
}
