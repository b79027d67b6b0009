//! Readying a network's bridge: made, finished when its making was cut
//! short, or refused when someone else owns one of its name; and the
//! sysctls it needs.

use super::host_bridges::{judge_existing, Existing};
use super::ipam::{self, Subnet};
use super::link;
use super::names::EVERY_BRIDGE;
use super::ops::{NetError, Networks};
use super::{NetState, Network, DEFAULT_NETWORK};

type Result<T> = std::result::Result<T, NetError>;

/// A route through another rcorch bridge (another root's, most likely:
/// one root's own networks never overlap) that `network`'s subnet
/// overlaps: two bridges routing one subnet break both silently. Other
/// routes are the host's business (a chosen `--subnet` may overlap them).
pub fn clashing_route<'a>(
    routes: &'a [(String, Subnet)],
    network: &Network,
) -> Option<&'a (String, Subnet)> {
    routes.iter().find(|(dev, subnet)| {
        let rcorchs = EVERY_BRIDGE
            .iter()
            .any(|w| dev.starts_with(w.trim_end_matches('*')));
        rcorchs && *dev != network.bridge && subnet.prefix > 0 && subnet.overlaps(&network.subnet)
    })
}

/// Whether the default network should take a new subnet: it was planned
/// while another root's bridge routing that subnet was down, and nothing
/// uses it yet (rcorch chose its subnet; a user network's was the user's
/// or is theirs to change).
pub fn default_needs_replan(state: &NetState, routes: &[(String, Subnet)]) -> bool {
    let Some(n) = state.networks.get(DEFAULT_NETWORK) else {
        return false;
    };
    let unused = state.endpoints_on(DEFAULT_NETWORK).next().is_none()
        && state.services_on(DEFAULT_NETWORK).next().is_none();
    unused && clashing_route(routes, n).is_some()
}

impl Networks {
    /// The host's routes with their links.
    pub(super) fn routes_by_dev(&self) -> Vec<(String, Subnet)> {
        std::fs::read_to_string(&self.host.routes)
            .map(|t| ipam::parse_routes_by_dev(&t))
            .unwrap_or_default()
    }

    /// Drops the default network from `state` (and its idle bridge) when it
    /// must take a new subnet, so the caller plans it again.
    pub(super) fn replan_default(&self, state: &mut NetState) -> Result<()> {
        if default_needs_replan(state, &self.routes_by_dev()) {
            if let Some(old) = state.networks.remove(DEFAULT_NETWORK) {
                // Idle, but its address would stay on it.
                link::delete_link(&old.bridge)?;
            }
        }
        Ok(())
    }

    /// The network's bridge up and its sysctls set. True when the bridge had
    /// to be made: a fresh namespace or boot, so the rules must be re-applied.
    /// A bridge of that name is finished when its creation was cut short,
    /// and refused when another root (or not rcorch) owns it.
    pub(super) fn ready_bridge(&self, network: &Network) -> Result<bool> {
        if let Some((dev, subnet)) = clashing_route(&self.routes_by_dev(), network) {
            return Err(NetError::SubnetRouted {
                network: network.name.clone(),
                subnet: network.subnet,
                dev: dev.clone(),
                other: *subnet,
            });
        }
        let alias = super::host_bridges::alias_for(&self.root(), &network.name);
        let found = link::ensure_bridge(
            &network.bridge,
            &alias,
            network.gateway,
            network.subnet.prefix,
        )?;
        let created = match found {
            link::BridgeFound::Created => true,
            link::BridgeFound::Exists { alias: found } => {
                match judge_existing(found.as_deref(), &network.name, &alias) {
                    Existing::Ours => false,
                    Existing::Adopt => {
                        link::complete_bridge(
                            &network.bridge,
                            &alias,
                            network.gateway,
                            network.subnet.prefix,
                        )?;
                        // Its rules may never have been applied either.
                        true
                    }
                    Existing::Foreign(owner) => {
                        return Err(NetError::ForeignBridge {
                            bridge: network.bridge.clone(),
                            owner,
                            root: self.root(),
                        })
                    }
                }
            }
        };
        self.enable_sysctls(network)?;
        Ok(created)
    }

    /// Forwarding is enabled only once a non-internal network is in use;
    /// route_localnet only on rcorch's own bridges (for the 127.0.0.1 hairpin).
    pub(super) fn enable_sysctls(&self, network: &Network) -> Result<()> {
        let ipv4 = self.host.proc_sys.join("net/ipv4");
        let mut paths = vec![ipv4
            .join("conf")
            .join(&network.bridge)
            .join("route_localnet")];
        if !network.internal {
            paths.push(ipv4.join("ip_forward"));
        }
        for path in paths {
            if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "1") {
                continue;
            }
            std::fs::write(&path, "1").map_err(|source| NetError::Sysctl { path, source })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(bridge: &str, subnet: &str) -> Network {
        let subnet: Subnet = subnet.parse().unwrap();
        Network {
            name: "n".into(),
            bridge: bridge.into(),
            gateway: subnet.first_host(),
            subnet,
            internal: false,
            created: String::new(),
            labels: Default::default(),
        }
    }

    #[test]
    fn only_another_rcorch_bridges_route_over_the_subnet_clashes() {
        let route = |dev: &str, s: &str| (dev.to_string(), s.parse::<Subnet>().unwrap());
        let default = (
            "eth0".to_string(),
            Subnet::new(std::net::Ipv4Addr::UNSPECIFIED, 0),
        );
        let routes = [
            default,
            route("eth0", "10.0.0.0/8"),
            route("rcorch0", "172.17.0.0/16"),
            route("rc-0123abcd-1", "10.89.0.0/24"),
        ];
        let clash = |bridge: &str, subnet: &str| {
            clashing_route(&routes, &network(bridge, subnet)).map(|(d, _)| d.clone())
        };
        assert_eq!(
            clash("rc-ffffffff-0", "172.17.0.0/16").as_deref(),
            Some("rcorch0")
        );
        assert_eq!(
            clash("rcorch1", "10.89.0.0/16").as_deref(),
            Some("rc-0123abcd-1")
        );
        // Its own route, the host's, and the default route are not clashes.
        assert_eq!(clash("rcorch0", "172.17.0.0/16"), None);
        assert_eq!(clash("rcorch1", "10.5.0.0/16"), None);
        assert_eq!(clash("rcorch1", "172.18.0.0/16"), None);
    }

    #[test]
    fn an_unused_default_network_takes_a_new_subnet_when_another_root_routes_it() {
        let route = |dev: &str, s: &str| (dev.to_string(), s.parse::<Subnet>().unwrap());
        let routes = [route("rcorch0", "172.17.0.0/16")];
        let mut state = NetState::default();
        assert!(!default_needs_replan(&state, &routes));
        let mut n = network("rc-0123abcd-0", "172.17.0.0/16");
        n.name = DEFAULT_NETWORK.into();
        state.networks.insert(n.name.clone(), n.clone());
        assert!(default_needs_replan(&state, &routes));
        assert!(!default_needs_replan(
            &state,
            &[route("eth0", "172.17.0.0/16")]
        ));
        let endpoint = crate::network::Endpoint {
            container_id: "c1".into(),
            container_name: "web".into(),
            network: DEFAULT_NETWORK.into(),
            ip: "172.17.0.2".parse().unwrap(),
            aliases: vec![],
            ports: vec![],
            host_veth: "rcc1".into(),
            ifname: "eth0".into(),
            default_route: true,
        };
        state.insert_endpoint(endpoint);
        // In use: its containers have addresses in it.
        assert!(!default_needs_replan(&state, &routes));
    }
}
