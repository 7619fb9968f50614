//! The one error type of the storage port.

use thiserror::Error;

/// What can go wrong below the port. Expected outcomes of exactly-once operations (a token
/// already used, a replay) are *not* errors: they are the `Ok` values of those operations.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached in time (throttling, timeouts, network, a lock held
    /// too long). Callers answer with their protocol's "temporarily unavailable"; nothing was
    /// half-written.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
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
