//! The unit properties of a container's scope, as runc's systemd driver
//! sets them: what systemd knows of the container's limits goes to systemd
//! (so `systemctl show` and a daemon-reload agree with the kernel); the
//! rest is written to cgroupfs in the delegated scope.

use super::super::convert::Limits;
use super::super::tuning::{blkio_to_io_weight, cpuset_ids, shares_to_weight, Swap};
use super::dbus::{property, Value};

/// The properties of `StartTransientUnit` for a scope holding `pid`.
pub fn scope_properties(pid: u32, slice: &str, description: &str, limits: &Limits) -> Vec<Value> {
    let mut props = vec![
        property("Description", Value::Str(description.into())),
        property("Slice", Value::Str(slice.into())),
        // rcorch writes the limits systemd has no property for itself.
        property("Delegate", Value::Bool(true)),
        property("PIDs", Value::Array("u".into(), vec![Value::U32(pid)])),
        // Not stopped before shutdown.target like a service: as runc.
        property("DefaultDependencies", Value::Bool(false)),
        // So systemd enables memory, cpu, io and pids in the slice.
        property("MemoryAccounting", Value::Bool(true)),
        property("CPUAccounting", Value::Bool(true)),
        property("IOAccounting", Value::Bool(true)),
        property("TasksAccounting", Value::Bool(true)),
    ];
    props.extend(limit_properties(limits));
    props
}

/// The limits systemd has properties for (`SetUnitProperties` on `update`).
pub fn limit_properties(limits: &Limits) -> Vec<Value> {
    let mut props = Vec::new();
    let mut set = |name: &str, v: Value| props.push(property(name, v));
    if let Some(bytes) = limits.memory {
        set("MemoryMax", Value::U64(bytes));
        // memory.swap.max counts swap alone; u64::MAX is systemd's "infinity".
        let swap = match limits.memory_swap {
            Some(Swap::Unlimited) => u64::MAX,
            Some(Swap::Total(total)) => total.saturating_sub(bytes),
            None => 0,
        };
        set("MemorySwapMax", Value::U64(swap));
    }
    if let Some(bytes) = limits.memory_reservation {
        set("MemoryLow", Value::U64(bytes));
    }
    if let Some(cpu) = limits.cpu.filter(|c| c.period_us > 0) {
        set("CPUQuotaPeriodUSec", Value::U64(cpu.period_us));
        // systemd's quota is per second of wall time: scale to it, rounding
        // up to the 10 ms systemd counts in, as runc does.
        let per_sec = cpu.quota_us * 1_000_000 / cpu.period_us;
        set(
            "CPUQuotaPerSecUSec",
            Value::U64(per_sec.div_ceil(10_000) * 10_000),
        );
    }
    if let Some(shares) = limits.cpu_shares {
        set("CPUWeight", Value::U64(shares_to_weight(shares)));
    }
    if let Some(pids) = limits.pids {
        set("TasksMax", Value::U64(pids));
    }
    if let Some(mask) = limits.cpuset_cpus.as_deref().and_then(cpu_mask) {
        set("AllowedCPUs", Value::Array("y".into(), mask));
    }
    if let Some(mask) = limits.cpuset_mems.as_deref().and_then(cpu_mask) {
        set("AllowedMemoryNodes", Value::Array("y".into(), mask));
    }
    if let Some(weight) = limits.blkio_weight {
        set("IOWeight", Value::U64(blkio_to_io_weight(weight)));
    }
    props
}

/// A cpuset list ("0-2,5") as systemd's byte mask (bit n of byte n/8).
fn cpu_mask(list: &str) -> Option<Vec<Value>> {
    let ids = cpuset_ids(list)?;
    let len = ids.iter().max().map_or(0, |m| *m as usize / 8 + 1);
    let mut bytes = vec![0u8; len];
    for id in ids {
        bytes[id as usize / 8] |= 1 << (id % 8);
    }
    Some(bytes.into_iter().map(Value::Byte).collect())
}

#[cfg(test)]
#[path = "props_tests.rs"]
mod tests;
