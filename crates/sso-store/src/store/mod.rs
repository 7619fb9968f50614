//! [`Store`]: every port trait, written once over an [`ItemBackend`].
//!
//! The key design (one table, `pk`/`sk`, `expires_at` as TTL) is documented with the cost of
//! every access pattern in `docs/store.md`; [`keys`] is its code.

mod directory;
#[cfg(feature = "import")]
pub(crate) use directory::parse_scheme;
pub use directory::{DirRecord, VendorRecord, VendorSummary};
pub mod keys;
mod rotation;
pub use rotation::Resealed;
mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bounded::Bounded;
use crate::item::{Attr, Capacity, Item, ItemBackend};
use crate::{SecretBox, StoreError};

/// How long a subject's revocation time is cached per process: "revoke all sessions" takes
/// effect on other instances within this bound.
pub const NOT_BEFORE_CACHE: Duration = Duration::from_secs(60);

/// Per-process cache of subjects' revocation times: (tenant, subject) → (fetched, value).
type NotBeforeCache = Arc<Mutex<HashMap<(String, String), (Instant, Option<i64>)>>>;

/// The store: port traits over one backend. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn ItemBackend>,
    secrets: SecretBox,
    not_before: NotBeforeCache,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A store over `backend`, sealing vendor secrets with `secrets`. Every call to the
    /// backend is cut off after the backend's [`ItemBackend::call_timeout`]
    /// ([`crate::bounded`]), so a stalled backend makes a request answer "unavailable"
    /// instead of hanging.
    pub fn new(backend: Arc<dyn ItemBackend>, secrets: SecretBox) -> Self {
        Self {
            backend: Arc::new(Bounded::new(backend)),
            secrets,
            not_before: Arc::default(),
        }
    }

    /// [`Store::new`] with another bound on every backend call (tests of stalls).
    pub fn with_call_timeout(
        backend: Arc<dyn ItemBackend>,
        secrets: SecretBox,
        timeout: Duration,
    ) -> Self {
        Self {
            backend: Arc::new(Bounded::with_timeout(backend, timeout)),
            secrets,
            not_before: Arc::default(),
        }
    }

    /// The backend (for measurements and tests).
    pub fn backend(&self) -> &Arc<dyn ItemBackend> {
        &self.backend
    }

    /// Request units consumed so far through this store's backend.
    pub fn consumed(&self) -> Capacity {
        self.backend.consumed()
    }
}

/// The attribute holding a record's JSON.
const DATA: &str = "data";

fn encode<T: Serialize>(value: &T) -> Result<Attr, StoreError> {
    serde_json::to_string(value)
        .map(Attr::S)
        .map_err(|e| StoreError::Invalid {
            what: "record",
            why: e.to_string(),
        })
}

fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: item.key.to_string(),
        reason,
    };
    let data = item
        .s(DATA)
        .ok_or_else(|| corrupt("no data attribute".into()))?;
    serde_json::from_str(data).map_err(|e| corrupt(e.to_string()))
}
