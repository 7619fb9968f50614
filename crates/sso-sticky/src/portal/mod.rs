//! The agent portal on `my.<base-domain>` (PROTOCOLS.md §3b).

mod admin;
mod login;
mod logout;
mod pop;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use sso_store::model::{Claims, Session};
use sso_web::form::{FormRejection, StrictForm};
use sso_web::page;
use sso_web::{Platform, WebError, cookies, home, random_bytes};

/// The tenant name portal sessions and audit events are kept under.
pub const PORTAL: &str = "my";
/// Portal sessions: idle timeout (Keycloak's SSO Session Idle).
pub const IDLE_SECS: i64 = 30 * 60;
/// Portal sessions: absolute lifetime (Keycloak's SSO Session Max).
pub const ABSOLUTE_SECS: i64 = 10 * 3600;

pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/", get(admin::index))
        .route("/login", get(login::show_admin).post(login::submit_admin))
        .route(
            "/login/{group}",
            get(login::show_agent).post(login::submit_agent),
        )
        .route("/logout", get(logout::confirm).post(logout::submit))
        .route("/pop", get(pop::handle))
        .route("/groups/{group}", get(admin::group))
        .route("/groups/{group}/agents", post(admin::create_agent))
        .route("/groups/{group}/links", post(admin::link_platform))
        .route("/groups/{group}/agents/{username}", get(admin::activity))
        .route(
            "/groups/{group}/agents/{username}/disable",
            post(admin::disable_agent),
        )
        .route(
            "/groups/{group}/agents/{username}/enable",
            post(admin::enable_agent),
        )
        .route(
            "/groups/{group}/agents/{username}/password",
            post(admin::reset_password),
        )
        .route(
            "/groups/{group}/links/{tenant}/unlink",
            post(admin::unlink_platform),
        )
        .route("/healthz", get(home::healthz))
        .route("/readyz", get(home::readyz))
        .with_state(platform)
}

/// A page whose forms carry a fresh CSRF token (double-submit: the same token in a cookie).
fn with_csrf(p: &Platform, title: &str, body: impl FnOnce(&str) -> String) -> Response {
    let Ok(csrf) = random_bytes::<16>().map(hex::encode) else {
        return page::unavailable();
    };
    let mut resp = page::page(StatusCode::OK, title, &body(&csrf));
    if let Ok(v) = http::HeaderValue::from_str(&cookies::set_csrf(&csrf, p.config.https, false)) {
        resp.headers_mut().append(http::header::SET_COOKIE, v);
    }
    resp
}

/// Whether a posted form carries the CSRF token of its cookie.
fn csrf_ok(p: &Platform, headers: &HeaderMap, form: &Result<StrictForm, FormRejection>) -> bool {
    form.as_ref()
        .is_ok_and(|f| cookies::csrf_ok(headers, f.value("csrf"), p.config.https))
}

/// The "Sign out" button: a POST with a CSRF token, so another site cannot sign an agent out
/// of the portal by linking to it.
fn sign_out_form(csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" id=\"sign-out\">Sign out</button></form>"
    )
}

/// The live portal session of this request.
async fn session(p: &Platform, headers: &HeaderMap) -> Result<Option<Session>, WebError> {
    Ok(p.current_session(headers, PORTAL)
        .await?
        .map(|cs| cs.session))
}

/// The group of an agent session.
fn agent_group(s: &Session) -> Option<u64> {
    match &s.claims {
        Claims::PortalAgent { group, .. } => Some(*group),
        _ => None,
    }
}

/// The groups an administrator session manages.
fn admin_groups(s: &Session) -> &[u64] {
    match &s.claims {
        Claims::PortalAdmin { groups } => groups,
        _ => &[],
    }
}
