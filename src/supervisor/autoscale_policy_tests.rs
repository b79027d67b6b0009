use super::*;
use crate::supervisor::autoscale::{decide, AutoscaleHistory};

fn policy() -> AutoscalePolicy {
    AutoscalePolicy {
        min_replicas: 1,
        max_replicas: 3,
        target_cpu: Some(0.2),
        target_connections: None,
        scale_down_window: Duration::from_secs(3),
        interval: Duration::from_secs(1),
    }
}

fn at(ms: u64, usage_ns: u64) -> CpuSample {
    CpuSample {
        at: Time::from_millis(ms),
        usage_ns,
    }
}

fn cpu(values: &[f64]) -> Measurements {
    Measurements {
        cpu: values.to_vec(),
        connections: Vec::new(),
    }
}

#[test]
fn cpu_rate_is_counter_delta_over_wall_time() {
    // Recorded from a busy loop's cpuacct.usage, one second apart.
    let (a, b) = (at(10_000, 41_523_871_002), at(11_000, 42_513_002_117));
    let rate = cpu_rate(a, b).unwrap();
    assert!((rate - 0.989).abs() < 0.001, "{rate}");
    assert_eq!(cpu_rate(at(0, 0), at(5_000, 2_500_000_000)), Some(0.5));
    assert_eq!(cpu_rate(a, a), None, "no time passed");
    assert_eq!(cpu_rate(b, a), None, "clock went back");
    assert_eq!(cpu_rate(at(0, 9), at(1_000, 5)), None, "counter went back");
}

#[test]
fn usage_ratio_fills_missing_replicas_like_the_hpa() {
    assert_eq!(usage_ratio(&[0.5, 0.25], 2, 0.25), Some(1.5));
    assert_eq!(usage_ratio(&[], 2, 0.25), None);
    // Asking for more: the replica without a value counts as idle.
    assert_eq!(usage_ratio(&[1.0], 2, 0.25), Some(2.0));
    // Asking for fewer: it counts as on target.
    assert_eq!(usage_ratio(&[0.0], 2, 0.25), Some(0.5));
    // Filling flips "more" into "fewer": no change.
    assert_eq!(usage_ratio(&[0.375], 4, 0.25), Some(1.0));
    // More values than replicas (a stopping one): plain average.
    assert_eq!(usage_ratio(&[0.5, 0.5], 1, 0.25), Some(2.0));
}

#[test]
fn the_largest_metric_ratio_wins() {
    let mut p = policy();
    p.target_connections = Some(10.0);
    let m = Measurements {
        cpu: vec![0.1],
        connections: vec![30.0],
    };
    assert_eq!(combined_ratio(&p, &m, 1), Some(3.0));
    let m = Measurements {
        cpu: vec![0.1],
        connections: Vec::new(),
    };
    assert_eq!(combined_ratio(&p, &m, 1), Some(0.5));
    assert_eq!(combined_ratio(&p, &Measurements::default(), 1), None);
    p.target_cpu = None;
    assert_eq!(combined_ratio(&p, &cpu(&[0.9]), 1), None);
}

#[test]
fn busy_then_idle_scales_up_at_once_and_down_after_the_window() {
    let p = policy();
    let spec = p.spec();
    let step = |h: &AutoscaleHistory, current, m: &Measurements, s| {
        decide(
            &spec,
            h,
            current,
            combined_ratio(&p, m, current),
            Time::from_secs(s),
        )
    };
    let h = AutoscaleHistory::default();
    // First sampling has no rates: bounds only.
    let (h, n) = step(&h, 1, &Measurements::default(), 0);
    assert_eq!(n, 1);
    // One replica burning a whole CPU against 20%: up to max at once.
    let (h, n) = step(&h, 1, &cpu(&[0.99]), 1);
    assert_eq!(n, 3);
    // Two cores shared by three: still above target, stays at max.
    let (h, n) = step(&h, 3, &cpu(&[0.66, 0.67, 0.65]), 2);
    assert_eq!(n, 3);
    // Idle: held while the window remembers the busy recommendations.
    let (h, n) = step(&h, 3, &cpu(&[0.0, 0.0, 0.0]), 3);
    assert_eq!(n, 3);
    let (h, n) = step(&h, 3, &cpu(&[0.0, 0.0, 0.0]), 4);
    assert_eq!(n, 3);
    let (_, n) = step(&h, 3, &cpu(&[0.0, 0.0, 0.0]), 6);
    assert_eq!(n, 1, "down to min once the window passed");
}

#[test]
fn bounds_apply_without_measurements() {
    let p = policy();
    let h = AutoscaleHistory::default();
    assert_eq!(decide(&p.spec(), &h, 7, None, Time::ZERO).1, 3);
    assert_eq!(decide(&p.spec(), &h, 0, None, Time::ZERO).1, 1);
    assert_eq!((p.clamp(0), p.clamp(2), p.clamp(9)), (1, 2, 3));
}

#[test]
fn reasons_show_measurement_and_target() {
    let mut p = policy();
    assert_eq!(
        describe(&p, &cpu(&[0.9, 0.5]), 2, 3),
        "2 -> 3 replicas, cpu 70% (target 20%)"
    );
    assert_eq!(
        describe(&p, &Measurements::default(), 5, 3),
        "5 -> 3 replicas, bounds 1..3"
    );
    p.target_connections = Some(50.0);
    let m = Measurements {
        cpu: Vec::new(),
        connections: vec![120.0, 80.0],
    };
    assert_eq!(
        describe(&p, &m, 2, 4),
        "2 -> 4 replicas, connections 100.0 (target 50)"
    );
}

/// A replica's /proc/PID/net/tcp: a listener on 8080, two accepted
/// connections on it, one outgoing connection to port 5432, one closing.
const NET_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0200110A:1F90 0100110A:C350 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 0000000000000000 20 4 30 10 -1
   2: 0200110A:1F90 0100110A:C352 01 00000000:00000000 00:00000000 00000000     0        0 31339 1 0000000000000000 20 4 30 10 -1
   3: 0200110A:9C40 0300110A:1538 01 00000000:00000000 00:00000000 00000000     0        0 31340 1 0000000000000000 20 4 30 10 -1
   4: 0200110A:1F90 0100110A:C354 06 00000000:00000000 03:00000F2A 00000000     0        0 0 3 0000000000000000
";

const NET_TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000200110A:1F90 0000000000000000FFFF00000100110A:C360 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1
";

#[test]
fn established_connections_count_on_served_ports() {
    assert_eq!(established_connections(NET_TCP, &[8080]), 2);
    assert_eq!(established_connections(NET_TCP, &[]), 3);
    assert_eq!(established_connections(NET_TCP, &[80]), 0);
    assert_eq!(established_connections(NET_TCP6, &[8080]), 1);
    assert_eq!(established_connections("", &[]), 0);
}
