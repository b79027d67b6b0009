use super::*;
use crate::cgroups::convert::{v1_writes, v2_writes};
use crate::cgroups::Controller;

const MIB: u64 = 1 << 20;

fn request(f: impl FnOnce(&mut TuningRequest)) -> TuningRequest {
    let mut r = TuningRequest::default();
    f(&mut r);
    r
}

fn limits_of(memory: Option<u64>, req: &TuningRequest) -> Result<Limits, ConvertError> {
    let mut limits = Limits {
        memory,
        ..Limits::default()
    };
    apply_request(req, &mut limits, 2).map(|()| limits)
}

#[test]
fn swap_follows_docker_semantics() {
    assert_eq!(parse_swap("-1"), Ok(Some(Swap::Unlimited)));
    assert_eq!(parse_swap("0"), Ok(None));
    assert_eq!(parse_swap("128m"), Ok(Some(Swap::Total(128 * MIB))));
    let e = parse_swap("lots").unwrap_err().to_string();
    assert!(e.contains("--memory-swap") && e.contains("lots"), "{e}");
}

#[test]
fn swap_needs_a_memory_limit_at_least_as_large() {
    let swap = request(|r| r.memory_swap = Some("64m".into()));
    assert_eq!(limits_of(None, &swap), Err(ConvertError::SwapWithoutMemory));
    let e = limits_of(Some(128 * MIB), &swap).unwrap_err();
    assert!(matches!(e, ConvertError::SwapBelowMemory { .. }), "{e}");
    let ok = limits_of(Some(64 * MIB), &swap).unwrap();
    assert_eq!(ok.memory_swap, Some(Swap::Total(64 * MIB)));
}

#[test]
fn a_reservation_above_the_limit_is_refused() {
    let r = request(|r| r.memory_reservation = Some("128m".into()));
    let e = limits_of(Some(64 * MIB), &r).unwrap_err();
    assert!(e.to_string().contains("--memory-reservation"), "{e}");
    assert_eq!(
        limits_of(None, &r).unwrap().memory_reservation,
        Some(128 * MIB)
    );
    let tiny = request(|r| r.memory_reservation = Some("1k".into()));
    assert!(limits_of(None, &tiny).is_err());
}

#[test]
fn cpusets_parse_lists_and_ranges_within_the_host() {
    assert_eq!(cpuset_ids("0-2,4"), Some(vec![0, 1, 2, 4]));
    assert_eq!(cpuset_ids("1"), Some(vec![1]));
    for bad in ["", "a", "2-1", "0,", "-1", "0-"] {
        assert_eq!(cpuset_ids(bad), None, "{bad:?}");
    }
    assert_eq!(
        parse_cpuset("0-1", "cpuset-cpus", Some(2)),
        Ok("0-1".into())
    );
    let e = parse_cpuset("0-3", "cpuset-cpus", Some(2)).unwrap_err();
    assert!(e.to_string().contains("available: 0-1"), "{e}");
    // Memory nodes are not bounded here (the kernel checks them).
    assert!(parse_cpuset("3", "cpuset-mems", None).is_ok());
}

#[test]
fn cpu_shares_and_blkio_weight_have_dockers_ranges() {
    assert_eq!(parse_cpu_shares("512"), Ok(Some(512)));
    assert_eq!(parse_cpu_shares("0"), Ok(None));
    for bad in ["1", "262145", "x", "-5"] {
        assert!(parse_cpu_shares(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_blkio_weight("300"), Ok(Some(300)));
    assert_eq!(parse_blkio_weight("0"), Ok(None));
    for bad in ["9", "1001", "x"] {
        let e = parse_blkio_weight(bad).unwrap_err().to_string();
        assert!(e.contains("--blkio-weight"), "{e}");
    }
}

#[test]
fn shares_map_to_weights_like_runc_and_crun() {
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 100);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(shares_to_weight(512), 59);
    assert_eq!(shares_to_weight(2048), 174);
    let mut last = 0;
    for shares in [2, 10, 100, 1000, 10_000, 100_000, 262_144] {
        let w = shares_to_weight(shares);
        assert!(w >= last && (1..=10_000).contains(&w), "{shares} → {w}");
        last = w;
    }
}

#[test]
fn blkio_weights_map_to_io_weights() {
    assert_eq!(blkio_to_io_weight(10), 1);
    assert_eq!(blkio_to_io_weight(1000), 10_000);
    assert_eq!(blkio_to_io_weight(500), 4950);
    assert_eq!(
        v2_blkio_choices(500)[1],
        ("io.weight", "default 4950".into())
    );
    assert_eq!(v1_blkio_choices(500)[0], ("blkio.weight", "500".into()));
}

fn tuned() -> Limits {
    Limits {
        memory: Some(64 * MIB),
        memory_swap: Some(Swap::Total(96 * MIB)),
        memory_reservation: Some(32 * MIB),
        cpu_shares: Some(512),
        cpuset_cpus: Some("0".into()),
        cpuset_mems: Some("0".into()),
        ..Limits::default()
    }
}

#[test]
fn v1_writes_swap_reservation_shares_and_cpusets() {
    let got = v1_writes(&tuned());
    let s = |c, f: &'static str, v: &str| (c, f, v.to_string());
    assert_eq!(
        got,
        vec![
            s(Controller::Memory, "memory.memsw.limit_in_bytes", "-1"),
            s(Controller::Memory, "memory.limit_in_bytes", "67108864"),
            s(
                Controller::Memory,
                "memory.memsw.limit_in_bytes",
                "100663296"
            ),
            s(Controller::Memory, "memory.soft_limit_in_bytes", "33554432"),
            s(Controller::Cpu, "cpu.shares", "512"),
            s(Controller::Cpuset, "cpuset.cpus", "0"),
            s(Controller::Cpuset, "cpuset.mems", "0"),
        ]
    );
}

#[test]
fn v2_writes_swap_as_swap_only() {
    let got = v2_writes(&tuned());
    let s = |f: &'static str, v: &str| (f, v.to_string());
    assert_eq!(
        got,
        vec![
            s("memory.max", "67108864"),
            s("memory.swap.max", "33554432"),
            s("memory.low", "33554432"),
            s("cpu.weight", "59"),
            s("cpuset.cpus", "0"),
            s("cpuset.mems", "0"),
        ]
    );
    let unlimited = Limits {
        memory_swap: Some(Swap::Unlimited),
        ..tuned()
    };
    assert!(v2_writes(&unlimited).contains(&s("memory.swap.max", "max")));
}

#[test]
fn old_records_without_the_finer_limits_still_load() {
    let old = r#"{"memory":1048576000,"cpu":null,"pids":20}"#;
    let limits: Limits = serde_json::from_str(old).unwrap();
    assert_eq!(limits.pids, Some(20));
    assert_eq!(limits.memory_swap, None);
    let json = serde_json::to_string(&tuned()).unwrap();
    assert_eq!(serde_json::from_str::<Limits>(&json).unwrap(), tuned());
}
