//! Counting the kernel balancer's choices: nft `numgen` picks a member for
//! each new connection inside the kernel, so the supervisor listens for new
//! conntrack entries on a thread of its own and counts each one DNAT'd to a
//! member as a selection of that backend. Which backends exist (and so
//! which series `/metrics` shows) follows the balancer entries each pass.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::metrics::lb::{Backend, LbStats};
use crate::network::conntrack::{self, ConntrackError, Entry};
use crate::network::services::proxied;
use crate::network::{Proto, ServiceLb};

/// Every member of `entries` as a backend, with whether the userspace
/// proxy serves it (least-connections, for TCP).
pub fn backends_of<'a>(entries: impl Iterator<Item = &'a ServiceLb>) -> Vec<(Backend, bool)> {
    let mut out = Vec::new();
    for e in entries {
        let by_proxy = proxied(e, Proto::Tcp);
        for ip in &e.backends {
            let backend = Backend {
                service: e.service.clone(),
                network: e.network.clone(),
                address: ip.to_string(),
            };
            out.push((backend, by_proxy));
        }
    }
    out
}

/// Every member by address: the kernel balances all of a round-robin
/// service and a least-connections service's UDP (its TCP comes from the
/// proxy, not DNAT'd, so `chosen` never counts it twice).
pub fn kernel_backends<'a>(
    entries: impl Iterator<Item = &'a ServiceLb>,
) -> BTreeMap<Ipv4Addr, Backend> {
    entries
        .flat_map(|e| {
            e.backends.iter().map(|ip| {
                let backend = Backend {
                    service: e.service.clone(),
                    network: e.network.clone(),
                    address: ip.to_string(),
                };
                (*ip, backend)
            })
        })
        .collect()
}

/// The backend a new entry was sent to, if the balancer sent it (DNAT to
/// one of `backends`); a container reached at its own address is not.
pub fn chosen<'a>(entry: &Entry, backends: &'a BTreeMap<Ipv4Addr, Backend>) -> Option<&'a Backend> {
    entry
        .reply_src
        .filter(|_| entry.dnat)
        .and_then(|ip| backends.get(&ip))
}

/// Brings `stats` to `members`: each at zero from when it joins (so rate()
/// sees its first connection), gone once it left and nothing holds it.
pub fn sync_stats(stats: &LbStats, members: &[(Backend, bool)]) {
    let keep: BTreeSet<&Backend> = members.iter().map(|(b, _)| b).collect();
    stats.retain(|b| keep.contains(b));
    for (backend, by_proxy) in members {
        let counters = stats.backend(backend);
        if *by_proxy {
            counters.mark_proxied();
        }
    }
}

type Watched = Arc<Mutex<BTreeMap<Ipv4Addr, Backend>>>;

/// The listening thread; dropping it stops the thread.
pub struct KernelWatch {
    backends: Watched,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KernelWatch {
    /// Subscribes to new conntrack entries (in the caller's network
    /// namespace) and counts them into `stats`.
    pub fn start(stats: LbStats) -> Result<KernelWatch, ConntrackError> {
        let fd = conntrack::subscribe_new()?;
        let backends = Watched::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (watched, flag) = (backends.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("lb-conntrack".into())
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while !flag.load(Ordering::Relaxed) {
                    let Ok(entries) = conntrack::recv_new(&fd, &mut buf) else {
                        return; // the socket broke: stop counting, nothing else
                    };
                    let map = watched.lock().unwrap_or_else(|e| e.into_inner());
                    for backend in entries.iter().filter_map(|e| chosen(e, &map)) {
                        stats.backend(backend).selected();
                    }
                }
            })
            .map_err(|e| ConntrackError::Socket {
                step: "thread",
                source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EAGAIN)),
            })?;
        Ok(KernelWatch {
            backends,
            stop,
            thread: Some(thread),
        })
    }

    /// New entries to these addresses count from now on.
    pub fn set_backends(&self, backends: BTreeMap<Ipv4Addr, Backend>) {
        *self.backends.lock().unwrap_or_else(|e| e.into_inner()) = backends;
    }
}

impl Drop for KernelWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join(); // within the socket's receive timeout
        }
    }
}

#[cfg(test)]
#[path = "lb_watch_tests.rs"]
mod tests;
