//! `network create|ls|inspect|connect|disconnect|rm` and `port`.

use clap::{Args, Subcommand};
use comfy_table::{presets::NOTHING, Table};

use super::CliResult;
use crate::instance::Instance;
use crate::network::ops::CreateRequest;
use crate::network::{Endpoint, Network};
use crate::runtime::net::{self, networks};
use crate::util::time::now_rfc3339;

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a bridge network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls,
    /// Show networks and their containers as JSON
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Connect a running container to a network (as its next ethN)
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect {
        /// Free the lease even if the container is not running
        #[arg(short, long)]
        force: bool,
        network: String,
        container: String,
    },
    /// Remove networks (refused while containers use them)
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// CIDR, e.g. 10.89.0.0/24 (default: a free private /16)
    #[arg(long)]
    subnet: Option<String>,
    /// Gateway address (default: the subnet's first address)
    #[arg(long)]
    gateway: Option<String>,
    /// No outbound access and no forwarding off the network
    #[arg(long)]
    internal: bool,
    name: String,
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Fixed IPv4 address on the network
    #[arg(long)]
    ip: Option<std::net::Ipv4Addr>,
    /// Extra name the container answers to on this network
    #[arg(long = "alias", value_name = "ALIAS")]
    aliases: Vec<String>,
    network: String,
    container: String,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    container: String,
}

pub fn network(instance: &Instance, cmd: NetworkCommand) -> CliResult {
    let nets = networks(&instance.root);
    match cmd {
        NetworkCommand::Create(args) => {
            let request = CreateRequest {
                name: args.name,
                subnet: args.subnet,
                gateway: args.gateway,
                internal: args.internal,
            };
            let network = nets.create(&request, &now_rfc3339())?;
            println!("{}", network.name);
        }
        NetworkCommand::Ls => {
            let state = nets.list()?;
            let mut table = Table::new();
            table.load_preset(NOTHING);
            table.set_header([
                "NAME",
                "BRIDGE",
                "SUBNET",
                "GATEWAY",
                "INTERNAL",
                "CONTAINERS",
            ]);
            for n in state.networks.values() {
                table.add_row([
                    n.name.clone(),
                    n.bridge.clone(),
                    n.subnet.to_string(),
                    n.gateway.to_string(),
                    n.internal.to_string(),
                    state.endpoints_on(&n.name).count().to_string(),
                ]);
            }
            println!("{table}");
        }
        NetworkCommand::Inspect { names } => {
            let state = nets.list()?;
            let mut out = Vec::new();
            for name in &names {
                let network = state
                    .networks
                    .get(name)
                    .ok_or_else(|| format!("network {name} not found"))?;
                out.push(inspect_json(network, state.endpoints_on(name)));
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        NetworkCommand::Connect(args) => {
            let args = net::ConnectArgs {
                network: args.network,
                container: args.container,
                ip: args.ip,
                aliases: args.aliases,
            };
            net::connect(instance, &args)?;
        }
        NetworkCommand::Disconnect {
            force,
            network,
            container,
        } => {
            net::disconnect(instance, &network, &container, force)?;
        }
        NetworkCommand::Rm { names } => {
            for name in &names {
                nets.remove(name)?;
                println!("{name}");
            }
        }
    }
    Ok(0)
}

fn inspect_json<'a>(
    n: &Network,
    endpoints: impl Iterator<Item = &'a Endpoint>,
) -> serde_json::Value {
    let containers: serde_json::Map<String, serde_json::Value> = endpoints
        .map(|e| {
            (
                e.container_id.clone(),
                serde_json::json!({
                    "Name": e.container_name,
                    "IPv4Address": format!("{}/{}", e.ip, n.subnet.prefix),
                    "Aliases": e.aliases,
                    "HostVeth": e.host_veth,
                    "Interface": e.ifname,
                }),
            )
        })
        .collect();
    serde_json::json!({
        "Name": n.name,
        "Driver": "bridge",
        "Bridge": n.bridge,
        "Subnet": n.subnet.to_string(),
        "Gateway": n.gateway.to_string(),
        "Internal": n.internal,
        "Created": n.created,
        "Containers": containers,
    })
}

pub fn port(instance: &Instance, args: &PortArgs) -> CliResult {
    let id = instance.containers.resolve(&args.container)?;
    let state = networks(&instance.root).list()?;
    for p in state.endpoints_of(&id).flat_map(|e| &e.ports) {
        println!("{p}");
    }
    Ok(0)
}
