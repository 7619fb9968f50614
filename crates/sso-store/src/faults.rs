//! A backend wrapper that injects faults, for tests of what a failure midway leaves behind.
//! Two ways to arm it:
//! - [`Faulty::fail_write`]: the n-th write (a single write or a transaction counts one)
//!   fails before it is applied, or is applied and then reported as failed (a timeout after
//!   the server acted). Reads pass.
//! - [`Faulty::scheduled`]: a seeded [`Schedule`] decides for every call (reads, queries,
//!   writes, transactions) whether it passes, fails before it is applied, fails after it was
//!   applied (writes only) or stalls (sleeps far past the store's call deadline, which
//!   [`crate::bounded`] then enforces). The same seed gives the same decision for the n-th
//!   call, so a failing run can be replayed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::StoreError;
use crate::item::{Item, ItemBackend, Key, Page, Query, Write, WriteOutcome};

/// When the fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The write is refused: nothing applied.
    Before,
    /// The write is applied, then an error is returned.
    After,
}

/// A seeded fault schedule: for each call, out of 1000, how often each fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Seed of the decisions (the n-th call's fate depends only on it and n).
    pub seed: u64,
    /// Calls refused before anything is applied.
    pub fail_per_mille: u32,
    /// Writes applied, then reported as failed.
    pub fail_after_per_mille: u32,
    /// Calls that sleep [`Schedule::stall`] before going on (cut off by the call deadline).
    pub stall_per_mille: u32,
    /// How long a stalled call sleeps.
    pub stall: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            seed: 0,
            fail_per_mille: 0,
            fail_after_per_mille: 0,
            stall_per_mille: 0,
            stall: Duration::from_secs(60),
        }
    }
}

/// What a scheduled [`Faulty`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Calls seen while armed.
    pub calls: u64,
    /// Calls refused before being applied.
    pub failed_before: u64,
    /// Writes applied, then reported as failed.
    pub failed_after: u64,
    /// Calls stalled.
    pub stalled: u64,
}

/// What the schedule decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Pass,
    FailBefore,
    FailAfter,
    Stall,
}

/// The wrapper: writes are counted from 1; the one numbered `at` fails as `fault`; or, when
/// built with [`Faulty::scheduled`], every call meets its fate from the [`Schedule`].
pub struct Faulty {
    inner: Arc<dyn ItemBackend>,
    writes: AtomicUsize,
    at: AtomicUsize,
    fault: Fault,
    schedule: Option<Schedule>,
    call_timeout: Option<Duration>,
    armed: AtomicBool,
    calls: AtomicU64,
    failed_before: AtomicU64,
    failed_after: AtomicU64,
    stalled: AtomicU64,
}

impl std::fmt::Debug for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faulty")
            .field("writes", &self.writes)
            .field("at", &self.at)
            .field("fault", &self.fault)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

impl Faulty {
    /// Wraps `inner`; no fault is armed.
    pub fn new(inner: Arc<dyn ItemBackend>, fault: Fault) -> Self {
        Self {
            inner,
            writes: AtomicUsize::new(0),
            at: AtomicUsize::new(0),
            fault,
            schedule: None,
            call_timeout: None,
            armed: AtomicBool::new(true),
            calls: AtomicU64::new(0),
            failed_before: AtomicU64::new(0),
            failed_after: AtomicU64::new(0),
            stalled: AtomicU64::new(0),
        }
    }

    /// Wraps `inner` with a seeded schedule of faults on every call; armed from the start.
    pub fn scheduled(inner: Arc<dyn ItemBackend>, schedule: Schedule) -> Self {
        Self {
            schedule: Some(schedule),
            ..Self::new(inner, Fault::Before)
        }
    }

    /// Gives calls through this wrapper another deadline than `inner`'s
    /// ([`ItemBackend::call_timeout`]), so tests of stalls need not wait seconds.
    pub fn bounded_by(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// Arms or disarms the schedule (disarmed: every call passes, e.g. to read the store
    /// back after a run).
    pub fn set_armed(&self, armed: bool) {
        self.armed.store(armed, Ordering::SeqCst);
    }

    /// What the schedule has done so far.
    pub fn tally(&self) -> Tally {
        Tally {
            calls: self.calls.load(Ordering::SeqCst),
            failed_before: self.failed_before.load(Ordering::SeqCst),
            failed_after: self.failed_after.load(Ordering::SeqCst),
            stalled: self.stalled.load(Ordering::SeqCst),
        }
    }

    /// The schedule's decision for the next call (`write`: whether it may fail after).
    fn fate(&self, write: bool) -> Fate {
        let Some(s) = self.schedule else {
            return Fate::Pass;
        };
        if !self.armed.load(Ordering::SeqCst) {
            return Fate::Pass;
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let roll = (splitmix64(s.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % 1000) as u32;
        let after = if write { s.fail_after_per_mille } else { 0 };
        let (fate, counter) = if roll < s.fail_per_mille {
            (Fate::FailBefore, &self.failed_before)
        } else if roll < s.fail_per_mille + after {
            (Fate::FailAfter, &self.failed_after)
        } else if roll < s.fail_per_mille + after + s.stall_per_mille {
            (Fate::Stall, &self.stalled)
        } else {
            return Fate::Pass;
        };
        counter.fetch_add(1, Ordering::SeqCst);
        fate
    }

    /// Runs one call under its fate.
    async fn under<T>(
        &self,
        write: bool,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match self.fate(write) {
            Fate::Pass => call.await,
            Fate::FailBefore => Err(Self::injected()),
            Fate::FailAfter => {
                call.await?;
                Err(Self::injected())
            }
            Fate::Stall => {
                tokio::time::sleep(self.schedule.map_or(Duration::ZERO, |s| s.stall)).await;
                call.await
            }
        }
    }

    /// Arms the fault for the `n`-th write from now (1: the next one); 0 disarms it.
    pub fn fail_write(&self, n: usize) {
        self.writes.store(0, Ordering::SeqCst);
        self.at.store(n, Ordering::SeqCst);
    }

    /// Writes seen since the last [`Faulty::fail_write`].
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn strikes(&self) -> bool {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        n == self.at.load(Ordering::SeqCst)
    }

    fn injected() -> StoreError {
        StoreError::unavailable("injected fault")
    }
}

#[async_trait]
impl ItemBackend for Faulty {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.under(false, self.inner.get(key)).await
    }

    async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError> {
        if !self.strikes() {
            return self.under(true, self.inner.write(write)).await;
        }
        if self.fault == Fault::After {
            self.inner.write(write).await?;
        }
        Err(Self::injected())
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        if !self.strikes() {
            return self.under(true, self.inner.transact(writes)).await;
        }
        if self.fault == Fault::After {
            self.inner.transact(writes).await?;
        }
        Err(Self::injected())
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.under(false, self.inner.query(query)).await
    }

    fn wrapped(&self) -> Option<&dyn ItemBackend> {
        Some(&*self.inner)
    }

    fn call_timeout(&self) -> Duration {
        self.call_timeout
            .unwrap_or_else(|| self.inner.call_timeout())
    }
}

/// SplitMix64: a tiny, well-mixed hash of the call number (no RNG crate for a test tool).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{Attr, Cond};

    fn put(n: i64) -> Write {
        Write::Put {
            item: Item::new(Key::new("p", format!("s{n}"))).with("a", Attr::N(n)),
            cond: Cond::Always,
        }
    }

    #[tokio::test]
    async fn a_schedule_strikes_at_its_rates_and_the_same_seed_strikes_the_same_calls() {
        let schedule = Schedule {
            seed: 42,
            fail_per_mille: 100,
            fail_after_per_mille: 100,
            ..Schedule::default()
        };
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            let inner = Arc::new(crate::embedded::Embedded::in_memory().expect("memory"));
            let f = Faulty::scheduled(inner.clone(), schedule);
            let mut run = Vec::new();
            for n in 0..1000 {
                run.push(f.write(put(n)).await.is_ok());
            }
            let t = f.tally();
            assert_eq!(t.calls, 1000);
            assert!((50..150).contains(&t.failed_before), "{t:?}");
            assert!((50..150).contains(&t.failed_after), "{t:?}");
            // Failed-after writes are in the store; failed-before ones are not.
            let mut stored = 0;
            for n in 0..1000 {
                stored += usize::from(
                    inner
                        .get(&put(n).key().clone())
                        .await
                        .expect("read")
                        .is_some(),
                );
            }
            assert_eq!(stored as u64, 1000 - t.failed_before);
            f.set_armed(false);
            assert!(f.write(put(5000)).await.is_ok());
            outcomes.push(run);
        }
        assert_eq!(outcomes[0], outcomes[1]);
    }
}
