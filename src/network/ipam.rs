//! IP address management as pure functions: parse and check subnets, find
//! overlaps, pick a default subnet clear of the host's routes, hand out the
//! lowest free address. The persistent, locked lease file is `store.rs`.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IpamError {
    /// Not `A.B.C.D/N`.
    #[error("invalid subnet \"{0}\": expected CIDR notation like 10.89.0.0/24")]
    Cidr(String),
    #[error("invalid subnet \"{spec}\": prefix length must be between 8 and 30")]
    Prefix { spec: String },
    #[error("invalid subnet \"{spec}\": host bits are set, did you mean {suggested}?")]
    HostBits { spec: String, suggested: Subnet },
    #[error("invalid IP address \"{0}\"")]
    Address(String),
    #[error("address {ip} is not in subnet {subnet}")]
    OutsideSubnet { ip: Ipv4Addr, subnet: Subnet },
    #[error("address {ip} is reserved in subnet {subnet} (network, gateway or broadcast)")]
    Reserved { ip: Ipv4Addr, subnet: Subnet },
    #[error("address {ip} is already in use on this network")]
    InUse { ip: Ipv4Addr },
    #[error("no free address left in subnet {subnet}")]
    Exhausted { subnet: Subnet },
    #[error("no free default subnet: every candidate overlaps a host route or network")]
    NoDefaultSubnet,
}

/// An IPv4 network: address with host bits clear, and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }
    pub fn new(network: Ipv4Addr, prefix: u8) -> Subnet {
        let bits = u32::from(network) & Subnet::mask(prefix);
        Subnet {
            network: bits.into(),
            prefix,
        }
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Subnet::mask(self.prefix) == u32::from(self.network)
    }
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let shorter = self.prefix.min(other.prefix);
        let mask = Subnet::mask(shorter);
        u32::from(self.network) & mask == u32::from(other.network) & mask
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        (u32::from(self.network) | !Subnet::mask(self.prefix)).into()
    }
    /// The first host address: the conventional gateway.
    pub fn first_host(&self) -> Ipv4Addr {
        (u32::from(self.network) + 1).into()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = IpamError;
    /// Strict: a user's `--subnet` with host bits set is a mistake worth naming.
    fn from_str(spec: &str) -> Result<Subnet, IpamError> {
        let (addr, prefix) = spec
            .split_once('/')
            .ok_or_else(|| IpamError::Cidr(spec.into()))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| IpamError::Cidr(spec.into()))?;
        let prefix: u8 = prefix.parse().map_err(|_| IpamError::Cidr(spec.into()))?;
        if prefix > 32 {
            return Err(IpamError::Cidr(spec.into()));
        }
        if !(8..=30).contains(&prefix) {
            return Err(IpamError::Prefix { spec: spec.into() });
        }
        let subnet = Subnet::new(addr, prefix);
        if subnet.network != addr {
            return Err(IpamError::HostBits {
                spec: spec.into(),
                suggested: subnet,
            });
        }
        Ok(subnet)
    }
}

impl TryFrom<String> for Subnet {
    type Error = IpamError;
    fn try_from(s: String) -> Result<Subnet, IpamError> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

/// The gateway for a new network: `--gateway` checked against the subnet,
/// else the first host address.
pub fn gateway_for(subnet: &Subnet, requested: Option<&str>) -> Result<Ipv4Addr, IpamError> {
    let Some(spec) = requested else {
        return Ok(subnet.first_host());
    };
    let ip: Ipv4Addr = spec.parse().map_err(|_| IpamError::Address(spec.into()))?;
    if !subnet.contains(ip) {
        return Err(IpamError::OutsideSubnet {
            ip,
            subnet: *subnet,
        });
    }
    if ip == subnet.network || ip == subnet.broadcast() {
        return Err(IpamError::Reserved {
            ip,
            subnet: *subnet,
        });
    }
    Ok(ip)
}

/// An address for a container: the requested one if it is free, else the
/// lowest free host address (never network, gateway or broadcast).
pub fn allocate(
    subnet: &Subnet,
    gateway: Ipv4Addr,
    used: &BTreeSet<Ipv4Addr>,
    requested: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, IpamError> {
    let reserved = |ip: Ipv4Addr| ip == subnet.network || ip == subnet.broadcast() || ip == gateway;
    if let Some(ip) = requested {
        if !subnet.contains(ip) {
            return Err(IpamError::OutsideSubnet {
                ip,
                subnet: *subnet,
            });
        }
        if reserved(ip) {
            return Err(IpamError::Reserved {
                ip,
                subnet: *subnet,
            });
        }
        if used.contains(&ip) {
            return Err(IpamError::InUse { ip });
        }
        return Ok(ip);
    }
    let first = u32::from(subnet.network) + 1;
    let last = u32::from(subnet.broadcast()) - 1;
    (first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| !reserved(*ip) && !used.contains(ip))
        .ok_or(IpamError::Exhausted { subnet: *subnet })
}

/// The first `/16` among Docker-like private candidates (172.17–172.31, then
/// 10.200–10.255) that overlaps neither a host route nor an existing network.
/// A default route (`0.0.0.0/0`) is ignored: it overlaps everything.
pub fn choose_subnet(host_routes: &[Subnet], taken: &[Subnet]) -> Result<Subnet, IpamError> {
    let candidates = (17..=31)
        .map(|b| Subnet::new(Ipv4Addr::new(172, b, 0, 0), 16))
        .chain((200..=255).map(|b| Subnet::new(Ipv4Addr::new(10, b, 0, 0), 16)));
    let blocked: Vec<&Subnet> = host_routes
        .iter()
        .filter(|r| r.prefix > 0)
        .chain(taken)
        .collect();
    candidates
        .into_iter()
        .find(|c| !blocked.iter().any(|b| b.overlaps(c)))
        .ok_or(IpamError::NoDefaultSubnet)
}

/// Destinations of the IPv4 routing table in `/proc/net/route` format
/// (hex, little-endian): the host's routes a new subnet must avoid.
pub fn parse_proc_net_route(text: &str) -> Vec<Subnet> {
    parse_routes_by_dev(text)
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

/// The same routes with the link each goes through.
pub fn parse_routes_by_dev(text: &str) -> Vec<(String, Subnet)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            // The kernel prints the address's in-memory (network order) bytes as a host u32.
            let dest = Ipv4Addr::from(dest.to_le_bytes());
            let prefix = mask.count_ones() as u8;
            Some((fields[0].to_string(), Subnet::new(dest, prefix)))
        })
        .collect()
}

#[cfg(test)]
#[path = "ipam_tests.rs"]
mod tests;
