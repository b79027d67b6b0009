use super::*;

const MIB: u64 = 1 << 20;

#[test]
fn memory_units_are_case_insensitive_binary_multiples() {
    assert_eq!(parse_memory("64m"), Ok(64 * MIB));
    assert_eq!(parse_memory("64M"), Ok(64 * MIB));
    assert_eq!(parse_memory("64mb"), Ok(64 * MIB));
    assert_eq!(parse_memory("64 MiB"), Ok(64 * MIB));
    assert_eq!(parse_memory("1g"), Ok(1 << 30));
    assert_eq!(parse_memory("1GB"), Ok(1 << 30));
    assert_eq!(parse_memory("8192k"), Ok(8 * MIB));
    assert_eq!(parse_memory("8192KB"), Ok(8 * MIB));
    assert_eq!(parse_memory("1t"), Ok(1 << 40));
    assert_eq!(parse_memory("10485760"), Ok(10 * MIB));
    assert_eq!(parse_memory("10485760b"), Ok(10 * MIB));
}

#[test]
fn memory_accepts_decimals() {
    assert_eq!(parse_memory("1.5g"), Ok(3 * (1 << 29)));
    assert_eq!(parse_memory("6.5m"), Ok(6 * MIB + MIB / 2));
}

#[test]
fn memory_rejects_garbage_with_a_helpful_message() {
    for bad in ["12q", "", "-1", "m", "1.2.3g", "abc", "1e3", "64mm"] {
        let err = parse_memory(bad).unwrap_err();
        assert!(
            matches!(err, ConvertError::InvalidMemory { .. }),
            "{bad:?} gave {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        assert!(msg.contains("64m"), "{msg}");
    }
}

#[test]
fn memory_rejects_overflow() {
    assert!(matches!(
        parse_memory("99999999999999999999t"),
        Err(ConvertError::InvalidMemory { .. })
    ));
    assert!(matches!(
        parse_memory("20000000t"),
        Err(ConvertError::InvalidMemory { .. })
    ));
}

#[test]
fn memory_enforces_docker_minimum_of_6mib() {
    assert_eq!(parse_memory("6m"), Ok(6 * MIB));
    for small in ["0", "100b", "512k", "5m", "5.9m"] {
        let err = parse_memory(small).unwrap_err();
        assert!(
            matches!(err, ConvertError::MemoryTooSmall { .. }),
            "{small:?} gave {err:?}"
        );
        assert!(err.to_string().contains("6MB"));
    }
}

#[test]
fn cpus_convert_to_quota_over_100ms_period() {
    let q = |s| parse_cpus(s, 2).map(|c| (c.period_us, c.quota_us));
    assert_eq!(q("0.5"), Ok((100_000, 50_000)));
    assert_eq!(q("2"), Ok((100_000, 200_000)));
    assert_eq!(q("1.25"), Ok((100_000, 125_000)));
    assert_eq!(q("0.1"), Ok((100_000, 10_000)));
    assert_eq!(q("0.01"), Ok((100_000, 1_000)));
    assert_eq!(q("2.0"), Ok((100_000, 200_000)));
}

#[test]
fn cpus_reject_non_numbers() {
    for bad in ["", "abc", "-1", "inf", "NaN", "1e3", "0.5.1", "1 cpu"] {
        assert_eq!(
            parse_cpus(bad, 2),
            Err(ConvertError::InvalidCpus {
                value: bad.to_string()
            }),
            "{bad:?}"
        );
    }
}

#[test]
fn cpus_reject_out_of_range_like_docker() {
    for bad in ["0", "0.0", "0.001", "2.5", "3"] {
        let err = parse_cpus(bad, 2).unwrap_err();
        assert_eq!(
            err,
            ConvertError::CpusOutOfRange {
                value: bad.to_string(),
                host_cpus: 2
            }
        );
        assert!(err
            .to_string()
            .contains("range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"));
    }
}

#[test]
fn pids_limit_follows_docker() {
    assert_eq!(parse_pids_limit("20"), Ok(Some(20)));
    assert_eq!(parse_pids_limit("0"), Ok(None));
    assert_eq!(parse_pids_limit("-1"), Ok(None));
    for bad in ["-2", "abc", "", "1.5"] {
        assert!(
            matches!(
                parse_pids_limit(bad),
                Err(ConvertError::InvalidPidsLimit { .. })
            ),
            "{bad:?}"
        );
    }
}

fn sample_limits() -> Limits {
    Limits {
        memory: Some(64 * MIB),
        cpu: Some(CpuQuota {
            period_us: 100_000,
            quota_us: 50_000,
        }),
        pids: Some(20),
        ..Limits::default()
    }
}

#[test]
fn v1_writes_map_every_limit_in_kernel_order() {
    let writes = v1_writes(&sample_limits());
    let expected = vec![
        (Controller::Memory, "memory.memsw.limit_in_bytes", "-1"),
        (Controller::Memory, "memory.limit_in_bytes", "67108864"),
        (
            Controller::Memory,
            "memory.memsw.limit_in_bytes",
            "67108864",
        ),
        (Controller::Cpu, "cpu.cfs_period_us", "100000"),
        (Controller::Cpu, "cpu.cfs_quota_us", "50000"),
        (Controller::Pids, "pids.max", "20"),
    ];
    let got: Vec<_> = writes
        .iter()
        .map(|(c, f, v)| (*c, *f, v.as_str()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn v2_writes_map_every_limit() {
    let writes = v2_writes(&sample_limits());
    let got: Vec<_> = writes.iter().map(|(f, v)| (*f, v.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("memory.max", "67108864"),
            ("memory.swap.max", "0"),
            ("cpu.max", "50000 100000"),
            ("pids.max", "20"),
        ]
    );
}

#[test]
fn no_limits_means_no_writes() {
    assert!(v1_writes(&Limits::default()).is_empty());
    assert!(v2_writes(&Limits::default()).is_empty());
}

#[test]
fn limits_round_trip_through_json() {
    let limits = sample_limits();
    let json = serde_json::to_string(&limits).unwrap();
    assert_eq!(serde_json::from_str::<Limits>(&json).unwrap(), limits);
}
