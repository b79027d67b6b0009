//! The network verbs: create/remove/list networks, reserve and release a
//! container's endpoint. Each verb is: lock, load, decide (pure), apply
//! (links, sysctls, nft), save. A failure before `save` leaves the stored
//! state as it was.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::endpoints::{default_route, next_ifname};
use super::ipam::{self, IpamError, Subnet};
use super::link::{self, LinkError};
use super::names::HostNames;
use super::nft::{self, NftError, RulesetPlan};
use super::ports::{self, PortError, PortMapping};
use super::store::{NetStore, StateLock, StoreError};
use super::{endpoint_key, Endpoint, NetState, Network, ServiceLb, DEFAULT_NETWORK};

#[derive(Debug, Error)]
pub enum NetError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Nft(#[from] NftError),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("network {0} not found: create it with `rcorch network create {0}`")]
    Unknown(String),
    #[error("network {name} has an unreadable record {} ({problem}): run `rcorch system check --repair`, or remove it with `rcorch network rm {name}`", path.display())]
    Damaged {
        name: String,
        path: PathBuf,
        problem: String,
    },
    #[error("network {0} already exists")]
    Exists(String),
    #[error("invalid network name \"{0}\": use letters, digits, '_', '.' and '-'")]
    Name(String),
    #[error("subnet {subnet} overlaps network {other} ({other_subnet})")]
    Overlap {
        subnet: Subnet,
        other: String,
        other_subnet: Subnet,
    },
    #[error("network {name} is in use by {containers}: remove those containers first")]
    InUse { name: String, containers: String },
    #[error("container {container} is already connected to network {network}")]
    AlreadyConnected { container: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("{0} is a predefined network and cannot be removed")]
    Predefined(String),
    #[error("cannot start the DNS resolver: {source}")]
    Dns { source: std::io::Error },
    #[error("bridge {bridge} in this network namespace belongs to someone else (its alias: \"{owner}\"), not to the rcorch root {}: remove it (`ip link del {bridge}`) if nothing uses it, or run this root in another network namespace", root.display())]
    ForeignBridge {
        bridge: String,
        owner: String,
        root: PathBuf,
    },
    #[error("subnet {subnet} of network {network} overlaps {other}, routed through bridge {dev} of another rcorch root in this network namespace: remove the network and create it again (it then takes a free subnet), give it another --subnet, or run this root in another network namespace")]
    SubnetRouted {
        network: String,
        subnet: Subnet,
        dev: String,
        other: Subnet,
    },
    #[error("cannot write {path}: {source}")]
    Sysctl {
        path: PathBuf,
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, NetError>;

impl NetState {
    /// Refuses a network whose record is lost: its leases are unknown, so
    /// no address on it can be handed out safely.
    pub fn check_whole(&self, name: &str) -> Result<()> {
        match self.lost(name) {
            Some(d) => Err(NetError::Damaged {
                name: name.into(),
                path: d.path.clone(),
                problem: d.problem.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// Host files the verbs read or write, as parameters (tests and other
/// namespaces use their own).
#[derive(Debug, Clone)]
pub struct HostPaths {
    /// `/proc/sys`, for ip_forward and route_localnet.
    pub proc_sys: PathBuf,
    /// `/proc/net/route`, to keep default subnets clear of the host's routes.
    pub routes: PathBuf,
}

impl HostPaths {
    pub fn system() -> HostPaths {
        HostPaths {
            proc_sys: "/proc/sys".into(),
            routes: "/proc/net/route".into(),
        }
    }
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// What a container asks of its network.
#[derive(Debug, Clone)]
pub struct EndpointRequest {
    pub container_id: String,
    pub container_name: String,
    pub network: String,
    pub ip: Option<Ipv4Addr>,
    pub aliases: Vec<String>,
    pub ports: Vec<PortMapping>,
}

/// What `network rm` removed.
#[derive(Debug, Clone)]
pub enum RemovedNetwork {
    Whole(Network),
    /// A network whose record was lost: the record is gone, and its
    /// bridge unless containers are still plugged into it.
    Lost {
        damage: crate::util::records::Damage,
        bridges: Vec<super::host_bridges::Dropped>,
    },
}

pub struct Networks {
    pub store: NetStore,
    pub host: HostPaths,
}

fn valid_network_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !matches!(name, "none" | "host")
}

/// What the host already has that a new network must keep clear of.
#[derive(Debug, Clone, Default)]
pub struct HostNet {
    /// Its routes' destinations (`/proc/net/route`).
    pub routes: Vec<Subnet>,
    /// Its links: a bridge of a network whose record was lost is still
    /// there, with the containers that used it.
    pub links: BTreeSet<String>,
    /// What this root names its bridges.
    pub names: HostNames,
}

/// The network to add to `state`, checked against the networks already there.
pub fn plan_network(
    state: &NetState,
    req: &CreateRequest,
    host: &HostNet,
    now: &str,
) -> Result<Network> {
    if !valid_network_name(&req.name) {
        return Err(NetError::Name(req.name.clone()));
    }
    state.check_whole(&req.name)?;
    if state.networks.contains_key(&req.name) {
        return Err(NetError::Exists(req.name.clone()));
    }
    let taken: Vec<Subnet> = state.networks.values().map(|n| n.subnet).collect();
    let subnet = match &req.subnet {
        Some(spec) => {
            let subnet: Subnet = spec.parse()?;
            if let Some(other) = state.networks.values().find(|n| n.subnet.overlaps(&subnet)) {
                return Err(NetError::Overlap {
                    subnet,
                    other: other.name.clone(),
                    other_subnet: other.subnet,
                });
            }
            subnet
        }
        None => ipam::choose_subnet(&host.routes, &taken)?,
    };
    let bridge = if req.name == DEFAULT_NETWORK {
        host.names.bridge(0)
    } else {
        let used: BTreeSet<&str> = state.networks.values().map(|n| n.bridge.as_str()).collect();
        (1..)
            .map(|i| host.names.bridge(i))
            .find(|b| !used.contains(b.as_str()) && !host.links.contains(b))
            .expect("an unused bridge name")
    };
    Ok(Network {
        name: req.name.clone(),
        bridge,
        gateway: ipam::gateway_for(&subnet, req.gateway.as_deref())?,
        subnet,
        internal: req.internal,
        created: now.to_string(),
        labels: req.labels.clone(),
    })
}

/// The endpoint to add: network known, ports free of other containers', a free address.
pub fn plan_endpoint(state: &NetState, req: &EndpointRequest) -> Result<Endpoint> {
    state.check_whole(&req.network)?;
    let network = state
        .networks
        .get(&req.network)
        .ok_or_else(|| NetError::Unknown(req.network.clone()))?;
    for p in &req.ports {
        let clash = state.published_ports().any(|q| q.clashes(p));
        if clash {
            return Err(PortError::Busy {
                host_ip: p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                port: p.host_port,
                proto: p.proto,
            }
            .into());
        }
    }
    if state
        .endpoints
        .contains_key(&endpoint_key(&req.container_id, &network.name))
    {
        return Err(NetError::AlreadyConnected {
            container: req.container_name.clone(),
            network: network.name.clone(),
        });
    }
    let used = state.used_addresses(&network.name);
    let ip = ipam::allocate(&network.subnet, network.gateway, &used, req.ip)?;
    let ifname = next_ifname(state.endpoints_of(&req.container_id));
    let default_route = default_route(state, &req.container_id, network).is_some();
    Ok(Endpoint {
        container_id: req.container_id.clone(),
        container_name: req.container_name.clone(),
        network: network.name.clone(),
        ip,
        aliases: req.aliases.clone(),
        ports: req.ports.clone(),
        host_veth: super::host_veth_name(&req.container_id, &ifname),
        ifname,
        default_route,
    })
}

impl Networks {
    pub fn open(root: &Path, host: HostPaths) -> Networks {
        Networks {
            store: NetStore::open(root),
            host,
        }
    }

    pub(super) fn root(&self) -> PathBuf {
        self.store
            .dir()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// This root's table and bridge names, given what it holds.
    pub fn names(&self, state: &NetState) -> HostNames {
        let bridges = state.networks.values().map(|n| n.bridge.as_str());
        HostNames::for_root_holding(&self.root(), bridges)
    }

    /// Starts the embedded resolver if it is not running, under the state
    /// lock so it cannot race with `release` stopping it.
    pub fn ensure_dns(&self) -> Result<()> {
        let _lock = self.store.lock()?;
        super::dns::ensure_server(&self.root()).map_err(|source| NetError::Dns { source })
    }

    /// The host's routes and rcorch's bridge names it has: a network whose
    /// record was lost (or set aside) leaves its bridge and route behind,
    /// with the containers that used it.
    pub(super) fn host_net(&self, state: &NetState) -> HostNet {
        let routes = std::fs::read_to_string(&self.host.routes)
            .map(|t| ipam::parse_proc_net_route(&t))
            .unwrap_or_default();
        let names = self.names(state);
        // The name chosen is the first free one, so no later one matters.
        let links = (1..=state.networks.len() + state.damaged.len() + 1)
            .map(|i| names.bridge(i))
            .filter(|b| link::link_exists(b).unwrap_or(true))
            .collect();
        HostNet {
            routes,
            links,
            names,
        }
    }

    /// Applies the rules for `state` (unless they would not change: most
    /// containers publish nothing, and `nft` costs ~30 ms), then saves it:
    /// the stored state never describes rules that failed to apply.
    pub(super) fn commit(
        &self,
        lock: &StateLock,
        before: Option<&NetState>,
        state: &NetState,
    ) -> Result<()> {
        let names = self.names(state);
        let root = self.root();
        let plan = RulesetPlan::from_state(state, &names).owned_by(&root);
        let same = |b: &NetState| RulesetPlan::from_state(b, &names).owned_by(&root) == plan;
        if before.is_none_or(|b| !same(b)) {
            nft::apply(&nft::build_ruleset(&plan))?;
        }
        self.store.save(lock, state)?;
        Ok(())
    }

    pub fn create(&self, req: &CreateRequest, now: &str) -> Result<Network> {
        let lock = self.store.lock()?;
        let mut state = self.store.load(&lock)?;
        let network = plan_network(&state, req, &self.host_net(&state), now)?;
        state.networks.insert(network.name.clone(), network.clone());
        self.commit(&lock, None, &state)?;
        Ok(network)
    }

    pub fn remove(&self, name: &str) -> Result<RemovedNetwork> {
        if name == DEFAULT_NETWORK {
            return Err(NetError::Predefined(name.into()));
        }
        let lock = self.store.lock()?;
        let mut state = self.store.load(&lock)?;
        if let Some(damage) = state.lost(name).cloned() {
            // Its record says nothing more; the kernel still names its
            // bridge (by alias).
            let leftovers = self.store.leftovers(&state);
            state.damaged.remove(name);
            self.store.save(&lock, &state)?;
            let bridges = self.drop_unclaimed(&state, &leftovers, |b| b.network == name)?;
            self.reapply(&state)?;
            return Ok(RemovedNetwork::Lost { damage, bridges });
        }
        let users: Vec<&str> = state
            .endpoints_on(name)
            .map(|e| e.container_name.as_str())
            .collect();
        let services = state
            .services_on(name)
            .map(|s| ServiceLb::key(&s.project, &s.service));
        let users: Vec<String> = users
            .into_iter()
            .map(str::to_string)
            .chain(services)
            .collect();
        if !users.is_empty() {
            return Err(NetError::InUse {
                name: name.into(),
                containers: users.join(", "),
            });
        }
        let network = state
            .networks
            .remove(name)
            .ok_or_else(|| NetError::Unknown(name.into()))?;
        self.commit(&lock, None, &state)?;
        link::delete_link(&network.bridge)?;
        Ok(RemovedNetwork::Whole(network))
    }

    pub fn list(&self) -> Result<NetState> {
        Ok(self.store.read()?)
    }

    /// Checks that every host port is free right now, before anything is created.
    pub fn precheck_ports(&self, ports: &[PortMapping]) -> Result<()> {
        let state = self.store.read()?;
        for p in ports {
            let taken_by_us = state.published_ports().any(|q| q.clashes(p));
            if taken_by_us || !ports::host_port_free(p) {
                return Err(PortError::Busy {
                    host_ip: p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    port: p.host_port,
                    proto: p.proto,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Leases an address and publishes ports for a container (rules applied,
    /// bridge up). `alive` tells which containers still exist, so leases of
    /// containers that vanished in a crash are reclaimed here.
    pub fn reserve(
        &self,
        req: &EndpointRequest,
        alive: &dyn Fn(&str) -> bool,
        now: &str,
    ) -> Result<(Network, Endpoint)> {
        let lock = self.store.lock()?;
        let before = self.store.load(&lock)?;
        let mut state = before.clone();
        state.endpoints.retain(|_, e| alive(&e.container_id));
        if req.network == DEFAULT_NETWORK {
            self.replan_default(&mut state)?;
        }
        if req.network == DEFAULT_NETWORK && !state.networks.contains_key(DEFAULT_NETWORK) {
            let create = CreateRequest {
                name: DEFAULT_NETWORK.into(),
                ..CreateRequest::default()
            };
            let network = plan_network(&state, &create, &self.host_net(&state), now)?;
            state.networks.insert(network.name.clone(), network);
        }
        let endpoint = plan_endpoint(&state, req)?;
        let network = state.networks[&endpoint.network].clone();
        let created = self.ready_bridge(&network)?;
        state.insert_endpoint(endpoint.clone());
        if let Err(e) = self.commit(&lock, (!created).then_some(&before), &state) {
            // A bridge made for a network no record holds yet would be
            // left behind.
            if created && !before.networks.contains_key(&network.name) {
                let _ = link::delete_link(&network.bridge);
            }
            return Err(e);
        }
        Ok((network, endpoint))
    }

    /// Frees a container's leases on every network, their rules and (with
    /// `delete_veth`) their veths. Idempotent: a container without an
    /// endpoint is fine. When the container just exited its namespace takes
    /// the veths with it, and an explicit delete would only wait for the
    /// kernel (~10 ms).
    pub fn release(&self, container_id: &str, delete_veth: bool) -> Result<Vec<Endpoint>> {
        let lock = self.store.lock()?;
        let before = self.store.load(&lock)?;
        let mut state = before.clone();
        let (gone, kept) = std::mem::take(&mut state.endpoints)
            .into_iter()
            .partition(|(_, e)| e.container_id == container_id);
        state.endpoints = kept;
        let gone: Vec<Endpoint> = gone.into_values().collect();
        let balanced = super::services::drop_departed(&mut state, &gone);
        if gone.is_empty() {
            // A veth can outlive its lease briefly (namespaces die asynchronously).
            if delete_veth {
                link::delete_link(&super::host_veth_name(container_id, "eth0"))?;
            }
            return Ok(gone);
        }
        self.commit(&lock, Some(&before), &state)?;
        if balanced {
            // The kernel keeps a UDP flow on its member until it idles out;
            // a departed member loses its flows now, supervisor or not.
            // Best effort: the rules no longer send new flows there.
            let ips: Vec<Ipv4Addr> = gone.iter().map(|e| e.ip).collect();
            let _ = super::conntrack::forget_udp_flows_to(&ips);
        }
        if state.endpoints.is_empty() {
            super::dns::stop_server(&self.root());
        }
        if delete_veth {
            for endpoint in &gone {
                link::delete_link(&endpoint.host_veth)?;
            }
        }
        Ok(gone)
    }
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
