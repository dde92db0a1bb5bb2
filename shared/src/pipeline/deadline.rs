//! The time an invocation has: Lambda hands each event its deadline, and Reflex plans around it
//! (a step is started only with time to finish it; a claim is leased until just past it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::aws::OPERATION_TIMEOUT;

/// When the invocation must be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(SystemTime);

/// What a run outside Lambda (tests, the demo, a command line) allows itself: as long as the
/// longest function may run.
pub const LOCAL_BUDGET: Duration = Duration::from_secs(120);

/// A claim is leased until this long after its delivery's deadline: a run killed at its deadline
/// is surely gone by then, and the retry, a minute later, takes over.
pub const LEASE_MARGIN: Duration = Duration::from_secs(15);

/// A step starts only with this much time left: one call's longest time and a margin. Otherwise
/// the run records its progress and fails on purpose, so the retry resumes there, instead of
/// being killed halfway through a step.
pub const STEP_RESERVE: Duration = Duration::from_secs(OPERATION_TIMEOUT.as_secs() + 2);

impl Deadline {
    /// Lambda's deadline: milliseconds since the epoch (the runtime API's `Lambda-Runtime-Deadline-Ms`).
    pub fn at_epoch_millis(millis: u64) -> Self {
        Self(UNIX_EPOCH + Duration::from_millis(millis))
    }

    /// The deadline a runtime API handed over. Lambda's is milliseconds since the epoch; some
    /// local emulators (cargo-lambda's `watch`) hand a bare timeout instead (`600000`), read as
    /// that long from now: no deadline of a real invocation lies before 2001.
    pub fn from_runtime(millis: u64) -> Self {
        const EPOCH_MILLIS_IN_2001: u64 = 1_000_000_000_000;
        if millis < EPOCH_MILLIS_IN_2001 {
            Self::after(Duration::from_millis(millis))
        } else {
            Self::at_epoch_millis(millis)
        }
    }

    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(SystemTime::now() + budget)
    }

    pub fn remaining(&self) -> Duration {
        self.0
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }

    /// Whether there is time to start one more step.
    pub fn has_time_for_a_step(&self) -> bool {
        self.remaining() >= STEP_RESERVE
    }

    /// Until when a claim taken now is this delivery's (epoch seconds).
    pub fn lease_until(&self) -> i64 {
        let until = self.0 + LEASE_MARGIN;
        until
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_outlives_its_deadline_by_the_margin() {
        let deadline = Deadline::at_epoch_millis(1_700_000_000_000);
        assert_eq!(
            deadline.lease_until(),
            1_700_000_000 + LEASE_MARGIN.as_secs() as i64
        );
        assert_eq!(deadline.remaining(), Duration::ZERO, "long past");
        assert!(!deadline.has_time_for_a_step());
        assert!(Deadline::after(Duration::from_secs(60)).has_time_for_a_step());
        assert!(!Deadline::after(Duration::from_secs(3)).has_time_for_a_step());
    }

    #[test]
    fn a_bare_timeout_from_a_local_emulator_counts_from_now() {
        let local = Deadline::from_runtime(600_000);
        assert!(
            local.remaining() > Duration::from_secs(590),
            "{:?}",
            local.remaining()
        );
        let real = Deadline::from_runtime(4_102_444_800_000);
        assert_eq!(real, Deadline::at_epoch_millis(4_102_444_800_000));
    }
}
