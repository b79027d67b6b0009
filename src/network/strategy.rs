//! How a service's balancer picks a backend: the strategy a service's label
//! names. The kernel path (`services`) and the supervisor's userspace
//! balancer (`supervisor::lb`) both read it, so it lives here, below both.

use serde::{Deserialize, Serialize};

/// The rcorch label that selects the balancing strategy of a service.
pub const STRATEGY_LABEL: &str = "rcorch.lb.strategy";

/// Errors from reading the balancing strategy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LbError {
    /// The label holds neither `round-robin` nor `least-connections`.
    #[error("unknown load-balancing strategy {value:?} in label {STRATEGY_LABEL}: expected round-robin or least-connections")]
    UnknownStrategy { value: String },
}

/// How the next connection's backend is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Strategy {
    #[default]
    RoundRobin,
    LeastConnections,
}

impl Strategy {
    /// The strategy named by the service's `rcorch.lb.strategy` label (default round-robin).
    pub fn from_label(value: Option<&str>) -> Result<Strategy, LbError> {
        match value {
            None | Some("round-robin") => Ok(Strategy::RoundRobin),
            Some("least-connections") => Ok(Strategy::LeastConnections),
            Some(other) => Err(LbError::UnknownStrategy {
                value: other.to_string(),
            }),
        }
    }

    /// The label value naming it (`ps`, `inspect`).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round-robin",
            Strategy::LeastConnections => "least-connections",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_comes_from_a_label() {
        assert_eq!(Strategy::from_label(None), Ok(Strategy::RoundRobin));
        assert_eq!(
            Strategy::from_label(Some("round-robin")),
            Ok(Strategy::RoundRobin)
        );
        assert_eq!(
            Strategy::from_label(Some("least-connections")),
            Ok(Strategy::LeastConnections)
        );
        assert!(matches!(
            Strategy::from_label(Some("random")),
            Err(LbError::UnknownStrategy { .. })
        ));
    }

    #[test]
    fn names_are_the_label_values() {
        for s in [Strategy::RoundRobin, Strategy::LeastConnections] {
            assert_eq!(Strategy::from_label(Some(s.name())), Ok(s));
        }
    }
}
