//! The tenant home (`/`): one page for every protocol, showing who is signed in and how, and
//! `/healthz`. Adapters put what the page should show in the session's `data.display` as
//! `[label, value]` pairs.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, StatusCode};
use sso_store::model::Protocol;

use crate::page::{self, escape};
use crate::{CurrentSession, Platform, cookies};

/// `/` and `/healthz` for tenant hosts.
pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(healthz))
        .with_state(platform)
}

/// Liveness: the process answers. (It does not touch the store: a health check must not
/// cost a request unit.)
pub async fn healthz() -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        "{\"status\":\"ok\"}",
    )
        .into_response()
}

/// Where a browser without a live session goes: the logout URL of the vendor whose link
/// created its (now ended) session, else the standard login page.
pub async fn signed_out_destination(p: &Platform, tenant: &str, headers: &HeaderMap) -> String {
    let vendor =
        cookies::session(headers, p.config.https).and_then(|c| c.vendor().map(str::to_owned));
    if let Some(v) = vendor
        && let Ok(Some(vendor)) = p.directory.vendor(tenant, &v).await
        && let Some(url) = vendor.logout_url
    {
        return url;
    }
    "/login".to_owned()
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::SignedLink => "signed link",
        Protocol::Helpdesk => "help desk single sign-on",
        Protocol::CallCenter => "call-center single sign-on",
        Protocol::Portal => "agent portal",
    }
}

/// Renders the signed-in page for a session.
pub fn signed_in_page(tenant: &str, cs: &CurrentSession, frame_ancestors: &[String]) -> Response {
    let s = &cs.session;
    let mut rows = String::new();
    if let Some(pairs) = s.data.get("display").and_then(|d| d.as_array()) {
        for pair in pairs {
            if let (Some(label), Some(value)) = (pair.get(0).and_then(|v| v.as_str()), pair.get(1))
            {
                let value = match value.as_str() {
                    Some(text) => text.to_owned(),
                    None => value.to_string(),
                };
                if value.is_empty() || value == "null" {
                    continue;
                }
                rows.push_str(&format!(
                    "<dt>{}</dt><dd>{}</dd>",
                    escape(label),
                    escape(&value)
                ));
            }
        }
    }
    let logout = if s.protocol == Protocol::Helpdesk {
        "/admin/logout"
    } else {
        "/logout.php"
    };
    let body = format!(
        "<h1>{tenant}</h1><div class=\"box ok\" id=\"signed-in\"><p>Signed in as <strong id=\"subject\">{subject}</strong> \
         by {protocol} (<span id=\"issuer\">{issuer}</span>).</p><dl>{rows}</dl></div>\
         <p><a href=\"{logout}\">Sign out</a></p>",
        tenant = escape(tenant),
        subject = escape(&s.subject),
        protocol = protocol_name(s.protocol),
        issuer = escape(&s.issuer),
    );
    page::secure(page::page(StatusCode::OK, tenant, &body), frame_ancestors)
}

async fn home(State(p): State<Platform>, headers: HeaderMap) -> Response {
    let tenant = match p.tenant_for_page(&headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match p.current_session(&headers, &tenant.name).await {
        Ok(Some(cs)) => signed_in_page(&tenant.name, &cs, &tenant.frame_ancestors),
        Ok(None) => page::redirect(
            &signed_out_destination(&p, &tenant.name, &headers).await,
            &[],
        ),
        Err(e) => {
            tracing::warn!(error = %e, "home: store unavailable");
            page::unavailable()
        }
    }
}
