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
pub mod ports;
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
}

impl NetState {
    pub fn endpoints_on<'a>(&'a self, network: &'a str) -> impl Iterator<Item = &'a Endpoint> {
        self.endpoints
            .values()
            .filter(move |e| e.network == network)
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
