//! The one error type of the storage port.

use std::sync::Arc;

use thiserror::Error;

/// The cause behind [`StoreError::Unavailable`], kept whole so the one place that logs it
/// (each adapter's error mapping) can show its chain.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong below the port. Expected outcomes of exactly-once operations (a token
/// already used, a replay) are *not* errors: they are the `Ok` values of those operations.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached in time (throttling, timeouts, network, a lock held
    /// too long). Callers answer with their protocol's "temporarily unavailable"; nothing was
    /// half-written.
    #[error("the store is unavailable: {what}")]
    Unavailable {
        /// What failed, in words safe for a log line.
        what: String,
        /// The backend's own error, when there is one (the SDK's, redb's, the runtime's).
        #[source]
        source: Option<Cause>,
    },
    /// A stored item could not be decoded.
    #[error("stored item {key} is corrupt: {reason}")]
    Corrupt {
        /// The item's `pk/sk`.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// An import file was refused as a whole; nothing was written.
    #[error("{location}: {message}")]
    Import {
        /// File, line or path of the problem (`demo.toml: line 12` or `vendors[1].secret`).
        location: String,
        /// What is wrong there.
        message: String,
    },
    /// A value given to an admin operation is invalid.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// The embedded store's data directory is held by another process.
    #[error(
        "the data directory {0} is in use by another process (a running `sso serve`?); stop it or go through the server"
    )]
    Locked(String),
    /// Local file system trouble with the embedded store.
    #[error("data directory: {0}")]
    Io(String),
    /// A vendor secret could not be decrypted with the configured key.
    #[error("a stored secret cannot be decrypted with the configured SSO_SECRET_KEY")]
    SecretKey,
}

/// Equal when of the same kind with the same details; two `Unavailable`s compare by `what`
/// (an underlying error has no equality of its own).
impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        use StoreError::*;
        match (self, other) {
            (Unavailable { what: a, .. }, Unavailable { what: b, .. }) => a == b,
            (
                Corrupt {
                    key: k1,
                    reason: r1,
                },
                Corrupt {
                    key: k2,
                    reason: r2,
                },
            ) => k1 == k2 && r1 == r2,
            (
                Import {
                    location: l1,
                    message: m1,
                },
                Import {
                    location: l2,
                    message: m2,
                },
            ) => l1 == l2 && m1 == m2,
            (Invalid { what: w1, why: y1 }, Invalid { what: w2, why: y2 }) => w1 == w2 && y1 == y2,
            (Locked(a), Locked(b)) | (Io(a), Io(b)) => a == b,
            (SecretKey, SecretKey) => true,
            _ => false,
        }
    }
}

impl Eq for StoreError {}

impl StoreError {
    /// [`StoreError::Unavailable`] without an underlying error.
    pub fn unavailable(what: impl Into<String>) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: None,
        }
    }

    /// [`StoreError::Unavailable`] caused by `source`.
    pub fn unavailable_from(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            what: what.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// Whether this is the "temporarily unavailable" kind (as opposed to corrupt data or a
    /// refused admin operation).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}
