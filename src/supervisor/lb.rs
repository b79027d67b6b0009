//! Load-balancer membership and backend selection, pure.
//!
//! A replica joins its service's balancer once it is running and healthy
//! (running, if it has no health check) and leaves before it is stopped: the
//! shell drains the containers `draining_for` names before carrying out the
//! stops, so new connections stop going there while existing ones finish
//! within the grace period. The kernel path (`network::services`) does
//! round-robin; the userspace proxy of least-connections services
//! (`project::proxy`) keeps a `Pool` per service and picks with `Balancer::pick`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::action::Action;
use super::observed::{ObservedReplica, ObservedState};
use super::time::Time;
pub use crate::network::strategy::{LbError, Strategy, STRATEGY_LABEL};

/// How long a balanced replica stays out of the balancer before its stop
/// signal: a connection routed to it just before the rules changed still
/// arrives, and requests in flight finish (most servers, busybox httpd
/// among them, drop them on SIGTERM). Kubernetes users add a preStop sleep
/// for the same reason.
pub const DRAIN_DELAY: Duration = Duration::from_millis(200);

/// Whether a replica should receive new connections.
pub fn is_member(replica: &ObservedReplica, draining: bool) -> bool {
    !draining && replica.is_ready()
}

/// The members of a service's balancer, in slot order.
pub fn members<'a>(
    service: &str,
    observed: &'a ObservedState,
    draining: &BTreeSet<String>,
) -> Vec<&'a ObservedReplica> {
    let mut m: Vec<&ObservedReplica> = observed
        .of_service(service)
        .filter(|r| is_member(r, draining.contains(&r.container)))
        .collect();
    m.sort_by(|a, b| (a.key.slot, &a.container).cmp(&(b.key.slot, &b.container)));
    m
}

/// Who a service's balancer sends to, and who answers `tasks.SERVICE`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Membership {
    /// Ready and not draining, in slot order.
    pub members: Vec<String>,
    /// Every running replica not draining.
    pub running: Vec<String>,
}

/// The membership of `service`; `draining` holds containers about to stop
/// (or already stopping, or whose PID 1 just died).
pub fn membership(
    service: &str,
    observed: &ObservedState,
    draining: &BTreeSet<String>,
) -> Membership {
    let mut running: Vec<&ObservedReplica> = observed
        .of_service(service)
        .filter(|r| r.is_running() && !draining.contains(&r.container))
        .collect();
    running.sort_by(|a, b| (a.key.slot, &a.container).cmp(&(b.key.slot, &b.container)));
    Membership {
        members: members(service, observed, draining)
            .into_iter()
            .map(|r| r.container.clone())
            .collect(),
        running: running.into_iter().map(|r| r.container.clone()).collect(),
    }
}

/// Containers the actions are about to stop: take them out of the balancer first.
pub fn draining_for(actions: &[Action]) -> BTreeSet<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Stop { container, .. } => Some(container.clone()),
            _ => None,
        })
        .collect()
}

/// When the stop signal may go to a replica drained since `drained_at`:
/// after `DRAIN_DELAY` if it is behind a balancer, at once otherwise.
pub fn stop_signal_at(drained_at: Time, balanced: bool) -> Time {
    if balanced {
        drained_at + DRAIN_DELAY
    } else {
        drained_at
    }
}

/// The userspace balancer's state: a round-robin cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Balancer {
    pub strategy: Strategy,
    pub cursor: u64,
}

impl Balancer {
    pub fn new(strategy: Strategy) -> Balancer {
        Balancer {
            strategy,
            cursor: 0,
        }
    }

    /// Picks an index into `members` (identified by container id) for a new
    /// connection, given the open connections per member; returns the next state.
    /// Least-connections breaks ties round-robin, so equal members share the load.
    pub fn pick(
        &self,
        members: &[&str],
        open: &BTreeMap<String, u32>,
    ) -> (Option<usize>, Balancer) {
        let n = members.len();
        if n == 0 {
            return (None, *self);
        }
        let start = (self.cursor % n as u64) as usize;
        let rotation = (0..n).map(|i| (start + i) % n);
        let chosen = match self.strategy {
            Strategy::RoundRobin => start,
            Strategy::LeastConnections => rotation
                .min_by_key(|i| open.get(members[*i]).copied().unwrap_or(0))
                .unwrap_or(start),
        };
        let next = Balancer {
            cursor: (chosen as u64 + 1) % n as u64,
            ..*self
        };
        (Some(chosen), next)
    }
}

/// The userspace proxy's view of one service: its members (any key, e.g.
/// an address) and the connections open to each, departed members
/// included until their last connection closes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pool {
    balancer: Balancer,
    members: Vec<String>,
    open: BTreeMap<String, u32>,
}

impl Pool {
    pub fn new(strategy: Strategy) -> Pool {
        Pool {
            balancer: Balancer::new(strategy),
            ..Pool::default()
        }
    }

    /// New connections go to `members` from now on; open ones stay counted.
    pub fn set_members(&mut self, members: Vec<String>) {
        self.members = members;
    }

    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// Open connections to `member`.
    pub fn open(&self, member: &str) -> u32 {
        self.open.get(member).copied().unwrap_or(0)
    }

    /// Picks the member for a new connection and counts it open; None
    /// without members.
    pub fn admit(&mut self) -> Option<String> {
        let keys: Vec<&str> = self.members.iter().map(String::as_str).collect();
        let (index, next) = self.balancer.pick(&keys, &self.open);
        self.balancer = next;
        let member = self.members.get(index?)?.clone();
        *self.open.entry(member.clone()).or_insert(0) += 1;
        Some(member)
    }

    /// A connection to `member` closed.
    pub fn release(&mut self, member: &str) {
        if let Some(n) = self.open.get_mut(member) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.open.remove(member);
            }
        }
    }
}

#[cfg(test)]
#[path = "lb_tests.rs"]
mod tests;
