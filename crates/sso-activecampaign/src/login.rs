//! `GET|POST /admin/login`: the help-desk user's own username + password sign-in,
//! CSRF-protected and throttled per (username, source IP).

use std::net::IpAddr;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use sso_core::helpdesk::password_digest;
use sso_store::model::{Claims, Protocol, Tenant};
use sso_web::cookies::{self, SessionCookie};
use sso_web::extract::{SourceIp, TenantPage};
use sso_web::form::{FormRejection, StrictForm, query_value};
use sso_web::login_form::{LoginForm, Notice};
use sso_web::{Platform, SignInFailure, SignInRefusal};

use crate::error::{Error, MSG_SIGN_IN_FAILED, MSG_SSO_REFUSED};
use crate::{AppState, LOGIN};

fn form(p: &Platform, tenant: &Tenant) -> LoginForm {
    LoginForm {
        title: "Help desk sign in".into(),
        heading: format!("Help desk sign in: {}", tenant.name),
        action: LOGIN.into(),
        user_field: "username",
        user_label: "Username",
        failed_notice: MSG_SIGN_IN_FAILED,
        ..LoginForm::on_tenant(&p.config, tenant)
    }
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
    let refuse = |refusal| Error::from(form(p, &tenant).refuse(refusal));
    let fields = fields.unwrap_or_default();
    if !cookies::csrf_ok(&headers, fields.value("csrf"), p.config.https) {
        return Err(refuse(SignInRefusal::FormExpired));
    }
    let (username, password) = (fields.value("username"), fields.value("password"));
    let cookie = check(p, &tenant, username, password, source_ip)
        .await
        .map_err(|failure| failure.into_error(refuse))?;
    Ok(p.signed_in(&tenant, &cookie, "/admin/main.php"))
}

async fn check(
    p: &Platform,
    tenant: &Tenant,
    username: &str,
    password: &str,
    source_ip: IpAddr,
) -> Result<SessionCookie, SignInFailure> {
    let key = format!("hdlogin|{}|{username}|{source_ip}", tenant.name);
    let user = p.directory.helpdesk_user(&tenant.name, username).await?;
    let verifier = user.as_ref().map(|u| u.verifier.clone());
    let digest = password_digest(password);
    let gate = p
        .throttled(&key, source_ip, |slot| async move {
            let ok = slot.verify(verifier, digest).await;
            Ok(user.filter(|u| ok && u.enabled))
        })
        .await?;
    let u = match gate.passed() {
        Ok(u) => u,
        Err(refusal) => return Err(refusal.into()),
    };
    let claims = Claims::Helpdesk {
        username: u.username.clone(),
        user_id: u.id,
        signed_in_by: None,
    };
    Ok(
        p.open_password_session(tenant, &u.username, Protocol::Helpdesk, claims)
            .await?,
    )
}
