//! cAdvisor's container metric families, from plain samples: same names,
//! types, units, HELP and labels (`id`, `name`, `image`, and each container
//! label as `container_label_KEY`), so existing dashboards work unchanged.

use std::collections::BTreeMap;

use super::{sanitize_label_name, Family, Kind};
use crate::cgroups::Usage;
use crate::container::labels::{LABEL_PROJECT, LABEL_SERVICE, LABEL_SLOT};

/// rcorch's replica labels and the compose labels dashboards filter on
/// (`container_label_com_docker_compose_service`, as Docker sets them).
const COMPOSE_LABELS: [(&str, &str); 3] = [
    (LABEL_PROJECT, "com.docker.compose.project"),
    (LABEL_SERVICE, "com.docker.compose.service"),
    (LABEL_SLOT, "com.docker.compose.container-number"),
];

/// Bytes and packets through one interface of the container's netns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceIo {
    pub interface: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
}

/// One block device's bytes, its name resolved (`/dev/sda`) where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBytes {
    pub device: String,
    pub read: u64,
    pub write: u64,
}

/// Everything known of one running container at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSample {
    pub id: String,
    pub name: String,
    pub image: String,
    /// Its cgroup, relative to the hierarchy root ("/rcorch/ID"): cAdvisor's `id`.
    pub cgroup: String,
    pub labels: BTreeMap<String, String>,
    /// Seconds since the epoch.
    pub started_at: Option<f64>,
    pub usage: Usage,
    pub network: Vec<InterfaceIo>,
    pub disk: Vec<DeviceBytes>,
}

/// The labels every series of `c` carries.
pub fn base_labels(c: &ContainerSample) -> Vec<(String, String)> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in &c.labels {
        labels.insert(key.clone(), value.clone());
    }
    for (ours, compose) in COMPOSE_LABELS {
        if let Some(value) = c.labels.get(ours) {
            labels.insert(compose.to_string(), value.clone());
        }
    }
    let mut out: Vec<(String, String)> = labels
        .into_iter()
        .map(|(k, v)| (format!("container_label_{}", sanitize_label_name(&k)), v))
        .collect();
    out.push(("id".into(), c.cgroup.clone()));
    out.push(("image".into(), c.image.clone()));
    out.push(("name".into(), c.name.clone()));
    out
}

fn with(base: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut labels = base.to_vec();
    labels.push((key.to_string(), value.to_string()));
    labels
}

const NS: f64 = 1e9;

/// Where a family's samples come from: one per container, one per
/// interface, or one per block device.
enum Source {
    /// From the container (and the scrape time, for `container_last_seen`).
    Each(fn(&ContainerSample, f64) -> Option<f64>),
    Interface(fn(&InterfaceIo) -> u64),
    Device(fn(&DeviceBytes) -> u64),
}

use Kind::{Counter, Gauge};

/// cAdvisor's families, in its order of HELP text and units.
#[rustfmt::skip]
const FAMILIES: &[(&str, Kind, &str, Source)] = &[
    ("container_cpu_usage_seconds_total", Counter, "Cumulative cpu time consumed in seconds.",
        Source::Each(|c, _| Some(c.usage.cpu_usage_ns as f64 / NS))),
    ("container_cpu_cfs_periods_total", Counter, "Number of elapsed enforcement period intervals.",
        Source::Each(|c, _| Some(c.usage.cpu_periods as f64))),
    ("container_cpu_cfs_throttled_periods_total", Counter, "Number of throttled period intervals.",
        Source::Each(|c, _| Some(c.usage.cpu_throttled_periods as f64))),
    ("container_cpu_cfs_throttled_seconds_total", Counter, "Total time duration the container has been throttled.",
        Source::Each(|c, _| Some(c.usage.cpu_throttled_ns as f64 / NS))),
    ("container_memory_usage_bytes", Gauge, "Current memory usage in bytes, including all memory regardless of when it was accessed",
        Source::Each(|c, _| Some(c.usage.memory_usage as f64))),
    ("container_memory_working_set_bytes", Gauge, "Current working set in bytes.",
        Source::Each(|c, _| Some(c.usage.memory_working_set as f64))),
    ("container_memory_rss", Gauge, "Size of RSS in bytes.",
        Source::Each(|c, _| Some(c.usage.memory_rss as f64))),
    ("container_memory_cache", Gauge, "Number of bytes of page cache memory.",
        Source::Each(|c, _| Some(c.usage.memory_cache as f64))),
    ("container_memory_max_usage_bytes", Gauge, "Maximum memory usage recorded in bytes",
        Source::Each(|c, _| c.usage.memory_max_usage.map(|v| v as f64))),
    ("container_memory_failcnt", Counter, "Number of memory usage hits limits",
        Source::Each(|c, _| Some(c.usage.memory_failcnt as f64))),
    // cAdvisor shows an unlimited container as 0.
    ("container_spec_memory_limit_bytes", Gauge, "Memory limit for the container.",
        Source::Each(|c, _| Some(c.usage.memory_limit.unwrap_or(0) as f64))),
    ("container_oom_events_total", Counter, "Count of out of memory events observed for the container",
        Source::Each(|c, _| Some(c.usage.oom_kills as f64))),
    ("container_network_receive_bytes_total", Counter, "Cumulative count of bytes received",
        Source::Interface(|n| n.rx_bytes)),
    ("container_network_receive_packets_total", Counter, "Cumulative count of packets received",
        Source::Interface(|n| n.rx_packets)),
    ("container_network_transmit_bytes_total", Counter, "Cumulative count of bytes transmitted",
        Source::Interface(|n| n.tx_bytes)),
    ("container_network_transmit_packets_total", Counter, "Cumulative count of packets transmitted",
        Source::Interface(|n| n.tx_packets)),
    ("container_fs_reads_bytes_total", Counter, "Cumulative count of bytes read",
        Source::Device(|d| d.read)),
    ("container_fs_writes_bytes_total", Counter, "Cumulative count of bytes written",
        Source::Device(|d| d.write)),
    ("container_processes", Gauge, "Number of processes running inside the container.",
        Source::Each(|c, _| Some(c.usage.pids as f64))),
    ("container_start_time_seconds", Gauge, "Start time of the container since unix epoch in seconds.",
        Source::Each(|c, _| c.started_at)),
    ("container_last_seen", Gauge, "Last time a container was seen by the exporter",
        Source::Each(|_, now| Some(now))),
];

/// Families for every container in `samples`; `now` (epoch seconds) is
/// `container_last_seen`.
pub fn families(samples: &[ContainerSample], now: f64) -> Vec<Family> {
    let bases: Vec<Vec<(String, String)>> = samples.iter().map(base_labels).collect();
    FAMILIES
        .iter()
        .map(|(name, kind, help, source)| {
            let mut family = Family::new(name, *kind, help);
            for (c, base) in samples.iter().zip(&bases) {
                match source {
                    Source::Each(value) => {
                        if let Some(v) = value(c, now) {
                            family.push(base.clone(), v);
                        }
                    }
                    Source::Interface(value) => {
                        for n in &c.network {
                            family.push(with(base, "interface", &n.interface), value(n) as f64);
                        }
                    }
                    Source::Device(value) => {
                        for d in &c.disk {
                            family.push(with(base, "device", &d.device), value(d) as f64);
                        }
                    }
                }
            }
            family
        })
        .collect()
}

/// Parses `/proc/PID/net/dev`; the loopback is left out (as cAdvisor does).
pub fn parse_net_dev(text: &str) -> Vec<InterfaceIo> {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, counters) = line.split_once(':')?;
            let name = name.trim();
            let n: Vec<u64> = counters
                .split_whitespace()
                .map(|v| v.parse().ok())
                .collect::<Option<_>>()?;
            if name == "lo" || n.len() < 10 {
                return None;
            }
            Some(InterfaceIo {
                interface: name.to_string(),
                rx_bytes: n[0],
                rx_packets: n[1],
                tx_bytes: n[8],
                tx_packets: n[9],
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
