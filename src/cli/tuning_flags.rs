//! The finer resource flags `run` and `update` share, grouped so they stay
//! in one place: swap, memory reservation, cpusets, CPU shares, blkio weight.

use clap::Args;

use crate::cgroups::tuning::TuningRequest;

#[derive(Args, Debug, Default, Clone)]
pub struct TuningFlags {
    /// Memory plus swap, e.g. 128m (equal to --memory: no swap; -1: unlimited)
    #[arg(long, allow_hyphen_values = true, value_name = "SIZE")]
    pub memory_swap: Option<String>,
    /// Soft memory limit, e.g. 32m (v1 soft_limit_in_bytes, v2 memory.low)
    #[arg(long, value_name = "SIZE")]
    pub memory_reservation: Option<String>,
    /// CPUs the container may run on, e.g. 0-1 or 0,2
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use, e.g. 0
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Relative CPU weight, 2–262144 (default 1024; v2 cpu.weight is converted)
    #[arg(long, short = 'c', value_name = "SHARES")]
    pub cpu_shares: Option<String>,
    /// Relative block I/O weight, 10–1000 (needs BFQ or io.weight)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<String>,
}

impl TuningFlags {
    pub fn request(&self) -> TuningRequest {
        TuningRequest {
            memory_swap: self.memory_swap.clone(),
            memory_reservation: self.memory_reservation.clone(),
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            cpu_shares: self.cpu_shares.clone(),
            blkio_weight: self.blkio_weight.clone(),
        }
    }
}
