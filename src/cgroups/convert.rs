//! Pure conversions from user-facing limit strings (Docker semantics) to
//! cgroup values, and the mapping of those values onto cgroupfs files.

use serde::{Deserialize, Serialize};

use super::tuning::{shares_to_weight, Swap};
use super::Controller;

/// Docker refuses memory limits below 6 MiB; so do we.
pub const MIN_MEMORY_BYTES: u64 = 6 * 1024 * 1024;

/// CFS period used for `--cpus`, as Docker does (100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;

/// Errors from parsing user-facing limit strings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    /// The memory size is not a number with a known unit.
    #[error(
        "invalid memory size {value:?}: expected a positive number with an optional unit \
         b, k, m, g or t (e.g. \"64m\", \"1.5g\", \"512k\")"
    )]
    InvalidMemory { value: String },
    /// The memory size parses but is below Docker's minimum.
    #[error(
        "memory limit {value:?} ({bytes} bytes) is too small: minimum memory limit allowed \
         is 6MB (e.g. \"64m\")"
    )]
    MemoryTooSmall { value: String, bytes: u64 },
    /// The CPU count is not a positive decimal.
    #[error("invalid CPU count {value:?}: expected a positive decimal such as \"0.5\" or \"2\"")]
    InvalidCpus { value: String },
    /// The CPU count is outside what the host can provide.
    #[error(
        "invalid CPU count {value:?}: range of CPUs is from 0.01 to {host_cpus}.00, \
         as there are only {host_cpus} CPUs available"
    )]
    CpusOutOfRange { value: String, host_cpus: usize },
    /// The pids limit is not an integer.
    #[error(
        "invalid pids limit {value:?}: expected a positive integer such as \"100\", \
         or 0 / -1 for unlimited"
    )]
    InvalidPidsLimit { value: String },
    /// A finer limit flag (`--memory-swap`, `--cpu-shares`, …) does not parse.
    #[error("invalid --{flag} {value:?}: expected {expected}")]
    InvalidFlag {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "--memory-swap needs --memory: the swap limit is memory plus swap, so set the \
         memory limit too (e.g. --memory 64m --memory-swap 128m)"
    )]
    SwapWithoutMemory,
    #[error(
        "--memory-swap ({total} bytes) is below --memory ({memory} bytes): it counts memory \
         plus swap, so it must be at least the memory limit (equal: no swap, -1: unlimited)"
    )]
    SwapBelowMemory { memory: u64, total: u64 },
    #[error(
        "--memory-reservation ({reservation} bytes) is above --memory ({memory} bytes): \
         the memory limit cannot be less than the reservation"
    )]
    ReservationAboveMemory { memory: u64, reservation: u64 },
    #[error(
        "invalid --cpuset-cpus {value:?}: requested CPUs are not available, available: {available}"
    )]
    CpusetUnavailable { value: String, available: String },
}

/// A CFS bandwidth limit: `quota_us` of CPU time per `period_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuQuota {
    pub period_us: u64,
    pub quota_us: u64,
}

/// The resource limits of one container; `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory limit in bytes (swap is limited to the same, i.e. no swap).
    pub memory: Option<u64>,
    pub cpu: Option<CpuQuota>,
    pub pids: Option<u64>,
    /// Memory plus swap; None with a memory limit means no swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<Swap>,
    /// Soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low), bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
    /// v1 cpu.shares (v2 cpu.weight is converted from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_mems: Option<String>,
    /// Docker's block I/O weight, 10–1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<u16>,
}

/// Parses a Docker-style memory size ("64m", "1.5g", "1024") into bytes.
pub fn parse_memory(s: &str) -> Result<u64, ConvertError> {
    let invalid = || ConvertError::InvalidMemory {
        value: s.to_string(),
    };
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let multiplier: u64 = match unit.trim_start() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(invalid()),
    };
    let bytes = if number.contains('.') {
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let bytes = value * multiplier as f64;
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(invalid());
        }
        bytes as u64
    } else {
        let value: u64 = number.parse().map_err(|_| invalid())?;
        value.checked_mul(multiplier).ok_or_else(invalid)?
    };
    if bytes < MIN_MEMORY_BYTES {
        return Err(ConvertError::MemoryTooSmall {
            value: s.to_string(),
            bytes,
        });
    }
    Ok(bytes)
}

/// Parses a Docker-style `--cpus` value into a CFS quota over a 100 ms period.
pub fn parse_cpus(s: &str, host_cpus: usize) -> Result<CpuQuota, ConvertError> {
    let trimmed = s.trim();
    // Only plain decimals: f64's parser would also accept "inf", "nan" and "1e3".
    let plain = !trimmed.is_empty()
        && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.')
        && trimmed.matches('.').count() <= 1;
    let value: f64 = match trimmed.parse() {
        Ok(v) if plain => v,
        _ => {
            return Err(ConvertError::InvalidCpus {
                value: s.to_string(),
            })
        }
    };
    // Docker works in nano-CPUs; round there so "0.1" is exactly 10000 µs.
    let nano_cpus = (value * 1e9).round();
    if nano_cpus < 1e7 || nano_cpus > host_cpus as f64 * 1e9 {
        return Err(ConvertError::CpusOutOfRange {
            value: s.to_string(),
            host_cpus,
        });
    }
    let quota_us = (nano_cpus as u64) * CPU_PERIOD_US / 1_000_000_000;
    Ok(CpuQuota {
        period_us: CPU_PERIOD_US,
        quota_us,
    })
}

/// Parses a Docker-style `--pids-limit`: positive → limit, 0 or -1 → unlimited.
pub fn parse_pids_limit(s: &str) -> Result<Option<u64>, ConvertError> {
    let value: i64 = s
        .trim()
        .parse()
        .map_err(|_| ConvertError::InvalidPidsLimit {
            value: s.to_string(),
        })?;
    match value {
        -1 | 0 => Ok(None),
        v if v > 0 => Ok(Some(v as u64)),
        _ => Err(ConvertError::InvalidPidsLimit {
            value: s.to_string(),
        }),
    }
}

/// cgroup v1 files to write, in order, for `limits` (the blkio weight,
/// whose file depends on the I/O scheduler, is `tuning::v1_blkio_choices`).
///
/// The kernel requires `memsw >= limit` at every step: memsw is lifted first
/// (so a raised limit is accepted on update), then the limit, then memsw
/// (equal to the limit without `--memory-swap`: no swap).
pub fn v1_writes(limits: &Limits) -> Vec<(Controller, &'static str, String)> {
    let mut writes = Vec::new();
    let mut push = |c: Controller, file: &'static str, value: String| writes.push((c, file, value));
    if let Some(bytes) = limits.memory {
        let memsw = match limits.memory_swap {
            Some(Swap::Unlimited) => "-1".to_string(),
            Some(Swap::Total(total)) => total.to_string(),
            None => bytes.to_string(),
        };
        push(Controller::Memory, MEMSW, "-1".to_string());
        push(
            Controller::Memory,
            "memory.limit_in_bytes",
            bytes.to_string(),
        );
        push(Controller::Memory, MEMSW, memsw);
    }
    if let Some(bytes) = limits.memory_reservation {
        push(
            Controller::Memory,
            "memory.soft_limit_in_bytes",
            bytes.to_string(),
        );
    }
    if let Some(cpu) = limits.cpu {
        push(
            Controller::Cpu,
            "cpu.cfs_period_us",
            cpu.period_us.to_string(),
        );
        push(
            Controller::Cpu,
            "cpu.cfs_quota_us",
            cpu.quota_us.to_string(),
        );
    }
    if let Some(shares) = limits.cpu_shares {
        push(Controller::Cpu, "cpu.shares", shares.to_string());
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        push(Controller::Cpuset, "cpuset.cpus", cpus.clone());
    }
    if let Some(mems) = &limits.cpuset_mems {
        push(Controller::Cpuset, "cpuset.mems", mems.clone());
    }
    if let Some(pids) = limits.pids {
        push(Controller::Pids, "pids.max", pids.to_string());
    }
    writes
}

const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// cgroup v2 files to write, in order, for `limits` (the io weight is
/// `tuning::v2_blkio_choices`).
pub fn v2_writes(limits: &Limits) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    if let Some(bytes) = limits.memory {
        writes.push(("memory.max", bytes.to_string()));
        // memory.swap.max counts swap only (unlike v1 memsw): 0 means no swap.
        let swap = match limits.memory_swap {
            Some(Swap::Unlimited) => "max".to_string(),
            Some(Swap::Total(total)) => total.saturating_sub(bytes).to_string(),
            None => "0".to_string(),
        };
        writes.push(("memory.swap.max", swap));
    }
    if let Some(bytes) = limits.memory_reservation {
        writes.push(("memory.low", bytes.to_string()));
    }
    if let Some(cpu) = limits.cpu {
        writes.push(("cpu.max", format!("{} {}", cpu.quota_us, cpu.period_us)));
    }
    if let Some(shares) = limits.cpu_shares {
        writes.push(("cpu.weight", shares_to_weight(shares).to_string()));
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        writes.push(("cpuset.cpus", cpus.clone()));
    }
    if let Some(mems) = &limits.cpuset_mems {
        writes.push(("cpuset.mems", mems.clone()));
    }
    if let Some(pids) = limits.pids {
        writes.push(("pids.max", pids.to_string()));
    }
    writes
}

/// Files that may legitimately be absent (no swap accounting on the host).
pub const OPTIONAL_FILES: &[&str] = &["memory.memsw.limit_in_bytes", "memory.swap.max"];

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
