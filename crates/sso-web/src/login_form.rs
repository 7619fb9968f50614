//! The one sign-in form page every protocol shows (`/login`, `/admin/login`, the portal's
//! `/login` and `/login/<group>`): CSRF double-submit token, escaped text, security headers.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::page::{self, escape};
use crate::{WebConfig, cookies, random_bytes};

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
    /// Partner origins that may frame the page (the tenant's).
    pub frame_ancestors: Vec<String>,
    /// Cookies over https (`__Host-`, `Secure`).
    pub https: bool,
    /// A CSP source the form may lead to through redirects (the portal's sign-in goes on to a
    /// tenant host).
    pub redirects_to: Option<String>,
}

impl LoginForm {
    /// A form for a tenant page (its frame ancestors, `SameSite=None` when framed).
    pub fn for_tenant(
        config: &WebConfig,
        tenant: &sso_store::model::Tenant,
        title: &str,
        heading: String,
        action: &str,
        user_field: &'static str,
        user_label: &'static str,
    ) -> Self {
        Self {
            title: title.to_owned(),
            heading,
            action: action.to_owned(),
            user_field,
            user_label,
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
}

/// A form shown again with a notice: the response of a refused sign-in.
#[derive(Debug, Clone)]
pub struct FormAgain {
    /// The form.
    pub form: LoginForm,
    /// What it says.
    pub notice: &'static str,
    /// With which status.
    pub status: StatusCode,
}

impl IntoResponse for FormAgain {
    fn into_response(self) -> Response {
        self.form
            .render(Some(Notice::Error(self.notice)), self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_escapes_and_sets_its_csrf_cookie() {
        let form = LoginForm {
            title: "Sign in".into(),
            heading: "Sign in to <t>".into(),
            action: "/login".into(),
            user_field: "identifier",
            user_label: "Email or client ID",
            frame_ancestors: vec![],
            https: false,
            redirects_to: None,
        };
        let resp = FormAgain {
            form,
            notice: "No <b>",
            status: StatusCode::UNAUTHORIZED,
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .starts_with("csrf=")
        );
    }
}
