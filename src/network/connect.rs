//! `network connect` and `network disconnect`: a running container joins
//! or leaves a network. Both lock the state, decide (pure, `endpoints`),
//! apply (veth, rules), then save: a failure saves nothing.

use super::endpoints::{default_route, plan_disconnect, veth_plan};
use super::link;
use super::ops::{plan_endpoint, EndpointRequest, NetError, Networks};
use super::{Endpoint, Network};

type Result<T> = std::result::Result<T, NetError>;

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
        let gateway = default_route(&before, &req.container_id, &network);
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
    /// `force` frees them even when the veth cannot be deleted.
    pub fn disconnect(
        &self,
        container_id: &str,
        container_name: &str,
        network: &str,
        force: bool,
    ) -> Result<Endpoint> {
        let lock = self.store.lock()?;
        let before = self.store.load(&lock)?;
        let (state, endpoint) = plan_disconnect(&before, container_id, container_name, network)?;
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
