//! The kernel load-balancing plan: nftables DNAT through verdict maps, as
//! kube-proxy's nftables mode does, built as data and rendered as an `nft -f`
//! batch (applied atomically by the shell).
//!
//! Two maps dispatch to a chain per service port: `service-ips` on
//! (VIP, protocol, port) and `service-ports` on (protocol, published port) for
//! local addresses. The service chain spreads new connections round-robin with
//! `numgen inc mod N` over a verdict map of endpoint chains, each of which
//! DNATs to one replica. Updating a service rewrites its own chains only;
//! established connections keep their conntrack entry.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Marks connections a replica makes to its own service so they are masqueraded (hairpin).
pub const MASQUERADE_MARK: u32 = 0x4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One port a service exposes, with how it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    pub proto: Proto,
    /// The port inside the replicas (and on the VIP).
    pub port: u16,
    /// The service's virtual IP (`endpoint_mode: vip`).
    pub vip: Option<Ipv4Addr>,
    /// The host port of `ports: ["HOST:PORT"]`.
    pub published: Option<u16>,
}

/// A member replica's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Backend {
    pub addr: Ipv4Addr,
    pub port: u16,
}

/// The chain that DNATs to one backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub chain: String,
    pub backend: Backend,
}

/// Everything the kernel needs for one service port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnatPlan {
    pub table: String,
    /// The service chain, target of the map elements.
    pub chain: String,
    pub port: ServicePort,
    /// In `numgen` order: connection k goes to `endpoints[k mod N]`.
    pub endpoints: Vec<Endpoint>,
}

/// The plan for one service port over its current members (sorted, deduplicated).
pub fn dnat_plan(
    table: &str,
    project: &str,
    service: &str,
    port: ServicePort,
    members: &[Backend],
) -> DnatPlan {
    let mut backends = members.to_vec();
    backends.sort();
    backends.dedup();
    let chain = format!(
        "svc-{project}-{service}-{}-{}",
        port.proto.as_str(),
        port.port
    );
    let endpoints = backends
        .into_iter()
        .map(|b| Endpoint {
            chain: format!(
                "ep-{project}-{service}-{}-{}_{}_{}",
                port.proto.as_str(),
                port.port,
                b.addr,
                b.port
            ),
            backend: b,
        })
        .collect();
    DnatPlan {
        table: table.to_string(),
        chain,
        port,
        endpoints,
    }
}

/// rcorch's table, maps and hook chains; idempotent.
pub fn render_base(table: &str) -> String {
    let t = format!("ip {table}");
    let dispatch = [
        "ip daddr . meta l4proto . th dport vmap @service-ips",
        "fib daddr type local meta l4proto . th dport vmap @service-ports",
    ];
    let mut s = format!("add table {t}\n");
    s += &format!(
        "add map {t} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}\n"
    );
    s += &format!("add map {t} service-ports {{ type inet_proto . inet_service : verdict ; }}\n");
    // `dstnat` is only valid on prerouting; output uses its value, -100.
    for (chain, hook, prio) in [
        ("prerouting", "prerouting", "dstnat"),
        ("output", "output", "-100"),
    ] {
        s += &format!("add chain {t} {chain} {{ type nat hook {hook} priority {prio} ; }}\n");
        s += &format!("flush chain {t} {chain}\n");
        for rule in dispatch {
            s += &format!("add rule {t} {chain} {rule}\n");
        }
    }
    s += &format!("add chain {t} postrouting {{ type nat hook postrouting priority srcnat ; }}\n");
    s += &format!("flush chain {t} postrouting\n");
    s += &format!("add rule {t} postrouting meta mark and {MASQUERADE_MARK:#x} == {MASQUERADE_MARK:#x} masquerade\n");
    s
}

/// The batch that makes the kernel match `plan`, replacing `previous` (the
/// plan applied before, if any) without touching other services.
pub fn render_apply(plan: &DnatPlan, previous: Option<&DnatPlan>) -> String {
    let t = format!("ip {}", plan.table);
    let mut s = String::new();
    for ep in &plan.endpoints {
        let Backend { addr, port } = ep.backend;
        let _ = writeln!(s, "add chain {t} {}", ep.chain);
        let _ = writeln!(s, "flush chain {t} {}", ep.chain);
        let _ = writeln!(
            s,
            "add rule {t} {} ip saddr {addr} meta mark set meta mark or {MASQUERADE_MARK:#x}",
            ep.chain
        );
        let _ = writeln!(
            s,
            "add rule {t} {} meta l4proto {} dnat to {addr}:{port}",
            ep.chain,
            plan.port.proto.as_str()
        );
    }
    let _ = writeln!(s, "add chain {t} {}", plan.chain);
    let _ = writeln!(s, "flush chain {t} {}", plan.chain);
    let _ = writeln!(s, "add rule {t} {} {}", plan.chain, spread_rule(plan));
    for element in map_elements(plan) {
        let _ = writeln!(s, "add element {t} {} : goto {} }}", element, plan.chain);
    }
    // Endpoints that left: unreferenced now that the service chain was rewritten.
    for old in previous.into_iter().flat_map(|p| &p.endpoints) {
        if !plan.endpoints.iter().any(|e| e.chain == old.chain) {
            let _ = writeln!(s, "flush chain {t} {}", old.chain);
            let _ = writeln!(s, "delete chain {t} {}", old.chain);
        }
    }
    s
}

/// The batch that removes everything `plan` added (for `down`).
pub fn render_remove(plan: &DnatPlan) -> String {
    let t = format!("ip {}", plan.table);
    let mut s = String::new();
    for element in map_elements(plan) {
        let _ = writeln!(s, "delete element {t} {} }}", element);
    }
    let _ = writeln!(s, "flush chain {t} {}", plan.chain);
    let _ = writeln!(s, "delete chain {t} {}", plan.chain);
    for ep in &plan.endpoints {
        let _ = writeln!(s, "flush chain {t} {}", ep.chain);
        let _ = writeln!(s, "delete chain {t} {}", ep.chain);
    }
    s
}

/// `numgen inc mod N vmap { … }`, or a reject while the service has no member.
fn spread_rule(plan: &DnatPlan) -> String {
    if plan.endpoints.is_empty() {
        return "reject".to_string();
    }
    let arms: Vec<String> = plan
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{i} : goto {}", e.chain))
        .collect();
    format!(
        "numgen inc mod {} vmap {{ {} }}",
        plan.endpoints.len(),
        arms.join(", ")
    )
}

/// The map keys for the service port, each as `MAP { KEY` (the caller closes it).
fn map_elements(plan: &DnatPlan) -> Vec<String> {
    let p = plan.port;
    let proto = p.proto.as_str();
    let vip = p
        .vip
        .map(|ip| format!("service-ips {{ {ip} . {proto} . {}", p.port));
    let published = p
        .published
        .map(|hp| format!("service-ports {{ {proto} . {hp}"));
    vip.into_iter().chain(published).collect()
}

#[cfg(test)]
#[path = "lb_nft_tests.rs"]
mod tests;
