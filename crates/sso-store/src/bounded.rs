//! Every store call has a deadline: a backend that stalls (a wedged disk, a network that
//! neither answers nor fails, DynamoDB retrying past its budget) is answered as
//! [`StoreError::Unavailable`] once the call has taken its backend's
//! [`ItemBackend::call_timeout`], so a request waits at most that long per store call and
//! every protocol answers its own "temporarily unavailable" instead of hanging.
//!
//! A write cut off this way may still be applied afterwards. That is the same outcome as a
//! timeout after the server acted ([`crate::faults::Fault::After`]), which every multi-write
//! operation is built to survive (each prefix of its writes is safe).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::StoreError;
use crate::item::{FollowUp, Followed, Item, ItemBackend, Key, Page, Query, Write, WriteOutcome};

/// The deadline of one store call unless its backend names another: the embedded store's
/// worst honest commit (a group of 256 writes and one fsync) is far below it.
pub const STORE_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A backend whose every call is cut off after `timeout`.
pub(crate) struct Bounded {
    inner: Arc<dyn ItemBackend>,
    timeout: Duration,
}

impl Bounded {
    /// Wraps `inner` with its own [`ItemBackend::call_timeout`].
    pub(crate) fn new(inner: Arc<dyn ItemBackend>) -> Self {
        let timeout = inner.call_timeout();
        Self { inner, timeout }
    }

    /// Wraps `inner` with another bound.
    pub(crate) fn with_timeout(inner: Arc<dyn ItemBackend>, timeout: Duration) -> Self {
        Self { inner, timeout }
    }

    async fn within<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!(
                    call = what,
                    timeout_ms = self.timeout.as_millis() as u64,
                    "store call timed out"
                );
                Err(StoreError::unavailable(format!("{what} timed out")))
            }
        }
    }
}

#[async_trait]
impl ItemBackend for Bounded {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.within("get", self.inner.get(key)).await
    }

    async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError> {
        self.within("write", self.inner.write(write)).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        self.within("transact", self.inner.transact(writes)).await
    }

    async fn write_then(&self, first: Write, then: FollowUp) -> Result<Followed, StoreError> {
        self.within("write", self.inner.write_then(first, then))
            .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        self.within("query", self.inner.query(query)).await
    }

    fn wrapped(&self) -> Option<&dyn ItemBackend> {
        Some(&*self.inner)
    }

    fn call_timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{Faulty, Schedule};
    use crate::item::{Attr, Cond};

    struct Never;

    #[async_trait]
    impl ItemBackend for Never {
        async fn get(&self, _: &Key) -> Result<Option<Item>, StoreError> {
            std::future::pending().await
        }
        async fn write(&self, _: Write) -> Result<WriteOutcome, StoreError> {
            std::future::pending().await
        }
        async fn transact(&self, _: Vec<Write>) -> Result<WriteOutcome, StoreError> {
            std::future::pending().await
        }
        async fn query(&self, _: Query) -> Result<Page, StoreError> {
            std::future::pending().await
        }
        fn call_timeout(&self) -> Duration {
            Duration::from_millis(50)
        }
    }

    #[tokio::test]
    async fn a_call_that_never_returns_is_unavailable_after_the_bound() {
        let b = Bounded::new(Arc::new(Never));
        let started = std::time::Instant::now();
        let err = b.get(&Key::new("p", "s")).await.expect_err("cut off");
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(50) && took < Duration::from_secs(2),
            "{took:?}"
        );
        let put = Write::Put {
            item: Item::new(Key::new("p", "s")).with("a", Attr::N(1)),
            cond: Cond::Always,
        };
        assert!(b.write(put).await.is_err());
    }

    #[tokio::test]
    async fn a_stalled_call_of_a_scheduled_fault_is_cut_off_by_the_store() {
        let inner = Arc::new(crate::embedded::Embedded::in_memory().expect("memory store"));
        let stalling = Faulty::scheduled(
            inner,
            Schedule {
                seed: 1,
                stall_per_mille: 1000,
                stall: Duration::from_secs(60),
                ..Schedule::default()
            },
        );
        let store = crate::Store::with_call_timeout(
            Arc::new(stalling),
            crate::SecretBox::new([1; 32]),
            Duration::from_millis(100),
        );
        let started = std::time::Instant::now();
        assert!(store.backend().get(&Key::new("p", "s")).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
