//! The gate every Argon2id check passes: at most two per core at once (each holds 19 MiB and
//! a core for tens of milliseconds), a bounded queue behind them, and a cap per source
//! address on checks running or waiting, so one client's flood of sign-ins is refused at once
//! ("try again later") instead of making everyone else's sign-in wait behind it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a check may wait for a slot before it is answered "try again later".
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// The gate's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSizes {
    /// Checks running at once (default: two per core).
    pub slots: usize,
    /// Checks waiting for a slot, beyond which new ones are refused (default: 4 × slots).
    pub queue: usize,
    /// Checks one source address may have running or waiting (default: 2 × slots, so one
    /// source can fill the slots and queue as many again behind them, but never the queue).
    pub per_source: usize,
}

impl Default for GateSizes {
    fn default() -> Self {
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
        Self {
            slots,
            queue: slots * 4,
            per_source: slots * 2,
        }
    }
}

/// No slot now: answer "try again later".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// The gate (one per process, shared by every router).
#[derive(Debug)]
pub struct PasswordGate {
    sizes: GateSizes,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    per_source: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// A source's share of the gate, given back when dropped.
#[derive(Debug)]
struct SourceShare {
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    source: IpAddr,
}

impl Drop for SourceShare {
    fn drop(&mut self) {
        if let Ok(mut m) = self.map.lock()
            && let Some(n) = m.get_mut(&self.source)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.source);
            }
        }
    }
}

/// A place in the queue, counted while held.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The right to run one Argon2id check.
#[derive(Debug)]
pub struct PasswordSlot {
    _permit: OwnedSemaphorePermit,
    _share: SourceShare,
}

impl PasswordSlot {
    /// Checks `password` against an Argon2id verifier (`None`: the same work against a dummy,
    /// so unknown accounts cost the same), off the async workers. The slot goes with the
    /// work: a request dropped mid-check (the client went away) frees it only when Argon2 is
    /// done.
    pub async fn verify(self, verifier: Option<String>, password: String) -> bool {
        tokio::task::spawn_blocking(move || {
            let _slot = self;
            let started = std::time::Instant::now();
            let ok = sso_store::password::verify(verifier.as_deref(), &password);
            crate::metrics::argon2_time(started.elapsed());
            ok
        })
        .await
        .unwrap_or(false)
    }
}

impl PasswordGate {
    /// A gate of these sizes.
    pub fn new(sizes: GateSizes) -> Self {
        Self {
            sizes,
            slots: Arc::new(Semaphore::new(sizes.slots)),
            waiting: AtomicUsize::new(0),
            per_source: Arc::default(),
        }
    }

    /// A slot for one check from `source`, or [`Busy`] at once when that source already has
    /// its share running or waiting, when the queue is full, or after [`MAX_WAIT`].
    pub async fn slot(&self, source: IpAddr) -> Result<PasswordSlot, Busy> {
        let share = {
            let mut m = self.per_source.lock().map_err(|_| Busy)?;
            let n = m.entry(source).or_insert(0);
            if *n >= self.sizes.per_source {
                return Err(Busy);
            }
            *n += 1;
            SourceShare {
                map: Arc::clone(&self.per_source),
                source,
            }
        };
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(PasswordSlot {
                _permit: permit,
                _share: share,
            });
        }
        // The place in the queue is given back when this guard drops, also when the request
        // is dropped while it waits (the client went away).
        let place = QueuePlace(&self.waiting);
        if place.0.fetch_add(1, Ordering::SeqCst) >= self.sizes.queue {
            return Err(Busy);
        }
        let acquired =
            tokio::time::timeout(MAX_WAIT, Arc::clone(&self.slots).acquire_owned()).await;
        drop(place);
        match acquired {
            Ok(Ok(permit)) => Ok(PasswordSlot {
                _permit: permit,
                _share: share,
            }),
            _ => Err(Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_source_gets_its_share_and_the_queue_is_bounded() {
        let gate = PasswordGate::new(GateSizes {
            slots: 1,
            queue: 1,
            per_source: 2,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        let first = gate.slot(a).await.unwrap();
        // `a` may wait for one more, but not a third; `b` may queue once the queue has room.
        let gate = Arc::new(gate);
        let g = Arc::clone(&gate);
        let waiting = tokio::spawn(async move { g.slot(a).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(gate.slot(a).await.err(), Some(Busy), "a's share is two");
        assert_eq!(gate.slot(b).await.err(), Some(Busy), "the queue holds one");
        drop(first);
        assert!(waiting.await.unwrap().is_ok());
        assert!(gate.slot(c).await.is_ok(), "shares are given back");
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_gives_its_place_back() {
        let gate = Arc::new(PasswordGate::new(GateSizes {
            slots: 1,
            queue: 1,
            per_source: 4,
        }));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let held = gate.slot(a).await.unwrap();
        for _ in 0..3 {
            // A request queues, then its client disconnects (the future is dropped).
            let g = Arc::clone(&gate);
            let waiter = tokio::spawn(async move { g.slot(a).await.map(|_| ()) });
            tokio::time::sleep(Duration::from_millis(20)).await;
            waiter.abort();
            let _ = waiter.await;
        }
        let g = Arc::clone(&gate);
        let next = tokio::spawn(async move { g.slot(a).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(
            next.await.unwrap().is_ok(),
            "the queue still admits a waiter"
        );
    }
}
