//! When a signed link's timestamp is acceptable.
//!
//! The Virtual Agent Connect document says a link is refused when it is "10+ hours old" and
//! that "current time is calculated based on Central Standard Time", while the partner's
//! example code sends PHP's `time()`, which is Unix time. [`ExpiryPolicy`] makes that rule a
//! value instead of a guess: with `now_ref = now + reference_offset`,
//! - `age = now_ref − timestamp`, and the link is expired iff `age ≥ max_age`;
//! - the link is refused as invalid iff `timestamp − now_ref > max_future`.
//!
//! The default reference is CST (UTC−06:00, fixed, no daylight saving), so a partner sending
//! true Unix time gets a link that lives 16 hours (10 h + the 6 h offset), and a partner sending
//! "CST wall-clock as if it were UTC" gets exactly 10 hours. [`ExpiryPolicy::strict_utc`] is the
//! per-vendor opt-in for partners whose clocks are right.
//!
//! The signed string `identifier . timestamp` has no delimiter, so `("1234", "1700000000")` and
//! `("123", "41700000000")` sign to the same digest. Two rules make the split unique: the
//! timestamp must be plain ASCII digits with no leading zero ([`parse_timestamp`]), and the
//! acceptance window must be much narrower than the smallest accepted timestamp's power of ten
//! ([`ExpiryPolicy::new`] refuses wider windows). Then two accepted timestamps that are
//! suffixes of one another differ by at least `10^9`, far more than any window.

use thiserror::Error;

/// Seconds in Central Standard Time's fixed offset from UTC (UTC−06:00).
pub const CST_OFFSET: i64 = -6 * 3600;

/// The seed's "10+ hours old" rule, in seconds.
pub const DEFAULT_MAX_AGE: i64 = 10 * 3600;

/// How far ahead of the reference clock a timestamp may be: the 6 h CST offset plus 5 min of
/// clock skew, so that a partner sending true Unix time is never refused as "in the future".
pub const DEFAULT_MAX_FUTURE: i64 = 6 * 3600 + 300;

/// The earliest `now` (Unix seconds, September 2001) for which [`ExpiryPolicy::new`]
/// guarantees that a signed string has only one acceptable `(identifier, timestamp)` split.
pub const UNIQUE_SPLIT_FROM: i64 = 1_000_000_000;

/// Largest `max_age` or `max_future` a policy accepts (about 115 days): keeps the acceptance
/// window far below `10^9`, which is what makes the split of the signed string unique.
pub const MAX_WINDOW_PART: i64 = 10_000_000;

/// Largest reference offset magnitude accepted: any real time zone is within ±14 h.
pub const MAX_REFERENCE_OFFSET: i64 = 24 * 3600;

/// The most digits a timestamp may have; more cannot be an `i64` anyway.
const MAX_TIMESTAMP_DIGITS: usize = 19;

/// Why a timestamp was refused. Every variant is errorID 3 ("expired") on the wire; the
/// variants exist so that logs and tests can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ExpiryError {
    /// The string is not plain ASCII digits without a leading zero, or does not fit an `i64`.
    #[error("timestamp is not a plain decimal number")]
    Malformed,
    /// The timestamp is further ahead of the reference clock than the policy allows.
    #[error("timestamp is {ahead} s in the future; at most {max_future} s allowed")]
    TooFarInFuture {
        /// Seconds the timestamp is ahead of the reference clock.
        ahead: i128,
        /// The policy's bound.
        max_future: i64,
    },
    /// The link is `max_age` seconds old or older.
    #[error("link is {age} s old; it must be younger than {max_age} s")]
    Expired {
        /// Seconds between the timestamp and the reference clock.
        age: i128,
        /// The policy's bound.
        max_age: i64,
    },
}

/// Why [`ExpiryPolicy::new`] refused a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// `max_age` must be at least one second and at most [`MAX_WINDOW_PART`].
    #[error("max_age must be within 1..={MAX_WINDOW_PART} s, got {0}")]
    MaxAge(i64),
    /// `max_future` must be within `0..=MAX_WINDOW_PART`.
    #[error("max_future must be within 0..={MAX_WINDOW_PART} s, got {0}")]
    MaxFuture(i64),
    /// The reference offset must be a plausible time-zone offset.
    #[error("reference_offset must be within ±{MAX_REFERENCE_OFFSET} s, got {0}")]
    ReferenceOffset(i64),
}

/// A signed link's acceptance window. Construct it with [`ExpiryPolicy::new`] (validated),
/// [`ExpiryPolicy::default`] (the seed's CST rule) or [`ExpiryPolicy::strict_utc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryPolicy {
    max_age: i64,
    reference_offset: i64,
    max_future: i64,
}

/// A timestamp that passed the policy, with what the replay guard needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidTimestamp {
    /// The parsed timestamp as sent.
    pub timestamp: i64,
    /// The first Unix second at which this link no longer passes the policy: a replay record
    /// for it must live at least until then.
    pub usable_until: i64,
}

impl Default for ExpiryPolicy {
    /// The seed's rule: 10 hours, measured on Central Standard Time, 6 h 5 min of future skew.
    fn default() -> Self {
        Self {
            max_age: DEFAULT_MAX_AGE,
            reference_offset: CST_OFFSET,
            max_future: DEFAULT_MAX_FUTURE,
        }
    }
}

impl ExpiryPolicy {
    /// A validated policy. Refuses windows so wide (or offsets so large) that a signed string
    /// could be split into two acceptable `(identifier, timestamp)` pairs for some
    /// `now ≥ UNIQUE_SPLIT_FROM`.
    pub fn new(max_age: i64, reference_offset: i64, max_future: i64) -> Result<Self, PolicyError> {
        if !(1..=MAX_WINDOW_PART).contains(&max_age) {
            return Err(PolicyError::MaxAge(max_age));
        }
        if !(0..=MAX_WINDOW_PART).contains(&max_future) {
            return Err(PolicyError::MaxFuture(max_future));
        }
        if !(-MAX_REFERENCE_OFFSET..=MAX_REFERENCE_OFFSET).contains(&reference_offset) {
            return Err(PolicyError::ReferenceOffset(reference_offset));
        }
        Ok(Self {
            max_age,
            reference_offset,
            max_future,
        })
    }

    /// For vendors whose clocks are right: true UTC, 10 hours, 5 minutes of skew.
    pub fn strict_utc() -> Self {
        Self {
            max_age: DEFAULT_MAX_AGE,
            reference_offset: 0,
            max_future: 300,
        }
    }

    /// Seconds a link may be old (exclusive bound).
    pub fn max_age(&self) -> i64 {
        self.max_age
    }

    /// Offset added to `now` to get the reference clock (−21 600 for CST).
    pub fn reference_offset(&self) -> i64 {
        self.reference_offset
    }

    /// Seconds a timestamp may be ahead of the reference clock (inclusive bound).
    pub fn max_future(&self) -> i64 {
        self.max_future
    }

    /// Parses `timestamp` strictly and checks it against this policy at `now` (Unix seconds).
    pub fn check(&self, timestamp: &str, now: i64) -> Result<ValidTimestamp, ExpiryError> {
        let ts = parse_timestamp(timestamp)?;
        self.check_value(ts, now)
    }

    /// Checks an already parsed timestamp. Arithmetic is done in `i128`, so it is exact for
    /// every `i64` input, including values near the limits.
    pub fn check_value(&self, ts: i64, now: i64) -> Result<ValidTimestamp, ExpiryError> {
        let now_ref = i128::from(now) + i128::from(self.reference_offset);
        let ahead = i128::from(ts) - now_ref;
        if ahead > i128::from(self.max_future) {
            return Err(ExpiryError::TooFarInFuture {
                ahead,
                max_future: self.max_future,
            });
        }
        let age = -ahead;
        if age >= i128::from(self.max_age) {
            return Err(ExpiryError::Expired {
                age,
                max_age: self.max_age,
            });
        }
        Ok(ValidTimestamp {
            timestamp: ts,
            usable_until: self.usable_until(ts),
        })
    }

    /// The first Unix second at which a link with timestamp `ts` is expired under this policy
    /// (saturating at the `i64` limits).
    pub fn usable_until(&self, ts: i64) -> i64 {
        let until = i128::from(ts) - i128::from(self.reference_offset) + i128::from(self.max_age);
        i64::try_from(until).unwrap_or(if until < 0 { i64::MIN } else { i64::MAX })
    }
}

/// Parses a timestamp the only way that keeps the signed string unambiguous: one to nineteen
/// ASCII digits, the first not `0`, fitting an `i64`. Signs, spaces, leading zeros (and so
/// `"0"` itself), other digit scripts and overflow are all [`ExpiryError::Malformed`].
pub fn parse_timestamp(s: &str) -> Result<i64, ExpiryError> {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(b'1'..=b'9') if bytes.len() <= MAX_TIMESTAMP_DIGITS => {}
        _ => return Err(ExpiryError::Malformed),
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err(ExpiryError::Malformed);
    }
    // Eighteen digits always fit an i64; only the nineteenth needs an overflow check.
    let (head, last) = bytes.split_at(bytes.len().min(18));
    let value = head.iter().fold(0i64, |v, &b| v * 10 + i64::from(b - b'0'));
    match last.first() {
        None => Ok(value),
        Some(&b) => value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or(ExpiryError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn a_true_unix_timestamp_is_accepted_for_sixteen_hours_under_the_cst_default() {
        let p = ExpiryPolicy::default();
        let ts = NOW;
        assert!(p.check_value(ts, NOW).is_ok());
        assert!(p.check_value(ts, NOW + 16 * 3600 - 1).is_ok());
        assert!(matches!(
            p.check_value(ts, NOW + 16 * 3600),
            Err(ExpiryError::Expired { .. })
        ));
        assert_eq!(p.usable_until(ts), NOW + 16 * 3600);
    }

    #[test]
    fn a_cst_wall_clock_timestamp_lives_exactly_ten_hours() {
        let p = ExpiryPolicy::default();
        let ts = NOW + CST_OFFSET;
        assert!(p.check_value(ts, NOW + 36_000 - 1).is_ok());
        assert_eq!(
            p.check_value(ts, NOW + 36_000),
            Err(ExpiryError::Expired {
                age: 36_000,
                max_age: 36_000
            })
        );
    }

    #[test]
    fn the_future_bound_is_inclusive() {
        let p = ExpiryPolicy::default();
        let edge = NOW + CST_OFFSET + DEFAULT_MAX_FUTURE;
        assert!(p.check_value(edge, NOW).is_ok());
        assert!(matches!(
            p.check_value(edge + 1, NOW),
            Err(ExpiryError::TooFarInFuture { ahead: 21_901, .. })
        ));
    }

    #[test]
    fn strict_utc_allows_five_minutes_of_skew_only() {
        let p = ExpiryPolicy::strict_utc();
        assert!(p.check_value(NOW + 300, NOW).is_ok());
        assert!(p.check_value(NOW + 301, NOW).is_err());
        assert!(p.check_value(NOW - 35_999, NOW).is_ok());
        assert!(p.check_value(NOW - 36_000, NOW).is_err());
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for s in [
            "",
            "0",
            "01700000000",
            "+1700000000",
            "-1",
            " 1700000000",
            "1700000000 ",
            "17e8",
            "1_700_000_000",
            "١٧٠٠٠٠٠٠٠٠",
            "9223372036854775808",
            "10000000000000000000",
        ] {
            assert_eq!(parse_timestamp(s), Err(ExpiryError::Malformed), "{s:?}");
        }
        assert_eq!(parse_timestamp("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_timestamp("1"), Ok(1));
    }

    #[test]
    fn the_constructor_refuses_windows_that_would_make_splits_ambiguous() {
        assert!(ExpiryPolicy::new(0, 0, 0).is_err());
        assert!(ExpiryPolicy::new(MAX_WINDOW_PART + 1, 0, 0).is_err());
        assert!(ExpiryPolicy::new(1, 0, -1).is_err());
        assert!(ExpiryPolicy::new(1, 0, MAX_WINDOW_PART + 1).is_err());
        assert!(ExpiryPolicy::new(1, MAX_REFERENCE_OFFSET + 1, 0).is_err());
        assert_eq!(
            ExpiryPolicy::new(DEFAULT_MAX_AGE, CST_OFFSET, DEFAULT_MAX_FUTURE),
            Ok(ExpiryPolicy::default())
        );
    }

    #[test]
    fn usable_until_saturates_instead_of_overflowing() {
        let p = ExpiryPolicy::default();
        assert_eq!(p.usable_until(i64::MAX), i64::MAX);
    }
}
