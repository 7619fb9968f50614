//! `GET /sso/login?token=`: the agent's browser consumes the one-time URL.

use axum::extract::{Request, State as AxState};
use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::json;
use sso_core::ident::{OneTimeToken, SessionId};
use sso_store::model::{AuditEvent, NewSession, Protocol};
use sso_web::cookies::{self, SessionCookie};
use sso_web::{ip, page, random_bytes};

use crate::api::State;

pub async fn handle(AxState(state): AxState<State>, req: Request) -> Response {
    let p = &state.platform;
    let (parts, _) = req.into_parts();
    let tenant = match p.tenant_for_page(&parts.headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if parts.method == Method::HEAD {
        return page::page(StatusCode::OK, "Sign in", "");
    }
    let token = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .and_then(|(_, v)| OneTimeToken::parse(&v).ok());
    let now = p.now();
    let redeemed = match &token {
        Some(t) => match p.tokens.redeem(&tenant.name, &t.storage_key(), now).await {
            Ok(r) => r,
            Err(_) => return page::unavailable(),
        },
        None => None,
    };
    let source_ip = ip::source_ip(&parts, &p.config).to_string();
    let Some(r) = redeemed else {
        p.record(AuditEvent {
            at: now,
            tenant: tenant.name.clone(),
            protocol: "callcenter".into(),
            issuer: "/sso/login".into(),
            subject: String::new(),
            source_ip,
            outcome: "refused:bad_token".into(),
        })
        .await;
        return page::page(
            StatusCode::GONE,
            "Sign-in link expired",
            "<h1>This sign-in link is invalid or has expired</h1><p>Sign-in links work once, for five \
             minutes. Please start again from your call-center application.</p>",
        );
    };
    let Ok(bytes) = random_bytes::<16>() else {
        return page::unavailable();
    };
    let id = SessionId::from_random_bytes(bytes);
    let issuer = r
        .data
        .get("issuer")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let session = NewSession {
        tenant: tenant.name.clone(),
        subject: r.subject.clone(),
        protocol: Protocol::CallCenter,
        issuer: issuer.clone(),
        created_at: now,
        idle_secs: tenant.session_idle_secs,
        absolute_expiry: now.saturating_add(tenant.session_absolute_secs),
        keep_until: None,
        data: json!({
            "profile": r.data,
            "display": r.data.get("display").cloned().unwrap_or_default(),
        }),
    };
    if p.sessions
        .create(&id.storage_key(), &session)
        .await
        .is_err()
    {
        return page::unavailable();
    }
    p.record(AuditEvent {
        at: now,
        tenant: tenant.name.clone(),
        protocol: "callcenter".into(),
        issuer,
        subject: r.subject,
        source_ip,
        outcome: "session".into(),
    })
    .await;
    let cookie = cookies::set_session(
        &SessionCookie::Opaque(id),
        p.config.https,
        !tenant.frame_ancestors.is_empty(),
    );
    page::redirect(&tenant.home_path, &[cookie])
}
