//! The one error type of the web plumbing, and the one way a cause reaches the log.

use axum::response::{IntoResponse, Response};
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

/// Logs why a request could not be served, once (the cause chain at debug level): every adapter's
/// error mapping calls this and nothing else logs the same failure again. The body the
/// client gets never carries any of it.
pub fn log_unavailable(context: &'static str, error: &(dyn std::error::Error + 'static)) {
    let mut chain = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        if !chain.is_empty() {
            chain.push_str(": ");
        }
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    // The backend's own messages may quote request values (DynamoDB's validation errors):
    // they go to the debug level, the error's own words to the warning.
    tracing::warn!(endpoint = context, error = %error, "store unavailable");
    tracing::debug!(endpoint = context, cause = %chain, "store unavailable: cause");
}

impl WebError {
    /// The 503 page, with the cause logged once under `context` (by [`log_unavailable`]): how
    /// every error mapping that answers with a page ends when the store could not be reached.
    pub fn into_unavailable_page(self, context: &'static str) -> Response {
        log_unavailable(context, &self);
        crate::page::unavailable()
    }
}

/// `impl From<StoreError>` for error enums that have an `Unavailable(WebError)` variant, so
/// that `?` on a store call lands there (through [`WebError::Store`]) in every adapter alike.
/// The crate using it depends on `sso-store` (every adapter does).
#[macro_export]
macro_rules! unavailable_from_store_error {
    ($error:ident) => {
        impl ::core::convert::From<::sso_store::StoreError> for $error {
            fn from(e: ::sso_store::StoreError) -> Self {
                $error::Unavailable(e.into())
            }
        }
    };
}

/// Why a page (not an API answer) could not be served: the plain 404 for hosts and paths that
/// are not ours, the 503 page when the store is unavailable. It is the rejection of the
/// page extractors ([`crate::extract::TenantPage`], [`crate::extract::PortalHost`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PageError {
    /// No such tenant or page here.
    #[error("not found")]
    NotFound,
    /// The store could not be reached.
    #[error(transparent)]
    Unavailable(#[from] WebError),
}

crate::unavailable_from_store_error!(PageError);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound => crate::page::not_found(),
            PageError::Unavailable(e) => e.into_unavailable_page("page"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn page_errors_map_to_the_plain_pages() {
        assert_eq!(
            PageError::NotFound.into_response().status(),
            StatusCode::NOT_FOUND
        );
        let down = PageError::from(sso_store::StoreError::unavailable("timeout"));
        let resp = down.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
}
