//! The supervisor's notion of time: a millisecond count the shell supplies.
//!
//! Decisions never read a clock; the shell passes `now` (e.g. milliseconds of
//! `CLOCK_MONOTONIC`, or since it started) and sleeps until the deadlines the
//! decisions return.

use std::ops::Add;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since an epoch chosen by the shell.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Time(u64);

impl Time {
    /// The epoch itself.
    pub const ZERO: Time = Time(0);

    /// A time `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms)
    }

    /// A time `s` seconds after the epoch.
    pub const fn from_secs(s: u64) -> Time {
        Time(s * 1000)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// How long after `earlier` this is; zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// This time moved back by `d`, saturating at the epoch.
    pub fn minus(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(millis(d)))
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    /// Saturates instead of overflowing: a deadline "forever" away is still ordered.
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(millis(d)))
    }
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_secs(2);
        assert_eq!(t + Duration::from_millis(5), Time::from_millis(2005));
        assert_eq!(t.since(Time::from_millis(500)), Duration::from_millis(1500));
        assert_eq!(Time::ZERO.since(t), Duration::ZERO);
        assert_eq!(t.minus(Duration::from_secs(10)), Time::ZERO);
        assert_eq!(
            Time::from_millis(u64::MAX) + Duration::MAX,
            Time::from_millis(u64::MAX)
        );
    }
}
