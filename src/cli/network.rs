//! `network create|ls|inspect|connect|disconnect|rm` and `port`.

use clap::{Args, Subcommand};
use comfy_table::{presets::NOTHING, Table};

use super::format::{self, field, parse_inspect, print_inspected, Listing};
use super::CliResult;
use crate::instance::Instance;
use crate::network::host_bridges::Dropped;
use crate::network::ops::{CreateRequest, RemovedNetwork};
use crate::network::DEFAULT_NETWORK;
use crate::network::{Endpoint, Network};
use crate::runtime::net::{self, networks};
use crate::util::filter::{name_matches, Filters};
use crate::util::template::Field;
use crate::util::time::now_rfc3339;

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a bridge network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show networks and their containers as JSON
    Inspect {
        /// A Go template, e.g. '{{range .IPAM.Config}}{{.Subnet}}{{end}}'
        #[arg(short, long)]
        format: Option<String>,
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
    /// Remove every network no container uses (the default "bridge" stays)
    Prune {
        /// Do not ask for confirmation
        #[arg(short, long)]
        force: bool,
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
    /// The network driver: bridge (the only one on a single host)
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Set a KEY=VALUE label
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    name: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only names
    #[arg(short, long)]
    quiet: bool,
    /// table (default), json, or a Go template: '{{.Name}} {{.Driver}}'
    #[arg(long)]
    format: Option<String>,
    /// KEY=VALUE: name, id, label, driver, type (custom or builtin)
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Accepted for Docker's sake: ids are shown in full anyway
    #[arg(long)]
    no_trunc: bool,
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
            if args.driver != "bridge" {
                return Err(format!(
                    "network driver {} is not supported: rcorch networks are bridges (-d bridge)",
                    args.driver
                )
                .into());
            }
            let request = CreateRequest {
                name: args.name,
                subnet: args.subnet,
                gateway: args.gateway,
                internal: args.internal,
                labels: parse_labels(&args.labels),
            };
            let network = nets.create(&request, &now_rfc3339())?;
            println!("{}", network.name);
        }
        NetworkCommand::Ls(args) => {
            let state = nets.list()?;
            for report in state.damage_reports() {
                eprintln!("rcorch: {report}");
            }
            return list(&state, &args);
        }
        NetworkCommand::Inspect { format, names } => {
            let template = parse_inspect(format.as_deref())?;
            let state = nets.list()?;
            let mut out = Vec::new();
            for name in &names {
                let network = state
                    .networks
                    .get(name)
                    .ok_or_else(|| format!("network {name} not found"))?;
                out.push(inspect_json(network, state.endpoints_on(name)));
            }
            print_inspected(template.as_ref(), &out)?;
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
                let removed = nets.remove(name)?;
                println!("{name}");
                if let RemovedNetwork::Lost { bridges, .. } = removed {
                    note_kept_bridges(name, &bridges);
                }
            }
        }
        NetworkCommand::Prune { force } => return prune(&nets, force),
    }
    Ok(0)
}

/// `KEY=VALUE` labels (`KEY` alone: an empty value, as Docker).
fn parse_labels(labels: &[String]) -> std::collections::BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// Docker's `network prune` (-f: there is no prompt); prints what went.
pub(super) fn prune(nets: &crate::network::ops::Networks, force: bool) -> CliResult {
    if !force {
        return Err(
            "network prune removes every network no container uses; confirm with -f".into(),
        );
    }
    let state = nets.list()?;
    let unused: Vec<&String> = state
        .networks
        .keys()
        .filter(|n| n.as_str() != DEFAULT_NETWORK && state.endpoints_on(n).next().is_none())
        .collect();
    if !unused.is_empty() {
        println!("Deleted Networks:");
    }
    for name in unused {
        match nets.remove(name) {
            Ok(_) => println!("{name}"),
            Err(e) => eprintln!("rcorch: {e}"),
        }
    }
    Ok(0)
}

/// A lost network's bridge that containers still use stays until they are
/// gone; the user is told which and how it goes.
fn note_kept_bridges(name: &str, bridges: &[Dropped]) {
    for dropped in bridges {
        if let Dropped::Kept(bridge) = dropped {
            eprintln!(
                "rcorch: bridge {} of lost network {name} kept: containers are still plugged into it ({}); `rcorch rm -f` them, then `rcorch system check --repair` removes it",
                bridge.name,
                bridge.ports.join(", ")
            );
        }
    }
}

/// Docker's 64-hex network id; like podman, the digest of the name.
fn network_id(name: &str) -> String {
    crate::image::sha256::digest_hex(name.as_bytes())
}

pub(super) fn inspect_json<'a>(
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
        "Id": network_id(&n.name),
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Config": [{ "Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string() }],
        },
        "Labels": n.labels,
        "Options": {},
        "Bridge": n.bridge,
        "Subnet": n.subnet.to_string(),
        "Gateway": n.gateway.to_string(),
        "Internal": n.internal,
        "Created": n.created,
        "Containers": containers,
    })
}

const FIELDS: &[Field] = &[
    field("ID", "NETWORK ID"),
    field("Name", "NAME"),
    field("Driver", "DRIVER"),
    field("Scope", "SCOPE"),
    field("IPv6", "IPV6"),
    field("Internal", "INTERNAL"),
    field("Labels", "LABELS"),
    field("Label", ""),
    field("CreatedAt", "CREATED AT"),
    field("Subnet", "SUBNET"),
    field("Gateway", "GATEWAY"),
    field("Bridge", "BRIDGE"),
    field("Containers", "CONTAINERS"),
];

const FILTER_KEYS: &[&str] = &["name", "id", "label", "driver", "type", "scope"];

/// `network ls`: Docker's fields per network, through its filters.
fn list(state: &crate::network::NetState, args: &LsArgs) -> CliResult {
    let listing = Listing::parse(args.format.as_deref())?;
    let filters = Filters::parse(&args.filter, "network ls", FILTER_KEYS)?;
    filters.check_values("type", &["custom", "builtin"])?;
    let rows: Vec<serde_json::Value> = state
        .networks
        .values()
        .filter(|n| {
            let id = network_id(&n.name);
            let kind = if n.name == DEFAULT_NETWORK {
                "builtin"
            } else {
                "custom"
            };
            filters.any("name", |v| name_matches(v, &n.name))
                && filters.any("id", |v| id.starts_with(v))
                && filters.labels_match(&n.labels)
                && filters.any("driver", |v| v == "bridge")
                && filters.any("scope", |v| v == "local")
                && filters.any("type", |v| v == kind)
        })
        .map(|n| {
            serde_json::json!({
                "ID": network_id(&n.name)[..12], "Name": n.name, "Driver": "bridge",
                "Scope": "local", "IPv6": "false", "Internal": n.internal.to_string(),
                "Labels": n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "Label": n.labels, "CreatedAt": n.created,
                "Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string(),
                "Bridge": n.bridge,
                "Containers": state.endpoints_on(&n.name).count().to_string(),
            })
        })
        .collect();
    if args.quiet {
        rows.iter()
            .for_each(|r| println!("{}", r["Name"].as_str().unwrap_or_default()));
        return Ok(0);
    }
    match listing {
        Listing::Template(f) => format::print_rows(&f, &rows, FIELDS),
        Listing::Json => format::print_json_lines(&rows),
        Listing::Table => {
            let mut table = Table::new();
            table.load_preset(NOTHING);
            let columns = [
                "Name",
                "Bridge",
                "Subnet",
                "Gateway",
                "Internal",
                "Containers",
            ];
            table.set_header(columns.map(str::to_uppercase));
            for r in &rows {
                table.add_row(columns.map(|c| r[c].as_str().unwrap_or_default().to_string()));
            }
            println!("{table}");
            Ok(0)
        }
    }
}

pub fn port(instance: &Instance, args: &PortArgs) -> CliResult {
    let id = instance.containers.resolve(&args.container)?;
    let state = networks(&instance.root).list()?;
    for p in state.endpoints_of(&id).flat_map(|e| &e.ports) {
        println!("{p}");
    }
    Ok(0)
}
