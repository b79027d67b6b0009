use super::*;
use crate::cgroups::convert::CpuQuota;

fn find<'a>(props: &'a [Value], name: &str) -> Option<&'a Value> {
    props.iter().find_map(|p| match p {
        Value::Struct(f) if f[0] == Value::Str(name.into()) => match &f[1] {
            Value::Variant(v) => Some(v.as_ref()),
            _ => None,
        },
        _ => None,
    })
}

#[test]
fn a_scope_is_delegated_and_holds_the_pid() {
    let props = scope_properties(42, "rcorch.slice", "rcorch container x", &Limits::default());
    assert_eq!(
        find(&props, "Slice"),
        Some(&Value::Str("rcorch.slice".into()))
    );
    assert_eq!(find(&props, "Delegate"), Some(&Value::Bool(true)));
    assert_eq!(
        find(&props, "PIDs"),
        Some(&Value::Array("u".into(), vec![Value::U32(42)]))
    );
    assert!(find(&props, "Description").is_some());
    // No limits asked for: none set.
    assert_eq!(find(&props, "MemoryMax"), None);
    assert_eq!(find(&props, "TasksMax"), None);
}

#[test]
fn limits_map_to_the_properties_runc_sets() {
    let limits = Limits {
        memory: Some(64 << 20),
        memory_swap: Some(Swap::Total(96 << 20)),
        memory_reservation: Some(32 << 20),
        cpu: Some(CpuQuota {
            period_us: 100_000,
            quota_us: 50_000,
        }),
        cpu_shares: Some(1024),
        pids: Some(20),
        cpuset_cpus: Some("0,2-3,9".into()),
        blkio_weight: Some(500),
        ..Limits::default()
    };
    let props = limit_properties(&limits);
    assert_eq!(find(&props, "MemoryMax"), Some(&Value::U64(64 << 20)));
    assert_eq!(find(&props, "MemorySwapMax"), Some(&Value::U64(32 << 20)));
    assert_eq!(find(&props, "MemoryLow"), Some(&Value::U64(32 << 20)));
    // 0.5 CPU: half a second of CPU time per second.
    assert_eq!(
        find(&props, "CPUQuotaPerSecUSec"),
        Some(&Value::U64(500_000))
    );
    assert_eq!(
        find(&props, "CPUQuotaPeriodUSec"),
        Some(&Value::U64(100_000))
    );
    assert_eq!(find(&props, "CPUWeight"), Some(&Value::U64(100)));
    assert_eq!(find(&props, "TasksMax"), Some(&Value::U64(20)));
    assert_eq!(
        find(&props, "IOWeight"),
        Some(&Value::U64(blkio_to_io_weight(500)))
    );
    let mask = vec![Value::Byte(0b0000_1101), Value::Byte(0b0000_0010)];
    assert_eq!(
        find(&props, "AllowedCPUs"),
        Some(&Value::Array("y".into(), mask))
    );
}

#[test]
fn swap_follows_dockers_rules() {
    let memory_only = Limits {
        memory: Some(1 << 20),
        ..Limits::default()
    };
    let props = limit_properties(&memory_only);
    assert_eq!(
        find(&props, "MemorySwapMax"),
        Some(&Value::U64(0)),
        "no swap"
    );
    let unlimited = Limits {
        memory_swap: Some(Swap::Unlimited),
        ..memory_only
    };
    let props = limit_properties(&unlimited);
    assert_eq!(find(&props, "MemorySwapMax"), Some(&Value::U64(u64::MAX)));
}

#[test]
fn small_quotas_round_up_to_systemds_10ms_unit() {
    let limits = Limits {
        cpu: Some(CpuQuota {
            period_us: 100_000,
            quota_us: 1_234,
        }),
        ..Limits::default()
    };
    let props = limit_properties(&limits);
    assert_eq!(
        find(&props, "CPUQuotaPerSecUSec"),
        Some(&Value::U64(20_000))
    );
}
