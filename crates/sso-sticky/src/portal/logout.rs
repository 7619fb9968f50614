//! Portal sign-out. `GET /logout` only asks (another site could link here); the page's
//! button posts the CSRF-protected form, and only that ends the portal session (platform
//! sessions keep their own lifetime).

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use sso_web::extract::PortalHost;
use sso_web::form::{FormRejection, StrictForm};
use sso_web::{Platform, cookies, page};

use super::{PORTAL, csrf_ok, sign_out_form, with_csrf};
use crate::error::{Error, MSG_SIGN_OUT_EXPIRED};

/// `GET /logout`: the question, with the sign-out button.
pub async fn confirm(State(p): State<Platform>, _: PortalHost) -> Response {
    with_csrf(&p, "Sign out", |csrf| {
        format!("<h1>Sign out of the portal?</h1>{}", sign_out_form(csrf))
    })
}

/// `POST /logout` with the page's CSRF token. A post without a valid token gets the question
/// again (403).
pub async fn submit(
    State(p): State<Platform>,
    _: PortalHost,
    headers: HeaderMap,
    fields: Result<StrictForm, FormRejection>,
) -> Result<Response, Error> {
    if !csrf_ok(&p, &headers, &fields) {
        let mut resp = with_csrf(&p, "Sign out", |csrf| {
            format!(
                "<h1>Sign out of the portal?</h1><div class=\"box err\">{MSG_SIGN_OUT_EXPIRED}</div>{}",
                sign_out_form(csrf)
            )
        });
        *resp.status_mut() = StatusCode::FORBIDDEN;
        return Ok(resp);
    }
    p.end_session(&headers, PORTAL).await?;
    Ok(page::redirect(
        "/login",
        &[cookies::clear_session(p.config.https)],
    ))
}
