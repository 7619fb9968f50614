//! `api.php`: authenticate the caller, check the user, mint a token or a session.

use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Request, State as AxState};
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderValue, Method, StatusCode};
use serde_json::json;
use sso_core::helpdesk::{
    Action, ApiFailure, ApiResult, MSG_USER_FOUND, MSG_USER_LOGGED_IN, OutputFormat,
};
use sso_core::ident::{OneTimeToken, SessionId, StorageKey};
use sso_core::throttle::LockoutPolicy;
use sso_store::model::{
    AuditEvent, HelpdeskUser, LoginPlan, NewSession, NewToken, Protocol, Tenant, TokenPurpose,
};
use sso_web::cookies::{self, SessionCookie};
use sso_web::host::{self, HostKind};
use sso_web::{Platform, WebError, ip, random_bytes};

use crate::params::{self, ApiRequest, Credentials, Refusal};
use crate::verified::VerifiedCache;

/// The router's state.
#[derive(Clone)]
pub struct State {
    pub platform: Platform,
    pub verified: Arc<VerifiedCache>,
}

/// Every answer: HTTP 200, the result in the requested format, never cached.
fn answer(format: OutputFormat, result: &ApiResult, cookie: Option<String>) -> Response {
    let mut resp = (StatusCode::OK, result.render(format)).into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(SET_COOKIE, c);
    }
    resp
}

fn refuse(r: &Refusal) -> Response {
    answer(r.format, &r.failure.to_result(r.format), None)
}

pub async fn handle(AxState(state): AxState<State>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let p = &state.platform;
    let form_body = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let (body, body_ok) = match to_bytes(body, params::MAX_BODY_BYTES).await {
        Ok(b) => {
            let ok = b.is_empty() || (parts.method == Method::POST && form_body);
            (b, ok)
        }
        Err(_) => (Default::default(), false),
    };
    let query = parts.uri.query().unwrap_or_default().as_bytes().to_vec();
    let parsed = params::parse(&query, &body, body_ok);
    let format = match &parsed {
        Ok(r) => r.format,
        Err(r) => r.format,
    };
    let HostKind::Tenant(label) = host::classify_headers(&parts.headers, &p.config) else {
        return refuse(&Refusal {
            format,
            failure: ApiFailure::UnknownAccount,
        });
    };
    let tenant = match p.tenant(&label).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return refuse(&Refusal {
                format,
                failure: ApiFailure::UnknownAccount,
            });
        }
        Err(_) => {
            return refuse(&Refusal {
                format,
                failure: ApiFailure::Unavailable,
            });
        }
    };
    let source_ip = ip::source_ip(&parts, &p.config).to_string();
    let req = match parsed {
        Ok(r) => r,
        Err(r) => {
            audit(
                p,
                &tenant,
                "",
                "",
                &source_ip,
                &format!("refused:{}", reason(&r.failure)),
            )
            .await;
            return refuse(&r);
        }
    };
    match run(&state, &tenant, &req, &source_ip).await {
        Ok(Ok((result, cookie))) => {
            audit(
                p,
                &tenant,
                &req.credentials.principal(),
                &req.sso_user,
                &source_ip,
                "ok",
            )
            .await;
            answer(req.format, &result, cookie)
        }
        Ok(Err(failure)) => {
            let outcome = format!("refused:{}", reason(&failure));
            audit(
                p,
                &tenant,
                &req.credentials.principal(),
                &req.sso_user,
                &source_ip,
                &outcome,
            )
            .await;
            refuse(&Refusal {
                format: req.format,
                failure,
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, "api.php: store unavailable");
            audit(
                p,
                &tenant,
                &req.credentials.principal(),
                &req.sso_user,
                &source_ip,
                "unavailable",
            )
            .await;
            refuse(&Refusal {
                format: req.format,
                failure: ApiFailure::Unavailable,
            })
        }
    }
}

fn reason(f: &ApiFailure) -> &'static str {
    match f {
        ApiFailure::UnknownAccount => "unknown_account",
        ApiFailure::InvalidCredentials => "invalid_credentials",
        ApiFailure::LoginFailed => "login_failed",
        ApiFailure::PrimaryAdmin => "primary_admin",
        ApiFailure::MissingParameter(_) => "missing_parameter",
        ApiFailure::InvalidParameter(_) => "invalid_parameter",
        ApiFailure::RepeatedParameter(_) => "repeated_parameter",
        ApiFailure::MalformedRequest => "malformed_request",
        ApiFailure::UnknownAction => "unknown_action",
        ApiFailure::UnknownOutput => "unknown_output",
        ApiFailure::Throttled => "throttled",
        ApiFailure::Unavailable => "unavailable",
        _ => "other",
    }
}

/// The caller, if its credentials are right and it may use the API.
async fn authenticate(
    state: &State,
    tenant: &Tenant,
    creds: &Credentials,
) -> Result<Option<HelpdeskUser>, WebError> {
    let p = &state.platform;
    let admin = match creds {
        Credentials::Key(key) => {
            p.directory
                .helpdesk_user_by_api_key(&tenant.name, &StorageKey::of_secret(key))
                .await?
        }
        Credentials::Password { user, pass_h } => {
            let found = p.directory.helpdesk_user(&tenant.name, user).await?;
            // The stored verifier is part of the key: a changed password ends the cached
            // success at once, not five minutes later.
            let verifier = found.as_ref().map_or("", |u| u.verifier.as_str());
            let cache_parts: [&[u8]; 5] = [
                b"admin",
                tenant.name.as_bytes(),
                user.as_bytes(),
                pass_h.as_bytes(),
                verifier.as_bytes(),
            ];
            let ok = match &found {
                Some(_) if state.verified.contains(&cache_parts) => true,
                _ => {
                    p.check_password(found.as_ref().map(|u| u.verifier.clone()), pass_h.clone())
                        .await
                }
            };
            if ok && found.is_some() {
                state.verified.insert(&cache_parts);
            }
            found.filter(|_| ok)
        }
    };
    Ok(admin.filter(|a| a.enabled && a.api_rights))
}

type Minted = (ApiResult, Option<String>);

async fn run(
    state: &State,
    tenant: &Tenant,
    req: &ApiRequest,
    source_ip: &str,
) -> Result<Result<Minted, ApiFailure>, WebError> {
    let p = &state.platform;
    let now = p.now();
    let policy = LockoutPolicy::default();
    let throttle_key = format!(
        "helpdesk|{}|{}|{source_ip}",
        tenant.name,
        req.credentials.principal()
    );
    let failures = p.throttle.failures(&throttle_key, now, &policy).await?;
    if policy.locked_until(&failures, now).is_some() {
        return Ok(Err(ApiFailure::Throttled));
    }
    let Some(admin) = authenticate(state, tenant, &req.credentials).await? else {
        p.throttle
            .record_failure(&throttle_key, now, &policy)
            .await?;
        return Ok(Err(ApiFailure::InvalidCredentials));
    };
    let user = p
        .directory
        .helpdesk_user(&tenant.name, &req.sso_user)
        .await?;
    let verifier = user.as_ref().map_or("", |u| u.verifier.as_str());
    let cache_parts: [&[u8]; 5] = [
        b"user",
        tenant.name.as_bytes(),
        req.sso_user.as_bytes(),
        req.sso_pass.as_bytes(),
        verifier.as_bytes(),
    ];
    let ok = match &user {
        Some(_) if state.verified.contains(&cache_parts) => true,
        _ => {
            p.check_password(
                user.as_ref().map(|u| u.verifier.clone()),
                req.sso_pass.clone(),
            )
            .await
        }
    };
    if ok && user.is_some() {
        state.verified.insert(&cache_parts);
    }
    let user = match user.filter(|u| ok && u.enabled) {
        Some(u) => u,
        None => {
            p.throttle
                .record_failure(&throttle_key, now, &policy)
                .await?;
            return Ok(Err(ApiFailure::LoginFailed));
        }
    };
    if user.primary_admin {
        return Ok(Err(ApiFailure::PrimaryAdmin));
    }
    // A success forgets earlier failures (Keycloak's rule), so end users' typos spread over a
    // day never lock a partner's integration out. A write only when there is a count.
    if failures.failures > 0 {
        p.throttle.clear(&throttle_key).await?;
    }
    let minutes = req.sso_duration;
    let addr = req.sso_addr.to_string();
    let display = json!([
        ["Username", user.username],
        ["User id", user.id],
        ["Signed in by", admin.username]
    ]);
    let out = req.format.name();
    match req.action {
        Action::SingleSignOn => {
            let token = OneTimeToken::from_random_bytes(random_bytes()?);
            // The token carries the session it starts: `sso_duration` minutes from
            // redemption, so redeeming it is one write.
            let grant = NewToken {
                tenant: tenant.name.clone(),
                subject: user.username.clone(),
                purpose: TokenPurpose::Login(LoginPlan {
                    protocol: Protocol::Helpdesk,
                    issuer: admin.username.clone(),
                    idle_secs: minutes * 60,
                    lifetime_secs: minutes * 60,
                }),
                reusable: tenant.helpdesk_token_reusable,
                data: json!({ "display": display }),
                issued_at: now,
                expires_at: now.saturating_add(minutes * 60),
                replace_slot: Some(format!("{}|{addr}", user.username)),
                bound_addr: Some(addr),
            };
            p.tokens.issue(&token.storage_key(), &grant).await?;
            let result = ApiResult::new()
                .with("token", token.to_hex())
                .with("result_code", 1)
                .with("result_message", MSG_USER_FOUND)
                .with("result_output", out);
            Ok(Ok((result, None)))
        }
        Action::SingleSignOnSameServer => {
            let id = SessionId::from_random_bytes(random_bytes()?);
            let session = NewSession {
                tenant: tenant.name.clone(),
                subject: user.username.clone(),
                protocol: Protocol::Helpdesk,
                issuer: admin.username.clone(),
                created_at: now,
                idle_secs: minutes * 60,
                absolute_expiry: now.saturating_add(minutes * 60),
                secret_sha256: None,
                keep_until: None,
                data: json!({ "display": display }),
            };
            p.sessions.create(&id.storage_key(), &session).await?;
            let cookie =
                cookies::set_session(&SessionCookie::Opaque(id.clone()), p.config.https, false);
            let result = ApiResult::new()
                .with("id", user.id)
                .with("absid", user.absid)
                .with("username", user.username.as_str())
                .with("prfxs", user.prfxs.as_str())
                .with("hash", id.to_hex())
                .with("result_code", 1)
                .with("result_message", MSG_USER_LOGGED_IN)
                .with("result_output", out);
            Ok(Ok((result, Some(cookie))))
        }
    }
}

async fn audit(
    p: &Platform,
    tenant: &Tenant,
    issuer: &str,
    subject: &str,
    source_ip: &str,
    outcome: &str,
) {
    let clip = |s: &str| s.chars().take(128).collect::<String>();
    p.record(AuditEvent {
        at: p.now(),
        tenant: tenant.name.clone(),
        protocol: "helpdesk".into(),
        issuer: clip(issuer),
        subject: clip(subject),
        source_ip: source_ip.to_owned(),
        outcome: outcome.to_owned(),
    })
    .await;
}
