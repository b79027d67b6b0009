//! Load-balanced services (issue 6), pure: the entry a service gets in the
//! network state (its virtual IP, published ports and members) and the
//! nftables rules that spread connections over the members.
//!
//! The kernel does the balancing, as kube-proxy's nftables mode does:
//! `dnat to numgen inc mod N map { … }` picks the next member round-robin for
//! each new connection; established connections keep their conntrack entry
//! when the members change. The virtual IP is a /32 on the network's bridge,
//! so containers reach it on their own link (no route needed, internal
//! networks included); every TCP/UDP port of it is balanced, the port kept.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use nftables::expr::{Expression, Map, NamedExpression, NgMode, Numgen, SetItem, CT};
use nftables::stmt::{NATFamily, Operator, Statement, NAT};

use super::ipam;
use super::nft::{eq, fib_daddr_local, field, matches, meta, prefix, string};
use super::ops::NetError;
use super::ports::{PortError, PortMapping};
use super::strategy::Strategy;
use super::{endpoint_key, NetState, Proto, ServiceLb};
use nftables::expr::MetaKey;

/// What the supervisor asks for one service, with replicas named by container id.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRequest {
    pub project: String,
    pub service: String,
    pub network: String,
    /// `endpoint_mode: vip` (true) or `dnsrr`.
    pub vip: bool,
    pub ports: Vec<PortMapping>,
    /// Containers that take new connections, in balancing order.
    pub members: Vec<String>,
    /// Every running replica.
    pub replicas: Vec<String>,
    pub strategy: Strategy,
    /// TCP ports the userspace proxy serves on the VIP (least-connections).
    pub vip_ports: Vec<u16>,
}

/// The service's entry after `req`: its virtual IP kept (or leased now),
/// published ports checked against everyone else's, members resolved to
/// their addresses on the service's network.
pub fn plan_service(state: &NetState, req: &ServiceRequest) -> Result<ServiceLb, NetError> {
    let network = state
        .networks
        .get(&req.network)
        .ok_or_else(|| NetError::Unknown(req.network.clone()))?;
    let key = ServiceLb::key(&req.project, &req.service);
    let before = state
        .services
        .get(&key)
        .filter(|s| s.network == req.network);
    for p in &req.ports {
        let taken_by_container = state.endpoints.values().flat_map(|e| &e.ports);
        let taken_by_service = state
            .services
            .iter()
            .filter(|(k, _)| **k != key)
            .flat_map(|(_, s)| &s.ports);
        if taken_by_container
            .chain(taken_by_service)
            .any(|q| q.clashes(p))
        {
            return Err(PortError::Busy {
                host_ip: p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                port: p.host_port,
                proto: p.proto,
            }
            .into());
        }
    }
    let vip = match (req.vip, before.and_then(|b| b.vip)) {
        (false, _) => None,
        (true, Some(kept)) => Some(kept),
        (true, None) => Some(ipam::allocate(
            &network.subnet,
            network.gateway,
            &state.used_addresses(&network.name),
            None,
        )?),
    };
    let address_of = |id: &String| {
        state
            .endpoints
            .get(&endpoint_key(id, &req.network))
            .map(|e| e.ip)
    };
    Ok(ServiceLb {
        project: req.project.clone(),
        service: req.service.clone(),
        network: req.network.clone(),
        vip,
        ports: req.ports.clone(),
        backends: req.members.iter().filter_map(address_of).collect(),
        replicas: req.replicas.iter().filter_map(address_of).collect(),
        strategy: req.strategy,
        vip_ports: req.vip_ports.clone(),
    })
}

/// Whether `p` clashes with a port a container or another service (than
/// the one under `key`) publishes.
pub fn taken_by_others(state: &NetState, key: &str, p: &PortMapping) -> bool {
    let by_containers = state.endpoints.values().flat_map(|e| &e.ports);
    let by_services = state
        .services
        .iter()
        .filter(|(k, _)| k.as_str() != key)
        .flat_map(|(_, s)| &s.ports);
    by_containers.chain(by_services).any(|q| q.clashes(p))
}

/// Removes the project's services from `state`; returns them.
pub fn remove_project(state: &mut NetState, project: &str) -> Vec<ServiceLb> {
    let (gone, kept): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut state.services)
        .into_iter()
        .partition(|(_, s)| s.project == project);
    state.services = kept;
    gone.into_values().collect()
}

/// Takes departed endpoints out of every service on their network: the
/// members map the kernel balances over (and `tasks.SERVICE`) must not
/// keep a replica whose container is gone, whether or not its project's
/// supervisor is alive to notice. Returns whether a service changed.
pub fn drop_departed(state: &mut NetState, gone: &[super::Endpoint]) -> bool {
    let mut changed = false;
    for service in state.services.values_mut() {
        let departed = |ip: &Ipv4Addr| {
            gone.iter()
                .any(|e| e.network == service.network && e.ip == *ip)
        };
        let before = (service.backends.len(), service.replicas.len());
        service.backends.retain(|ip| !departed(ip));
        service.replicas.retain(|ip| !departed(ip));
        changed |= before != (service.backends.len(), service.replicas.len());
    }
    changed
}

/// `numgen inc mod N map { 0 : A, 1 : B, … }`: the next member, round-robin.
fn next_member(backends: &[Ipv4Addr]) -> Expression<'static> {
    let pairs = backends
        .iter()
        .enumerate()
        .map(|(i, ip)| SetItem::Mapping(Expression::Number(i as u32), string(&ip.to_string())))
        .collect();
    Expression::Named(NamedExpression::Map(Box::new(Map {
        key: Expression::Named(NamedExpression::Numgen(Numgen {
            mode: NgMode::Inc,
            ng_mod: backends.len() as u32,
            offset: None,
        })),
        data: Expression::Named(NamedExpression::Set(pairs)),
    })))
}

fn dnat(backends: &[Ipv4Addr], port: Option<u16>) -> Statement<'static> {
    Statement::DNAT(Some(NAT {
        addr: Some(next_member(backends)),
        family: Some(NATFamily::IP),
        port: port.map(|p| Expression::Number(p.into())),
        flags: None,
    }))
}

fn proto_name(proto: Proto) -> &'static str {
    match proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

/// Whether the userspace proxy, not the kernel, balances `proto` for the
/// service: least-connections needs to count connections, which only a
/// proxy sees; it serves TCP (UDP has no connections to count).
pub fn proxied(service: &ServiceLb, proto: Proto) -> bool {
    service.strategy == Strategy::LeastConnections && proto == Proto::Tcp
}

/// The protocols the kernel balances on the VIP.
fn kernel_protos(service: &ServiceLb) -> Expression<'static> {
    let protos = [Proto::Tcp, Proto::Udp]
        .into_iter()
        .filter(|p| !proxied(service, *p))
        .map(|p| SetItem::Element(string(proto_name(p))))
        .collect();
    Expression::Named(NamedExpression::Set(protos))
}

/// The nat rules of one service (for the `services` chain, reached from
/// prerouting and output). A service without members has none: its
/// published ports are refused by the host and its VIP by `input_rules`.
pub fn dnat_rules(service: &ServiceLb) -> Vec<Vec<Statement<'static>>> {
    if service.backends.is_empty() {
        return Vec::new();
    }
    let mut rules = Vec::new();
    if let Some(vip) = service.vip {
        rules.push(vec![
            eq(meta(MetaKey::Nfproto), string("ipv4")),
            eq(field("ip", "daddr"), string(&vip.to_string())),
            eq(meta(MetaKey::L4proto), kernel_protos(service)),
            dnat(&service.backends, None),
        ]);
    }
    for p in service.ports.iter().filter(|p| !proxied(service, p.proto)) {
        let mut rule = vec![eq(meta(MetaKey::Nfproto), string("ipv4"))];
        match p.host_ip {
            Some(ip) => rule.push(eq(field("ip", "daddr"), string(&ip.to_string()))),
            None => rule.push(fib_daddr_local()),
        }
        rule.push(eq(
            field(proto_name(p.proto), "dport"),
            Expression::Number(p.host_port.into()),
        ));
        rule.push(dnat(&service.backends, Some(p.container_port)));
        rules.push(rule);
    }
    rules
}

/// A virtual IP is a host address on the bridge: what the nat rules did not
/// send on (no member, ICMP) must not reach the host's own services.
/// The proxy's own VIP ports (least-connections) are let through first.
pub fn input_rules(service: &ServiceLb) -> Vec<Vec<Statement<'static>>> {
    let Some(vip) = service.vip else {
        return Vec::new();
    };
    let daddr = || eq(field("ip", "daddr"), string(&vip.to_string()));
    let mut rules = Vec::new();
    if proxied(service, Proto::Tcp) && !service.vip_ports.is_empty() {
        let ports = service
            .vip_ports
            .iter()
            .map(|p| SetItem::Element(Expression::Number((*p).into())))
            .collect();
        rules.push(vec![
            daddr(),
            eq(
                field("tcp", "dport"),
                Expression::Named(NamedExpression::Set(ports)),
            ),
            Statement::Accept(None),
        ]);
    }
    rules.push(vec![daddr(), Statement::Reject(None)]);
    rules
}

/// One listener of the userspace proxy: connections to `listen` go to a
/// member's `target_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProxyRoute {
    pub listen: std::net::SocketAddrV4,
    pub target_port: u16,
}

/// The listeners the proxy keeps for a service: its published TCP ports
/// and its VIP's TCP ports, when the service is least-connections.
pub fn proxy_routes(service: &ServiceLb) -> Vec<ProxyRoute> {
    if !proxied(service, Proto::Tcp) {
        return Vec::new();
    }
    let published = service
        .ports
        .iter()
        .filter(|p| p.proto == Proto::Tcp)
        .map(|p| ProxyRoute {
            listen: std::net::SocketAddrV4::new(
                p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                p.host_port,
            ),
            target_port: p.container_port,
        });
    let mut routes: Vec<ProxyRoute> = published.collect();
    // A wildcard listener already holds the port on the VIP too (binding
    // the VIP's own would fail with EADDRINUSE).
    let wildcard: Vec<u16> = routes
        .iter()
        .filter(|r| r.listen.ip().is_unspecified())
        .map(|r| r.listen.port())
        .collect();
    let on_vip = service.vip.into_iter().flat_map(|vip| {
        service
            .vip_ports
            .iter()
            .filter(|port| !wildcard.contains(port))
            .map(move |port| ProxyRoute {
                listen: std::net::SocketAddrV4::new(vip, *port),
                target_port: *port,
            })
    });
    routes.extend(on_vip);
    routes.sort();
    routes.dedup();
    routes
}

/// A connection from the bridge's subnet DNAT'd back onto the same bridge
/// (a container reaching a VIP or a published port whose backend shares its
/// link) is masqueraded, so the reply comes back through the host and is
/// un-NAT'd instead of going straight to the client from the wrong address.
pub fn hairpin_rule(bridge: &str, subnet: &super::Subnet) -> Vec<Statement<'static>> {
    let ct_status = Expression::Named(NamedExpression::CT(CT {
        key: "status".into(),
        family: None,
        dir: None,
    }));
    vec![
        matches(ct_status, Operator::IN, string("dnat")),
        eq(field("ip", "saddr"), prefix(subnet)),
        eq(meta(MetaKey::Oifname), string(bridge)),
        Statement::Masquerade(None),
    ]
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
