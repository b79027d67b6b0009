//! The network side of `run`: reserve the container's endpoint before
//! anything else is created, plug the veth in between clone and setup,
//! write its hosts/resolv.conf, and free it all when the container ends or
//! the run fails (`NetGuard`).

use std::path::Path;

use nix::unistd::Pid;
use thiserror::Error;

use super::control::observed_status;
use super::mounts::RootfsPaths;
use crate::container::{names, BridgeSpec, ContainerConfig, NetworkMode, Status};
use crate::image::ImageStore;
use crate::instance::Instance;
use crate::network::connect::DisconnectTarget;
use crate::network::ops::{EndpointRequest, HostPaths, NetError, Networks};
use crate::network::ports::{self, PortError, PortMapping};
use crate::network::{endpoints, link};
use crate::network::{files, Endpoint, Network};
use crate::util::time::now_rfc3339;

#[derive(Debug, Error)]
pub enum NetSetupError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Container(#[from] crate::container::store::StoreError),
    #[error("container {name} is not running")]
    NotRunning { name: String },
    #[error("container {name} has network mode {mode}: only containers on bridge networks can be connected")]
    NotBridged { name: String, mode: &'static str },
    #[error("invalid network alias \"{0}\"")]
    Alias(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub fn networks(root: &Path) -> Networks {
    Networks::open(root, HostPaths::system())
}

/// A reserved endpoint. Dropping it un-disarmed releases the lease and rules.
pub struct NetGuard {
    networks: Networks,
    container_id: String,
    pub network: Network,
    pub endpoint: Endpoint,
    dns: Vec<String>,
    armed: bool,
}

impl NetGuard {
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    /// Frees everything now (the container ended).
    pub fn release(&mut self) {
        self.armed = false;
        let _ = self.networks.release(&self.container_id, true);
    }

    /// Once the container runs: the embedded resolver, unless `--dns`
    /// replaced it. Best-effort: a container still runs without it. Not
    /// earlier, so a run that fails leaves no resolver behind.
    pub fn started(&self) {
        if self.dns.is_empty() {
            let _ = self.networks.ensure_dns();
        }
    }

    /// The hook the monitor runs with the child's PID: veth into its namespace.
    pub fn plug(&self, pid: Pid) -> Result<(), String> {
        // Its first network: a default route unless that network is internal.
        let gateway = self.endpoint.default_route.then_some(self.network.gateway);
        let plan = endpoints::veth_plan(&self.endpoint, &self.network, gateway);
        // A restart (`--restart`): the last run's host end may outlive its
        // namespace for a moment; a failed plug deletes it, so once more.
        link::plug(&plan, pid.as_raw())
            .or_else(|_| link::plug(&plan, pid.as_raw()))
            .map_err(|e| format!("network: {e}"))
    }

    /// Overwrites the container's hosts and resolv.conf for its network.
    pub fn write_files(&self, paths: &RootfsPaths, hostname: &str) -> Result<(), NetSetupError> {
        let write = |path: &Path, text: String| {
            std::fs::write(path, text).map_err(|source| NetSetupError::Write {
                path: path.to_path_buf(),
                source,
            })
        };
        write(&paths.hosts, files::hosts_file(&self.endpoint, hostname))?;
        write(
            &paths.resolv_conf,
            files::resolv_conf(&self.dns, self.network.gateway),
        )
    }
}

impl Drop for NetGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.networks.release(&self.container_id, true);
        }
    }
}

/// `-p` ports plus, for `-P`, every exposed port of the image on a random host port.
fn wanted_ports(
    spec: &BridgeSpec,
    images: &ImageStore,
    image: &str,
) -> Result<Vec<PortMapping>, NetSetupError> {
    let mut ports = spec.ports.clone();
    // `-p 80`, `-p IP::80`: the kernel picks the host port now.
    for p in ports
        .iter_mut()
        .filter(|p| p.host_port == crate::network::publish::RANDOM)
    {
        p.host_port = ports::random_host_port(p.proto)?;
    }
    if spec.publish_all {
        let exposed = images
            .resolve(image)
            .ok()
            .and_then(|r| r.config.exposed_ports)
            .unwrap_or_default();
        for key in exposed.keys() {
            let (container_port, proto) = ports::parse_exposed(key)?;
            if ports
                .iter()
                .any(|p| p.container_port == container_port && p.proto == proto)
            {
                continue;
            }
            ports.push(PortMapping {
                host_ip: None,
                host_port: ports::random_host_port(proto)?,
                container_port,
                proto,
            });
        }
    }
    Ok(ports)
}

/// The host ports a bridged container will publish, each checked free now:
/// runs before anything is created, so a busy port changes nothing.
pub fn check_ports(
    instance: &Instance,
    config: &ContainerConfig,
    images: &ImageStore,
) -> Result<Vec<PortMapping>, NetSetupError> {
    let NetworkMode::Bridge(spec) = &config.network else {
        return Ok(Vec::new());
    };
    let ports = wanted_ports(spec, images, &config.image)?;
    networks(&instance.root).precheck_ports(&ports)?;
    Ok(ports)
}

/// Leases an address and publishes `ports` for a bridged container; None
/// for `none`/`host`. Runs once the container's record exists: leases of
/// containers without a record are reclaimed by concurrent runs.
pub fn attach(
    instance: &Instance,
    config: &ContainerConfig,
    ports: Vec<PortMapping>,
) -> Result<Option<NetGuard>, NetSetupError> {
    let NetworkMode::Bridge(spec) = &config.network else {
        return Ok(None);
    };
    let networks = networks(&instance.root);
    let request = EndpointRequest {
        container_id: config.id.clone(),
        container_name: config.name.clone(),
        network: spec.network.clone(),
        ip: spec.ip,
        aliases: spec.aliases.clone(),
        ports,
    };
    let alive = |id: &str| instance.containers.container_dir(id).exists();
    let (network, endpoint) = networks.reserve(&request, &alive, &now_rfc3339())?;
    Ok(Some(NetGuard {
        networks,
        container_id: config.id.clone(),
        network,
        endpoint,
        dns: spec.dns.clone(),
        armed: true,
    }))
}

/// Frees a container's network (idempotent). `exited`: its namespace is
/// gone or going, so the kernel removes the veth itself.
pub fn release(root: &Path, container_id: &str, exited: bool) -> Result<(), NetError> {
    networks(root).release(container_id, !exited).map(|_| ())
}

/// What `network connect` asks for.
#[derive(Debug, Clone)]
pub struct ConnectArgs {
    pub network: String,
    pub container: String,
    pub ip: Option<std::net::Ipv4Addr>,
    pub aliases: Vec<String>,
}

/// Joins a running bridged container to another network.
pub fn connect(instance: &Instance, args: &ConnectArgs) -> Result<Endpoint, NetSetupError> {
    if let Some(a) = args.aliases.iter().find(|a| !names::valid_name(a)) {
        return Err(NetSetupError::Alias(a.clone()));
    }
    let record = instance
        .containers
        .load(&instance.containers.resolve(&args.container)?)?;
    let config = &record.config;
    let mode = match config.network {
        NetworkMode::Bridge(_) => None,
        NetworkMode::None => Some("none"),
        NetworkMode::Host => Some("host"),
    };
    if let Some(mode) = mode {
        return Err(NetSetupError::NotBridged {
            name: config.name.clone(),
            mode,
        });
    }
    let pid = match (observed_status(&record.state), record.state.pid) {
        (Status::Running, Some(pid)) => pid,
        _ => {
            return Err(NetSetupError::NotRunning {
                name: config.name.clone(),
            })
        }
    };
    let request = EndpointRequest {
        container_id: config.id.clone(),
        container_name: config.name.clone(),
        network: args.network.clone(),
        ip: args.ip,
        aliases: args.aliases.clone(),
        ports: Vec::new(),
    };
    let (_, endpoint) = networks(&instance.root).connect(&request, pid)?;
    Ok(endpoint)
}

/// Takes a container off a network; `force` also when it is not running.
pub fn disconnect(
    instance: &Instance,
    network: &str,
    container: &str,
    force: bool,
) -> Result<Endpoint, NetSetupError> {
    let record = instance
        .containers
        .load(&instance.containers.resolve(container)?)?;
    let name = &record.config.name;
    let running = observed_status(&record.state) == Status::Running;
    if !force && !running {
        return Err(NetSetupError::NotRunning { name: name.clone() });
    }
    let target = DisconnectTarget {
        id: record.config.id.clone(),
        name: name.clone(),
        network: network.to_string(),
        pid: record.state.pid.filter(|_| running),
    };
    Ok(networks(&instance.root).disconnect(&target, force)?)
}
