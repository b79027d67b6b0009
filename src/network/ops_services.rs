//! The verbs behind load-balanced services and project networks: keep a
//! service's entry (VIP, ports, members) in step with the supervisor's view,
//! and create or drop a project's networks. Lock, load, decide
//! (`services::plan_service`), apply, save — as the other verbs.

use std::net::Ipv4Addr;

use super::link;
use super::ops::{CreateRequest, NetError, Networks};
use super::ports::{self, PortError, PortMapping};
use super::services::{self, ServiceRequest};
use super::{Network, ServiceLb};

type Result<T> = std::result::Result<T, NetError>;

fn busy(p: &PortMapping) -> NetError {
    PortError::Busy {
        host_ip: p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
        port: p.host_port,
        proto: p.proto,
    }
    .into()
}

impl Networks {
    /// Makes the service's entry match `req`; a no-op when nothing changed
    /// (the supervisor calls this on every membership change). The rules
    /// move atomically: new connections go to the new members at once,
    /// established ones keep theirs.
    pub fn sync_service(&self, req: &ServiceRequest) -> Result<ServiceLb> {
        let lock = self.store.lock()?;
        let before = self.store.load(&lock)?;
        let entry = services::plan_service(&before, req)?;
        let key = ServiceLb::key(&req.project, &req.service);
        let previous = before.services.get(&key);
        if previous == Some(&entry) {
            return Ok(entry);
        }
        for p in &entry.ports {
            let new = previous.is_none_or(|b| !b.ports.contains(p));
            if new && !ports::host_port_free(p) {
                return Err(busy(p));
            }
        }
        let network = before.networks[&entry.network].clone();
        self.ready_bridge(&network)?;
        if let Some(vip) = entry
            .vip
            .filter(|v| previous.and_then(|p| p.vip) != Some(*v))
        {
            link::add_address(&network.bridge, vip, 32)?;
        }
        let mut state = before.clone();
        state.services.insert(key, entry.clone());
        if let Err(e) = self.commit(&lock, Some(&before), &state) {
            if let Some(vip) = entry.vip.filter(|_| previous.is_none()) {
                let _ = link::delete_address(&network.bridge, vip);
            }
            return Err(e);
        }
        Ok(entry)
    }

    /// Checks, changing nothing, that a service can publish `ports`: ports it
    /// already publishes are fine; others must be free of rcorch's
    /// containers and services and of the host's listeners.
    pub fn precheck_service_ports(
        &self,
        project: &str,
        service: &str,
        ports: &[PortMapping],
    ) -> Result<()> {
        let state = self.store.read()?;
        let key = ServiceLb::key(project, service);
        let mine = state.services.get(&key);
        for p in ports {
            if mine.is_some_and(|m| m.ports.contains(p)) {
                continue;
            }
            if services::taken_by_others(&state, &key, p) || !ports::host_port_free(p) {
                return Err(busy(p));
            }
        }
        Ok(())
    }

    /// Drops every service of `project` from the balancer (rules, VIPs).
    pub fn remove_project_services(&self, project: &str) -> Result<Vec<ServiceLb>> {
        let lock = self.store.lock()?;
        let before = self.store.load(&lock)?;
        let mut state = before.clone();
        let gone = services::remove_project(&mut state, project);
        if gone.is_empty() {
            return Ok(gone);
        }
        self.commit(&lock, Some(&before), &state)?;
        for s in &gone {
            if let (Some(vip), Some(n)) = (s.vip, state.networks.get(&s.network)) {
                link::delete_address(&n.bridge, vip)?;
            }
        }
        Ok(gone)
    }

    /// The network `req` names, created if it does not exist yet (a
    /// project's networks on `up`). An existing one is used as it is.
    pub fn ensure_network(&self, req: &CreateRequest, now: &str) -> Result<Network> {
        if let Some(existing) = self.store.read()?.networks.get(&req.name) {
            return Ok(existing.clone());
        }
        match self.create(req, now) {
            Err(NetError::Exists(_)) => self
                .store
                .read()?
                .networks
                .get(&req.name)
                .cloned()
                .ok_or_else(|| NetError::Unknown(req.name.clone())),
            other => other,
        }
    }
}
