//! The one error type of the signed-link adapter and the one place it becomes an answer:
//! a refused link is a 302 to the vendor's failure URL (or `/login?errorID=N`), a refused
//! sign-in is the login form again, a store failure is the 503 page (its cause logged here,
//! once).

use axum::response::{IntoResponse, Response};
use sso_core::signed_link::LinkError;
use sso_web::{FormAgain, PageError, WebError, page};
use thiserror::Error;

/// The login page's notice when a sign-in fails or is locked out (one text for both).
pub const MSG_SIGN_IN_FAILED: &str = "Sign-in failed. Check your email or client ID and password.";
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
    /// A link of a vendor in test mode was refused (already audited): 400, a page saying
    /// which check failed and why (`sso_core::signed_link::diagnose`, no digest).
    #[error("signed link refused in test mode ({reason})")]
    TestMode {
        /// The explanation, a line each.
        lines: Vec<String>,
        /// Why.
        reason: LinkError,
    },
    /// The standard login page refused a sign-in: the form again, with a notice.
    #[error(transparent)]
    SignInRefused(#[from] FormAgain),
    /// The store could not be reached: the 503 page.
    #[error(transparent)]
    Unavailable(#[from] WebError),
}

sso_web::unavailable_from_store_error!(Error);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Page(e) => e.into_response(),
            Error::LinkRefused { location, .. } => page::redirect(&location, &[]),
            Error::TestMode { lines, .. } => {
                let items: String = lines
                    .iter()
                    .map(|l| format!("<li>{}</li>", page::escape(l)))
                    .collect();
                page::page(
                    http::StatusCode::BAD_REQUEST,
                    "Signed link refused (test mode)",
                    &format!(
                        "<h1>Signed link refused (test mode)</h1><p>This vendor is in test \
                         mode: the checks of the link, in order.</p><ul>{items}</ul>"
                    ),
                )
            }
            Error::SignInRefused(form) => form.into_response(),
            Error::Unavailable(e) => e.into_unavailable_page("signed_link"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use http::header::LOCATION;
    use sso_web::SignInRefusal;
    use sso_web::login_form::LoginForm;

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
        let form = LoginForm {
            title: "Sign in".into(),
            heading: "Sign in to demoaws".into(),
            action: "/login".into(),
            user_field: "identifier",
            user_label: "Email or client ID",
            failed_notice: MSG_SIGN_IN_FAILED,
            frame_ancestors: vec![],
            https: false,
            redirects_to: None,
        };
        let refused = Error::from(form.refuse(SignInRefusal::Locked)).into_response();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let down = Error::from(sso_store::StoreError::unavailable("timeout")).into_response();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        let gone = Error::Page(PageError::NotFound).into_response();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    }
}
