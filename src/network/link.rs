//! Bridges and veth pairs over netlink (rtnetlink), never by running `ip`.
//! Each call runs on a small current-thread tokio runtime: rcorch is not
//! async elsewhere, and a netlink round trip is microseconds.
//!
//! Inside a container's namespace: a short-lived thread `setns`es into it
//! (network namespaces are per thread) and opens its own netlink socket there.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;

use futures_util::TryStreamExt;
use nix::sched::CloneFlags;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LinkError {
    #[error("cannot open a netlink socket: {0}")]
    Socket(std::io::Error),
    #[error("netlink: cannot {op} {name}: {source}")]
    Netlink {
        op: &'static str,
        name: String,
        source: rtnetlink::Error,
    },
    #[error("network link {0} does not exist")]
    Missing(String),
    #[error("cannot enter the network namespace of pid {pid}: {source}")]
    Netns { pid: i32, source: std::io::Error },
    #[error("the namespace setup thread panicked")]
    Thread,
}

pub(super) type Result<T> = std::result::Result<T, LinkError>;

/// How a container is plugged into its network.
#[derive(Debug, Clone)]
pub struct VethPlan {
    pub host: String,
    pub bridge: String,
    /// The peer's name inside the container (eth0, eth1, ...).
    pub ifname: String,
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
    pub prefix: u8,
    /// The default route's gateway; None for internal networks (only the
    /// subnet route) and for a container that already has a default route.
    pub gateway: Option<Ipv4Addr>,
}

pub(super) fn block_on<F: std::future::Future<Output = Result<T>>, T>(
    work: impl FnOnce(Handle) -> F,
) -> Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(LinkError::Socket)?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(LinkError::Socket)?;
        tokio::spawn(conn);
        work(handle).await
    })
}

pub(super) fn nl<'a>(
    op: &'static str,
    name: &'a str,
) -> impl FnOnce(rtnetlink::Error) -> LinkError + 'a {
    move |source| LinkError::Netlink {
        op,
        name: name.to_string(),
        source,
    }
}

fn errno_is(e: &rtnetlink::Error, errno: i32) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code() == -errno)
}

async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(msg)) => Ok(Some(msg.header.index)),
        Ok(None) => Ok(None),
        Err(e) if errno_is(&e, libc::ENODEV) => Ok(None),
        Err(e) => Err(nl("look up", name)(e)),
    }
}

/// What `ensure_bridge` found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeFound {
    Created,
    /// It was there, with this alias (`host_bridges::judge_existing` says
    /// whose it is).
    Exists {
        alias: Option<String>,
    },
}

/// Creates the bridge with the gateway address if it is missing, and
/// brings it up. `alias` names its network (`host_bridges::alias_for`).
pub fn ensure_bridge(
    name: &str,
    alias: &str,
    gateway: Ipv4Addr,
    prefix: u8,
) -> Result<BridgeFound> {
    block_on(|h| async move {
        if let Some(found) = alias_of(&h, name).await? {
            return Ok(BridgeFound::Exists { alias: found });
        }
        create_bridge(&h, name, alias, gateway, prefix).await?;
        Ok(BridgeFound::Created)
    })
}

/// Finishes a bridge whose creation was cut short (no alias yet, maybe no
/// address, maybe down): every step of `create_bridge` takes what is done.
pub fn complete_bridge(name: &str, alias: &str, gateway: Ipv4Addr, prefix: u8) -> Result<()> {
    block_on(|h| async move { create_bridge(&h, name, alias, gateway, prefix).await })
}

/// The alias of link `name` (`Some(None)`: it has none), None when missing.
async fn alias_of(handle: &Handle, name: &str) -> Result<Option<Option<String>>> {
    use rtnetlink::packet_route::link::LinkAttribute;
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(msg)) => Ok(Some(msg.attributes.into_iter().find_map(|a| match a {
            LinkAttribute::IfAlias(a) => Some(a),
            _ => None,
        }))),
        Ok(None) => Ok(None),
        Err(e) if errno_is(&e, libc::ENODEV) => Ok(None),
        Err(e) => Err(nl("look up", name)(e)),
    }
}

async fn create_bridge(
    h: &Handle,
    name: &str,
    alias: &str,
    gateway: Ipv4Addr,
    prefix: u8,
) -> Result<()> {
    // A fixed MAC (from the gateway address, like containers' own): left to
    // itself a bridge takes its lowest port's MAC, which changes as
    // containers come and go, and containers' ARP entries for the gateway
    // go stale (their DNS queries then time out for seconds).
    let bridge = LinkBridge::new(name)
        .address(super::mac_for(gateway).to_vec())
        .build();
    match h.link().add(bridge).execute().await {
        Err(e) if !errno_is(&e, libc::EEXIST) => return Err(nl("create bridge", name)(e)),
        _ => {}
    }
    let index = index_of(h, name)
        .await?
        .ok_or_else(|| LinkError::Missing(name.into()))?;
    match h
        .address()
        .add(index, IpAddr::V4(gateway), prefix)
        .execute()
        .await
    {
        Err(e) if !errno_is(&e, libc::EEXIST) => return Err(nl("address", name)(e)),
        _ => {}
    }
    // The kernel takes an alias only on an existing link.
    h.link()
        .set(LinkUnspec::new_with_index(index).up().alias(alias).build())
        .execute()
        .await
        .map_err(nl("bring up", name))
}

/// Deletes a link; a missing one is already deleted.
pub fn delete_link(name: &str) -> Result<()> {
    block_on(|h| async move {
        let Some(index) = index_of(&h, name).await? else {
            return Ok(());
        };
        match h.link().del(index).execute().await {
            Err(e) if !errno_is(&e, libc::ENODEV) => Err(nl("delete", name)(e)),
            _ => Ok(()),
        }
    })
}

/// Adds `ip/prefix` to a link; an address it already has is fine.
pub fn add_address(name: &str, ip: Ipv4Addr, prefix: u8) -> Result<()> {
    block_on(|h| async move {
        let index = index_of(&h, name)
            .await?
            .ok_or_else(|| LinkError::Missing(name.into()))?;
        match h
            .address()
            .add(index, IpAddr::V4(ip), prefix)
            .execute()
            .await
        {
            Err(e) if !errno_is(&e, libc::EEXIST) => Err(nl("add address to", name)(e)),
            _ => Ok(()),
        }
    })
}

/// Removes `ip` from a link; a missing link or address is already removed.
pub fn delete_address(name: &str, ip: Ipv4Addr) -> Result<()> {
    block_on(|h| async move {
        let Some(index) = index_of(&h, name).await? else {
            return Ok(());
        };
        let mut found = h
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(IpAddr::V4(ip))
            .execute();
        while let Some(message) = found
            .try_next()
            .await
            .map_err(nl("list addresses of", name))?
        {
            match h.address().del(message).execute().await {
                Err(e) if !errno_is(&e, libc::EADDRNOTAVAIL) => {
                    return Err(nl("delete address from", name)(e))
                }
                _ => {}
            }
        }
        Ok(())
    })
}

pub fn link_exists(name: &str) -> Result<bool> {
    block_on(|h| async move { Ok(index_of(&h, name).await?.is_some()) })
}

/// Creates the veth pair, enslaves the host end to the bridge, moves the
/// peer into `pid`'s namespace and configures it there as `ifname`. On failure
/// the host end is deleted (which takes the peer with it).
pub fn plug(plan: &VethPlan, pid: i32) -> Result<()> {
    let result = plug_host_side(plan, pid).and_then(|()| configure_inside(plan, pid));
    if result.is_err() {
        let _ = delete_link(&plan.host);
    }
    result
}

fn plug_host_side(plan: &VethPlan, pid: i32) -> Result<()> {
    block_on(|h| async move {
        let bridge = index_of(&h, &plan.bridge)
            .await?
            .ok_or_else(|| LinkError::Missing(plan.bridge.clone()))?;
        // One request: the peer is born in the container's namespace under
        // its final name (moving it there afterwards costs the kernel a
        // synchronize_net, ~10 ms; renaming it another), the host end is
        // born enslaved to the bridge and up. Not the peer: a veth cannot
        // open before its pair is complete (ENOTCONN).
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(plan.ifname.clone())
            .address(plan.mac.to_vec())
            .setns_by_pid(pid as u32)
            .build();
        let veth = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(plan.host.clone())
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .controller(bridge)
            .up()
            .build();
        h.link()
            .add(veth)
            .execute()
            .await
            .map_err(nl("create veth", &plan.host))
    })
}

/// In the container's namespace: the address on `ifname` (the kernel adds
/// the subnet route), the link up, and the default route through the gateway when the
/// plan has one. `lo` is init's job (it brings it up with `--network none` too).
fn configure_inside(plan: &VethPlan, pid: i32) -> Result<()> {
    let plan = plan.clone();
    in_netns(pid, move |h| async move {
        let ifname = plan.ifname.as_str();
        let eth = index_of(&h, ifname)
            .await?
            .ok_or_else(|| LinkError::Missing(ifname.to_string()))?;
        h.address()
            .add(eth, IpAddr::V4(plan.ip), plan.prefix)
            .execute()
            .await
            .map_err(nl("address", ifname))?;
        h.link()
            .set(LinkUnspec::new_with_index(eth).up().build())
            .execute()
            .await
            .map_err(nl("bring up", ifname))?;
        match plan.gateway {
            Some(gateway) => add_default_route(&h, eth, ifname, gateway).await,
            None => Ok(()),
        }
    })
}

async fn add_default_route(h: &Handle, index: u32, ifname: &str, gateway: Ipv4Addr) -> Result<()> {
    h.route()
        .add(default_route_via(index, gateway))
        .execute()
        .await
        .map_err(nl("add default route via", ifname))
}

fn default_route_via(
    index: u32,
    gateway: Ipv4Addr,
) -> rtnetlink::packet_route::route::RouteMessage {
    RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(gateway)
        .output_interface(index)
        .build()
}

/// Points the default route of `pid`'s network namespace through `gateway`
/// on `ifname`, replacing the one it has (`network disconnect` of the
/// network that carried it).
pub fn set_default_route(pid: i32, ifname: &str, gateway: Ipv4Addr) -> Result<()> {
    let ifname = ifname.to_string();
    in_netns(pid, move |h| async move {
        let index = index_of(&h, &ifname)
            .await?
            .ok_or_else(|| LinkError::Missing(ifname.clone()))?;
        h.route()
            .add(default_route_via(index, gateway))
            .replace()
            .execute()
            .await
            .map_err(nl("move the default route to", &ifname))
    })
}

/// Runs netlink `work` from a short-lived thread inside `pid`'s network
/// namespace (namespaces are per thread; the caller's stays untouched).
fn in_netns<F, Fut>(pid: i32, work: F) -> Result<()>
where
    F: FnOnce(Handle) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<()>>,
{
    let ns = File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|source| LinkError::Netns { pid, source })?;
    std::thread::spawn(move || {
        nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| LinkError::Netns {
            pid,
            source: e.into(),
        })?;
        block_on(work)
    })
    .join()
    .map_err(|_| LinkError::Thread)?
}
