//! The one error type of the help-desk adapter and the one place it becomes an answer:
//! `api.php` always answers HTTP 200 with `result_code 0` in the caller's format (the official
//! client treats any other status as a transport failure); the browser pages answer with a
//! redirect to `/admin/login`, the sign-in form again, or the 404 / 503 page. A store
//! failure's cause is logged here, once.

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use sso_core::helpdesk::{ApiFailure, ApiResult, OutputFormat};
use sso_web::{FormAgain, PageError, WebError, log_unavailable, page};
use thiserror::Error;

/// Where a refused `_ssot` sends the browser.
pub const SSO_REFUSED_LOCATION: &str = "/admin/login?error=sso";
/// The sign-in page's notice after a refused `_ssot`.
pub const MSG_SSO_REFUSED: &str = "The sign-in link is invalid or has expired. Please sign in.";
/// The sign-in page's notice when a sign-in fails or is locked out (one text for both).
pub const MSG_SIGN_IN_FAILED: &str = "Sign-in failed.";
/// Why an `api.php` call got `result_code 0`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApiError {
    /// One of the protocol's refusals.
    #[error(transparent)]
    Refused(#[from] ApiFailure),
    /// The store could not be reached ("Temporarily unavailable; try again.").
    #[error(transparent)]
    Unavailable(#[from] WebError),
}

sso_web::unavailable_from_store_error!(ApiError);

/// Everything a help-desk endpoint can answer other than success.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// `api.php` refused or could not serve the call: `result_code 0` in `format`.
    #[error("api.php: {error}")]
    Api {
        /// The format the caller asked for (JSON when that itself was unknown).
        format: OutputFormat,
        /// Why.
        error: ApiError,
    },
    /// Not a tenant host, or the tenant could not be read (404 / 503 page).
    #[error(transparent)]
    Page(#[from] PageError),
    /// A bad, used or expired `_ssot` (already audited): 302 to `/admin/login?error=sso`.
    #[error("_ssot refused")]
    BadToken,
    /// `/admin/login` refused a sign-in: the form again, with a notice.
    #[error(transparent)]
    SignInRefused(#[from] FormAgain),
    /// The store could not be reached: the 503 page.
    #[error(transparent)]
    Unavailable(#[from] WebError),
}

sso_web::unavailable_from_store_error!(Error);

/// Every `api.php` answer: HTTP 200, the result in the requested format, never cached.
pub fn answer(format: OutputFormat, result: &ApiResult, cookie: Option<String>) -> Response {
    let mut resp = (StatusCode::OK, result.render(format)).into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(SET_COOKIE, c);
    }
    resp
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Api { format, error } => {
                let failure = match error {
                    ApiError::Refused(f) => f,
                    ApiError::Unavailable(e) => {
                        log_unavailable("api.php", &e);
                        ApiFailure::Unavailable
                    }
                };
                answer(format, &failure.to_result(format), None)
            }
            Error::Page(e) => e.into_response(),
            Error::BadToken => page::redirect(SSO_REFUSED_LOCATION, &[]),
            Error::SignInRefused(form) => form.into_response(),
            Error::Unavailable(e) => e.into_unavailable_page("helpdesk"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn api_errors_are_result_code_0_with_http_200_in_the_asked_format() {
        let table = [
            (
                ApiFailure::InvalidCredentials,
                OutputFormat::Json,
                "{\"result_code\":0,\"result_message\":\"API credentials are invalid.\",\"result_output\":\"json\"}",
            ),
            (
                ApiFailure::LoginFailed,
                OutputFormat::Serialize,
                "a:3:{s:11:\"result_code\";i:0;s:14:\"result_message\";s:13:\"Login failed.\";s:13:\"result_output\";s:9:\"serialize\";}",
            ),
            (
                ApiFailure::Throttled,
                OutputFormat::Xml,
                "<result_message>Too many failed attempts; try again later.</result_message>",
            ),
        ];
        for (failure, format, expected) in table {
            let r = Error::Api {
                format,
                error: failure.into(),
            }
            .into_response();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()[CONTENT_TYPE], format.content_type());
            let text = body(r).await;
            assert!(text.contains(expected), "{text}");
        }
        let down = Error::Api {
            format: OutputFormat::Json,
            error: sso_store::StoreError::unavailable("timeout").into(),
        }
        .into_response();
        assert_eq!(down.status(), StatusCode::OK);
        assert!(
            body(down)
                .await
                .contains("Temporarily unavailable; try again.")
        );
    }

    #[test]
    fn page_errors_are_redirects_forms_and_plain_pages() {
        let r = Error::BadToken.into_response();
        assert_eq!(
            (r.status(), r.headers()["location"].to_str().unwrap()),
            (StatusCode::FOUND, SSO_REFUSED_LOCATION)
        );
        let form = sso_web::login_form::LoginForm {
            title: "Help desk sign in".into(),
            heading: "Help desk sign in: demoaws".into(),
            action: "/admin/login".into(),
            user_field: "username",
            user_label: "Username",
            failed_notice: MSG_SIGN_IN_FAILED,
            frame_ancestors: vec![],
            https: false,
            redirects_to: None,
        };
        let r = Error::from(form.refuse(sso_web::SignInRefusal::FormExpired)).into_response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let down = Error::from(sso_store::StoreError::unavailable("x")).into_response();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
