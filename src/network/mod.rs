//! Container networking: named bridge networks with IPAM (`ipam`, `store`),
//! links over netlink (`link`), NAT/publishing/isolation in rcorch's own
//! nftables table (`nft`), per-container files (`files`), an embedded DNS
//! resolver (`dns`), and the verbs that tie them together (`ops`).

mod bridge_ready;
pub mod connect;
pub mod conntrack;
pub mod dns;
mod dns_process;
mod dns_server;
pub mod endpoints;
pub mod files;
pub mod host_bridges;
pub mod ipam;
pub mod link;
pub mod names;
pub mod nft;
mod nft_forward;
pub mod ops;
mod ops_services;
pub mod ports;
pub mod publish;
pub mod services;
pub mod stale_tables;
pub mod state_watch;
pub mod store;
pub mod strategy;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::util::records::Damage;
use strategy::Strategy;

pub use ipam::Subnet;
pub use ports::{PortMapping, Proto};

/// The network a container joins when `--network` is not given.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The DNS domain containers' names live in (`web` and `web.rcorch` both resolve).
pub const DNS_DOMAIN: &str = "rcorch";

/// A named network: one bridge, one subnet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub bridge: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    /// No masquerade, no forwarding off the bridge.
    pub internal: bool,
    pub created: String,
    /// `network create --label K=V`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A container's attachment to a network: its lease, names and ports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub container_id: String,
    pub container_name: String,
    pub network: String,
    pub ip: Ipv4Addr,
    pub aliases: Vec<String>,
    pub ports: Vec<PortMapping>,
    /// The host end of the veth pair.
    pub host_veth: String,
    /// The interface inside the container: eth0 from `run`, eth1.. from `network connect`.
    #[serde(default = "default_ifname")]
    pub ifname: String,
    /// This interface carries the container's default route (one of its
    /// non-internal networks does; see `endpoints::default_route`).
    #[serde(default)]
    pub default_route: bool,
}

fn default_ifname() -> String {
    "eth0".into()
}

/// Everything rcorch's networking persists (a record per network, `store`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetState {
    pub networks: BTreeMap<String, Network>,
    /// By `endpoint_key` (container id and network): a container may be
    /// on several networks.
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Load-balanced services, by `ServiceLb::key`.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceLb>,
    /// Networks whose record is unreadable, by name: read from its copy
    /// (`recovered`), or lost until `system check --repair` or `network rm`.
    #[serde(skip)]
    pub damaged: BTreeMap<String, Damage>,
}

/// The key of a container's endpoint on a network in `NetState::endpoints`.
pub fn endpoint_key(container_id: &str, network: &str) -> String {
    format!("{container_id}/{network}")
}

impl NetState {
    /// Re-keys endpoints by `endpoint_key` (states written before a
    /// container could join several networks were keyed by container id).
    pub fn normalized(mut self) -> NetState {
        self.endpoints = std::mem::take(&mut self.endpoints)
            .into_values()
            .map(|e| (endpoint_key(&e.container_id, &e.network), e))
            .collect();
        self
    }

    /// Network `name`'s damage when its record is lost.
    pub fn lost(&self, name: &str) -> Option<&Damage> {
        self.damaged.get(name).filter(|d| !d.recovered)
    }

    /// One line per damaged record: its path, what is wrong, the way out.
    pub fn damage_reports(&self) -> Vec<String> {
        self.damaged
            .iter()
            .map(|(name, d)| damage_report(name, d))
            .collect()
    }

    /// A container's endpoints, in network-name order.
    pub fn endpoints_of<'a>(&'a self, container_id: &'a str) -> impl Iterator<Item = &'a Endpoint> {
        self.endpoints
            .values()
            .filter(move |e| e.container_id == container_id)
    }

    pub fn insert_endpoint(&mut self, endpoint: Endpoint) {
        let key = endpoint_key(&endpoint.container_id, &endpoint.network);
        self.endpoints.insert(key, endpoint);
    }

    pub fn endpoints_on<'a>(&'a self, network: &'a str) -> impl Iterator<Item = &'a Endpoint> {
        self.endpoints
            .values()
            .filter(move |e| e.network == network)
    }

    pub fn services_on<'a>(&'a self, network: &'a str) -> impl Iterator<Item = &'a ServiceLb> {
        self.services.values().filter(move |s| s.network == network)
    }

    /// Host ports published by containers and services.
    pub fn published_ports(&self) -> impl Iterator<Item = &PortMapping> {
        let by_containers = self.endpoints.values().flat_map(|e| &e.ports);
        by_containers.chain(self.services.values().flat_map(|s| &s.ports))
    }

    /// Addresses taken on a network: containers' and services' virtual IPs.
    pub fn used_addresses(&self, network: &str) -> std::collections::BTreeSet<Ipv4Addr> {
        self.endpoints_on(network)
            .map(|e| e.ip)
            .chain(self.services_on(network).filter_map(|s| s.vip))
            .collect()
    }
}

fn damage_report(name: &str, d: &Damage) -> String {
    if d.recovered {
        format!(
            "network {name}: its record {} is unreadable ({}); read from its copy, rewritten by the next change or `rcorch system check --repair`",
            d.path.display(),
            d.problem
        )
    } else {
        format!(
            "network {name} has an unreadable record {} ({}): run `rcorch system check --repair`, or remove it with `rcorch network rm {name}`",
            d.path.display(),
            d.problem
        )
    }
}

/// A project service behind the kernel load balancer (issue 6): a virtual IP
/// on its network (every TCP/UDP port), published host ports, and the
/// replicas that take new connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceLb {
    pub project: String,
    pub service: String,
    pub network: String,
    /// None in `dnsrr` mode: the name resolves to the members instead.
    pub vip: Option<Ipv4Addr>,
    /// `host_port` on the host spreads over the members' `container_port`.
    pub ports: Vec<PortMapping>,
    /// Members in balancing order: running, healthy, not draining.
    pub backends: Vec<Ipv4Addr>,
    /// Every running replica (`tasks.SERVICE`).
    pub replicas: Vec<Ipv4Addr>,
    /// `least-connections` (label `rcorch.lb.strategy`): TCP goes through
    /// the supervisor's userspace proxy, which listens on the published TCP
    /// ports and on `vip_ports` of the VIP; the kernel keeps only UDP.
    #[serde(default)]
    pub strategy: Strategy,
    /// The TCP ports the proxy serves on the VIP (published and exposed
    /// container ports); unused by the kernel path, which balances every port.
    #[serde(default)]
    pub vip_ports: Vec<u16>,
}

impl ServiceLb {
    pub fn key(project: &str, service: &str) -> String {
        format!("{project}/{service}")
    }
}

/// The host end of a container's veth for its interface `ifname`:
/// "rc" + 11 id characters for eth0, "rc" + 10 + "_N" for ethN (fits IFNAMSIZ).
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    veth_name("rc", container_id, ifname)
}

fn veth_name(prefix: &str, container_id: &str, ifname: &str) -> String {
    match ifname.strip_prefix("eth").filter(|n| *n != "0") {
        Some(n) => format!(
            "{prefix}{}_{n}",
            &container_id[..container_id.len().min(10)]
        ),
        None => format!("{prefix}{}", &container_id[..container_id.len().min(11)]),
    }
}

/// A fixed MAC for an address, Docker-style (02:42 then the IPv4 bytes), so
/// `inspect` can report it without entering the container.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

pub fn mac_string(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}
