//! The embedded DNS resolver's decisions, as pure functions: which names
//! each network answers, and the reply to one query. The server that
//! listens and forwards is `dns_server`.
//!
//! Each network's resolver listens on its gateway address. It answers
//! container names and aliases on that network (bare, or under
//! `DNS_DOMAIN`), NXDOMAIN for other names in its domain or without a dot,
//! and forwards everything else to the host's resolvers. Records are
//! rebuilt from the network state as soon as it changes, with TTL 0, so a
//! removed container is never answered.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{rdata::A, Name, RData, Record, RecordType};

use super::{NetState, DNS_DOMAIN};

pub use super::dns_process::{ensure_server, stop_server};
pub use super::dns_server::serve;

/// Names on one network: lowercase name -> addresses.
pub type Zone = BTreeMap<String, Vec<Ipv4Addr>>;

/// The names each resolver answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Zones {
    /// Every network's zone, keyed by the gateway its resolver listens on.
    pub by_gateway: BTreeMap<Ipv4Addr, Zone>,
    /// For a container on several networks (`network connect`), keyed by
    /// its addresses: the names of all its networks, whichever it asks.
    pub by_client: BTreeMap<Ipv4Addr, Zone>,
}

impl Zones {
    /// The zone answering `client`'s query to the resolver at `gateway`.
    pub fn for_query(&self, gateway: Ipv4Addr, client: Ipv4Addr) -> Option<&Zone> {
        self.by_client
            .get(&client)
            .or_else(|| self.by_gateway.get(&gateway))
    }
}

fn add_names(zone: &mut Zone, state: &NetState, network: &str) {
    for e in state.endpoints_on(network) {
        for name in std::iter::once(&e.container_name).chain(&e.aliases) {
            let ips = zone.entry(name.to_ascii_lowercase()).or_default();
            if !ips.contains(&e.ip) {
                ips.push(e.ip);
            }
        }
    }
    // Load-balanced services answer with their VIP (or, in `dnsrr` mode,
    // their members), and `tasks.SERVICE` with every running replica.
    for s in state.services_on(network) {
        let name = s.service.to_ascii_lowercase();
        let service_ips = s.vip.map(|vip| vec![vip]).unwrap_or(s.backends.clone());
        zone.insert(format!("tasks.{name}"), s.replicas.clone());
        zone.insert(name, service_ips);
    }
}

pub fn zones(state: &NetState) -> Zones {
    let mut zones = Zones::default();
    for network in state.networks.values() {
        let zone = zones.by_gateway.entry(network.gateway).or_default();
        add_names(zone, state, &network.name);
    }
    let mut networks_of: BTreeMap<&str, Vec<&super::Endpoint>> = BTreeMap::new();
    for e in state.endpoints.values() {
        networks_of.entry(&e.container_id).or_default().push(e);
    }
    for endpoints in networks_of.values().filter(|eps| eps.len() > 1) {
        let mut zone = Zone::new();
        for e in endpoints {
            add_names(&mut zone, state, &e.network);
        }
        for e in endpoints {
            zones.by_client.insert(e.ip, zone.clone());
        }
    }
    zones
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Addresses(Vec<Ipv4Addr>),
    /// The name exists but has no record of that type (e.g. AAAA).
    NoData,
    NxDomain,
    Forward,
}

/// What to answer for `qname` (any case, trailing dot optional).
pub fn decide(zone: &Zone, qname: &str, qtype: RecordType) -> Answer {
    let name = qname.trim_end_matches('.').to_ascii_lowercase();
    let suffix = format!(".{DNS_DOMAIN}");
    let (local, ours) = match name.strip_suffix(&suffix) {
        Some(local) => (local.to_string(), true),
        None => (name.clone(), !name.contains('.') || name == DNS_DOMAIN),
    };
    // Dotted names of our own (`tasks.web`) are answered, not forwarded.
    match zone.get(&local) {
        Some(ips) if qtype == RecordType::A || qtype == RecordType::ANY => {
            Answer::Addresses(ips.clone())
        }
        Some(_) => Answer::NoData,
        None if ours => Answer::NxDomain,
        None => Answer::Forward,
    }
}

/// The reply to a query, or None when it must be forwarded (or is not a
/// query we can read: forwarding lets the upstream judge it).
pub fn respond(zone: &Zone, query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    if request.metadata.message_type != MessageType::Query
        || request.metadata.op_code != OpCode::Query
    {
        return None;
    }
    let q = request.queries.first()?;
    let answer = decide(zone, &q.name().to_ascii(), q.query_type());
    if answer == Answer::Forward {
        return None;
    }
    let mut reply = Message::response(request.metadata.id, OpCode::Query);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(q.clone());
    match answer {
        Answer::Addresses(ips) => {
            for ip in ips {
                let name: Name = q.name().clone();
                reply.add_answer(Record::from_rdata(name, 0, RData::A(A(ip))));
            }
        }
        Answer::NxDomain => reply.metadata.response_code = ResponseCode::NXDomain,
        Answer::NoData | Answer::Forward => {}
    }
    reply.to_vec().ok()
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
