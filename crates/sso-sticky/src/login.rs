//! `GET /sso/login?token=`: the agent's browser consumes the one-time URL.

use axum::extract::{Request, State as AxState};
use axum::response::Response;
use http::{Method, StatusCode};
use sso_core::ident::OneTimeToken;
use sso_store::model::{AuditEvent, Protocol, Redemption};
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
    let source_ip = ip::source_ip(&parts, &p.config).to_string();
    let Ok(secret) = random_bytes::<16>() else {
        return page::unavailable();
    };
    let how = Redemption {
        protocol: Protocol::CallCenter,
        from_addr: None,
        secret_sha256: cookies::secret_hash(&secret),
        reusable: false,
    };
    // One conditional write: the token becomes the agent's platform session.
    let redeemed = match &token {
        Some(t) => match p
            .tokens
            .redeem(&tenant.name, &t.storage_key(), now, &how)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "/sso/login: store unavailable");
                audit(p, &tenant.name, "/sso/login", "", &source_ip, "unavailable").await;
                return page::unavailable();
            }
        },
        None => None,
    };
    let Some(r) = redeemed else {
        audit(
            p,
            &tenant.name,
            "/sso/login",
            "",
            &source_ip,
            "refused:bad_token",
        )
        .await;
        return page::page(
            StatusCode::GONE,
            "Sign-in link expired",
            "<h1>This sign-in link is invalid or has expired</h1><p>Sign-in links work once, for five \
             minutes. Please start again from your call-center application.</p>",
        );
    };
    let s = &r.session;
    audit(
        p,
        &tenant.name,
        &s.issuer,
        &s.subject,
        &source_ip,
        "session",
    )
    .await;
    let cookie = cookies::set_session(
        &SessionCookie::Keyed { key: r.key, secret },
        p.config.https,
        !tenant.frame_ancestors.is_empty(),
    );
    page::redirect(&tenant.home_path, &[cookie])
}

async fn audit(
    p: &sso_web::Platform,
    tenant: &str,
    issuer: &str,
    subject: &str,
    source_ip: &str,
    outcome: &str,
) {
    p.record(AuditEvent {
        at: p.now(),
        tenant: tenant.to_owned(),
        protocol: "callcenter".into(),
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        source_ip: source_ip.to_owned(),
        outcome: outcome.to_owned(),
    })
    .await;
}
