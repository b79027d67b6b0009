//! The resolver process (`rcorch dns-serve`, started on demand by `run`):
//! one process for every network of an rcorch root. It holds
//! `networks/dns.lock` while alive (so at most one runs), reloads the zones
//! whenever the network state changes, listens on each network's gateway,
//! forwards what it does not own to the host's resolvers, and exits once
//! no container has been attached for a while.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::dns::{respond, zones, Zones};
use super::files::parse_nameservers;
use super::store::NetStore;

const RELOAD_EVERY: Duration = Duration::from_millis(200);
const IDLE_EXIT_AFTER: u32 = 50; // reloads with no endpoint: 10 s
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

type SharedZones = Arc<Mutex<Zones>>;

fn try_lock(root: &Path) -> std::io::Result<Option<Flock<std::fs::File>>> {
    let dir = NetStore::open(root).dir().to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("dns.lock"))?;
    Ok(Flock::lock(file, FlockArg::LockExclusiveNonblock).ok())
}

/// Starts `rcorch dns-serve` for `root` unless one already runs.
pub fn ensure_server(root: &Path) -> std::io::Result<()> {
    match try_lock(root)? {
        None => return Ok(()), // a server holds the lock
        Some(lock) => drop(lock),
    }
    let exe = std::fs::read_link("/proc/self/exe")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(root)
        .arg("dns-serve")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Its own process group keeps a terminal's Ctrl-C off it. Not setsid in
    // a pre_exec hook: any hook forces fork (the run waits ~2-4 ms for the
    // child's exec), without one std uses posix_spawn (vfork-fast).
    cmd.process_group(0);
    cmd.spawn().map(|_| ())
}

fn pid_file(root: &Path) -> std::path::PathBuf {
    NetStore::open(root).dir().join("dns.pid")
}

/// Stops the resolver of `root` (when its last container is gone) and
/// waits until it released its lock. The caller holds the state lock, so no
/// `run` starts one meanwhile; a resolver still starting sees no container
/// and exits by itself.
pub fn stop_server(root: &Path) {
    for _ in 0..400 {
        if try_lock(root).ok().flatten().is_some() {
            let _ = std::fs::remove_file(pid_file(root));
            return; // none running (any more)
        }
        // The pid file appears right after the lock is taken. SIGKILL: the
        // resolver keeps nothing worth a graceful exit, and whoever spawned
        // it may have left SIGTERM blocked.
        if let Some(pid) = server_pid(root) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The resolver's pid, only if that process really is a resolver.
fn server_pid(root: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(root))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let is_server = cmdline.split(|b| *b == 0).any(|arg| arg == b"dns-serve");
    (pid > 1 && is_server).then_some(pid)
}

/// Runs the resolver until idle. Returns at once if another one runs.
pub fn serve(root: &Path, host_resolv_conf: &Path) -> std::io::Result<()> {
    let Some(_lock) = try_lock(root)? else {
        return Ok(());
    };
    std::fs::write(pid_file(root), std::process::id().to_string())?;
    let store = NetStore::open(root);
    if store.read().map(|s| s.endpoints.is_empty()).unwrap_or(true) {
        // Its container is already gone: nothing to serve.
        let _ = std::fs::remove_file(pid_file(root));
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
    rt.block_on(run(store, Arc::new(upstreams)));
    let _ = std::fs::remove_file(pid_file(root));
    Ok(())
}

async fn run(store: NetStore, upstreams: Arc<Vec<Ipv4Addr>>) {
    let shared: SharedZones = Arc::default();
    let mut listeners: BTreeMap<Ipv4Addr, JoinHandle<()>> = BTreeMap::new();
    let mut seen = None;
    let mut idle = 0;
    loop {
        let modified = store.modified();
        if modified != seen || listeners.len() < shared.lock().expect("zones").by_gateway.len() {
            seen = modified;
            let state = store.read().unwrap_or_default();
            idle = if state.endpoints.is_empty() {
                idle + 1
            } else {
                0
            };
            let fresh = zones(&state);
            listeners.retain(|gw, task| {
                let keep = fresh.by_gateway.contains_key(gw);
                if !keep {
                    task.abort();
                }
                keep
            });
            let missing: Vec<Ipv4Addr> = fresh
                .by_gateway
                .keys()
                .filter(|gw| !listeners.contains_key(gw))
                .copied()
                .collect();
            for gw in missing.iter() {
                // The bridge may not have its address yet; retried next round.
                if let Ok(socket) = UdpSocket::bind((*gw, 53)).await {
                    let task = listen(Arc::new(socket), *gw, shared.clone(), upstreams.clone());
                    listeners.insert(*gw, tokio::spawn(task));
                }
            }
            *shared.lock().expect("zones") = fresh;
        } else if store.read().map(|s| s.endpoints.is_empty()).unwrap_or(true) {
            idle += 1;
        } else {
            idle = 0;
        }
        if idle >= IDLE_EXIT_AFTER {
            return;
        }
        tokio::time::sleep(RELOAD_EVERY).await;
    }
}

async fn listen(
    socket: Arc<UdpSocket>,
    gateway: Ipv4Addr,
    zones: SharedZones,
    upstreams: Arc<Vec<Ipv4Addr>>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        let reply = {
            let zones = zones.lock().expect("zones");
            let client = match peer.ip() {
                std::net::IpAddr::V4(ip) => ip,
                std::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            };
            zones
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
