//! Bounded waiting: how often to look, and how to pass the time between looks (behind a
//! trait, so tests never sleep).

use std::time::Duration;

use super::{MemberState, WorkloadError};

/// How many times to check, and how long to wait between checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Checks in total (at least one check is always made).
    pub attempts: u32,
    /// Pause between two checks.
    pub interval: Duration,
}

impl RetryPolicy {
    /// Charmed MySQL's budget for a restarted unit to be back in the cluster
    /// (`recover_unit_after_restart`): 30 checks, 15 s apart.
    pub const REJOIN_AFTER_UPGRADE: Self = Self {
        attempts: 30,
        interval: Duration::from_secs(15),
    };

    /// Charmed MySQL's budget for mysqld to accept connections after a start
    /// (`wait_until_mysql_connection`): every 5 s for 120 s.
    pub const SERVER_START: Self = Self {
        attempts: 25,
        interval: Duration::from_secs(5),
    };

    /// How long a recovery check holds on a RECOVERING member: every 10 s (Charmed
    /// MySQL's `RECOVERY_CHECK_TIME`), for at most an hour, so a hook always ends.
    pub const RECOVERING_HOLD: Self = Self {
        attempts: 360,
        interval: Duration::from_secs(10),
    };

    /// How long a unit waits for the units-operations lock another unit holds.
    pub const UNITS_OPERATIONS_LOCK: Self = Self {
        attempts: 20,
        interval: Duration::from_secs(15),
    };

    /// The time the waits between checks add up to.
    pub fn total(&self) -> Duration {
        self.interval * self.attempts.saturating_sub(1)
    }
}

/// Passes time between two checks.
pub trait Sleeper {
    /// Blocks for `duration` (or pretends to).
    fn sleep(&self, duration: Duration);
}

/// Really sleeps, on the current thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// Polls `unit`'s member state until it is ONLINE, within `retry`.
///
/// A poll failing with [`WorkloadError::ServerUnavailable`] counts as "not yet" (a server
/// that is starting does not answer); any other error ends the wait at once.
pub fn wait_for_online(
    unit: &str,
    retry: RetryPolicy,
    mut poll: impl FnMut() -> Result<MemberState, WorkloadError>,
    mut sleep: impl FnMut(Duration),
) -> Result<(), WorkloadError> {
    let attempts = retry.attempts.max(1);
    let mut last_seen = String::new();
    for attempt in 1..=attempts {
        match poll() {
            Ok(MemberState::Online) => return Ok(()),
            Ok(state) => last_seen = state.to_string(),
            Err(WorkloadError::ServerUnavailable { reason, .. }) => last_seen = reason,
            Err(other) => return Err(other),
        }
        log::debug!("{unit} not ONLINE yet ({last_seen}), check {attempt}/{attempts}");
        if attempt < attempts {
            sleep(retry.interval);
        }
    }
    Err(WorkloadError::NotBackOnline {
        unit: unit.to_owned(),
        attempts,
        last_seen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: RetryPolicy = RetryPolicy {
        attempts: 3,
        interval: Duration::from_secs(7),
    };

    #[test]
    fn stops_as_soon_as_online_and_sleeps_between_checks_only() {
        let mut seen = vec![MemberState::Recovering, MemberState::Online].into_iter();
        let mut slept = Vec::new();
        let result = wait_for_online(
            "mysql/1",
            FAST,
            || Ok(seen.next().unwrap_or(MemberState::Offline)),
            |d| slept.push(d),
        );
        assert!(result.is_ok());
        assert_eq!(slept, vec![Duration::from_secs(7)]);
    }

    #[test]
    fn gives_up_after_the_budget_with_the_last_state() {
        let mut polls = 0;
        let mut sleeps = 0;
        let result = wait_for_online(
            "mysql/1",
            FAST,
            || {
                polls += 1;
                Ok(MemberState::Recovering)
            },
            |_| sleeps += 1,
        );
        match result {
            Err(WorkloadError::NotBackOnline {
                unit,
                attempts,
                last_seen,
            }) => {
                assert_eq!(unit, "mysql/1");
                assert_eq!(attempts, 3);
                assert_eq!(last_seen, "RECOVERING");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!((polls, sleeps), (3, 2));
    }

    #[test]
    fn unanswered_polls_are_retried_but_other_errors_end_the_wait() {
        let mut first = true;
        let result = wait_for_online(
            "mysql/1",
            FAST,
            || {
                if std::mem::take(&mut first) {
                    Err(WorkloadError::ServerUnavailable {
                        unit: "mysql/1".into(),
                        reason: "starting".into(),
                        failure: None,
                    })
                } else {
                    Ok(MemberState::Online)
                }
            },
            |_| {},
        );
        assert!(result.is_ok());

        let result = wait_for_online(
            "mysql/1",
            FAST,
            || {
                Err(WorkloadError::UnknownUnit {
                    unit: "mysql/1".into(),
                })
            },
            |_| panic!("must not sleep after a fatal error"),
        );
        assert!(matches!(result, Err(WorkloadError::UnknownUnit { .. })));
    }
}
