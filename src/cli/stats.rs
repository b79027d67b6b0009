//! `stats [--no-stream]`: CPU %, memory usage/limit, net and block I/O and
//! pids per container, refreshed each second (redrawn in place on a
//! terminal, one block after another otherwise) until interrupted.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::Args;
use comfy_table::{presets::NOTHING, Table};
use serde_json::{json, Value};

use super::format::{self, field, Listing};
use super::images::human_size;
use super::CliResult;
use crate::cgroups::systemd::Driver;
use crate::cgroups::Stats;
use crate::container::Status;
use crate::instance::Instance;
use crate::runtime::control::observed_status;
use crate::util::template::Field;

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print one sample and exit
    #[arg(long)]
    no_stream: bool,
    /// table (default), json, or a Go template: 'table {{.Name}}\t{{.CPUPerc}}'
    #[arg(long)]
    format: Option<String>,
    /// Containers (default: all running)
    containers: Vec<String>,
}

/// CPU use between two samples, as a percentage of one CPU (Docker's way).
pub fn cpu_percent(before_ns: u64, after_ns: u64, wall: Duration) -> f64 {
    let wall_ns = wall.as_nanos() as f64;
    if wall_ns == 0.0 {
        return 0.0;
    }
    after_ns.saturating_sub(before_ns) as f64 / wall_ns * 100.0
}

fn mib(bytes: u64) -> String {
    format!("{:.2}MiB", bytes as f64 / (1024.0 * 1024.0))
}

struct Sample {
    id: String,
    name: String,
    stats: Stats,
    /// Bytes received and sent on the container's interfaces (not lo).
    net: Option<(u64, u64)>,
    /// Bytes read and written on block devices.
    block: Option<(u64, u64)>,
}

/// A running container to sample: id, name, its cgroup's manager and
/// parent, PID 1.
type Target = (String, String, (Driver, String), i32);

fn sample(instance: &Instance, targets: &[Target]) -> Vec<Sample> {
    targets
        .iter()
        .filter_map(|(id, name, (driver, parent), pid)| {
            let layout = instance.cgroup_layout().ok()?;
            let cgroup = crate::cgroups::container_manager(&layout, *driver, parent, id).ok()?;
            let stats = cgroup.stats().ok()?;
            let block = cgroup
                .usage()
                .ok()
                .map(|u| crate::metrics::collect::block_io(&u, cgroup.as_ref()));
            // /proc/PID/net/dev shows the network namespace of PID.
            let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok();
            Some(Sample {
                id: id.clone(),
                name: name.clone(),
                stats,
                net: dev.as_deref().map(net_bytes),
                block,
            })
        })
        .collect()
}

/// Sums /proc/net/dev's receive and transmit bytes over every interface
/// but loopback.
pub fn net_bytes(dev: &str) -> (u64, u64) {
    dev.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(iface, _)| iface.trim() != "lo")
        .fold((0, 0), |(rx, tx), (_, counters)| {
            let n: Vec<u64> = counters
                .split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect();
            (
                rx + n.first().copied().unwrap_or(0),
                tx + n.get(8).copied().unwrap_or(0),
            )
        })
}

const FIELDS: &[Field] = &[
    field("Container", "CONTAINER"),
    field("ID", "CONTAINER ID"),
    field("Name", "NAME"),
    field("CPUPerc", "CPU %"),
    field("MemUsage", "MEM USAGE / LIMIT"),
    field("MemPerc", "MEM %"),
    field("NetIO", "NET I/O"),
    field("BlockIO", "BLOCK I/O"),
    field("PIDs", "PIDS"),
];

/// The table's columns, Docker's order.
const COLUMNS: [&str; 8] = [
    "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs",
];

pub fn stats(instance: &Instance, args: &StatsArgs) -> CliResult {
    let listing = Listing::parse(args.format.as_deref())?;
    // Named containers must exist, as with docker (exit 1 otherwise).
    let named = args
        .containers
        .iter()
        .map(|c| instance.containers.resolve(c))
        .collect::<Result<Vec<_>, _>>()?;
    let total_memory = host_memory();
    // Redraw in place on a terminal; repeated blocks into a pipe or file.
    let redraw = !args.no_stream && std::io::stdout().is_terminal();
    let mut previous = (
        sample(instance, &targets(instance, &named)?),
        Instant::now(),
    );
    loop {
        std::thread::sleep(Duration::from_millis(if args.no_stream {
            250
        } else {
            1000
        }));
        // Re-listed each time: containers started since show up, as in Docker.
        let current = (
            sample(instance, &targets(instance, &named)?),
            Instant::now(),
        );
        let wall = current.1.duration_since(previous.1);
        let (rows, docker_rows) = rows(&previous.0, &current.0, wall, total_memory);
        if redraw {
            print!("\x1b[2J\x1b[H");
        }
        match &listing {
            Listing::Json => println!("{}", serde_json::to_string(&rows)?),
            Listing::Table => println!("{}", table(&docker_rows)),
            Listing::Template(f) => {
                format::print_rows(f, &docker_rows, FIELDS)?;
            }
        }
        if args.no_stream {
            return Ok(0);
        }
        previous = current;
    }
}

fn targets(instance: &Instance, named: &[String]) -> Result<Vec<Target>, super::Failure> {
    let mut targets = Vec::new();
    for r in instance.containers.list()? {
        let wanted = named.is_empty() || named.contains(&r.config.id);
        if wanted && observed_status(&r.state) == Status::Running {
            targets.push((
                r.config.id.clone(),
                r.config.name.clone(),
                (r.config.cgroup_manager, r.config.cgroup_parent.clone()),
                r.state.pid.unwrap_or(0),
            ));
        }
    }
    Ok(targets)
}

fn pair(io: Option<(u64, u64)>) -> String {
    io.map_or("--".to_string(), |(a, b)| {
        format!("{} / {}", human_size(a), human_size(b))
    })
}

/// The JSON rows (raw figures) and Docker's text rows of one refresh.
fn rows(
    first: &[Sample],
    second: &[Sample],
    wall: Duration,
    host_mem: u64,
) -> (Vec<Value>, Vec<Value>) {
    let (mut rows, mut docker_rows) = (Vec::new(), Vec::new());
    for s in second {
        let before = first
            .iter()
            .find(|f| f.id == s.id)
            .map(|f| f.stats.cpu_usage_ns)
            .unwrap_or(s.stats.cpu_usage_ns);
        let cpu = cpu_percent(before, s.stats.cpu_usage_ns, wall);
        let limit = s.stats.memory_limit.unwrap_or(host_mem);
        let mem_pct = if limit > 0 {
            s.stats.memory_usage as f64 / limit as f64 * 100.0
        } else {
            0.0
        };
        rows.push(json!({
            "ID": s.id, "Name": s.name, "CPUPerc": cpu, "MemUsage": s.stats.memory_usage,
            "MemLimit": limit, "MemPerc": mem_pct, "PIDs": s.stats.pids_current,
            "NetIO": s.net.map(|(rx, tx)| json!({"Rx": rx, "Tx": tx})),
            "BlockIO": s.block.map(|(r, w)| json!({"Read": r, "Write": w})),
        }));
        docker_rows.push(json!({
            "Container": s.id[..12], "ID": s.id[..12], "Name": s.name,
            "CPUPerc": format!("{cpu:.2}%"),
            "MemUsage": format!("{} / {}", mib(s.stats.memory_usage), mib(limit)),
            "MemPerc": format!("{mem_pct:.2}%"),
            "NetIO": pair(s.net),
            "BlockIO": pair(s.block),
            "PIDs": s.stats.pids_current.to_string(),
        }));
    }
    (rows, docker_rows)
}

/// Docker's table: its columns, its headers.
fn table(docker_rows: &[Value]) -> String {
    let mut table = Table::new();
    let header = COLUMNS.map(|c| FIELDS.iter().find(|f| f.name == c).map_or(c, |f| f.header));
    table.load_preset(NOTHING).set_header(header);
    for row in docker_rows {
        table.add_row(COLUMNS.map(|c| row[c].as_str().unwrap_or_default().to_string()));
    }
    table.to_string()
}

fn host_memory() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_io_sums_every_interface_but_loopback() {
        let dev = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1500      10    0    0    0     0          0         0      648       6    0    0    0     0       0          0
  eth1:     500       2    0    0    0     0          0         0        2       1    0    0    0     0       0          0
";
        assert_eq!(net_bytes(dev), (2000, 650));
    }

    #[test]
    fn the_table_has_dockers_columns_and_figures() {
        let s = |cpu_ns, block| Sample {
            id: "a".repeat(64),
            name: "web".into(),
            stats: Stats {
                cpu_usage_ns: cpu_ns,
                memory_usage: 3 * 1024 * 1024,
                memory_limit: Some(12 * 1024 * 1024),
                pids_current: 2,
                pids_limit: None,
            },
            net: Some((1500, 648)),
            block,
        };
        let (raw, docker) = rows(
            &[s(0, None)],
            &[s(250_000_000, Some((4096, 2_000_000)))],
            Duration::from_secs(1),
            0,
        );
        assert_eq!(raw[0]["BlockIO"], json!({"Read": 4096, "Write": 2_000_000}));
        let text = table(&docker);
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0]
            .split("  ")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        assert_eq!(
            header,
            [
                "CONTAINER ID",
                "NAME",
                "CPU %",
                "MEM USAGE / LIMIT",
                "MEM %",
                "NET I/O",
                "BLOCK I/O",
                "PIDS"
            ]
        );
        for cell in [
            "aaaaaaaaaaaa",
            "web",
            "25.00%",
            "3.00MiB / 12.00MiB",
            "25.00%",
            "1.5kB / 648B",
            "4.096kB / 2MB",
            " 2",
        ] {
            assert!(lines[1].contains(cell), "{cell:?} in {:?}", lines[1]);
        }
    }

    #[test]
    fn cpu_percent_is_share_of_one_cpu() {
        assert_eq!(cpu_percent(0, 500_000_000, Duration::from_secs(1)), 50.0);
        assert_eq!(cpu_percent(10, 5, Duration::from_secs(1)), 0.0);
        assert_eq!(cpu_percent(0, 5, Duration::ZERO), 0.0);
    }
}
