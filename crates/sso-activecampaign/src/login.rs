//! `GET|POST /admin/login`: the help-desk user's own username + password sign-in,
//! CSRF-protected and throttled per (username, source IP).

use std::net::IpAddr;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use sso_core::helpdesk::password_digest;
use sso_core::ident::SessionId;
use sso_store::model::{Claims, NewSession, Protocol, Tenant};
use sso_web::cookies::{self, SessionCookie};
use sso_web::extract::{SourceIp, TenantPage};
use sso_web::form::{FormRejection, StrictForm, query_value};
use sso_web::login_form::{LoginForm, Notice};
use sso_web::{Gate, Platform, WebError, page, random_bytes};

use crate::error::{Error, MSG_SSO_REFUSED, SignInRefusal};
use crate::{AppState, LOGIN};

fn form(p: &Platform, tenant: &Tenant) -> LoginForm {
    LoginForm::for_tenant(
        &p.config,
        tenant,
        "Help desk sign in",
        format!("Help desk sign in: {}", tenant.name),
        LOGIN,
        "username",
        "Username",
    )
}

/// `GET /admin/login[?error=sso]`.
pub async fn show(
    State(state): State<AppState>,
    TenantPage(tenant): TenantPage,
    RawQuery(query): RawQuery,
) -> Response {
    let sso_failed = query_value(query.as_deref(), "error").is_some_and(|v| v == "sso");
    let notice = sso_failed.then_some(Notice::Error(MSG_SSO_REFUSED));
    form(&state.platform, &tenant).render(notice, StatusCode::OK)
}

/// `POST /admin/login`.
pub async fn submit(
    State(state): State<AppState>,
    TenantPage(tenant): TenantPage,
    SourceIp(source_ip): SourceIp,
    headers: HeaderMap,
    fields: Result<StrictForm, FormRejection>,
) -> Result<Response, Error> {
    let p = &state.platform;
    let refused = |refusal| Error::SignInRefused {
        refusal,
        form: Box::new(form(p, &tenant)),
    };
    let fields = fields.unwrap_or_default();
    if !cookies::csrf_ok(&headers, fields.value("csrf"), p.config.https) {
        return Err(refused(SignInRefusal::FormExpired));
    }
    let (username, password) = (fields.value("username"), fields.value("password"));
    match check(p, &tenant, username, password, source_ip).await? {
        Gate::Passed(cookie) => {
            let set =
                cookies::set_session(&cookie, p.config.https, !tenant.frame_ancestors.is_empty());
            Ok(page::redirect("/admin/main.php", &[set]))
        }
        Gate::Failed => Err(refused(SignInRefusal::BadCredentials)),
        Gate::Locked => Err(refused(SignInRefusal::Locked)),
    }
}

async fn check(
    p: &Platform,
    tenant: &Tenant,
    username: &str,
    password: &str,
    source_ip: IpAddr,
) -> Result<Gate<SessionCookie>, WebError> {
    let now = p.now();
    let key = format!("hdlogin|{}|{username}|{source_ip}", tenant.name);
    let gate = p
        .throttled(&key, async {
            let user = p.directory.helpdesk_user(&tenant.name, username).await?;
            let ok = p
                .check_password(
                    user.as_ref().map(|u| u.verifier.clone()),
                    password_digest(password),
                )
                .await;
            Ok(user.filter(|u| ok && u.enabled))
        })
        .await?;
    Ok(match gate {
        Gate::Passed(u) => {
            let id = SessionId::from_random_bytes(random_bytes()?);
            let session = NewSession {
                tenant: tenant.name.clone(),
                subject: u.username.clone(),
                protocol: Protocol::Helpdesk,
                issuer: "password".into(),
                created_at: now,
                idle_secs: tenant.session_idle_secs,
                absolute_expiry: now.saturating_add(tenant.session_absolute_secs),
                secret_sha256: None,
                keep_until: None,
                claims: Claims::Helpdesk {
                    username: u.username.clone(),
                    user_id: u.id,
                    signed_in_by: None,
                },
            };
            p.sessions.create(&id.storage_key(), &session).await?;
            Gate::Passed(SessionCookie::Opaque(id))
        }
        Gate::Failed => Gate::Failed,
        Gate::Locked => Gate::Locked,
    })
}
