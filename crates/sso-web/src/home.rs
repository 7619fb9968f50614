//! The tenant home (`/`): one page for every protocol, showing who is signed in and how, and
//! `/healthz`. What the page shows comes from the session's typed
//! [`Claims`]; the labels are this page's, built at render time and never stored.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, StatusCode};
use sso_store::model::{Claims, Protocol, Session};

use crate::extract::TenantPage;
use crate::page::{self, escape};
use crate::{CurrentSession, PageError, Platform, cookies};

/// `/`, `/healthz` and `/readyz` for tenant hosts.
pub fn router(platform: Platform) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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

/// Readiness, unlike [`healthz`]: the table answers (one eventually consistent read, half a
/// read unit) and, where a key is configured, the key opens the sealed canary. `200
/// {"status":"ready"}`, else `503 {"status":"not ready","reason":…}` naming which.
pub async fn readyz(State(p): State<Platform>) -> Response {
    let reason = match p.readiness.ready(p.config.check_sealed_canary).await {
        Ok(()) => None,
        Err(sso_store::StoreError::SecretKey) => {
            Some("the secret key does not open the sealed canary")
        }
        Err(e) => {
            crate::log_unavailable("/readyz", &e);
            Some("the table is unreachable")
        }
    };
    let (status, body) = match reason {
        None => (StatusCode::OK, "{\"status\":\"ready\"}".to_owned()),
        Some(r) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{{\"status\":\"not ready\",\"reason\":\"{r}\"}}"),
        ),
    };
    (
        status,
        [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ],
        body,
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
        Protocol::Admin => "administration",
    }
}

/// What the home page shows of a session: `(label, value)` rows, empty values left out.
pub fn display_rows(s: &Session) -> Vec<(&'static str, String)> {
    let rows: Vec<(&'static str, String)> = match &s.claims {
        Claims::SignedLink {
            client_id,
            email,
            vendor,
        } => vec![
            ("Client ID", client_id.clone()),
            ("Email", email.clone()),
            ("Vendor", vendor.clone().unwrap_or_default()),
        ],
        Claims::Helpdesk {
            username,
            user_id,
            signed_in_by,
        } => vec![
            ("Username", username.clone()),
            ("User id", user_id.to_string()),
            ("Signed in by", signed_in_by.clone().unwrap_or_default()),
        ],
        Claims::CallCenter(a) => vec![
            ("Agent", s.subject.clone()),
            ("Full name", a.fullname.clone()),
            ("Department", a.department.to_string()),
            (
                "Campaigns",
                a.campaigns.as_ref().map_or_else(
                    || "all".to_owned(),
                    |c| c.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                ),
            ),
            (
                "Inbound number (DID)",
                a.call_center_did.clone().unwrap_or_default(),
            ),
            (
                "Customer caller ID",
                a.customer_cid.clone().unwrap_or_default(),
            ),
        ],
        _ => Vec::new(),
    };
    rows.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

/// Renders the signed-in page for a session.
pub fn signed_in_page(tenant: &str, cs: &CurrentSession, frame_ancestors: &[String]) -> Response {
    let s = &cs.session;
    let rows: String = display_rows(s)
        .iter()
        .map(|(label, value)| format!("<dt>{}</dt><dd>{}</dd>", escape(label), escape(value)))
        .collect();
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

async fn home(
    State(p): State<Platform>,
    TenantPage(tenant): TenantPage,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    Ok(match p.current_session(&headers, &tenant.name).await? {
        Some(cs) => signed_in_page(&tenant.name, &cs, &tenant.frame_ancestors),
        None => page::redirect(
            &signed_out_destination(&p, &tenant.name, &headers).await,
            &[],
        ),
    })
}
