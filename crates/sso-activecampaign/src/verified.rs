//! Remembers successful API credential checks for a few minutes, so that a partner's burst
//! of calls pays Argon2id once. Keyed by a keyed hash of the presented credential (a random
//! per-process key): the cache never holds a credential, and its keys are useless elsewhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sso_core::ident::StorageKey;

/// How long a successful check is remembered.
pub const VERIFIED_TTL: Duration = Duration::from_secs(300);

/// The cache.
pub struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<HashMap<StorageKey, Instant>>,
}

impl VerifiedCache {
    /// An empty cache with a fresh random key (an all-zero key if the OS refuses randomness,
    /// which only weakens the hashing of a cache that lives in this process's memory).
    pub fn new() -> Self {
        Self {
            key: sso_web::random_bytes().unwrap_or([0; 32]),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, parts: &[&[u8]]) -> StorageKey {
        let mut all: Vec<&[u8]> = vec![&self.key];
        all.extend_from_slice(parts);
        StorageKey::digest_of(&all)
    }

    /// Whether these exact credentials were verified within the TTL.
    pub fn contains(&self, parts: &[&[u8]]) -> bool {
        let slot = self.slot(parts);
        self.entries
            .lock()
            .is_ok_and(|e| e.get(&slot).is_some_and(|at| at.elapsed() < VERIFIED_TTL))
    }

    /// Remembers a successful check.
    pub fn insert(&self, parts: &[&[u8]]) {
        let slot = self.slot(parts);
        if let Ok(mut e) = self.entries.lock() {
            if e.len() > 10_000 {
                e.retain(|_, at| at.elapsed() < VERIFIED_TTL);
            }
            e.insert(slot, Instant::now());
        }
    }
}
