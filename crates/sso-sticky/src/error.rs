//! The one error type of the call-center adapter and the agent portal, and the one place it
//! becomes an answer: `/sso/0` always answers in its JSON (HTTP status = `code`); a refused
//! `/sso/login` link is the "expired" page; the portal answers with its sign-in form, a
//! refusal page, or the 404 / 503 page. A store failure's cause is logged here, once.

use axum::response::{IntoResponse, Response};
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use serde_json::json;
use sso_core::callcenter::{
    CallCenterError, MSG_TOKEN_CREATED, SSO_TOKEN_CREATED, STATUS_FAILURE, STATUS_SUCCESS,
};
use sso_web::page::{self, escape};
use sso_web::{FormAgain, PageError, WebError, log_unavailable};
use thiserror::Error;

/// The portal sign-in form's notice when a sign-in fails or is locked out.
pub const MSG_SIGN_IN_FAILED: &str = "Sign-in failed.";
/// The sign-out question's notice when the CSRF token does not match.
pub const MSG_SIGN_OUT_EXPIRED: &str = "Your sign-out form expired. Please try again.";
/// The page a refused one-time login URL shows.
pub const LINK_EXPIRED_TITLE: &str = "Sign-in link expired";

/// Why a token could not be issued (`/sso/0` or a pop).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IssueError {
    /// One of the protocol's refusals, with its code and descriptor.
    #[error(transparent)]
    Refused(#[from] CallCenterError),
    /// The store could not be reached (`UNAVAILABLE`).
    #[error(transparent)]
    Unavailable(#[from] WebError),
}

sso_web::unavailable_from_store_error!(IssueError);

impl IssueError {
    /// The wire error this is answered with.
    pub fn wire(&self) -> CallCenterError {
        match self {
            IssueError::Refused(e) => e.clone(),
            IssueError::Unavailable(_) => CallCenterError::Unavailable,
        }
    }
}

/// Everything a call-center or portal endpoint can answer other than success.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// `/sso/0` refused or could not serve the call: its JSON, HTTP status = `code`.
    #[error("/sso/0: {0}")]
    Api(#[from] IssueError),
    /// Not our host, or the tenant could not be read (404 / 503 page).
    #[error(transparent)]
    Page(#[from] PageError),
    /// A bad, used or expired `/sso/login` token (already audited): the 410 page.
    #[error("/sso/login token refused")]
    BadToken,
    /// A portal sign-in was refused: the form again, with a notice.
    #[error(transparent)]
    SignInRefused(#[from] FormAgain),
    /// A portal page needs a signed-in administrator or agent: 302 to `/login`.
    #[error("not signed in")]
    SignInFirst,
    /// The administrator does not manage this group: 403.
    #[error("not an administrator of this group")]
    NotYourGroup,
    /// A pop was refused: a page with the reason, at the call center's status for it.
    #[error("pop refused: {text}")]
    PopRefused {
        /// The HTTP status.
        status: StatusCode,
        /// What the agent reads.
        text: String,
    },
    /// A portal administrator's form was not saved: 400 with the reason.
    #[error("not saved: {0}")]
    NotSaved(&'static str),
    /// A portal administrator's form named an agent or a link the group does not have: 404
    /// with a message naming the group and the record.
    #[error("not found: {0}")]
    NoSuch(String),
    /// The store could not be reached: the 503 page.
    #[error(transparent)]
    Unavailable(#[from] WebError),
}

sso_web::unavailable_from_store_error!(Error);

impl From<CallCenterError> for Error {
    fn from(e: CallCenterError) -> Self {
        Error::Api(e.into())
    }
}

/// The `/sso/0` JSON answer; the HTTP status equals `code`.
pub fn answer(result: Result<&str, &CallCenterError>) -> Response {
    let (status, body) = match result {
        Ok(url) => (
            StatusCode::OK,
            json!({
                "success": 1, "code": 200, "url": url, "message": MSG_TOKEN_CREATED,
                "status": STATUS_SUCCESS, "descriptor": SSO_TOKEN_CREATED,
            }),
        ),
        Err(e) => (
            StatusCode::from_u16(e.code()).unwrap_or(StatusCode::BAD_REQUEST),
            json!({
                "success": 0, "code": e.code(), "url": "", "message": e.message(),
                "status": STATUS_FAILURE, "descriptor": e.descriptor(),
            }),
        ),
    };
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        h.insert(ALLOW, HeaderValue::from_static("POST"));
    }
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

/// A portal refusal page.
pub fn refusal_page(status: StatusCode, title: &str, text: &str) -> Response {
    page::page(
        status,
        title,
        &format!(
            "<h1>{t}</h1><p id=\"refusal\">{}</p>",
            escape(text),
            t = escape(title)
        ),
    )
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Api(e) => {
                if let IssueError::Unavailable(cause) = &e {
                    log_unavailable("/sso/0", cause);
                }
                answer(Err(&e.wire()))
            }
            Error::Page(e) => e.into_response(),
            Error::BadToken => page::page(
                StatusCode::GONE,
                LINK_EXPIRED_TITLE,
                "<h1>This sign-in link is invalid or has expired</h1><p>Sign-in links work once, for five \
                 minutes. Please start again from your call-center application.</p>",
            ),
            Error::SignInRefused(form) => form.into_response(),
            Error::SignInFirst => page::redirect("/login", &[]),
            Error::NotYourGroup => page::page(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "<h1>You do not manage this group.</h1>",
            ),
            Error::PopRefused { status, text } => {
                refusal_page(status, "Cannot open this platform", &text)
            }
            Error::NotSaved(text) => page::page(
                StatusCode::BAD_REQUEST,
                "Not saved",
                &format!("<h1>Not saved</h1><p id=\"error\">{}</p>", escape(text)),
            ),
            Error::NoSuch(text) => page::page(
                StatusCode::NOT_FOUND,
                "Not saved",
                &format!("<h1>Not saved</h1><p id=\"error\">{}</p>", escape(&text)),
            ),
            Error::Unavailable(e) => e.into_unavailable_page("callcenter"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn json_of(r: Response) -> serde_json::Value {
        let b = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&b).unwrap()
    }

    #[tokio::test]
    async fn api_errors_are_the_json_table_with_the_status_equal_to_code() {
        let table = [
            (
                CallCenterError::InvalidPlatformKey,
                401,
                "INVALID_PLATFORM_KEY",
            ),
            (CallCenterError::IpNotWhitelisted, 403, "IP_NOT_WHITELISTED"),
            (
                CallCenterError::MissingField("username"),
                400,
                "MISSING_FIELD",
            ),
            (
                CallCenterError::InvalidField("campaign_id"),
                422,
                "INVALID_FIELD",
            ),
            (CallCenterError::UnknownPlatform, 404, "UNKNOWN_PLATFORM"),
            (CallCenterError::RateLimited, 429, "RATE_LIMITED"),
            (CallCenterError::MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
        ];
        for (e, code, descriptor) in table {
            let message = e.message().into_owned();
            let r = Error::from(e).into_response();
            assert_eq!(r.status().as_u16(), code);
            assert_eq!(
                r.headers().get(ALLOW).is_some(),
                code == 405,
                "Allow comes with 405 only"
            );
            let v = json_of(r).await;
            assert_eq!(
                (
                    v["success"].as_i64(),
                    v["code"].as_u64(),
                    v["descriptor"].as_str()
                ),
                (Some(0), Some(u64::from(code)), Some(descriptor))
            );
            assert_eq!(v["message"], message.as_str());
            assert_eq!(v["status"], "FAILURE");
        }
        let down = Error::Api(sso_store::StoreError::unavailable("timeout").into()).into_response();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json_of(down).await["descriptor"], "UNAVAILABLE");
        let ok = json_of(answer(Ok("https://t.example/sso/login?token=x"))).await;
        assert_eq!(
            (ok["success"].as_i64(), ok["descriptor"].as_str()),
            (Some(1), Some("SSO_TOKEN_CREATED"))
        );
    }

    #[test]
    fn portal_errors_are_pages_and_redirects() {
        assert_eq!(Error::BadToken.into_response().status(), StatusCode::GONE);
        let r = Error::SignInFirst.into_response();
        assert_eq!(
            (r.status(), &r.headers()["location"]),
            (StatusCode::FOUND, &HeaderValue::from_static("/login"))
        );
        assert_eq!(
            Error::NotYourGroup.into_response().status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            Error::NotSaved("x").into_response().status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            Error::NoSuch("Group 21 has no agent `x`.".into())
                .into_response()
                .status(),
            StatusCode::NOT_FOUND
        );
        let pop = Error::PopRefused {
            status: StatusCode::NOT_FOUND,
            text: "Group 9 does not exist.".into(),
        }
        .into_response();
        assert_eq!(pop.status(), StatusCode::NOT_FOUND);
        let down = Error::from(sso_store::StoreError::unavailable("x")).into_response();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
