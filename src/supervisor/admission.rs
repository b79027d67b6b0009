//! Admission on one host: does a replica's `deploy.resources.reservations`
//! fit in the host's capacity minus what running containers reserve? Pure:
//! capacity and the running reservations arrive as data.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a replica reserves (compose `deploy.resources.reservations`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}

impl Reservation {
    pub fn is_empty(&self) -> bool {
        self.cpus.is_none() && self.memory.is_none() && self.pids.is_none()
    }

    fn add(self, other: &Reservation) -> Reservation {
        let sum_f = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
        Reservation {
            cpus: sum_f(self.cpus, other.cpus),
            memory: sum(self.memory, other.memory),
            pids: sum(self.pids, other.pids),
        }
    }
}

/// What the host offers in total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub cpus: f64,
    pub memory: u64,
    pub pids: u64,
}

/// Which resource a replica does not fit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    Cpus,
    Memory,
    Pids,
}

impl Resource {
    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpus => "cpus",
            Resource::Memory => "memory",
            Resource::Pids => "pids",
        }
    }
}

/// Why a replica stays pending, with the numbers (`ps` and `events` show it).
#[derive(Debug, Clone, PartialEq)]
pub struct Shortfall {
    pub resource: Resource,
    pub reserved: f64,
    pub total: f64,
    pub requested: f64,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: f64| match self.resource {
            Resource::Memory => human_bytes(v as u64),
            Resource::Cpus => format!("{v:.2}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            Resource::Pids => format!("{v}"),
        };
        write!(
            f,
            "insufficient {}: {} reserved of {}, {} requested",
            self.resource.name(),
            show(self.reserved),
            show(self.total),
            show(self.requested)
        )
    }
}

/// Binary units as Docker and Kubernetes print them: "512 MiB", "1 GiB", "1.5 GiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {}", UNITS[unit])
}

/// The sum of what the running replicas reserve.
pub fn reserved(running: &[Reservation]) -> Reservation {
    running
        .iter()
        .fold(Reservation::default(), |acc, r| acc.add(r))
}

/// Whether `request` fits next to `running` on `capacity`; the first
/// resource (cpus, memory, pids) that does not, otherwise.
pub fn admit(
    capacity: &Capacity,
    running: &[Reservation],
    request: &Reservation,
) -> Result<(), Shortfall> {
    let taken = reserved(running);
    let checks = [
        (Resource::Cpus, taken.cpus, request.cpus, capacity.cpus),
        (
            Resource::Memory,
            taken.memory.map(|m| m as f64),
            request.memory.map(|m| m as f64),
            capacity.memory as f64,
        ),
        (
            Resource::Pids,
            taken.pids.map(|p| p as f64),
            request.pids.map(|p| p as f64),
            capacity.pids as f64,
        ),
    ];
    for (resource, taken, asked, total) in checks {
        let (Some(asked), taken) = (asked, taken.unwrap_or(0.0)) else {
            continue;
        };
        // A tolerance for float sums of cpus such as 0.1 + 0.2.
        if taken + asked > total + 1e-9 {
            return Err(Shortfall {
                resource,
                reserved: taken,
                total,
                requested: asked,
            });
        }
    }
    Ok(())
}

/// A reservation no host state could satisfy, or one its own limit breaks.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReservationError {
    #[error(
        "services.{service}.deploy.resources.reservations.{resource}: {requested} is more \
         than this host has in total ({total}); lower the reservation"
    )]
    AboveHostTotal {
        service: String,
        resource: &'static str,
        requested: String,
        total: String,
    },
    #[error(
        "services.{service}.deploy.resources.limits.memory ({limit}) is below \
         reservations.memory ({reservation}): a replica could never use what it reserves; \
         raise the limit or lower the reservation"
    )]
    LimitBelowReservation {
        service: String,
        limit: String,
        reservation: String,
    },
}

/// Checks one service's reservation before anything starts.
pub fn validate(
    service: &str,
    request: &Reservation,
    memory_limit: Option<u64>,
    capacity: &Capacity,
) -> Result<(), ReservationError> {
    if let (Some(limit), Some(reservation)) = (memory_limit, request.memory) {
        if limit < reservation {
            return Err(ReservationError::LimitBelowReservation {
                service: service.to_string(),
                limit: human_bytes(limit),
                reservation: human_bytes(reservation),
            });
        }
    }
    if let Err(short) = admit(capacity, &[], request) {
        let text = |v: f64| match short.resource {
            Resource::Memory => human_bytes(v as u64),
            _ => format!("{v}"),
        };
        return Err(ReservationError::AboveHostTotal {
            service: service.to_string(),
            resource: short.resource.name(),
            requested: text(short.requested),
            total: text(short.total),
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
