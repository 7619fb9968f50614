//! A backend wrapper that injects faults, for tests of what a failure midway leaves behind:
//! the n-th write (a single write or a transaction counts one) fails before it is applied,
//! or is applied and then reported as failed (a timeout after the server acted). Reads pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::StoreError;
use crate::item::{Capacity, Item, ItemBackend, Key, Page, Query, Write, WriteOutcome};

/// When the fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The write is refused: nothing applied.
    Before,
    /// The write is applied, then an error is returned.
    After,
}

/// The wrapper: writes are counted from 1; the one numbered `at` fails as `fault`.
pub struct Faulty {
    inner: Arc<dyn ItemBackend>,
    writes: AtomicUsize,
    at: AtomicUsize,
    fault: Fault,
}

impl std::fmt::Debug for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faulty")
            .field("writes", &self.writes)
            .field("at", &self.at)
            .field("fault", &self.fault)
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
        self.inner.get(key).await
    }

    async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError> {
        if !self.strikes() {
            return self.inner.write(write).await;
        }
        if self.fault == Fault::After {
            self.inner.write(write).await?;
        }
        Err(Self::injected())
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        if !self.strikes() {
            return self.inner.transact(writes).await;
        }
        if self.fault == Fault::After {
            self.inner.transact(writes).await?;
        }
        Err(Self::injected())
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }

    fn max_transaction_items(&self) -> usize {
        self.inner.max_transaction_items()
    }

    fn consumed(&self) -> Capacity {
        self.inner.consumed()
    }
}
