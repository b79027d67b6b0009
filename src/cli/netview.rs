//! What `ps` and `inspect` show of a container's network side: its
//! published ports (its own, or its service's through the balancer) and
//! whether the load balancer sends it new connections.

use serde_json::json;

use crate::container::store::Record;
use crate::network::{endpoint_key, NetState, PortMapping, ServiceLb};
use crate::project::{LABEL_PROJECT, LABEL_SERVICE};

/// The network state, read once per command.
pub struct NetView {
    state: NetState,
}

fn port_text(p: &PortMapping) -> String {
    let host = p.host_ip.map(|ip| ip.to_string());
    format!(
        "{}:{}->{}/{}",
        host.as_deref().unwrap_or("0.0.0.0"),
        p.host_port,
        p.container_port,
        p.proto
    )
}

impl NetView {
    pub fn load(root: &std::path::Path) -> NetView {
        let state = crate::runtime::net::networks(root)
            .list()
            .unwrap_or_default();
        NetView { state }
    }

    pub fn state(&self) -> &NetState {
        &self.state
    }

    fn service_of(&self, r: &Record) -> Option<&ServiceLb> {
        let labels = &r.config.labels;
        let key = ServiceLb::key(labels.get(LABEL_PROJECT)?, labels.get(LABEL_SERVICE)?);
        self.state.services.get(&key)
    }

    fn member(&self, r: &Record, service: &ServiceLb) -> bool {
        self.state
            .endpoints
            .get(&endpoint_key(&r.config.id, &service.network))
            .is_some_and(|e| service.backends.contains(&e.ip))
    }

    /// Docker's PORTS column; a replica shows its service's published ports.
    pub fn ports(&self, r: &Record) -> String {
        let own = self.state.endpoints_of(&r.config.id).flat_map(|e| &e.ports);
        let via_service = self.service_of(r).into_iter().flat_map(|s| &s.ports);
        own.chain(via_service)
            .map(port_text)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "member", "out" (a replica the balancer skips: starting, unhealthy,
    /// draining), or "" for containers outside any balanced service.
    pub fn balancer(&self, r: &Record) -> &'static str {
        match self.service_of(r) {
            Some(s) if self.member(r, s) => "member",
            Some(_) => "out",
            None => "",
        }
    }

    /// The balancing strategy of the replica's service ("" outside any).
    pub fn strategy(&self, r: &Record) -> &'static str {
        self.service_of(r).map_or("", |s| s.strategy.name())
    }

    /// `ps`'s BALANCER column: membership, and the strategy unless it is
    /// the default round-robin.
    pub fn balancer_column(&self, r: &Record) -> String {
        match self.service_of(r).map(|s| s.strategy) {
            Some(crate::supervisor::lb::Strategy::LeastConnections) => {
                format!("{} (least-connections)", self.balancer(r))
            }
            _ => self.balancer(r).to_string(),
        }
    }

    /// `inspect`'s "LoadBalancer" object, for replicas of balanced services.
    pub fn inspect(&self, r: &Record) -> Option<serde_json::Value> {
        let s = self.service_of(r)?;
        Some(json!({
            "Service": s.service,
            "Project": s.project,
            "Network": s.network,
            "VirtualIP": s.vip,
            "Ports": s.ports.iter().map(port_text).collect::<Vec<_>>(),
            "Member": self.member(r, s),
            "Strategy": s.strategy.name(),
            "Members": s.backends,
        }))
    }
}
