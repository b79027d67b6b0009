//! The resolver process (`rcorch dns-serve`, started on demand by `run`,
//! see `dns_process`): one process for every network of an rcorch root. It
//! listens on each network's gateway, answers from the network state,
//! forwards what it does not own to the host's resolvers, and exits once
//! no container has been attached for a while.
//!
//! Freshness: every save wakes it through `networks/dns.sock`
//! (`state_watch`), and it drains those wakeups before every answer, so a
//! name resolves as soon as the `run` that leased it has saved, and is gone
//! as soon as `rm` has.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::dns::{respond, zones, Zones};
use super::dns_process::{pid_file, try_lock};
use super::files::parse_nameservers;
use super::state_watch::StateWatch;
use super::store::NetStore;

/// How soon a listener whose bind failed (its bridge had no address yet) is retried.
const RETRY_BIND: Duration = Duration::from_millis(200);
/// How often idleness is checked when nothing changes.
const IDLE_CHECK: Duration = Duration::from_secs(1);
const IDLE_EXIT_AFTER: Duration = Duration::from_secs(10);
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// The records being served, and what tells when they are stale.
struct Live {
    store: NetStore,
    watch: StateWatch,
    zones: Zones,
    has_endpoints: bool,
}

impl Live {
    fn new(store: NetStore, watch: StateWatch) -> Live {
        let mut live = Live {
            store,
            watch,
            zones: Zones::default(),
            has_endpoints: false,
        };
        live.reload();
        live
    }

    fn reload(&mut self) {
        let state = self.store.read().unwrap_or_default();
        self.has_endpoints = !state.endpoints.is_empty();
        self.zones = zones(&state);
    }

    /// Reloads if a save happened since the last look (a failed watch
    /// read reloads too: better a spare read than a stale answer).
    fn refresh(&mut self) {
        if self.watch.changed().unwrap_or(true) {
            self.reload();
        }
    }
}

type Shared = Arc<Mutex<Live>>;

/// Runs the resolver until idle. Returns at once if another one runs.
pub fn serve(root: &Path, host_resolv_conf: &Path) -> std::io::Result<()> {
    let Some(_lock) = try_lock(root)? else {
        return Ok(());
    };
    crate::util::atomic::write_atomic(&pid_file(root), std::process::id().to_string().as_bytes())?;
    let store = NetStore::open(root);
    // Listen first, then read: a save in between is not missed.
    let watch = StateWatch::new(store.dir())?;
    let live = Live::new(store, watch);
    let dir = live.store.dir().to_path_buf();
    let cleanup = || {
        let _ = std::fs::remove_file(pid_file(root));
        super::state_watch::remove_socket(&dir);
    };
    if !live.has_endpoints {
        // Its container is already gone: nothing to serve.
        cleanup();
        return Ok(());
    }
    let upstreams: Vec<Ipv4Addr> = std::fs::read_to_string(host_resolv_conf)
        .map(|t| parse_nameservers(&t))
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(run(Arc::new(Mutex::new(live)), Arc::new(upstreams)));
    cleanup();
    result
}

async fn run(live: Shared, upstreams: Arc<Vec<Ipv4Addr>>) -> std::io::Result<()> {
    let watch_fd = live.lock().expect("zones").watch.try_clone_fd()?;
    // SAFETY: the AsyncFd owns this duplicate, so it stays open while registered.
    let changes = unsafe { AsyncFd::register_with_interest(watch_fd, Interest::READABLE) }
        .map_err(std::io::Error::from)?;
    let mut listeners: BTreeMap<Ipv4Addr, JoinHandle<()>> = BTreeMap::new();
    let mut idle_since = None;
    loop {
        let (gateways, has_endpoints) = {
            let mut live = live.lock().expect("zones");
            live.refresh();
            let gateways: Vec<Ipv4Addr> = live.zones.by_gateway.keys().copied().collect();
            (gateways, live.has_endpoints)
        };
        sync_listeners(&mut listeners, &gateways, &live, &upstreams).await;
        if has_endpoints {
            idle_since = None;
        } else if idle_since.get_or_insert_with(Instant::now).elapsed() >= IDLE_EXIT_AFTER {
            return Ok(());
        }
        let wait = if listeners.len() < gateways.len() {
            RETRY_BIND
        } else {
            IDLE_CHECK
        };
        // Woken by a save (drained at the top of the loop) or the timeout.
        if let Ok(Ok(mut ready)) = tokio::time::timeout(wait, changes.readable()).await {
            ready.clear_ready();
        }
    }
}

/// One listener per network gateway: new networks get one, removed ones lose theirs.
async fn sync_listeners(
    listeners: &mut BTreeMap<Ipv4Addr, JoinHandle<()>>,
    gateways: &[Ipv4Addr],
    live: &Shared,
    upstreams: &Arc<Vec<Ipv4Addr>>,
) {
    listeners.retain(|gw, task| {
        let keep = gateways.contains(gw);
        if !keep {
            task.abort();
        }
        keep
    });
    for gw in gateways {
        if listeners.contains_key(gw) {
            continue;
        }
        // The bridge may not have its address yet; retried after RETRY_BIND.
        if let Ok(socket) = UdpSocket::bind((*gw, 53)).await {
            let task = listen(Arc::new(socket), *gw, live.clone(), upstreams.clone());
            listeners.insert(*gw, tokio::spawn(task));
        }
    }
}

async fn listen(
    socket: Arc<UdpSocket>,
    gateway: Ipv4Addr,
    live: Shared,
    upstreams: Arc<Vec<Ipv4Addr>>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        let reply = {
            let mut live = live.lock().expect("zones");
            live.refresh();
            let client = match peer.ip() {
                std::net::IpAddr::V4(ip) => ip,
                std::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            };
            live.zones
                .for_query(gateway, client)
                .and_then(|zone| respond(zone, &query))
        };
        match reply {
            Some(reply) => {
                let _ = socket.send_to(&reply, peer).await;
            }
            None => {
                tokio::spawn(forward(socket.clone(), query, peer, upstreams.clone()));
            }
        }
    }
}

/// Relays a query to the first host resolver that answers.
async fn forward(
    socket: Arc<UdpSocket>,
    query: Vec<u8>,
    peer: SocketAddr,
    upstreams: Arc<Vec<Ipv4Addr>>,
) {
    let Ok(out) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await else {
        return;
    };
    let mut buf = vec![0u8; 4096];
    for upstream in upstreams.iter() {
        if out.send_to(&query, (*upstream, 53)).await.is_err() {
            continue;
        }
        if let Ok(Ok(n)) = tokio::time::timeout(UPSTREAM_TIMEOUT, out.recv(&mut buf)).await {
            let _ = socket.send_to(&buf[..n], peer).await;
            return;
        }
    }
}
