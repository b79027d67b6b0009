//! CPU placement for replicas that ask for whole CPUs
//! (`x-rcorch-cpu-placement: spread`): each gets a cpuset of that many
//! CPUs, chosen where the fewest other pinned containers run, spread over
//! NUMA nodes and physical cores before SMT siblings share one, as
//! Kubernetes' static CPU manager takes whole cores. Pure: the host's
//! topology and the cpusets in use are plain data.

use std::collections::BTreeSet;

/// One logical CPU as sysfs describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpu {
    pub id: u32,
    /// Physical core (`topology/core_id` within its package).
    pub core: (u32, u32),
    /// NUMA node (`node*` under the CPU's sysfs directory; 0 without NUMA).
    pub node: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error(
        "x-rcorch-cpu-placement: {want} whole CPUs asked, but only {allowed} are allowed here \
         ({list}); lower deploy.resources.reservations.cpus"
    )]
    TooMany {
        want: usize,
        allowed: usize,
        list: String,
    },
}

/// `want` CPUs of `allowed` for a new replica, given the cpusets other
/// containers are pinned to. Each pick takes the CPU whose own, core's and
/// node's load (pinned containers there, plus this replica's picks so far)
/// is lowest, lowest id first: so replicas land on separate CPUs while there
/// are free ones, and one replica's CPUs spread over cores and nodes.
pub fn place(
    allowed: &[Cpu],
    in_use: &[BTreeSet<u32>],
    want: usize,
) -> Result<BTreeSet<u32>, PlacementError> {
    if want > allowed.len() {
        let ids: BTreeSet<u32> = allowed.iter().map(|c| c.id).collect();
        return Err(PlacementError::TooMany {
            want,
            allowed: allowed.len(),
            list: format_list(&ids),
        });
    }
    let mut chosen: BTreeSet<u32> = BTreeSet::new();
    // A CPU's load: the pinned containers on it, and this replica's pick.
    let load = |id: u32, chosen: &BTreeSet<u32>| {
        in_use.iter().filter(|set| set.contains(&id)).count() + usize::from(chosen.contains(&id))
    };
    let sum = |filter: &dyn Fn(&Cpu) -> bool, chosen: &BTreeSet<u32>| -> usize {
        allowed
            .iter()
            .filter(|c| filter(c))
            .map(|c| load(c.id, chosen))
            .sum()
    };
    while chosen.len() < want {
        let best = allowed
            .iter()
            .filter(|c| !chosen.contains(&c.id))
            .min_by_key(|cpu| {
                let core = sum(&|c: &Cpu| c.node == cpu.node && c.core == cpu.core, &chosen);
                let node = sum(&|c: &Cpu| c.node == cpu.node, &chosen);
                (load(cpu.id, &chosen), core, node, cpu.id)
            })
            .expect("want <= allowed");
        chosen.insert(best.id);
    }
    Ok(chosen)
}

/// A cpuset list as the kernel writes it ("0-3,8,10-11").
pub fn parse_list(text: &str) -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let range = match part.split_once('-') {
            Some((a, b)) => a
                .trim()
                .parse::<u32>()
                .ok()
                .zip(b.trim().parse::<u32>().ok()),
            None => part.trim().parse::<u32>().ok().map(|a| (a, a)),
        };
        if let Some((a, b)) = range {
            ids.extend(a..=b);
        }
    }
    ids
}

/// The ids as a cpuset list, runs folded ("0-2,5").
pub fn format_list(ids: &BTreeSet<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    for &id in ids {
        run = match run {
            Some((a, b)) if id == b + 1 => Some((a, id)),
            Some(done) => {
                parts.push(range_text(done));
                Some((id, id))
            }
            None => Some((id, id)),
        };
    }
    parts.extend(run.map(range_text));
    parts.join(",")
}

fn range_text((a, b): (u32, u32)) -> String {
    match a == b {
        true => a.to_string(),
        false => format!("{a}-{b}"),
    }
}

/// The whole CPUs a service's replicas ask for: a reservation (else a
/// limit) of a whole number of CPUs, at least one; None otherwise.
pub fn whole_cpus(reservation: Option<f64>, limit: Option<f64>) -> Option<usize> {
    let cpus = reservation.or(limit)?;
    (cpus >= 1.0 && cpus.fract() == 0.0).then_some(cpus as usize)
}

#[cfg(test)]
#[path = "cpu_placement_tests.rs"]
mod tests;
