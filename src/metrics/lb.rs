//! Load-balancer figures per backend: counters bumped on every new
//! connection (atomics, so a relay never takes a lock for them), and their
//! families on `/metrics`.
//!
//! The userspace proxy of least-connections services counts what it sees:
//! selections, accepted and open connections. Round-robin services are
//! balanced by nft `numgen` in the kernel; the supervisor hears of each
//! choice as a new conntrack entry and counts a selection, but cannot
//! tell whether the backend accepted or when the connection closed, so
//! those backends show selections only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{Family, Kind};

/// One backend of one service: the member's address on `network`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Backend {
    pub service: String,
    pub network: String,
    pub address: String,
}

/// What happened to one backend's connections so far.
#[derive(Debug, Default)]
pub struct BackendCounters {
    /// New connections the balancer picked this backend for.
    selections: AtomicU64,
    /// Of those, the ones the backend accepted.
    connections: AtomicU64,
    /// Accepted and not closed yet.
    open: AtomicU64,
    /// The proxy serves this backend, so `connections` and `open` mean something.
    proxied: AtomicBool,
}

impl BackendCounters {
    pub fn mark_proxied(&self) {
        self.proxied.store(true, Ordering::Relaxed);
    }

    pub fn selected(&self) {
        self.selections.fetch_add(1, Ordering::Relaxed);
    }

    /// The backend accepted; the returned guard counts the connection open
    /// until dropped (the relay ends or its task is dropped).
    pub fn connected(self: &Arc<Self>) -> OpenConnection {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }
}

/// An accepted connection, counted open while it lives.
pub struct OpenConnection(Arc<BackendCounters>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The counters of every backend the proxy serves, shared by the proxy
/// (which adds and bumps) and the metrics server (which reads). The map's
/// lock is taken once per new connection and once per scrape, never while
/// bytes are relayed.
#[derive(Debug, Clone, Default)]
pub struct LbStats {
    backends: Arc<Mutex<BTreeMap<Backend, Arc<BackendCounters>>>>,
}

impl LbStats {
    /// The counters of `backend`, created at zero on its first connection.
    pub fn backend(&self, backend: &Backend) -> Arc<BackendCounters> {
        let mut map = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(backend.clone()).or_default().clone()
    }

    /// Forgets backends `keep` rejects once no connection to them is open
    /// or being made, so a departed replica's series go away.
    pub fn retain(&self, keep: impl Fn(&Backend) -> bool) {
        let mut map = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|b, c| keep(b) || Arc::strong_count(c) > 1);
    }

    /// A copy of every backend's figures.
    pub fn figures(&self) -> Vec<BackendFigures> {
        let map = self.backends.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(backend, c)| BackendFigures {
                backend: backend.clone(),
                name: String::new(),
                selections: c.selections.load(Ordering::Relaxed),
                connections: c.connections.load(Ordering::Relaxed),
                open: c.open.load(Ordering::Relaxed),
                proxied: c.proxied.load(Ordering::Relaxed),
            })
            .collect()
    }
}

/// One backend's figures at a scrape; `name` is the replica holding the
/// address (empty when it is gone from the network state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendFigures {
    pub backend: Backend,
    pub name: String,
    pub selections: u64,
    pub connections: u64,
    pub open: u64,
    /// Whether `connections` and `open` are known (the proxy's backends).
    pub proxied: bool,
}

/// Names each backend by the replica holding its address: `names` maps
/// (network, address) to a container name.
pub fn named(
    mut figures: Vec<BackendFigures>,
    names: &BTreeMap<(String, String), String>,
) -> Vec<BackendFigures> {
    for f in &mut figures {
        let key = (f.backend.network.clone(), f.backend.address.clone());
        f.name = names.get(&key).cloned().unwrap_or_default();
    }
    figures
}

pub fn families(project: &str, backends: &[BackendFigures]) -> [Family; 3] {
    let mut selections = Family::new(
        "rcorch_lb_backend_selections_total",
        Kind::Counter,
        "New connections the load balancer sent to the backend.",
    );
    let mut connections = Family::new(
        "rcorch_lb_backend_connections_total",
        Kind::Counter,
        "Connections the backend accepted from the load balancer.",
    );
    let mut open = Family::new(
        "rcorch_lb_backend_open_connections",
        Kind::Gauge,
        "Connections through the load balancer open to the backend now.",
    );
    for b in backends {
        let labels: Vec<(String, String)> = [
            ("project", project),
            ("service", &b.backend.service),
            ("name", &b.name),
            ("backend", &b.backend.address),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        selections.push(labels.clone(), b.selections as f64);
        if b.proxied {
            connections.push(labels.clone(), b.connections as f64);
            open.push(labels, b.open as f64);
        }
    }
    [selections, connections, open]
}

#[cfg(test)]
#[path = "lb_tests.rs"]
mod tests;
