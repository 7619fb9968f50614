//! `/pop?group_id=G&client_subdomain=T`: from a live portal session into platform T.
//!
//! The portal is an issuer of its own (no Platform-Key or allow-list: agents' browsers are
//! not on a partner's list), and issues the platform's token through the same code as
//! `/sso/0` (`grant::issue`). Without a session the agent goes to `/login/G`; where it was
//! heading is kept server-side (a one-time token in the store; the cookie holds only its
//! random id), never as a URL parameter.

use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use sso_core::callcenter::Campaigns;
use sso_core::ident::OneTimeToken;
use sso_store::model::{AuditEvent, NewToken, TokenPurpose};
use sso_web::page::{self, escape};
use sso_web::{Platform, WebError, cookies, ip, random_bytes};

use super::{PORTAL, agent_group, on_portal, session};
use crate::grant::{self, Grant};

/// How long a pending pop waits for the agent to sign in.
const PENDING_SECS: i64 = 600;

fn pending_name(https: bool) -> &'static str {
    if https { "__Host-pending" } else { "pending" }
}

/// The path of a pop URL.
pub fn pop_path(group: u64, tenant: &str) -> String {
    format!("/pop?group_id={group}&client_subdomain={tenant}")
}

/// `Set-Cookie` removing the pending-pop cookie.
pub fn clear_pending(p: &Platform) -> String {
    format!(
        "{}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        pending_name(p.config.https),
        if p.config.https { "; Secure" } else { "" }
    )
}

/// The platform a signed-in agent of `group` was heading for, consumed once.
pub async fn take_pending(p: &Platform, headers: &HeaderMap, group: u64) -> Option<String> {
    let id = cookies::read(headers, pending_name(p.config.https))?;
    let token = OneTimeToken::parse(&id).ok()?;
    let r = p
        .tokens
        .take(PORTAL, &token.storage_key(), p.now())
        .await
        .ok()??;
    (r.data.get("group").and_then(|g| g.as_u64()) == Some(group))
        .then(|| {
            r.data
                .get("tenant")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .flatten()
}

fn refusal(status: StatusCode, text: &str) -> Response {
    page::page(
        status,
        "Cannot open this platform",
        &format!(
            "<h1>Cannot open this platform</h1><p id=\"refusal\">{}</p>",
            escape(text)
        ),
    )
}

pub async fn handle(State(p): State<Platform>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if !on_portal(&p, &parts.headers) {
        return page::not_found();
    }
    let mut group = None;
    let mut tenant = None;
    for (k, v) in url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "group_id" => group = v.parse::<u64>().ok(),
            "client_subdomain" => tenant = Some(v.to_ascii_lowercase()),
            _ => {}
        }
    }
    // Only a host label goes on: it is kept as the pending pop and put back into a URL.
    let tenant = tenant.filter(|t| sso_store::import::check_tenant_name(t).is_ok());
    let (Some(g), Some(t)) = (group, tenant) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "A pop URL needs group_id and client_subdomain.",
        );
    };
    let source_ip = ip::source_ip(&parts, &p.config).to_string();
    match pop(&p, &parts.headers, g, &t, &source_ip).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "pop: store unavailable");
            page::unavailable()
        }
    }
}

async fn pop(
    p: &Platform,
    headers: &HeaderMap,
    g: u64,
    t: &str,
    source_ip: &str,
) -> Result<Response, WebError> {
    let Some(s) = session(p, headers)
        .await?
        .filter(|s| agent_group(s) == Some(g))
    else {
        // Remember where the agent was going, server-side, then sign in.
        let id = OneTimeToken::from_random_bytes(random_bytes()?);
        let pending = NewToken {
            tenant: PORTAL.into(),
            subject: "pending-pop".into(),
            purpose: TokenPurpose::Pending,
            reusable: false,
            data: json!({ "group": g, "tenant": t }),
            issued_at: p.now(),
            expires_at: p.now() + PENDING_SECS,
            replace_slot: None,
            bound_addr: None,
        };
        p.tokens.issue(&id.storage_key(), &pending).await?;
        let cookie = format!(
            "{}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={PENDING_SECS}{}",
            pending_name(p.config.https),
            id.to_hex(),
            if p.config.https { "; Secure" } else { "" }
        );
        return Ok(page::redirect(&format!("/login/{g}"), &[cookie]));
    };
    let Some(group) = p.directory.group(g).await? else {
        return Ok(refusal(
            StatusCode::NOT_FOUND,
            &format!("Group {g} does not exist."),
        ));
    };
    let Some(link) = group.links.iter().find(|l| l.tenant == t) else {
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            &format!("Platform {t} is not linked to group {g}."),
        ));
    };
    let Some(tenant) = p.tenant(t).await? else {
        return Ok(refusal(
            StatusCode::NOT_FOUND,
            &format!("Platform {t} does not exist."),
        ));
    };
    // The platform's consent is checked on every pop, not only when the link was made: a
    // platform that withdraws it is closed to the group at once (within the cache's minute).
    if !tenant.portal_groups.contains(&g) {
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            &format!("Platform {t} does not admit group {g}."),
        ));
    }
    let fullname = s
        .data
        .get("fullname")
        .and_then(|f| f.as_str())
        .unwrap_or(&s.subject)
        .to_owned();
    let grant = Grant {
        username: s.subject.clone(),
        fullname,
        department: link.department,
        campaigns: Campaigns::All,
        email: None,
        call_center_did: None,
        customer_cid: None,
    };
    let issued = grant::issue(p, &tenant, &format!("group:{g}"), &grant).await?;
    p.record(AuditEvent {
        at: p.now(),
        tenant: tenant.name.clone(),
        protocol: "callcenter".into(),
        issuer: format!("group:{g}"),
        subject: s.subject.clone(),
        source_ip: source_ip.into(),
        outcome: match &issued {
            Ok(_) => "SSO_TOKEN_CREATED".into(),
            Err(e) => e.descriptor().into(),
        },
    })
    .await;
    Ok(match issued {
        Ok(url) => page::redirect(&url, &[]),
        Err(e) => refusal(
            StatusCode::from_u16(e.code()).unwrap_or(StatusCode::BAD_REQUEST),
            &e.to_string(),
        ),
    })
}
