//! Container networking: named bridge networks with IPAM (`ipam`, `store`),
//! links over netlink (`link`), NAT/publishing/isolation in rcorch's own
//! nftables table (`nft`), per-container files (`files`), an embedded DNS
//! resolver (`dns`), and the verbs that tie them together (`ops`).

pub mod dns;
mod dns_server;
pub mod files;
pub mod ipam;
pub mod link;
pub mod nft;
pub mod ops;
mod ops_services;
pub mod ports;
pub mod services;
pub mod store;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

pub use ipam::Subnet;
pub use ports::{PortMapping, Proto};

/// The network a container joins when `--network` is not given.
pub const DEFAULT_NETWORK: &str = "bridge";
/// Its bridge device.
pub const DEFAULT_BRIDGE: &str = "rcorch0";
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
}

/// Everything rcorch's networking persists, in one locked file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetState {
    pub networks: BTreeMap<String, Network>,
    /// By container id.
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Load-balanced services, by `ServiceLb::key`.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceLb>,
}

impl NetState {
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
}

impl ServiceLb {
    pub fn key(project: &str, service: &str) -> String {
        format!("{project}/{service}")
    }
}

/// The host end of a container's veth: "rc" + 11 id characters fits IFNAMSIZ.
pub fn host_veth_name(container_id: &str) -> String {
    format!("rc{}", &container_id[..container_id.len().min(11)])
}

/// The container end before it is renamed to eth0 inside the namespace.
pub fn peer_veth_name(container_id: &str) -> String {
    format!("rp{}", &container_id[..container_id.len().min(11)])
}
