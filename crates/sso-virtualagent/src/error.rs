//! The one error type of the signed-link adapter and the one place it becomes an answer:
//! a refused link is a 302 to the vendor's failure URL (or `/login?errorID=N`), a refused
//! sign-in is the login form again, a store failure is the 503 page (its cause logged here,
//! once).

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use sso_core::signed_link::LinkError;
use sso_web::login_form::{FormAgain, LoginForm};
use sso_web::{PageError, WebError, log_unavailable, page};
use thiserror::Error;

/// The login page's notice when a sign-in fails or is locked out (one text for both).
pub const MSG_SIGN_IN_FAILED: &str = "Sign-in failed. Check your email or client ID and password.";
/// The login page's notice when the CSRF token does not match.
pub const MSG_FORM_EXPIRED: &str = "Your sign-in form expired. Please try again.";

/// Why the standard login page refused a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignInRefusal {
    /// Unknown account or wrong password.
    #[error("bad credentials")]
    BadCredentials,
    /// Locked out for this (account, source IP): nothing was checked.
    #[error("locked out")]
    Locked,
    /// The CSRF token did not match its cookie.
    #[error("CSRF token mismatch")]
    FormExpired,
    /// The body was not a readable form.
    #[error("unreadable form")]
    Unreadable,
}

impl SignInRefusal {
    /// The notice and status the form is shown again with.
    pub fn answer(self) -> (&'static str, StatusCode) {
        match self {
            Self::BadCredentials | Self::Locked => (MSG_SIGN_IN_FAILED, StatusCode::UNAUTHORIZED),
            Self::FormExpired => (MSG_FORM_EXPIRED, StatusCode::FORBIDDEN),
            Self::Unreadable => (MSG_SIGN_IN_FAILED, StatusCode::BAD_REQUEST),
        }
    }
}

/// Everything a signed-link endpoint can answer other than success.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Not a tenant host, or the tenant could not be read (404 / 503 page).
    #[error(transparent)]
    Page(#[from] PageError),
    /// A signed link was refused (already audited): 302 to `location`, which carries the
    /// errorID and is the vendor's registered failure URL or the tenant's `/login`.
    #[error("signed link refused ({reason}), errorID {}", reason.error_id().code())]
    LinkRefused {
        /// Why.
        reason: LinkError,
        /// Where the browser goes.
        location: String,
    },
    /// The standard login page refused a sign-in: the form again, with a notice.
    #[error("sign-in refused: {refusal}")]
    SignInRefused {
        /// Why.
        refusal: SignInRefusal,
        /// The form to show again.
        form: Box<LoginForm>,
    },
    /// The store could not be reached: the 503 page.
    #[error(transparent)]
    Unavailable(#[from] WebError),
}

impl From<sso_store::StoreError> for Error {
    fn from(e: sso_store::StoreError) -> Self {
        Error::Unavailable(e.into())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Page(e) => e.into_response(),
            Error::LinkRefused { location, .. } => page::redirect(&location, &[]),
            Error::SignInRefused { refusal, form } => {
                let (notice, status) = refusal.answer();
                FormAgain {
                    form: *form,
                    notice,
                    status,
                }
                .into_response()
            }
            Error::Unavailable(e) => {
                log_unavailable("signed_link", &e);
                page::unavailable()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::LOCATION;

    fn form() -> Box<LoginForm> {
        Box::new(LoginForm {
            title: "Sign in".into(),
            heading: "Sign in to demoaws".into(),
            action: "/login".into(),
            user_field: "identifier",
            user_label: "Email or client ID",
            frame_ancestors: vec![],
            https: false,
            redirects_to: None,
        })
    }

    #[test]
    fn each_error_has_its_protocol_answer() {
        let link = Error::LinkRefused {
            reason: LinkError::NoClient,
            location: "https://partner.example/fail.php?clientID=1&errorID=2".into(),
        }
        .into_response();
        assert_eq!(link.status(), StatusCode::FOUND);
        assert_eq!(
            link.headers()[LOCATION],
            "https://partner.example/fail.php?clientID=1&errorID=2"
        );
        let table = [
            (SignInRefusal::BadCredentials, StatusCode::UNAUTHORIZED),
            (SignInRefusal::Locked, StatusCode::UNAUTHORIZED),
            (SignInRefusal::FormExpired, StatusCode::FORBIDDEN),
            (SignInRefusal::Unreadable, StatusCode::BAD_REQUEST),
        ];
        for (refusal, status) in table {
            let r = Error::SignInRefused {
                refusal,
                form: form(),
            }
            .into_response();
            assert_eq!(r.status(), status, "{refusal:?}");
        }
        assert_eq!(
            SignInRefusal::Locked.answer().0,
            SignInRefusal::BadCredentials.answer().0,
            "a locked account reads like a wrong password"
        );
        let down = Error::from(sso_store::StoreError::unavailable("timeout")).into_response();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        let gone = Error::Page(PageError::NotFound).into_response();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    }
}
