//! `/admin/main.php` (the `_ssot` redemption and the signed-in page), `/admin/login`,
//! `/admin/logout`.

use axum::body::to_bytes;
use axum::extract::{Request, State as AxState};
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode};
use serde_json::json;
use sso_core::helpdesk::password_digest;
use sso_core::ident::{OneTimeToken, SessionId};
use sso_store::model::{AuditEvent, NewSession, Protocol, Redemption, Tenant};
use sso_web::cookies::{self, SessionCookie};
use sso_web::page::{self, escape};
use sso_web::{Gate, Platform, WebError, home, ip, random_bytes};

use crate::api::State;

const LOGIN: &str = "/admin/login";

/// `GET /admin/main.php[?_ssot=TOKEN]`.
pub async fn main(AxState(state): AxState<State>, req: Request) -> Response {
    let p = &state.platform;
    let (parts, _) = req.into_parts();
    let tenant = match p.tenant_for_page(&parts.headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let ssot = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "_ssot")
        .map(|(_, v)| v.into_owned());
    if let Some(token) = ssot {
        if parts.method == Method::HEAD {
            return page::page(StatusCode::OK, "Help desk", "");
        }
        let source_ip = ip::source_ip(&parts, &p.config);
        return match redeem(p, &tenant, &token, &source_ip.to_string()).await {
            Ok(Some(cookie)) => page::redirect("/admin/main.php", &[cookie]),
            Ok(None) => page::redirect(&format!("{LOGIN}?error=sso"), &[]),
            Err(e) => {
                tracing::warn!(error = %e, "_ssot: store unavailable");
                page::unavailable()
            }
        };
    }
    match p.current_session(&parts.headers, &tenant.name).await {
        Ok(Some(cs)) if cs.session.protocol == Protocol::Helpdesk => {
            home::signed_in_page(&tenant.name, &cs, &tenant.frame_ancestors)
        }
        Ok(_) => page::redirect(LOGIN, &[]),
        Err(_) => page::unavailable(),
    }
}

/// Redeems `_ssot`: one conditional write turns the token into the session, bound to
/// `sso_addr` unless the account switched the binding off. Any failure is the same answer.
async fn redeem(
    p: &Platform,
    tenant: &Tenant,
    token: &str,
    source_ip: &str,
) -> Result<Option<String>, WebError> {
    let now = p.now();
    let secret = random_bytes::<16>()?;
    let how = Redemption {
        protocol: Protocol::Helpdesk,
        from_addr: tenant.helpdesk_ip_binding.then(|| source_ip.to_owned()),
        secret_sha256: cookies::secret_hash(&secret),
        reusable: tenant.helpdesk_token_reusable,
    };
    let outcome = match OneTimeToken::parse(token) {
        Err(_) => None,
        Ok(t) => {
            let redeemed = p
                .tokens
                .redeem(&tenant.name, &t.storage_key(), now, &how)
                .await;
            match redeemed {
                Ok(r) => r,
                Err(e) => {
                    audit_ssot(p, tenant, "", source_ip, "unavailable").await;
                    return Err(e.into());
                }
            }
        }
    };
    let subject = outcome.as_ref().map(|r| r.session.subject.as_str());
    let result = if outcome.is_some() {
        "ok"
    } else {
        "refused:bad_token"
    };
    audit_ssot(p, tenant, subject.unwrap_or_default(), source_ip, result).await;
    Ok(outcome.map(|r| {
        cookies::set_session(
            &SessionCookie::Keyed { key: r.key, secret },
            p.config.https,
            !tenant.frame_ancestors.is_empty(),
        )
    }))
}

async fn audit_ssot(p: &Platform, tenant: &Tenant, subject: &str, source_ip: &str, outcome: &str) {
    p.record(AuditEvent {
        at: p.now(),
        tenant: tenant.name.clone(),
        protocol: "helpdesk".into(),
        issuer: "_ssot".into(),
        subject: subject.to_owned(),
        source_ip: source_ip.to_owned(),
        outcome: outcome.to_owned(),
    })
    .await;
}

fn login_page(p: &Platform, tenant: &Tenant, notice: Option<&str>, status: StatusCode) -> Response {
    let Ok(csrf) = random_bytes::<16>().map(hex::encode) else {
        return page::unavailable();
    };
    let notice = notice.map_or(String::new(), |t| {
        format!("<div class=\"box err\" id=\"notice\">{}</div>", escape(t))
    });
    let body = format!(
        "<h1>Help desk sign in: {tenant}</h1>{notice}<form method=\"post\" action=\"{LOGIN}\" class=\"box\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        tenant = escape(&tenant.name)
    );
    let mut resp = page::secure(
        page::page(status, "Help desk sign in", &body),
        &tenant.frame_ancestors,
    );
    if let Ok(v) = http::HeaderValue::from_str(&cookies::set_csrf(
        &csrf,
        p.config.https,
        !tenant.frame_ancestors.is_empty(),
    )) {
        resp.headers_mut().append(http::header::SET_COOKIE, v);
    }
    resp
}

/// `GET /admin/login[?error=sso]`.
pub async fn show_login(AxState(state): AxState<State>, req: Request) -> Response {
    let p = &state.platform;
    let tenant = match p.tenant_for_page(req.headers()).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let sso_failed = req.uri().query().is_some_and(|q| q.contains("error=sso"));
    let notice =
        sso_failed.then_some("The sign-in link is invalid or has expired. Please sign in.");
    login_page(p, &tenant, notice, StatusCode::OK)
}

/// `POST /admin/login`.
pub async fn submit_login(AxState(state): AxState<State>, req: Request) -> Response {
    let p = &state.platform;
    let (parts, body) = req.into_parts();
    let tenant = match p.tenant_for_page(&parts.headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let bytes = to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let field = |name: &str| {
        url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    if !cookies::csrf_ok(&parts.headers, &field("csrf"), p.config.https) {
        return login_page(
            p,
            &tenant,
            Some("Your sign-in form expired. Please try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let (username, password) = (field("username"), field("password"));
    let source_ip = ip::source_ip(&parts, &p.config).to_string();
    let now = p.now();
    let key = format!("hdlogin|{}|{username}|{source_ip}", tenant.name);
    let attempt = async {
        let gate = p
            .throttled(&key, async {
                let user = p.directory.helpdesk_user(&tenant.name, &username).await?;
                let ok = p
                    .check_password(
                        user.as_ref().map(|u| u.verifier.clone()),
                        password_digest(&password),
                    )
                    .await;
                Ok(user.filter(|u| ok && u.enabled))
            })
            .await?;
        match gate {
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
                    data: json!({ "display": [["Username", u.username], ["User id", u.id]] }),
                };
                p.sessions.create(&id.storage_key(), &session).await?;
                Ok::<_, WebError>(Some(SessionCookie::Opaque(id)))
            }
            Gate::Failed | Gate::Locked => Ok(None),
        }
    };
    match attempt.await {
        Ok(Some(cookie)) => {
            let set =
                cookies::set_session(&cookie, p.config.https, !tenant.frame_ancestors.is_empty());
            page::redirect("/admin/main.php", &[set])
        }
        Ok(None) => login_page(
            p,
            &tenant,
            Some("Sign-in failed."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(_) => page::unavailable(),
    }
}

/// `/admin/logout`.
pub async fn logout(AxState(state): AxState<State>, headers: HeaderMap) -> Response {
    let p = &state.platform;
    let tenant = match p.tenant_for_page(&headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if p.end_session(&headers, &tenant.name).await.is_err() {
        return page::unavailable();
    }
    page::redirect(LOGIN, &[cookies::clear_session(p.config.https)])
}
