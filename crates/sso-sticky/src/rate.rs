//! An in-memory rate limit per Platform-Key: `/sso/0` must not cost a table write to say
//! "slow down" (ARCHITECTURE.md's budget). In AWS, API Gateway throttling is the first line;
//! this bounds one process. A fixed one-second window per key.

use std::collections::HashMap;
use std::sync::Mutex;

/// Calls per key per second, by default.
pub const DEFAULT_PER_SECOND: u32 = 50;

/// The limiter.
pub struct Limiter {
    per_second: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl Limiter {
    /// At most `per_second` calls per key and second.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a call at `now`; false when the key is over its limit.
    pub fn allow(&self, key: &str, now: i64) -> bool {
        let Ok(mut w) = self.windows.lock() else {
            return true;
        };
        if w.len() > 10_000 {
            w.retain(|_, (second, _)| *second == now);
        }
        let entry = w.entry(key.to_owned()).or_insert((now, 0));
        if entry.0 != now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_second
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_key_and_second() {
        let l = Limiter::new(2);
        assert!(l.allow("a", 1) && l.allow("a", 1));
        assert!(!l.allow("a", 1));
        assert!(l.allow("b", 1));
        assert!(l.allow("a", 2));
    }
}
