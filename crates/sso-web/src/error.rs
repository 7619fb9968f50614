//! The one error type of the web plumbing.

use thiserror::Error;

/// What can fail below a handler that is not the protocol's own answer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WebError {
    /// The store is unavailable: handlers answer with their protocol's "temporarily
    /// unavailable" (a 503 page, `result_code 0`, `UNAVAILABLE`).
    #[error(transparent)]
    Store(#[from] sso_store::StoreError),
    /// The OS random source failed (no token or session id can be made).
    #[error("OS random source: {0}")]
    Random(String),
}
