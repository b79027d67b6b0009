//! Revision history of a service's definition, for `history` and `rollback [--to N]`.
//!
//! Like Kubernetes (and unlike Swarm's single previous spec) it keeps the last
//! `limit` revisions, 10 by default. Numbers only grow: rolling back to N
//! records N's definition again under a new number.

use serde::{Deserialize, Serialize};

use super::time::Time;

/// Revisions kept by default (Kubernetes' `revisionHistoryLimit`).
pub const DEFAULT_HISTORY_LIMIT: usize = 10;

/// Errors from choosing a rollback target.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HistoryError {
    /// `rollback` with only one revision recorded.
    #[error("no previous revision to roll back to")]
    NoPrevious,
    /// `rollback --to N` with an N that was never recorded or has been pruned.
    #[error("revision {requested} is not in the history (kept: {kept:?})")]
    UnknownRevision { requested: u64, kept: Vec<u64> },
    /// `rollback --to N` where N is what runs already.
    #[error("revision {revision} is already the current revision")]
    AlreadyCurrent { revision: u64 },
}

/// One recorded definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision<T> {
    pub number: u64,
    pub spec: T,
    pub created_at: Time,
    /// Set when this revision re-applies an older one (a rollback).
    pub restored_from: Option<u64>,
}

/// The last `limit` revisions of one service, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionHistory<T> {
    pub limit: usize,
    pub revisions: Vec<Revision<T>>,
}

impl<T> Default for RevisionHistory<T> {
    fn default() -> RevisionHistory<T> {
        RevisionHistory {
            limit: DEFAULT_HISTORY_LIMIT,
            revisions: Vec::new(),
        }
    }
}

impl<T: Clone> RevisionHistory<T> {
    /// Records a new definition; returns its number.
    pub fn record(&mut self, spec: T, at: Time) -> u64 {
        self.push(spec, at, None)
    }

    /// Records `target` again as the newest revision (after a rollback to it); returns its number.
    pub fn record_rollback(&mut self, target: &Revision<T>, at: Time) -> u64 {
        self.push(target.spec.clone(), at, Some(target.number))
    }

    /// Records a definition under `number` when it is newer than the
    /// current one (the caller numbers revisions); returns the number used.
    pub fn record_as(&mut self, number: u64, spec: T, at: Time, restored_from: Option<u64>) -> u64 {
        let number = number.max(self.next_number());
        self.revisions.push(Revision {
            number,
            spec,
            created_at: at,
            restored_from,
        });
        self.prune();
        number
    }

    /// The number the next recorded revision gets.
    pub fn next_number(&self) -> u64 {
        self.current().map_or(1, |r| r.number + 1)
    }

    fn prune(&mut self) {
        let excess = self.revisions.len().saturating_sub(self.limit.max(1));
        self.revisions.drain(..excess);
    }

    fn push(&mut self, spec: T, at: Time, restored_from: Option<u64>) -> u64 {
        self.record_as(self.next_number(), spec, at, restored_from)
    }

    /// The newest revision: what should run.
    pub fn current(&self) -> Option<&Revision<T>> {
        self.revisions.last()
    }

    pub fn get(&self, number: u64) -> Option<&Revision<T>> {
        self.revisions.iter().find(|r| r.number == number)
    }

    /// What `rollback` (no `--to`: the one before current) or `rollback --to N` selects.
    pub fn rollback_target(&self, to: Option<u64>) -> Result<&Revision<T>, HistoryError> {
        let current = self.current().ok_or(HistoryError::NoPrevious)?;
        match to {
            None => self
                .revisions
                .iter()
                .rev()
                .nth(1)
                .ok_or(HistoryError::NoPrevious),
            Some(n) if n == current.number => Err(HistoryError::AlreadyCurrent { revision: n }),
            Some(n) => self.get(n).ok_or_else(|| HistoryError::UnknownRevision {
                requested: n,
                kept: self.revisions.iter().map(|r| r.number).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(n: usize) -> RevisionHistory<String> {
        let mut h = RevisionHistory::default();
        for i in 1..=n {
            h.record(format!("image:v{i}"), Time::from_secs(i as u64));
        }
        h
    }

    #[test]
    fn keeps_the_last_ten_revisions() {
        let h = history(12);
        let numbers: Vec<u64> = h.revisions.iter().map(|r| r.number).collect();
        assert_eq!(numbers, (3..=12).collect::<Vec<u64>>());
        assert_eq!(h.current().map(|r| r.spec.as_str()), Some("image:v12"));
    }

    #[test]
    fn rollback_without_to_selects_the_previous_revision() {
        let h = history(3);
        assert_eq!(h.rollback_target(None).map(|r| r.number), Ok(2));
        assert_eq!(
            history(1).rollback_target(None),
            Err(HistoryError::NoPrevious)
        );
        assert_eq!(
            history(0).rollback_target(None),
            Err(HistoryError::NoPrevious)
        );
    }

    #[test]
    fn rollback_to_selects_any_kept_revision() {
        let h = history(12);
        assert_eq!(
            h.rollback_target(Some(4)).map(|r| r.spec.as_str()),
            Ok("image:v4")
        );
        assert!(matches!(
            h.rollback_target(Some(2)),
            Err(HistoryError::UnknownRevision { requested: 2, .. })
        ));
        assert_eq!(
            h.rollback_target(Some(12)),
            Err(HistoryError::AlreadyCurrent { revision: 12 })
        );
    }

    #[test]
    fn a_rollback_is_recorded_as_a_new_revision() {
        let mut h = history(3);
        let target = h.rollback_target(Some(1)).unwrap().clone();
        assert_eq!(h.record_rollback(&target, Time::from_secs(9)), 4);
        let current = h.current().unwrap();
        assert_eq!(
            (current.spec.as_str(), current.restored_from),
            ("image:v1", Some(1))
        );
        // Rolling back again goes to what ran before the rollback.
        assert_eq!(h.rollback_target(None).map(|r| r.number), Ok(3));
    }
}
