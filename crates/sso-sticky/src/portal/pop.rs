//! `/pop?group_id=G&client_subdomain=T`: from a live portal session into platform T.
//!
//! The portal is an issuer of its own (no Platform-Key or allow-list: agents' browsers are
//! not on a partner's list), and issues the platform's token through the same code as
//! `/sso/0` (`grant::issue`). Without a session the agent goes to `/login/G`; where it was
//! heading is kept server-side (a one-time token in the store; the cookie holds only its
//! random id), never as a URL parameter.

use std::net::IpAddr;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use sso_core::callcenter::Campaigns;
use sso_core::ident::OneTimeToken;
use sso_store::model::{Claims, NewToken, Outcome, Protocol, TokenPurpose};
use sso_web::extract::{PortalHost, SourceIp};
use sso_web::{Platform, cookies, page, random_bytes};

use super::{PORTAL, agent_group, session};
use crate::error::{Error, IssueError};
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
    match r.claims {
        Claims::PendingPop { group: g, tenant } if g == group => Some(tenant),
        _ => None,
    }
}

fn refused(status: StatusCode, text: String) -> Error {
    Error::PopRefused { status, text }
}

/// `GET /pop?group_id=G&client_subdomain=T`.
pub async fn handle(
    State(p): State<Platform>,
    _: PortalHost,
    SourceIp(source_ip): SourceIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    let mut group = None;
    let mut tenant = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "group_id" => group = v.parse::<u64>().ok(),
            "client_subdomain" => tenant = Some(v.to_ascii_lowercase()),
            _ => {}
        }
    }
    // Only a host label goes on: it is kept as the pending pop and put back into a URL.
    let tenant = tenant.filter(|t| sso_store::validate::check_tenant_name(t).is_ok());
    let (Some(g), Some(t)) = (group, tenant) else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "A pop URL needs group_id and client_subdomain.".into(),
        ));
    };
    pop(&p, &headers, g, &t, source_ip).await
}

async fn pop(
    p: &Platform,
    headers: &HeaderMap,
    g: u64,
    t: &str,
    source_ip: IpAddr,
) -> Result<Response, Error> {
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
            claims: Claims::PendingPop {
                group: g,
                tenant: t.to_owned(),
            },
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
    // A disabled (or deleted) agent gets no pops, even where its session has not ended yet
    // (another process's revocation cache, a revocation that failed after the flag).
    if !p
        .directory
        .agent(g, &s.subject)
        .await?
        .is_some_and(|a| a.enabled)
    {
        return Err(refused(
            StatusCode::FORBIDDEN,
            format!("Agent {} of group {g} is disabled.", s.subject),
        ));
    }
    let group = p
        .directory
        .group(g)
        .await?
        .ok_or_else(|| refused(StatusCode::NOT_FOUND, format!("Group {g} does not exist.")))?;
    let link = group.links.iter().find(|l| l.tenant == t).ok_or_else(|| {
        refused(
            StatusCode::FORBIDDEN,
            format!("Platform {t} is not linked to group {g}."),
        )
    })?;
    let tenant = p.tenant(t).await?.ok_or_else(|| {
        refused(
            StatusCode::NOT_FOUND,
            format!("Platform {t} does not exist."),
        )
    })?;
    // The platform's consent is checked on every pop, not only when the link was made: a
    // platform that withdraws it is closed to the group at once (within the cache's minute).
    if !tenant.portal_groups.contains(&g) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            format!("Platform {t} does not admit group {g}."),
        ));
    }
    let fullname = match &s.claims {
        Claims::PortalAgent { fullname, .. } => fullname.clone(),
        _ => s.subject.clone(),
    };
    let grant = Grant {
        username: s.subject.clone(),
        fullname,
        department: link.department,
        campaigns: Campaigns::All,
        email: None,
        call_center_did: None,
        customer_cid: None,
    };
    let issuer = format!("group:{g}");
    let attempt = p
        .attempt(Protocol::CallCenter, &tenant.name, source_ip)
        .issuer(&issuer)
        .subject(&s.subject);
    let started = attempt.clone().if_it_ends(Outcome::TokenCreated);
    let issued = grant::issue(p, &tenant, &issuer, &grant, started.to_store()).await;
    match &issued {
        Ok(_) => started.stored(None),
        Err(e) => {
            attempt
                .record(Outcome::CallCenterRefused(e.wire().descriptor().into()))
                .await;
        }
    }
    match issued {
        Ok(url) => Ok(page::redirect(&url, &[])),
        Err(IssueError::Refused(e)) => Err(refused(
            StatusCode::from_u16(e.code()).unwrap_or(StatusCode::BAD_REQUEST),
            e.message().into_owned(),
        )),
        Err(IssueError::Unavailable(e)) => Err(Error::Unavailable(e)),
    }
}
