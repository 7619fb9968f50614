//! `GET|POST /login`: the tenant's standard login page. Explains an `errorID` in plain words
//! and offers the client's own email (or clientID) + password sign-in, CSRF-protected and
//! throttled per (client, source IP).

use std::net::IpAddr;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use sso_core::signed_link::ErrorId;
use sso_store::model::{Claims, Outcome, Protocol, Tenant};
use sso_web::cookies::{self, SessionCookie};
use sso_web::extract::{SourceIp, TenantPage};
use sso_web::form::{FormRejection, StrictForm, query_value};
use sso_web::login_form::{LoginForm, Notice};
use sso_web::{Platform, SignInFailure, SignInRefusal};

use crate::error::{Error, MSG_SIGN_IN_FAILED};

fn form(p: &Platform, tenant: &Tenant) -> LoginForm {
    LoginForm {
        title: "Sign in".into(),
        heading: format!("Sign in to {}", tenant.name),
        action: "/login".into(),
        user_field: "identifier",
        user_label: "Email or client ID",
        failed_notice: MSG_SIGN_IN_FAILED,
        ..LoginForm::on_tenant(&p.config, tenant)
    }
}

/// `GET /login[?errorID=N]`.
pub async fn show(
    State(p): State<Platform>,
    TenantPage(tenant): TenantPage,
    RawQuery(query): RawQuery,
) -> Response {
    let error = query_value(query.as_deref(), "errorID")
        .and_then(|v| v.parse::<u8>().ok())
        .and_then(ErrorId::from_code);
    let notice = error.map(|e| Notice::Error(e.explanation()));
    form(&p, &tenant).render(notice, StatusCode::OK)
}

/// `POST /login`.
pub async fn submit(
    State(p): State<Platform>,
    TenantPage(tenant): TenantPage,
    SourceIp(source_ip): SourceIp,
    headers: HeaderMap,
    fields: Result<StrictForm, FormRejection>,
) -> Result<Response, Error> {
    let refuse = |refusal| Error::from(form(&p, &tenant).refuse(refusal));
    // A body too large to read is 400; any other unreadable form simply has no matching
    // CSRF token (403), as it always had.
    let fields = match fields {
        Ok(f) => f,
        Err(FormRejection::TooLarge) => return Err(refuse(SignInRefusal::Unreadable)),
        Err(_) => StrictForm::default(),
    };
    if !cookies::csrf_ok(&headers, fields.value("csrf"), p.config.https) {
        return Err(refuse(SignInRefusal::FormExpired));
    }
    let identifier = fields.value("identifier").trim();
    let cookie = check(&p, &tenant, identifier, fields.value("password"), source_ip)
        .await
        .map_err(|failure| failure.into_error(refuse))?;
    Ok(p.signed_in(&tenant, &cookie, &tenant.home_path))
}

async fn check(
    p: &Platform,
    tenant: &Tenant,
    identifier: &str,
    password: &str,
    source_ip: IpAddr,
) -> Result<SessionCookie, SignInFailure> {
    // The directory is cached, so finding the client first costs no read; the throttle then
    // counts per client, whether it was typed as an email or as a clientID (else one
    // client would have two counters). Unknown identifiers count under what was typed.
    let client = if identifier.contains('@') {
        let mut found = p
            .directory
            .clients_by_email(&tenant.name, identifier)
            .await?;
        // A shared email cannot tell whose password to check: those clients use their ID.
        if found.len() == 1 { found.pop() } else { None }
    } else if identifier.is_empty() {
        None
    } else {
        p.directory.client(&tenant.name, identifier).await?
    };
    let account = client.as_ref().map_or_else(
        || identifier.to_lowercase(),
        |c| format!("id:{}", c.client_id),
    );
    let throttle_key = format!("login|{}|{account}|{source_ip}", tenant.name);
    let client = client.filter(|c| c.enabled);
    let verifier = client.as_ref().and_then(|c| c.verifier.clone());
    let password = password.to_owned();
    // Argon2id is meant to cost: off the async workers, and unknown accounts pay the same
    // work against a dummy verifier.
    let gate = p
        .throttled(&throttle_key, source_ip, |slot| async move {
            let ok = slot.verify(verifier, password).await;
            Ok(client.filter(|_| ok))
        })
        .await?;
    let attempt = p
        .attempt(Protocol::SignedLink, &tenant.name, source_ip)
        .issuer("password")
        .subject(identifier);
    let c = match gate.passed() {
        Ok(c) => c,
        Err(refusal) => {
            attempt.record(refusal.outcome()).await;
            return Err(refusal.into());
        }
    };
    let claims = Claims::SignedLink {
        client_id: c.client_id.clone(),
        email: c.email.clone(),
        vendor: None,
    };
    let cookie = p
        .open_password_session(tenant, &c.client_id, Protocol::SignedLink, claims)
        .await?;
    attempt.record(Outcome::Ok).await;
    Ok(cookie)
}
