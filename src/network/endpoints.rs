//! A container's endpoints on several networks, as pure functions: the
//! name of its next interface, whether that interface carries the default
//! route, how to plug it, and the state without an endpoint. The verbs that
//! apply them are `connect` (run's first endpoint goes through `ops`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::link::VethPlan;
use super::ops::NetError;
use serde::Serialize;

use super::{endpoint_key, mac_for, mac_string, Endpoint, NetState, Network};

/// The lowest `ethN` not used by the container's other endpoints: eth0 for
/// `run`, eth1, eth2... for `network connect` (a freed name is reused: its
/// link went away with the disconnect).
pub fn next_ifname<'a>(taken: impl Iterator<Item = &'a Endpoint>) -> String {
    let taken: BTreeSet<&str> = taken.map(|e| e.ifname.as_str()).collect();
    (0..)
        .map(|n| format!("eth{n}"))
        .find(|name| !taken.contains(name.as_str()))
        .expect("a free interface name")
}

/// The gateway of the default route a new endpoint on `network` installs:
/// none on an internal network (only its subnet is reachable), and none
/// when the container already routes out through another network.
pub fn default_route(state: &NetState, container_id: &str, network: &Network) -> Option<Ipv4Addr> {
    let routed_already = state.endpoints_of(container_id).any(|e| {
        e.network != network.name && state.networks.get(&e.network).is_some_and(|n| !n.internal)
    });
    (!network.internal && !routed_already).then_some(network.gateway)
}

/// How to plug `endpoint` into its container.
pub fn veth_plan(endpoint: &Endpoint, network: &Network, gateway: Option<Ipv4Addr>) -> VethPlan {
    VethPlan {
        host: endpoint.host_veth.clone(),
        bridge: network.bridge.clone(),
        ifname: endpoint.ifname.clone(),
        mac: mac_for(endpoint.ip),
        ip: endpoint.ip,
        prefix: network.subnet.prefix,
        gateway,
    }
}

/// What `network disconnect` changes.
#[derive(Debug, Clone, PartialEq)]
pub struct DisconnectPlan {
    /// The state without the endpoint (and with the route's new holder marked).
    pub state: NetState,
    /// The endpoint that leaves.
    pub gone: Endpoint,
    /// When `gone` carried the default route: the interface and gateway
    /// that take it over.
    pub route_to: Option<(String, Ipv4Addr)>,
}

/// `state` without the container's endpoint on `network`. If that endpoint
/// carried the default route, the container's first remaining endpoint (in
/// network-name order) on a non-internal network takes it over, as Docker
/// moves the gateway to another connected network.
pub fn plan_disconnect(
    state: &NetState,
    container_id: &str,
    container_name: &str,
    network: &str,
) -> Result<DisconnectPlan, NetError> {
    if !state.networks.contains_key(network) {
        return Err(NetError::Unknown(network.into()));
    }
    let mut after = state.clone();
    let gone = after
        .endpoints
        .remove(&endpoint_key(container_id, network))
        .ok_or_else(|| NetError::NotConnected {
            container: container_name.into(),
            network: network.into(),
        })?;
    let successor = gone
        .default_route
        .then(|| {
            after.endpoints.values_mut().find(|e| {
                e.container_id == container_id
                    && state.networks.get(&e.network).is_some_and(|n| !n.internal)
            })
        })
        .flatten();
    let route_to = successor.map(|e| {
        e.default_route = true;
        (e.ifname.clone(), state.networks[&e.network].gateway)
    });
    Ok(DisconnectPlan {
        state: after,
        gone,
        route_to,
    })
}

/// One network in `inspect`'s `NetworkSettings.Networks`, Docker's fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    pub gateway: String,
    pub mac_address: String,
    pub aliases: Vec<String>,
}

/// The container's networks by name: each endpoint it holds, and its
/// `configured` network with empty addresses when it holds none there
/// (a container that is not running has no lease).
pub fn settings(
    state: &NetState,
    container_id: &str,
    configured: Option<&str>,
) -> BTreeMap<String, EndpointSettings> {
    let mut out: BTreeMap<String, EndpointSettings> = state
        .endpoints_of(container_id)
        .map(|e| {
            let network = state.networks.get(&e.network);
            let s = EndpointSettings {
                ip_address: e.ip.to_string(),
                ip_prefix_len: network.map_or(0, |n| n.subnet.prefix),
                gateway: network.map(|n| n.gateway.to_string()).unwrap_or_default(),
                mac_address: mac_string(mac_for(e.ip)),
                aliases: e.aliases.clone(),
            };
            (e.network.clone(), s)
        })
        .collect();
    if let Some(name) = configured {
        out.entry(name.to_string()).or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ops::{
        plan_endpoint, plan_network, CreateRequest, EndpointRequest, HostNet,
    };

    fn state() -> NetState {
        let mut s = NetState::default();
        for (name, subnet, internal) in [
            ("bridge", "172.17.0.0/16", false),
            ("back", "10.89.0.0/24", false),
            ("sealed", "10.90.0.0/24", true),
        ] {
            let req = CreateRequest {
                name: name.into(),
                subnet: Some(subnet.into()),
                internal,
                ..CreateRequest::default()
            };
            let n = plan_network(&s, &req, &HostNet::default(), "").unwrap();
            s.networks.insert(name.into(), n);
        }
        s
    }

    fn join(s: &mut NetState, id: &str, network: &str) -> Endpoint {
        let req = EndpointRequest {
            container_id: id.into(),
            container_name: format!("c-{id}"),
            network: network.into(),
            ip: None,
            aliases: vec!["a".into()],
            ports: vec![],
        };
        let e = plan_endpoint(s, &req).unwrap();
        s.insert_endpoint(e.clone());
        e
    }

    #[test]
    fn interfaces_are_numbered_per_container_and_reused() {
        let mut s = state();
        let id = "0123456789abcdef";
        let first = join(&mut s, id, "bridge");
        assert_eq!(
            (first.ifname.as_str(), first.host_veth.as_str()),
            ("eth0", "rc0123456789a")
        );
        let second = join(&mut s, id, "back");
        assert_eq!(
            (second.ifname.as_str(), second.host_veth.as_str()),
            ("eth1", "rc0123456789_1")
        );
        assert_eq!(join(&mut s, "other", "back").ifname, "eth0");
        let plan = plan_disconnect(&s, id, "c", "bridge").unwrap();
        assert_eq!(plan.gone, first);
        assert_eq!(next_ifname(plan.state.endpoints_of(id)), "eth0");
        assert_eq!(next_ifname(s.endpoints_of(id)), "eth2");
    }

    #[test]
    fn one_default_route_and_none_on_internal_networks() {
        let mut s = state();
        let net = |s: &NetState, n: &str| s.networks[n].clone();
        assert_eq!(default_route(&s, "x", &net(&s, "sealed")), None);
        join(&mut s, "x", "sealed");
        let gw = net(&s, "back").gateway;
        assert_eq!(default_route(&s, "x", &net(&s, "back")), Some(gw));
        join(&mut s, "x", "back");
        assert_eq!(default_route(&s, "x", &net(&s, "bridge")), None);
    }

    #[test]
    fn the_default_route_moves_to_a_remaining_non_internal_network() {
        let mut s = state();
        assert!(!join(&mut s, "x", "sealed").default_route);
        let first = join(&mut s, "x", "bridge");
        assert!(first.default_route);
        join(&mut s, "x", "back");
        join(&mut s, "y", "back");
        // The route's holder leaves: `back` (eth2) takes it, not `sealed`.
        let plan = plan_disconnect(&s, "x", "c", "bridge").unwrap();
        let gw = s.networks["back"].gateway;
        assert_eq!(plan.route_to, Some(("eth2".to_string(), gw)));
        let back = &plan.state.endpoints[&endpoint_key("x", "back")];
        assert!(back.default_route);
        let other = &plan.state.endpoints[&endpoint_key("y", "back")];
        assert!(other.default_route, "y's own route is untouched");
        // Leaving a network without the route moves nothing.
        let plan = plan_disconnect(&plan.state, "x", "c", "sealed").unwrap();
        assert_eq!(plan.route_to, None);
        // The last non-internal network leaves: nothing to move to.
        let mut lone = state();
        join(&mut lone, "z", "sealed");
        join(&mut lone, "z", "back");
        assert_eq!(
            plan_disconnect(&lone, "z", "c", "back").unwrap().route_to,
            None
        );
    }

    #[test]
    fn connecting_twice_or_disconnecting_a_stranger_is_refused() {
        let mut s = state();
        join(&mut s, "x", "back");
        let again = EndpointRequest {
            container_id: "x".into(),
            container_name: "web".into(),
            network: "back".into(),
            ip: None,
            aliases: vec![],
            ports: vec![],
        };
        assert!(matches!(
            plan_endpoint(&s, &again),
            Err(NetError::AlreadyConnected { .. })
        ));
        assert!(matches!(
            plan_disconnect(&s, "x", "web", "bridge"),
            Err(NetError::NotConnected { .. })
        ));
        assert!(matches!(
            plan_disconnect(&s, "x", "web", "nope"),
            Err(NetError::Unknown(_))
        ));
    }

    #[test]
    fn settings_list_every_network_and_the_configured_one() {
        let mut s = state();
        join(&mut s, "x", "back");
        let got = settings(&s, "x", Some("bridge"));
        assert_eq!(got.keys().collect::<Vec<_>>(), ["back", "bridge"]);
        assert_eq!(got["bridge"], EndpointSettings::default());
        let back = &got["back"];
        assert_eq!(
            (back.ip_address.as_str(), back.gateway.as_str()),
            ("10.89.0.2", "10.89.0.1")
        );
        assert_eq!(
            (back.mac_address.as_str(), back.ip_prefix_len),
            ("02:42:0a:59:00:02", 24)
        );
        let json = serde_json::to_value(back).unwrap();
        assert_eq!(json["IPAddress"], "10.89.0.2");
        assert_eq!(json["Aliases"][0], "a");
    }

    #[test]
    fn the_plan_carries_a_mac_derived_from_the_address() {
        let mut s = state();
        let e = join(&mut s, "x", "back");
        let plan = veth_plan(&e, &s.networks["back"], None);
        assert_eq!(crate::network::mac_string(plan.mac), "02:42:0a:59:00:02");
        assert_eq!((plan.ifname.as_str(), plan.prefix), ("eth0", 24));
    }
}
