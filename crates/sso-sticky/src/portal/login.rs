//! Portal sign-in: administrators at `/login` (email), agents at `/login/<group>` (username).
//! CSRF-protected, throttled per (account, source IP), Argon2id with equal work for unknown
//! accounts. An agent who was on the way to a platform (a pending pop kept server-side)
//! goes on to it after signing in.

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use sso_core::ident::SessionId;
use sso_store::model::{Claims, NewSession, Outcome, Protocol};
use sso_web::audit::Attempt;
use sso_web::cookies::{self, SessionCookie};
use sso_web::extract::{PortalHost, SourceIp};
use sso_web::form::{FormRejection, StrictForm};
use sso_web::login_form::LoginForm;
use sso_web::{Gate, PageError, Platform, SignInRefusal, WebError, page, random_bytes};

use super::{ABSOLUTE_SECS, IDLE_SECS, PORTAL, csrf_ok, pop};
use crate::error::{Error, MSG_SIGN_IN_FAILED};

fn form(p: &Platform, title: String, action: String, user_label: &'static str) -> LoginForm {
    LoginForm {
        heading: title.clone(),
        title,
        action,
        user_field: "user",
        user_label,
        failed_notice: MSG_SIGN_IN_FAILED,
        frame_ancestors: Vec::new(),
        https: p.config.https,
        // Signing in may continue into a tenant host (a pending pop).
        redirects_to: Some(p.config.all_hosts_source()),
    }
}

fn admin_form(p: &Platform) -> LoginForm {
    form(p, "Portal administrators".into(), "/login".into(), "Email")
}

fn agent_form(p: &Platform, g: u64) -> LoginForm {
    form(
        p,
        format!("Agents of group {g}"),
        format!("/login/{g}"),
        "Username",
    )
}

fn group_id(group: &str) -> Result<u64, Error> {
    group
        .parse::<u64>()
        .map_err(|_| Error::Page(PageError::NotFound))
}

/// `GET /login`.
pub async fn show_admin(State(p): State<Platform>, _: PortalHost) -> Response {
    admin_form(&p).render(None, StatusCode::OK)
}

/// `GET /login/<group>`.
pub async fn show_agent(
    State(p): State<Platform>,
    _: PortalHost,
    Path(group): Path<String>,
) -> Result<Response, Error> {
    Ok(agent_form(&p, group_id(&group)?).render(None, StatusCode::OK))
}

/// Creates the portal session and its cookie.
async fn start(
    p: &Platform,
    subject: &str,
    issuer: &str,
    claims: Claims,
) -> Result<String, WebError> {
    let now = p.now();
    let id = SessionId::from_random_bytes(random_bytes()?);
    let session = NewSession {
        tenant: PORTAL.into(),
        subject: subject.into(),
        protocol: Protocol::Portal,
        issuer: issuer.into(),
        created_at: now,
        idle_secs: IDLE_SECS,
        absolute_expiry: now + ABSOLUTE_SECS,
        secret_sha256: None,
        keep_until: None,
        claims,
    };
    p.sessions.create(&id.storage_key(), &session).await?;
    Ok(cookies::set_session(
        &SessionCookie::Opaque(id),
        p.config.https,
        false,
    ))
}

/// Runs the throttle and the password check (`None`: the same Argon2 work against a dummy).
async fn check(
    p: &Platform,
    key: &str,
    source: IpAddr,
    verifier: Option<String>,
    password: &str,
) -> Result<Gate<()>, WebError> {
    let password = password.to_owned();
    p.throttled(key, source, |slot| async move {
        Ok(slot.verify(verifier, password).await.then_some(()))
    })
    .await
}

/// The account, if its password check passed (an unknown account never passes: it was
/// checked against a dummy); otherwise the refusal, audited.
async fn passed<A>(
    gate: Gate<()>,
    account: Option<A>,
    audit: Attempt<'_>,
    refuse: impl FnOnce(SignInRefusal) -> Error,
) -> Result<A, Error> {
    match gate
        .passed()
        .and_then(|()| account.ok_or(SignInRefusal::BadCredentials))
    {
        Ok(a) => Ok(a),
        Err(refusal) => {
            audit.record(refusal.outcome()).await;
            Err(refuse(refusal))
        }
    }
}

/// `POST /login`.
pub async fn submit_admin(
    State(p): State<Platform>,
    _: PortalHost,
    SourceIp(source_ip): SourceIp,
    headers: HeaderMap,
    fields: Result<StrictForm, FormRejection>,
) -> Result<Response, Error> {
    let refuse = |refusal| Error::from(admin_form(&p).refuse(refusal));
    if !csrf_ok(&p, &headers, &fields) {
        return Err(refuse(SignInRefusal::FormExpired));
    }
    let fields = fields.unwrap_or_default();
    let (user, password) = (fields.value("user").trim(), fields.value("password"));
    let admin = p.directory.administrator(user).await?.filter(|a| a.enabled);
    let key = format!("portal|admin|{}|{source_ip}", user.to_lowercase());
    let verifier = admin.as_ref().map(|a| a.verifier.clone());
    let audit = p
        .attempt(Protocol::Portal, PORTAL, source_ip)
        .issuer("admin")
        .subject(user);
    let gate = check(&p, &key, source_ip, verifier, password).await?;
    let a = passed(gate, admin, audit, refuse).await?;
    let claims = Claims::PortalAdmin {
        groups: a.groups.clone(),
    };
    let cookie = start(&p, &a.email, "admin", claims).await?;
    p.attempt(Protocol::Portal, PORTAL, source_ip)
        .issuer("admin")
        .subject(user)
        .record(Outcome::Ok)
        .await;
    Ok(page::redirect("/", &[cookie]))
}

/// `POST /login/<group>`.
pub async fn submit_agent(
    State(p): State<Platform>,
    _: PortalHost,
    Path(group): Path<String>,
    SourceIp(source_ip): SourceIp,
    headers: HeaderMap,
    fields: Result<StrictForm, FormRejection>,
) -> Result<Response, Error> {
    let g = group_id(&group)?;
    let refuse = |refusal| Error::from(agent_form(&p, g).refuse(refusal));
    if !csrf_ok(&p, &headers, &fields) {
        return Err(refuse(SignInRefusal::FormExpired));
    }
    let fields = fields.unwrap_or_default();
    let (user, password) = (fields.value("user").trim(), fields.value("password"));
    let issuer = format!("group:{g}");
    let agent = p.directory.agent(g, user).await?.filter(|a| a.enabled);
    let key = format!("portal|agent|{g}|{user}|{source_ip}");
    let verifier = agent.as_ref().map(|a| a.verifier.clone());
    let audit = p
        .attempt(Protocol::Portal, PORTAL, source_ip)
        .issuer(&issuer)
        .subject(user);
    let gate = check(&p, &key, source_ip, verifier, password).await?;
    let a = passed(gate, agent, audit, refuse).await?;
    let claims = Claims::PortalAgent {
        group: g,
        fullname: a.fullname.clone(),
    };
    let cookie = start(&p, &a.username, &issuer, claims).await?;
    p.attempt(Protocol::Portal, PORTAL, source_ip)
        .issuer(&issuer)
        .subject(user)
        .record(Outcome::Ok)
        .await;
    // On to the platform the agent was heading for, if any (kept server-side).
    Ok(match pop::take_pending(&p, &headers, g).await {
        Some(tenant) => page::redirect(
            &pop::pop_path(g, &tenant),
            &[cookie, pop::clear_pending(&p)],
        ),
        None => page::redirect("/", &[cookie]),
    })
}
