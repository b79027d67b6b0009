//! Readying a network's bridge: made, finished when its making was cut
//! short, or refused when someone else owns one of its name; and the
//! sysctls it needs.

use super::host_bridges::{judge_existing, Existing};
use super::link;
use super::ops::{NetError, Networks};
use super::Network;

type Result<T> = std::result::Result<T, NetError>;

impl Networks {
    /// The network's bridge up and its sysctls set. True when the bridge had
    /// to be made: a fresh namespace or boot, so the rules must be re-applied.
    /// A bridge of that name is finished when its creation was cut short,
    /// and refused when another root (or not rcorch) owns it.
    pub(super) fn ready_bridge(&self, network: &Network) -> Result<bool> {
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
