//! The userspace load balancer of least-connections services, inside the
//! project's supervisor process: the kernel path (nft `numgen`) cannot count
//! connections, so for these services nft carries no TCP DNAT and this proxy
//! listens itself on the published TCP ports and the VIP's TCP ports. Each
//! new connection goes to the member with the fewest open connections
//! (`supervisor::lb::Pool`), then bytes are copied both ways.
//!
//! One current-thread tokio runtime on its own thread; the supervisor's
//! synchronous loop hands it the balancer entries each pass (`update`).
//! Dropping the proxy stops the runtime, closing every listener.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

use nix::sys::socket::{shutdown, Shutdown};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::metrics::lb::{Backend, BackendCounters, LbStats};
use crate::network::services::{proxy_routes, ProxyRoute};
use crate::network::ServiceLb;
use crate::supervisor::lb::{Pool, Strategy};

/// Errors of the userspace proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The tokio runtime could not be built.
    #[error("cannot start the load-balancing proxy: {source}")]
    Runtime { source: std::io::Error },
    /// A listener could not be opened (port taken, address gone).
    #[error("load-balancing proxy cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddrV4,
        source: std::io::Error,
    },
}

/// Per service key, who takes new connections and how many each holds.
type Pools = Arc<Mutex<BTreeMap<String, Pool>>>;

/// How long a backend may take to accept before the client is dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const BUFFER: usize = 32 * 1024;

pub struct Proxy {
    handle: Handle,
    stop: Arc<AtomicBool>,
    thread: Option<ThreadHandle<()>>,
    pools: Pools,
    stats: LbStats,
    listeners: BTreeMap<(String, ProxyRoute), JoinHandle<()>>,
    /// Listeners that failed, reported once until they succeed.
    failing: BTreeSet<SocketAddrV4>,
}

impl Proxy {
    /// Starts the runtime thread (idle until a service needs it); every
    /// connection is counted in `stats` (whose backends the supervisor keeps).
    pub fn start(stats: LbStats) -> Result<Proxy, ProxyError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| ProxyError::Runtime { source })?;
        let handle = runtime.handle().clone();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        // Tasks spawned through `handle` run while this thread blocks on the
        // runtime; without tokio's sync feature, a polled flag ends it.
        let thread = std::thread::Builder::new()
            .name("lb-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    while !flag.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                });
            })
            .map_err(|source| ProxyError::Runtime { source })?;
        Ok(Proxy {
            handle,
            stop,
            thread: Some(thread),
            pools: Arc::default(),
            stats,
            listeners: BTreeMap::new(),
            failing: BTreeSet::new(),
        })
    }

    /// Serves exactly the least-connections services among `entries`, with
    /// their current members; returns listeners that newly failed.
    pub fn update<'a>(&mut self, entries: impl Iterator<Item = &'a ServiceLb>) -> Vec<ProxyError> {
        // (pool key, route) → the service it balances.
        let mut wanted = BTreeMap::new();
        {
            let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            let mut served = BTreeSet::new();
            for entry in entries {
                let routes = proxy_routes(entry);
                if routes.is_empty() {
                    continue;
                }
                let key = ServiceLb::key(&entry.project, &entry.service);
                let members = entry.backends.iter().map(Ipv4Addr::to_string).collect();
                pools
                    .entry(key.clone())
                    .or_insert_with(|| Pool::new(Strategy::LeastConnections))
                    .set_members(members);
                let target = Target {
                    service: entry.service.clone(),
                    network: entry.network.clone(),
                };
                wanted.extend(
                    routes
                        .into_iter()
                        .map(|r| ((key.clone(), r), target.clone())),
                );
                served.insert(key);
            }
            pools.retain(|key, _| served.contains(key));
        }
        self.listeners.retain(|route, task| {
            let keep = wanted.contains_key(route);
            if !keep {
                task.abort(); // drops the listener; open connections go on
            }
            keep
        });
        let mut failed = Vec::new();
        for ((key, route), target) in wanted {
            if self.listeners.contains_key(&(key.clone(), route)) {
                continue;
            }
            match listen(route.listen) {
                Ok(listener) => {
                    self.failing.remove(&route.listen);
                    let shared = Shared {
                        pools: self.pools.clone(),
                        stats: self.stats.clone(),
                        key: key.clone(),
                        target,
                    };
                    let task = serve(listener, shared, route.target_port);
                    self.listeners.insert((key, route), self.handle.spawn(task));
                }
                Err(source) if self.failing.insert(route.listen) => {
                    failed.push(ProxyError::Listen {
                        addr: route.listen,
                        source,
                    })
                }
                Err(_) => {}
            }
        }
        failed
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The runtime is dropped on its thread: every listener closes.
            let _ = thread.join();
        }
    }
}

/// Bound here, synchronously, so a taken port is reported by `update`.
fn listen(addr: SocketAddrV4) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Which service a listener balances, as its backends are counted.
#[derive(Debug, Clone)]
struct Target {
    service: String,
    network: String,
}

/// What a listener's task shares with the proxy.
struct Shared {
    pools: Pools,
    stats: LbStats,
    /// The pool's key (`project/service`).
    key: String,
    target: Target,
}

/// Counts a connection open until dropped (the relay ends or is aborted).
struct Admitted {
    pools: Pools,
    service: String,
    member: String,
    counters: Arc<BackendCounters>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get_mut(&self.service) {
            pool.release(&self.member);
        }
    }
}

fn admit(shared: &Shared) -> Option<Admitted> {
    let member = shared
        .pools
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&shared.key)?
        .admit()?;
    let counters = shared.stats.backend(&Backend {
        service: shared.target.service.clone(),
        network: shared.target.network.clone(),
        address: member.clone(),
    });
    counters.selected();
    Some(Admitted {
        pools: shared.pools.clone(),
        service: shared.key.clone(),
        member,
        counters,
    })
}

async fn serve(listener: std::net::TcpListener, shared: Shared, port: u16) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                // Out of descriptors, most likely: let connections finish.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // No member: the client is closed at once, as a refused connection.
        let Some(admitted) = admit(&shared) else {
            continue;
        };
        let Ok(ip) = admitted.member.parse::<Ipv4Addr>() else {
            continue;
        };
        tokio::spawn(relay(client, SocketAddrV4::new(ip, port), admitted));
    }
}

async fn relay(client: TcpStream, backend: SocketAddrV4, admitted: Admitted) {
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend)).await;
    let Ok(Ok(server)) = connect else {
        return;
    };
    let _open = admitted.counters.connected();
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client, server) = (Arc::new(client), Arc::new(server));
    let upstream = tokio::spawn(pump(client.clone(), server.clone()));
    pump(server, client).await;
    // The backend closed its side: it is free for the balancer before
    // anything else runs on this (single) thread, so a client that got
    // its answer and connects again is not counted against it.
    drop(admitted);
    let _ = upstream.await;
}

/// Copies `from` to `to` until EOF, then half-closes `to` so its peer sees
/// the end; on an error both sockets are shut so the other direction ends too.
async fn pump(from: Arc<TcpStream>, to: Arc<TcpStream>) {
    let mut buf = vec![0u8; BUFFER];
    let result = async {
        loop {
            let n = read(&from, &mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            write_all(&to, &buf[..n]).await?;
        }
    }
    .await;
    match result {
        Ok(()) => {
            let _ = shutdown(to.as_raw_fd(), Shutdown::Write);
        }
        Err(_) => {
            let _ = shutdown(to.as_raw_fd(), Shutdown::Both);
            let _ = shutdown(from.as_raw_fd(), Shutdown::Both);
        }
    }
}

async fn read(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

async fn write_all(stream: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
