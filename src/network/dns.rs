//! The embedded DNS resolver's decisions, as pure functions: which names
//! each network answers, and the reply to one query. The server that
//! listens and forwards is `dns_server`.
//!
//! Each network's resolver listens on its gateway address. It answers
//! container names and aliases on that network (bare, or under
//! `DNS_DOMAIN`), NXDOMAIN for other names in its domain or without a dot,
//! and forwards everything else to the host's resolvers. Records are
//! rebuilt from the network state whenever it changes, with TTL 0, so a
//! removed container is never answered.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{rdata::A, Name, RData, Record, RecordType};

use super::{NetState, DNS_DOMAIN};

pub use super::dns_server::{ensure_server, serve, stop_server};

/// Names on one network: lowercase name -> addresses.
pub type Zone = BTreeMap<String, Vec<Ipv4Addr>>;

/// Every network's zone, keyed by the gateway address its resolver listens on.
/// Load-balanced services answer with their VIP (or, in `dnsrr` mode, their
/// members), and `tasks.SERVICE` with every running replica.
pub fn zones(state: &NetState) -> BTreeMap<Ipv4Addr, Zone> {
    let mut zones: BTreeMap<Ipv4Addr, Zone> = BTreeMap::new();
    for network in state.networks.values() {
        let zone = zones.entry(network.gateway).or_default();
        for e in state.endpoints_on(&network.name) {
            for name in std::iter::once(&e.container_name).chain(&e.aliases) {
                let ips = zone.entry(name.to_ascii_lowercase()).or_default();
                if !ips.contains(&e.ip) {
                    ips.push(e.ip);
                }
            }
        }
        for s in state.services_on(&network.name) {
            let name = s.service.to_ascii_lowercase();
            let service_ips = s.vip.map(|vip| vec![vip]).unwrap_or(s.backends.clone());
            zone.insert(format!("tasks.{name}"), s.replicas.clone());
            zone.insert(name, service_ips);
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
