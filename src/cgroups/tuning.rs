//! The finer limits beyond memory, cpus and pids — swap, memory reservation,
//! cpusets, CPU shares and the block I/O weight — parsed with Docker's rules
//! and mapped to cgroup values. Pure: the managers write what these return.

use serde::{Deserialize, Serialize};

use super::convert::{parse_memory, ConvertError, Limits};

/// `--memory-swap` as Docker reads it: the total of memory and swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Swap {
    /// `-1`: swap as much as the host has.
    Unlimited,
    /// Memory plus swap, in bytes (equal to the memory limit: no swap).
    Total(u64),
}

/// The finer limits as the user wrote them (`run`/`update` flags, compose keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TuningRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_mems: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<String>,
}

impl TuningRequest {
    pub fn is_empty(&self) -> bool {
        *self == TuningRequest::default()
    }
}

/// Docker's range for `--cpu-shares` (the kernel's for cpu.shares).
pub const CPU_SHARES_RANGE: (u64, u64) = (2, 262_144);
/// Docker's range for `--blkio-weight` (cgroup v1 blkio.weight).
pub const BLKIO_WEIGHT_RANGE: (u16, u16) = (10, 1000);

/// Parses `req` into `limits` (whose memory limit is already set) and checks
/// the combinations Docker refuses. `host_cpus` bounds `--cpuset-cpus`.
pub fn apply_request(
    req: &TuningRequest,
    limits: &mut Limits,
    host_cpus: usize,
) -> Result<(), ConvertError> {
    if let Some(s) = &req.memory_swap {
        limits.memory_swap = parse_swap(s)?;
    }
    if let Some(s) = &req.memory_reservation {
        limits.memory_reservation = Some(parse_memory(s).map_err(|_| {
            flag(
                "memory-reservation",
                s,
                "a memory size of at least 6m (e.g. \"64m\")",
            )
        })?);
    }
    if let Some(s) = &req.cpuset_cpus {
        limits.cpuset_cpus = Some(parse_cpuset(s, "cpuset-cpus", Some(host_cpus))?);
    }
    if let Some(s) = &req.cpuset_mems {
        limits.cpuset_mems = Some(parse_cpuset(s, "cpuset-mems", None)?);
    }
    if let Some(s) = &req.cpu_shares {
        limits.cpu_shares = parse_cpu_shares(s)?;
    }
    if let Some(s) = &req.blkio_weight {
        limits.blkio_weight = parse_blkio_weight(s)?;
    }
    check_memory(limits)
}

fn flag(flag: &'static str, value: &str, expected: &'static str) -> ConvertError {
    ConvertError::InvalidFlag {
        flag,
        value: value.to_string(),
        expected,
    }
}

/// `-1`: unlimited; `0`: unset (as Docker); else a size.
pub fn parse_swap(s: &str) -> Result<Option<Swap>, ConvertError> {
    match s.trim() {
        "-1" => Ok(Some(Swap::Unlimited)),
        "0" => Ok(None),
        v => parse_memory(v).map(|b| Some(Swap::Total(b))).map_err(|_| {
            flag(
                "memory-swap",
                s,
                "-1 (unlimited swap) or a size of memory plus swap such as \"128m\"",
            )
        }),
    }
}

/// Docker's rules between the memory limit, swap and the reservation.
pub fn check_memory(limits: &Limits) -> Result<(), ConvertError> {
    match (limits.memory, limits.memory_swap) {
        (None, Some(_)) => return Err(ConvertError::SwapWithoutMemory),
        (Some(memory), Some(Swap::Total(total))) if total < memory => {
            return Err(ConvertError::SwapBelowMemory { memory, total })
        }
        _ => {}
    }
    match (limits.memory, limits.memory_reservation) {
        (Some(memory), Some(reservation)) if reservation > memory => {
            Err(ConvertError::ReservationAboveMemory {
                memory,
                reservation,
            })
        }
        _ => Ok(()),
    }
}

/// A cpuset list such as "0-2,4", checked against `host` CPUs when given.
pub fn parse_cpuset(
    s: &str,
    flag_name: &'static str,
    host: Option<usize>,
) -> Result<String, ConvertError> {
    let bad = || {
        flag(
            flag_name,
            s,
            "a list of numbers and ranges such as \"0-2,4\"",
        )
    };
    let ids = cpuset_ids(s).ok_or_else(bad)?;
    if let (Some(host), Some(max)) = (host, ids.iter().max()) {
        if *max as usize >= host {
            return Err(ConvertError::CpusetUnavailable {
                value: s.to_string(),
                available: format!("0-{}", host.saturating_sub(1)),
            });
        }
    }
    Ok(s.trim().to_string())
}

/// The numbers a cpuset list names; None if it does not parse.
pub fn cpuset_ids(s: &str) -> Option<Vec<u32>> {
    let mut ids = Vec::new();
    for part in s.trim().split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo.parse::<u32>().ok()?, hi.parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        if lo > hi || hi - lo > 4096 {
            return None;
        }
        ids.extend(lo..=hi);
    }
    Some(ids)
}

/// `--cpu-shares`: 0 means the default (unset), else 2..=262144.
pub fn parse_cpu_shares(s: &str) -> Result<Option<u64>, ConvertError> {
    let (lo, hi) = CPU_SHARES_RANGE;
    match s.trim().parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
        _ => Err(flag(
            "cpu-shares",
            s,
            "a relative weight from 2 to 262144 (1024 is the default)",
        )),
    }
}

/// `--blkio-weight`: 0 means unset, else 10..=1000.
pub fn parse_blkio_weight(s: &str) -> Result<Option<u16>, ConvertError> {
    let (lo, hi) = BLKIO_WEIGHT_RANGE;
    match s.trim().parse::<u16>() {
        Ok(0) => Ok(None),
        Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
        _ => Err(flag(
            "blkio-weight",
            s,
            "a weight from 10 to 1000 (0: unset)",
        )),
    }
}

/// cgroup v1 cpu.shares → cgroup v2 cpu.weight, with the mapping runc
/// (opencontainers/cgroups) and crun use since 2025: a quadratic in log2
/// that keeps the defaults aligned (2 → 1, 1024 → 100, 262144 → 10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= CPU_SHARES_RANGE.1 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    (10f64.powf(exponent).ceil() as u64).clamp(1, 10_000)
}

/// Docker's blkio weight (10–1000) → cgroup v2 io.weight (1–10000), as runc.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

/// The v1 files (first existing wins) that take a blkio weight.
pub fn v1_blkio_choices(weight: u16) -> Vec<(&'static str, String)> {
    vec![
        ("blkio.weight", weight.to_string()),
        ("blkio.bfq.weight", weight.to_string()),
    ]
}

/// The v2 files (first existing wins): BFQ takes the weight as is.
pub fn v2_blkio_choices(weight: u16) -> Vec<(&'static str, String)> {
    vec![
        ("io.bfq.weight", weight.to_string()),
        (
            "io.weight",
            format!("default {}", blkio_to_io_weight(weight)),
        ),
    ]
}

#[cfg(test)]
#[path = "tuning_tests.rs"]
mod tests;
