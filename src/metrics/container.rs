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

/// Families for every container in `samples`; `now` (epoch seconds) is
/// `container_last_seen`.
pub fn families(samples: &[ContainerSample], now: f64) -> Vec<Family> {
    use Kind::{Counter, Gauge};
    let mut f = vec![
        Family::new("container_cpu_usage_seconds_total", Counter, "Cumulative cpu time consumed in seconds."),
        Family::new("container_cpu_cfs_periods_total", Counter, "Number of elapsed enforcement period intervals."),
        Family::new("container_cpu_cfs_throttled_periods_total", Counter, "Number of throttled period intervals."),
        Family::new("container_cpu_cfs_throttled_seconds_total", Counter, "Total time duration the container has been throttled."),
        Family::new("container_memory_usage_bytes", Gauge, "Current memory usage in bytes, including all memory regardless of when it was accessed"),
        Family::new("container_memory_working_set_bytes", Gauge, "Current working set in bytes."),
        Family::new("container_memory_rss", Gauge, "Size of RSS in bytes."),
        Family::new("container_memory_cache", Gauge, "Number of bytes of page cache memory."),
        Family::new("container_memory_max_usage_bytes", Gauge, "Maximum memory usage recorded in bytes"),
        Family::new("container_memory_failcnt", Counter, "Number of memory usage hits limits"),
        Family::new("container_spec_memory_limit_bytes", Gauge, "Memory limit for the container."),
        Family::new("container_oom_events_total", Counter, "Count of out of memory events observed for the container"),
        Family::new("container_network_receive_bytes_total", Counter, "Cumulative count of bytes received"),
        Family::new("container_network_receive_packets_total", Counter, "Cumulative count of packets received"),
        Family::new("container_network_transmit_bytes_total", Counter, "Cumulative count of bytes transmitted"),
        Family::new("container_network_transmit_packets_total", Counter, "Cumulative count of packets transmitted"),
        Family::new("container_fs_reads_bytes_total", Counter, "Cumulative count of bytes read"),
        Family::new("container_fs_writes_bytes_total", Counter, "Cumulative count of bytes written"),
        Family::new("container_processes", Gauge, "Number of processes running inside the container."),
        Family::new("container_start_time_seconds", Gauge, "Start time of the container since unix epoch in seconds."),
        Family::new("container_last_seen", Gauge, "Last time a container was seen by the exporter"),
    ];
    for c in samples {
        let base = base_labels(c);
        let u = &c.usage;
        let plain = [
            u.cpu_usage_ns as f64 / NS,
            u.cpu_periods as f64,
            u.cpu_throttled_periods as f64,
            u.cpu_throttled_ns as f64 / NS,
            u.memory_usage as f64,
            u.memory_working_set as f64,
            u.memory_rss as f64,
            u.memory_cache as f64,
        ];
        for (family, value) in f.iter_mut().zip(plain) {
            family.push(base.clone(), value);
        }
        if let Some(max) = u.memory_max_usage {
            f[8].push(base.clone(), max as f64);
        }
        f[9].push(base.clone(), u.memory_failcnt as f64);
        // cAdvisor shows an unlimited container as 0.
        f[10].push(base.clone(), u.memory_limit.unwrap_or(0) as f64);
        f[11].push(base.clone(), u.oom_kills as f64);
        for n in &c.network {
            let labels = with(&base, "interface", &n.interface);
            f[12].push(labels.clone(), n.rx_bytes as f64);
            f[13].push(labels.clone(), n.rx_packets as f64);
            f[14].push(labels.clone(), n.tx_bytes as f64);
            f[15].push(labels, n.tx_packets as f64);
        }
        for d in &c.disk {
            let labels = with(&base, "device", &d.device);
            f[16].push(labels.clone(), d.read as f64);
            f[17].push(labels, d.write as f64);
        }
        f[18].push(base.clone(), u.pids as f64);
        if let Some(start) = c.started_at {
            f[19].push(base.clone(), start);
        }
        f[20].push(base, now);
    }
    f
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
