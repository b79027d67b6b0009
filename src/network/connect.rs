//! `network connect` and `network disconnect`: a running container joins
//! or leaves a network. Both lock the state, decide (pure, `endpoints`),
//! apply (veth, rules), then save: a failure saves nothing.

use super::endpoints::{plan_disconnect, veth_plan};
use super::link;
use super::ops::{plan_endpoint, EndpointRequest, NetError, Networks};
use super::{Endpoint, Network};

type Result<T> = std::result::Result<T, NetError>;

/// The container `network disconnect` takes off `network`.
#[derive(Debug, Clone)]
pub struct DisconnectTarget {
    pub id: String,
    pub name: String,
    pub network: String,
    /// Its init's pid while it runs (its namespace gets the moved route).
    pub pid: Option<i32>,
}

impl Networks {
    /// Leases an address on `req.network` for the running container whose
    /// init is `pid`, and plugs it in as its next `ethN`. A container that
    /// exits meanwhile is released by its monitor, which waits for this lock.
    pub fn connect(&self, req: &EndpointRequest, pid: i32) -> Result<(Network, Endpoint)> {
        let lock = self.store.lock()?;
        let before = self.store.load(&lock)?;
        let endpoint = plan_endpoint(&before, req)?;
        let network = before.networks[&endpoint.network].clone();
        let created = self.ready_bridge(&network)?;
        let gateway = endpoint.default_route.then_some(network.gateway);
        link::plug(&veth_plan(&endpoint, &network, gateway), pid)?;
        let mut state = before.clone();
        state.insert_endpoint(endpoint.clone());
        if let Err(e) = self.commit(&lock, (!created).then_some(&before), &state) {
            let _ = link::delete_link(&endpoint.host_veth);
            return Err(e);
        }
        Ok((network, endpoint))
    }

    /// Unplugs the container from `network` and frees its lease and names.
    /// When that network carried the default route, the route moves to
    /// another of its networks first (`pid`: its init, None when it is not
    /// running). `force` frees them even when the links cannot be changed.
    pub fn disconnect(&self, target: &DisconnectTarget, force: bool) -> Result<Endpoint> {
        let lock = self.store.lock()?;
        let before = self.store.load(&lock)?;
        let plan = plan_disconnect(&before, &target.id, &target.name, &target.network)?;
        // Replacing the route before the old interface goes keeps the
        // container routed throughout; a failure here has changed nothing.
        if let (Some((ifname, gateway)), Some(pid)) = (&plan.route_to, target.pid) {
            match link::set_default_route(pid, ifname, *gateway) {
                Err(e) if !force => return Err(e.into()),
                _ => {}
            }
        }
        let (state, endpoint) = (plan.state, plan.gone);
        // Deleting the host end takes the container's end with it.
        match link::delete_link(&endpoint.host_veth) {
            Err(e) if !force => return Err(e.into()),
            _ => {}
        }
        self.commit(&lock, Some(&before), &state)?;
        if state.endpoints.is_empty() {
            super::dns::stop_server(&self.root());
        }
        Ok(endpoint)
    }
}
