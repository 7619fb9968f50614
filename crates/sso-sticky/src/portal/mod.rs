//! The agent portal on `my.<base-domain>` (PROTOCOLS.md §3b).

mod admin;
mod auth;
mod pop;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use sso_store::model::Session;
use sso_web::host::{self, HostKind};
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
        .route("/login", get(auth::show_admin).post(auth::submit_admin))
        .route(
            "/login/{group}",
            get(auth::show_agent).post(auth::submit_agent),
        )
        .route("/logout", get(auth::confirm_logout).post(auth::logout))
        .route("/pop", get(pop::handle))
        .route("/groups/{group}", get(admin::group))
        .route("/groups/{group}/agents", post(admin::create_agent))
        .route("/groups/{group}/links", post(admin::link_platform))
        .route("/groups/{group}/agents/{username}", get(admin::activity))
        .route("/healthz", get(home::healthz))
        .with_state(platform)
}

/// Whether the request is for the portal host.
fn on_portal(p: &Platform, headers: &HeaderMap) -> bool {
    host::classify_headers(headers, &p.config) == HostKind::Portal
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

/// The form fields of a POST whose CSRF token matches its cookie; `None` otherwise.
async fn form_fields(req: Request, p: &Platform) -> Option<(HeaderMap, Vec<(String, String)>)> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 16 * 1024).await.ok()?;
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    cookies::csrf_ok(&parts.headers, csrf, p.config.https).then_some((parts.headers, fields))
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

/// Role of a portal session.
fn role(s: &Session) -> &str {
    s.data
        .get("role")
        .and_then(|r| r.as_str())
        .unwrap_or_default()
}

/// The group of an agent session.
fn agent_group(s: &Session) -> Option<u64> {
    (role(s) == "agent")
        .then(|| s.data.get("group").and_then(|g| g.as_u64()))
        .flatten()
}

/// The groups an administrator session manages.
fn admin_groups(s: &Session) -> Vec<u64> {
    if role(s) != "admin" {
        return Vec::new();
    }
    s.data
        .get("groups")
        .and_then(|g| g.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        .unwrap_or_default()
}
