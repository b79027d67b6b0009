use super::*;
use crate::cgroups::usage::{parse_usage, Flavor, UsageFiles};
use crate::metrics::{render, Format};

fn fixture(path: &str) -> Option<String> {
    let path = format!("{}/src/cgroups/testdata/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).ok()
}

/// The cgroup v1 files recorded on this host (see cgroups/usage_tests.rs).
fn v1_usage() -> Usage {
    parse_usage(Flavor::V1, &crate::cgroups::usage::tests::v1_files())
}

fn v2_usage() -> Usage {
    let f = |n: &str| fixture(&format!("usage-v2/{n}"));
    parse_usage(
        Flavor::V2,
        &UsageFiles {
            cpu_stat: f("cpu.stat"),
            memory_current: f("memory.current"),
            memory_stat: f("memory.stat"),
            memory_limit: f("memory.max"),
            memory_events: f("memory.events"),
            pids_current: f("pids.current"),
            io_stat: f("io.stat"),
            ..UsageFiles::default()
        },
    )
}

fn replica(usage: Usage) -> ContainerSample {
    let labels = [
        ("rcorch.project", "shop"),
        ("rcorch.service", "web"),
        ("rcorch.slot", "2"),
    ];
    ContainerSample {
        id: "9f0cfa9764a5".into(),
        name: "shop-web-2".into(),
        image: "busybox:latest".into(),
        cgroup: "/rcorch/9f0cfa9764a5".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        started_at: Some(1_765_060_000.5),
        usage,
        network: parse_net_dev(&fixture("net-dev.txt").unwrap()),
        disk: vec![DeviceBytes {
            device: "/dev/sda".into(),
            read: 0,
            write: 2_056_192,
        }],
    }
}

const LABELS: &str = "container_label_com_docker_compose_container_number=\"2\",\
container_label_com_docker_compose_project=\"shop\",\
container_label_com_docker_compose_service=\"web\",\
container_label_rcorch_project=\"shop\",container_label_rcorch_service=\"web\",\
container_label_rcorch_slot=\"2\",id=\"/rcorch/9f0cfa9764a5\",image=\"busybox:latest\",\
name=\"shop-web-2\"";

fn has(text: &str, name: &str, extra: &str, value: &str) {
    let line = format!("{name}{{{LABELS}{extra}}} {value}");
    assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
}

#[test]
fn v1_recorded_sample_gives_cadvisor_series() {
    let text = render(
        &families(&[replica(v1_usage())], 1_765_060_100.0),
        Format::Text,
    );
    has(
        &text,
        "container_cpu_usage_seconds_total",
        "",
        "0.451638907",
    );
    has(
        &text,
        "container_cpu_cfs_throttled_seconds_total",
        "",
        "0.347324828",
    );
    has(&text, "container_cpu_cfs_throttled_periods_total", "", "9");
    has(&text, "container_memory_usage_bytes", "", "2437120");
    has(&text, "container_memory_working_set_bytes", "", "389120");
    has(&text, "container_memory_rss", "", "53248");
    has(&text, "container_spec_memory_limit_bytes", "", "67108864");
    has(&text, "container_oom_events_total", "", "0");
    has(&text, "container_processes", "", "1");
    has(
        &text,
        "container_network_receive_bytes_total",
        ",interface=\"eth0\"",
        "15230",
    );
    has(
        &text,
        "container_network_transmit_packets_total",
        ",interface=\"eth0\"",
        "47",
    );
    has(
        &text,
        "container_fs_writes_bytes_total",
        ",device=\"/dev/sda\"",
        "2056192",
    );
    has(&text, "container_start_time_seconds", "", "1765060000.5");
    has(&text, "container_last_seen", "", "1765060100");
    assert!(
        text.contains("# TYPE container_memory_rss gauge\n"),
        "{text}"
    );
    assert!(!text.contains("interface=\"lo\""), "{text}");
}

#[test]
fn v2_sample_counts_oom_kills_and_unlimited_is_zero() {
    let mut usage = v2_usage();
    let text = render(&families(&[replica(usage.clone())], 0.0), Format::Text);
    has(&text, "container_oom_events_total", "", "1");
    has(&text, "container_cpu_usage_seconds_total", "", "1.84321");
    has(&text, "container_spec_memory_limit_bytes", "", "33554432");
    usage.memory_limit = None;
    let text = render(&families(&[replica(usage)], 0.0), Format::Text);
    has(&text, "container_spec_memory_limit_bytes", "", "0");
}

#[test]
fn no_containers_no_series() {
    assert_eq!(render(&families(&[], 0.0), Format::Text), "");
}

#[test]
fn net_dev_skips_loopback_and_headers() {
    let text = fixture("net-dev.txt").unwrap();
    assert_eq!(
        parse_net_dev(&text),
        [InterfaceIo {
            interface: "eth0".into(),
            rx_bytes: 15230,
            rx_packets: 131,
            tx_bytes: 4410,
            tx_packets: 47
        }]
    );
}
