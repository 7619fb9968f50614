//! The one sign-in form page every protocol shows (`/login`, `/admin/login`, the portal's
//! `/login` and `/login/<group>`): CSRF double-submit token, escaped text, security headers.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use sso_store::model::Outcome;
use thiserror::Error;

use crate::page::{self, escape};
use crate::{Gate, WebConfig, cookies, random_bytes};

/// Every sign-in form's notice when too many password checks are under way.
pub const MSG_BUSY: &str =
    "Too many sign-ins are being checked right now. Please try again in a moment.";
/// Every sign-in form's notice when its CSRF token does not match its cookie.
pub const MSG_FORM_EXPIRED: &str = "Your sign-in form expired. Please try again.";

/// Why a sign-in form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignInRefusal {
    /// Unknown account or wrong password.
    #[error("bad credentials")]
    BadCredentials,
    /// Locked out for this (account, source IP): nothing was checked. Answered exactly like
    /// [`SignInRefusal::BadCredentials`] (PROTOCOLS.md: "the same message").
    #[error("locked out")]
    Locked,
    /// The CSRF token did not match its cookie.
    #[error("CSRF token mismatch")]
    FormExpired,
    /// The body was not a readable form.
    #[error("unreadable form")]
    Unreadable,
    /// Too many password checks are running or waiting: try again later (503).
    #[error("password checks busy")]
    Busy,
}

impl SignInRefusal {
    /// What the audit trail records for it.
    pub fn outcome(self) -> Outcome {
        match self {
            Self::Locked => Outcome::Locked,
            Self::Busy => Outcome::Unavailable,
            _ => Outcome::BadCredentials,
        }
    }
}

/// Why a sign-in did not happen: refused (the form again) or the store failed (503).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SignInFailure {
    /// Refused by the rules.
    #[error(transparent)]
    Refused(#[from] SignInRefusal),
    /// The store could not be reached.
    #[error(transparent)]
    Unavailable(#[from] crate::WebError),
}

impl SignInFailure {
    /// The adapter's error for it: `refuse` makes the form-again error of a refusal.
    pub fn into_error<E: From<crate::WebError>>(
        self,
        refuse: impl FnOnce(SignInRefusal) -> E,
    ) -> E {
        match self {
            SignInFailure::Refused(refusal) => refuse(refusal),
            SignInFailure::Unavailable(e) => E::from(e),
        }
    }
}

impl From<sso_store::StoreError> for SignInFailure {
    fn from(e: sso_store::StoreError) -> Self {
        SignInFailure::Unavailable(e.into())
    }
}

impl<T> Gate<T> {
    /// What passed, or why not.
    pub fn passed(self) -> Result<T, SignInRefusal> {
        match self {
            Gate::Passed(t) => Ok(t),
            Gate::Failed => Err(SignInRefusal::BadCredentials),
            Gate::Locked => Err(SignInRefusal::Locked),
            Gate::Busy => Err(SignInRefusal::Busy),
        }
    }
}

/// What a notice on a sign-in form says. The texts are wire text for people; tests and
/// browsers look for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// An error notice (`class="box err"`).
    Error(&'static str),
}

/// A sign-in form, described once per endpoint and rendered fresh (a new CSRF token) each time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// `<title>`.
    pub title: String,
    /// The `<h1>`.
    pub heading: String,
    /// Where the form posts.
    pub action: String,
    /// The name and id of the account field (`identifier`, `username`, `user`).
    pub user_field: &'static str,
    /// Its label.
    pub user_label: &'static str,
    /// The notice of a failed (or locked-out) sign-in, in the protocol's words.
    pub failed_notice: &'static str,
    /// Partner origins that may frame the page (the tenant's).
    pub frame_ancestors: Vec<String>,
    /// Cookies over https (`__Host-`, `Secure`).
    pub https: bool,
    /// A CSP source the form may lead to through redirects (the portal's sign-in goes on to a
    /// tenant host).
    pub redirects_to: Option<String>,
}

impl LoginForm {
    /// The framing of a form on a tenant page (its frame ancestors, `SameSite=None` when
    /// framed), texts empty: fill them in with struct update syntax.
    pub fn on_tenant(config: &WebConfig, tenant: &sso_store::model::Tenant) -> Self {
        Self {
            title: String::new(),
            heading: String::new(),
            action: String::new(),
            user_field: "user",
            user_label: "",
            failed_notice: "",
            frame_ancestors: tenant.frame_ancestors.clone(),
            https: config.https,
            redirects_to: None,
        }
    }

    /// The page, with an optional notice, at `status`.
    pub fn render(&self, notice: Option<Notice>, status: StatusCode) -> Response {
        let Ok(csrf) = random_bytes::<16>().map(hex::encode) else {
            return page::unavailable();
        };
        let notice = match notice {
            None => String::new(),
            Some(Notice::Error(text)) => format!(
                "<div class=\"box err\" id=\"notice\">{}</div>",
                escape(text)
            ),
        };
        let body = format!(
            "<h1>{heading}</h1>{notice}<form method=\"post\" action=\"{action}\" class=\"box\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"{field}\">{label}</label>\
             <input id=\"{field}\" name=\"{field}\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button id=\"submit\" type=\"submit\">Sign in</button></form>",
            heading = escape(&self.heading),
            action = escape(&self.action),
            field = self.user_field,
            label = escape(self.user_label),
        );
        let mut resp = page::secure(
            page::page(status, &self.title, &body),
            &self.frame_ancestors,
        );
        if let Some(source) = &self.redirects_to {
            resp = page::allow_form_redirects_to(resp, source);
        }
        let framed = !self.frame_ancestors.is_empty();
        if let Ok(v) = http::HeaderValue::from_str(&cookies::set_csrf(&csrf, self.https, framed)) {
            resp.headers_mut().append(http::header::SET_COOKIE, v);
        }
        resp
    }

    /// The form shown again for a refused sign-in.
    pub fn refuse(self, refusal: SignInRefusal) -> FormAgain {
        FormAgain {
            form: Box::new(self),
            refusal,
        }
    }
}

/// A form shown again with a notice: the response of a refused sign-in. A failure or a
/// lock-out is 401 with the protocol's failure text, a CSRF mismatch 403
/// ([`MSG_FORM_EXPIRED`]), an unreadable body 400.
#[derive(Debug, Clone, Error)]
#[error("sign-in refused: {refusal}")]
pub struct FormAgain {
    /// The form.
    pub form: Box<LoginForm>,
    /// Why.
    pub refusal: SignInRefusal,
}

impl IntoResponse for FormAgain {
    fn into_response(self) -> Response {
        let (notice, status) = match self.refusal {
            SignInRefusal::BadCredentials | SignInRefusal::Locked => {
                (self.form.failed_notice, StatusCode::UNAUTHORIZED)
            }
            SignInRefusal::FormExpired => (MSG_FORM_EXPIRED, StatusCode::FORBIDDEN),
            SignInRefusal::Unreadable => (self.form.failed_notice, StatusCode::BAD_REQUEST),
            SignInRefusal::Busy => (MSG_BUSY, StatusCode::SERVICE_UNAVAILABLE),
        };
        self.form.render(Some(Notice::Error(notice)), status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_form_has_its_status_notice_and_csrf_cookie() {
        let form = LoginForm {
            title: "Sign in".into(),
            heading: "Sign in to <t>".into(),
            action: "/login".into(),
            user_field: "identifier",
            user_label: "Email or client ID",
            failed_notice: "No.",
            frame_ancestors: vec![],
            https: false,
            redirects_to: None,
        };
        let table = [
            (SignInRefusal::BadCredentials, StatusCode::UNAUTHORIZED),
            (SignInRefusal::Locked, StatusCode::UNAUTHORIZED),
            (SignInRefusal::FormExpired, StatusCode::FORBIDDEN),
            (SignInRefusal::Unreadable, StatusCode::BAD_REQUEST),
            (SignInRefusal::Busy, StatusCode::SERVICE_UNAVAILABLE),
        ];
        for (refusal, status) in table {
            let resp = form.clone().refuse(refusal).into_response();
            assert_eq!(resp.status(), status, "{refusal:?}");
            assert!(
                resp.headers()["set-cookie"]
                    .to_str()
                    .unwrap()
                    .starts_with("csrf=")
            );
        }
        assert_eq!(SignInRefusal::Locked.outcome(), Outcome::Locked);
        assert_eq!(Gate::<()>::Locked.passed(), Err(SignInRefusal::Locked));
        assert_eq!(
            Gate::<()>::Failed.passed(),
            Err(SignInRefusal::BadCredentials)
        );
    }
}
