//! The failed-sign-in lock-out rule (PROTOCOLS.md, shared rules; Keycloak's brute-force rule).
//!
//! Failures are counted per (account, source IP), so nobody can lock a partner out from
//! elsewhere. After every `step` failures the wait grows by `wait_increment`, up to `max_wait`;
//! counts are forgotten after `reset_after` seconds without a failure. While locked, even a
//! correct password is refused with the same message, so a lock-out is no oracle.

/// The counter the store keeps per throttle key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureRecord {
    /// Failures since the count was last reset.
    pub failures: u32,
    /// Unix second of the latest failure.
    pub last_failure: i64,
}

/// The lock-out rule as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures per step of waiting (Keycloak: 30).
    pub step: u32,
    /// Seconds of wait added per step (60).
    pub wait_increment: i64,
    /// Longest wait (15 min).
    pub max_wait: i64,
    /// Seconds without a failure after which the count starts again (12 h).
    pub reset_after: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            step: 30,
            wait_increment: 60,
            max_wait: 15 * 60,
            reset_after: 12 * 3600,
        }
    }
}

impl LockoutPolicy {
    /// The failures that still count at `now` (zero once `reset_after` has passed).
    pub fn live_failures(&self, rec: &FailureRecord, now: i64) -> u32 {
        if now.saturating_sub(rec.last_failure) >= self.reset_after {
            0
        } else {
            rec.failures
        }
    }

    /// Until when (exclusive, Unix seconds) sign-ins are refused, if they are at `now`.
    pub fn locked_until(&self, rec: &FailureRecord, now: i64) -> Option<i64> {
        let failures = self.live_failures(rec, now);
        if self.step == 0 || failures < self.step {
            return None;
        }
        let steps = i64::from(failures / self.step);
        let wait = self.wait_increment.saturating_mul(steps).min(self.max_wait);
        let until = rec.last_failure.saturating_add(wait);
        (now < until).then_some(until)
    }

    /// The record after one more failure at `now`.
    pub fn record_failure(&self, rec: Option<&FailureRecord>, now: i64) -> FailureRecord {
        let previous = rec.map_or(0, |r| self.live_failures(r, now));
        FailureRecord {
            failures: previous.saturating_add(1),
            last_failure: now,
        }
    }

    /// The lock-out rule at `now` as tiers a store can evaluate inside one conditional
    /// write: `(threshold, cutoff)` pairs with rising thresholds. A record is locked iff its
    /// count reaches some tier's threshold (the last one it reaches decides) and its
    /// `last_failure` is after that tier's cutoff. Agrees with [`LockoutPolicy::locked_until`]
    /// for every live record (the property test says so).
    pub fn tiers(&self, now: i64) -> Vec<(u32, i64)> {
        if self.step == 0 || self.wait_increment <= 0 {
            return Vec::new();
        }
        let steps = (self.max_wait + self.wait_increment - 1) / self.wait_increment;
        (1..=steps.max(1))
            .map(|k| {
                let threshold = u32::try_from(k)
                    .ok()
                    .and_then(|k| k.checked_mul(self.step))
                    .unwrap_or(u32::MAX);
                let wait = self.wait_increment.saturating_mul(k).min(self.max_wait);
                (threshold, now.saturating_sub(wait))
            })
            .collect()
    }

    /// Whether `rec` is locked at `now` by [`LockoutPolicy::tiers`] (what a store evaluates).
    pub fn locked_by_tiers(tiers: &[(u32, i64)], rec: &FailureRecord) -> bool {
        tiers
            .iter()
            .rev()
            .find(|(threshold, _)| rec.failures >= *threshold)
            .is_some_and(|(_, cutoff)| rec.last_failure > *cutoff)
    }

    /// How long the store must keep a record written at `last_failure`.
    pub fn record_expires_at(&self, last_failure: i64) -> i64 {
        last_failure.saturating_add(self.reset_after)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tiers_agree_with_the_rule_for_every_live_record() {
        let p = LockoutPolicy::default();
        let now = 1_700_000_000;
        let tiers = p.tiers(now);
        assert_eq!(tiers.len(), 15);
        for failures in 0..600 {
            for age in [0, 1, 59, 60, 61, 119, 120, 121, 899, 900, 901, 3600] {
                let rec = FailureRecord {
                    failures,
                    last_failure: now - age,
                };
                assert_eq!(
                    LockoutPolicy::locked_by_tiers(&tiers, &rec),
                    p.locked_until(&rec, now).is_some(),
                    "{failures} failures, {age} s ago"
                );
            }
        }
    }

    use super::*;

    const T: i64 = 1_700_000_000;

    fn after(n: u32) -> FailureRecord {
        let p = LockoutPolicy::default();
        let mut rec = None;
        for _ in 0..n {
            rec = Some(p.record_failure(rec.as_ref(), T));
        }
        rec.unwrap_or_default()
    }

    #[test]
    fn twenty_nine_failures_do_not_lock() {
        assert_eq!(LockoutPolicy::default().locked_until(&after(29), T), None);
    }

    #[test]
    fn thirty_failures_lock_for_a_minute() {
        let p = LockoutPolicy::default();
        assert_eq!(p.locked_until(&after(30), T), Some(T + 60));
        assert_eq!(p.locked_until(&after(30), T + 59), Some(T + 60));
        assert_eq!(p.locked_until(&after(30), T + 60), None);
    }

    #[test]
    fn the_wait_grows_per_thirty_and_stops_at_fifteen_minutes() {
        let p = LockoutPolicy::default();
        assert_eq!(p.locked_until(&after(60), T), Some(T + 120));
        assert_eq!(p.locked_until(&after(30 * 40), T), Some(T + 900));
    }

    #[test]
    fn counts_reset_after_twelve_quiet_hours() {
        let p = LockoutPolicy::default();
        let rec = after(45);
        assert_eq!(p.live_failures(&rec, T + 43_199), 45);
        assert_eq!(p.live_failures(&rec, T + 43_200), 0);
        assert_eq!(p.record_failure(Some(&rec), T + 43_200).failures, 1);
    }
}
