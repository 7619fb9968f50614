//! `GET|POST /api.php` and `/admin/api.php`: authenticate the caller, check the user, mint a
//! token or a session.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::response::Response;
use http::Method;
use sso_core::helpdesk::{Action, ApiFailure, ApiResult, MSG_USER_FOUND, MSG_USER_LOGGED_IN};
use sso_core::ident::{OneTimeToken, SessionId, StorageKey};
use sso_core::throttle::LockoutPolicy;
use sso_store::model::{
    Claims, HelpdeskUser, LoginPlan, NewSession, NewToken, Outcome, Protocol, Tenant, TokenPurpose,
};
use sso_web::cookies::{self, SessionCookie};
use sso_web::extract::{Host, SourceIp};
use sso_web::host::HostKind;
use sso_web::{WebError, form, random_bytes};

use crate::AppState;
use crate::error::{ApiError, Error, answer};
use crate::params::{self, ApiRequest, Credentials};

/// `GET|POST /api.php`.
pub async fn handle(
    State(state): State<AppState>,
    Host(host): Host,
    SourceIp(source_ip): SourceIp,
    req: Request,
) -> Result<Response, Error> {
    let p = &state.platform;
    let (parts, body) = req.into_parts();
    let form_body = form::is_form_encoded(&parts.headers);
    let (body, body_ok) = match form::read_body(body).await {
        Ok(b) => {
            let ok = b.is_empty() || (parts.method == Method::POST && form_body);
            (b, ok)
        }
        Err(_) => (Default::default(), false),
    };
    let query = parts.uri.query().unwrap_or_default().as_bytes();
    let parsed = params::parse(query, &body, body_ok);
    let format = match &parsed {
        Ok(r) => r.format,
        Err(r) => r.format,
    };
    let refused = |failure: ApiFailure| Error::Api {
        format,
        error: failure.into(),
    };
    let HostKind::Tenant(label) = host else {
        return Err(refused(ApiFailure::UnknownAccount));
    };
    let tenant = p
        .tenant(&label)
        .await
        .map_err(|e| Error::Api {
            format,
            error: e.into(),
        })?
        .ok_or_else(|| refused(ApiFailure::UnknownAccount))?;
    let attempt = p.attempt(Protocol::Helpdesk, &tenant.name, source_ip);
    let req = match parsed {
        Ok(r) => r,
        Err(r) => {
            attempt
                .record(Outcome::ApiRefused(r.failure.reason().into()))
                .await;
            return Err(Error::Api {
                format: r.format,
                error: r.failure.into(),
            });
        }
    };
    let attempt = attempt
        .issuer(&req.credentials.principal())
        .subject(&req.sso_user);
    match run(&state, &tenant, &req, source_ip).await {
        Ok((result, cookie)) => {
            attempt.record(Outcome::Ok).await;
            Ok(answer(req.format, &result, cookie))
        }
        Err(error) => {
            attempt
                .record(match &error {
                    ApiError::Refused(f) => Outcome::ApiRefused(f.reason().into()),
                    ApiError::Unavailable(_) => Outcome::Unavailable,
                })
                .await;
            Err(Error::Api {
                format: req.format,
                error,
            })
        }
    }
}

/// The caller, if its credentials are right and it may use the API.
async fn authenticate(
    state: &AppState,
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
    state: &AppState,
    tenant: &Tenant,
    req: &ApiRequest,
    source_ip: IpAddr,
) -> Result<Minted, ApiError> {
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
        return Err(ApiFailure::Throttled.into());
    }
    let Some(admin) = authenticate(state, tenant, &req.credentials).await? else {
        p.throttle
            .record_failure(&throttle_key, now, &policy)
            .await?;
        return Err(ApiFailure::InvalidCredentials.into());
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
            return Err(ApiFailure::LoginFailed.into());
        }
    };
    if user.primary_admin {
        return Err(ApiFailure::PrimaryAdmin.into());
    }
    // A success forgets earlier failures (Keycloak's rule), so end users' typos spread over a
    // day never lock a partner's integration out. A write only when there is a count.
    if failures.failures > 0 {
        p.throttle.clear(&throttle_key).await?;
    }
    let minutes = req.sso_duration;
    let addr = req.sso_addr.to_string();
    let claims = Claims::Helpdesk {
        username: user.username.clone(),
        user_id: user.id,
        signed_in_by: Some(admin.username.clone()),
    };
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
                claims,
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
            Ok((result, None))
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
                claims,
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
            Ok((result, Some(cookie)))
        }
    }
}
