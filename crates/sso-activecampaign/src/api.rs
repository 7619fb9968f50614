//! `GET|POST /api.php` and `/admin/api.php`: authenticate the caller, check the user, mint a
//! token or a session.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::response::Response;
use http::Method;
use sso_core::helpdesk::{Action, ApiFailure, ApiResult, MSG_USER_FOUND, MSG_USER_LOGGED_IN};
use sso_core::ident::{OneTimeToken, SessionId, StorageKey};
use sso_store::model::{
    AuditEvent, Claims, HelpdeskUser, LoginPlan, NewSession, NewToken, Outcome, Protocol, Tenant,
    TokenPurpose,
};
use sso_web::cookies::{self, SessionCookie};
use sso_web::extract::{Host, SourceIp};
use sso_web::host::HostKind;
use sso_web::{Lockout, form, random_bytes};

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
    let principal = match principal(&state, &tenant, &req.credentials).await {
        Ok(name) => name,
        Err(error) => {
            attempt
                .subject(&req.sso_user)
                .record(Outcome::Unavailable)
                .await;
            return Err(Error::Api {
                format: req.format,
                error,
            });
        }
    };
    let attempt = attempt.issuer(&principal).subject(&req.sso_user);
    let started = attempt.clone().if_it_ends(Outcome::Ok);
    match run(
        &state,
        &tenant,
        &req,
        &principal,
        source_ip,
        started.to_store(),
    )
    .await
    {
        Ok((result, cookie)) => {
            started.stored(None);
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

/// Whether `digest` (md5 hex) is the password of `found`: a recent success of exactly these
/// credentials is remembered (so a partner's burst pays Argon2id once); any other check is
/// reserved under the lock-out rule first (`Throttled` once it locks), then runs Argon2id,
/// against a dummy for an unknown user.
/// A presented name and password digest, and whose (`admin`, the caller; `user`, the one to
/// sign in): the role keeps the two caches apart.
struct Presented<'a> {
    role: &'static [u8],
    name: &'a str,
    digest: &'a str,
}

async fn password_ok(
    state: &AppState,
    lockout: &mut Lockout<'_>,
    source: IpAddr,
    tenant: &Tenant,
    presented: Presented<'_>,
    found: Option<&HelpdeskUser>,
) -> Result<bool, ApiError> {
    let Presented { role, name, digest } = presented;
    // The stored verifier is part of the key: a changed password ends the cached success at
    // once, not five minutes later.
    let verifier = found.map_or("", |u| u.verifier.as_str());
    let cache_parts: [&[u8]; 5] = [
        role,
        tenant.name.as_bytes(),
        name.as_bytes(),
        digest.as_bytes(),
        verifier.as_bytes(),
    ];
    if found.is_some() && state.verified.contains(&cache_parts) {
        return Ok(true);
    }
    // A slot first (busy: "try again later", nothing counted), then the reservation.
    let slot = state
        .platform
        .password_slot(source)
        .await
        .map_err(|_| ApiFailure::Unavailable)?;
    if !lockout.reserve().await? {
        return Err(ApiFailure::Throttled.into());
    }
    let ok = slot
        .verify(found.map(|u| u.verifier.clone()), digest.to_owned())
        .await;
    if ok && found.is_some() {
        state.verified.insert(&cache_parts);
    }
    Ok(ok && found.is_some())
}

/// The caller, if its credentials are right and it may use the API.
async fn authenticate(
    state: &AppState,
    lockout: &mut Lockout<'_>,
    source: IpAddr,
    tenant: &Tenant,
    creds: &Credentials,
) -> Result<Option<HelpdeskUser>, ApiError> {
    let p = &state.platform;
    let admin = match creds {
        // A key is a 128-bit secret looked up by its hash: no Argon2 to race, nothing to
        // reserve (a wrong key is counted afterwards like any failure).
        Credentials::Key(key) => {
            p.directory
                .helpdesk_user_by_api_key(&tenant.name, &StorageKey::of_secret(key))
                .await?
        }
        Credentials::Password { user, pass_h } => {
            let found = p.directory.helpdesk_user(&tenant.name, user).await?;
            let presented = Presented {
                role: b"admin",
                name: user,
                digest: pass_h,
            };
            let ok = password_ok(state, lockout, source, tenant, presented, found.as_ref()).await?;
            found.filter(|_| ok)
        }
    };
    Ok(admin.filter(|a| a.enabled && a.api_rights))
}

/// The name a caller is throttled and audited under, never a secret: the API user as given,
/// or for an API key its admin's username (`key:?` for an unknown key). An unkeyed hash of
/// the key would let anyone holding the log check guesses against it.
pub async fn principal(
    state: &AppState,
    tenant: &Tenant,
    creds: &Credentials,
) -> Result<String, ApiError> {
    Ok(match creds {
        Credentials::Password { user, .. } => user.clone(),
        Credentials::Key(key) => {
            let admin = state
                .platform
                .directory
                .helpdesk_user_by_api_key(&tenant.name, &StorageKey::of_secret(key))
                .await?;
            format!(
                "key:{}",
                admin.as_ref().map_or("?", |a| a.username.as_str())
            )
        }
    })
}

type Minted = (ApiResult, Option<String>);

async fn run(
    state: &AppState,
    tenant: &Tenant,
    req: &ApiRequest,
    principal: &str,
    source_ip: IpAddr,
    audit: Option<&AuditEvent>,
) -> Result<Minted, ApiError> {
    let p = &state.platform;
    let now = p.now();
    let throttle_key = format!("helpdesk|{}|{principal}|{source_ip}", tenant.name);
    let Some(mut lockout) = p.lockout(&throttle_key).await? else {
        return Err(ApiFailure::Throttled.into());
    };
    let result = check_and_mint(state, tenant, req, &mut lockout, source_ip, now, audit).await;
    match &result {
        // The credentials were right: earlier failures are forgotten (Keycloak's rule), so
        // end users' typos spread over a day never lock a partner's integration out. A write
        // only when there is a count (or this attempt's reservation).
        Ok(_) | Err(ApiError::Refused(ApiFailure::PrimaryAdmin)) => lockout.passed().await?,
        Err(ApiError::Refused(ApiFailure::InvalidCredentials | ApiFailure::LoginFailed)) => {
            lockout.failed().await?;
        }
        // Never checked to a verdict (busy, a store failure, locked at the reservation):
        // nothing counts against the account.
        Err(_) => lockout.abandon().await,
    }
    result
}

/// The checks of one call after the lock-out allowed it, and the token or session.
async fn check_and_mint(
    state: &AppState,
    tenant: &Tenant,
    req: &ApiRequest,
    lockout: &mut Lockout<'_>,
    source_ip: IpAddr,
    now: i64,
    audit: Option<&AuditEvent>,
) -> Result<Minted, ApiError> {
    let p = &state.platform;
    let Some(admin) = authenticate(state, lockout, source_ip, tenant, &req.credentials).await?
    else {
        return Err(ApiFailure::InvalidCredentials.into());
    };
    let user = p
        .directory
        .helpdesk_user(&tenant.name, &req.sso_user)
        .await?;
    let ok = password_ok(
        state,
        lockout,
        source_ip,
        tenant,
        Presented {
            role: b"user",
            name: &req.sso_user,
            digest: &req.sso_pass,
        },
        user.as_ref(),
    )
    .await?;
    let Some(user) = user.filter(|u| ok && u.enabled) else {
        return Err(ApiFailure::LoginFailed.into());
    };
    if user.primary_admin {
        return Err(ApiFailure::PrimaryAdmin.into());
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
            // The call's audit event rides with the token (and below, with the session).
            p.tokens
                .issue_audited(&token.storage_key(), &grant, audit)
                .await?;
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
            p.sessions
                .create_audited(&id.storage_key(), &session, audit)
                .await?;
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
