//! Portal sign-in: administrators at `/login` (email), agents at `/login/<group>` (username).
//! CSRF-protected, throttled per (account, source IP), Argon2id with equal work for unknown
//! accounts. An agent who was on the way to a platform (a pending pop kept server-side)
//! goes on to it after signing in.

use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use sso_core::ident::SessionId;
use sso_store::model::{AuditEvent, NewSession, Protocol};
use sso_web::cookies::{self, SessionCookie};
use sso_web::page::{self, escape};
use sso_web::{Gate, Platform, WebError, ip, random_bytes};

use super::{
    ABSOLUTE_SECS, IDLE_SECS, PORTAL, form_fields, on_portal, pop, sign_out_form, with_csrf,
};

fn form(
    p: &Platform,
    title: &str,
    action: &str,
    user_label: &str,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let Ok(csrf) = random_bytes::<16>().map(hex::encode) else {
        return page::unavailable();
    };
    let notice = notice.map_or(String::new(), |t| {
        format!("<div class=\"box err\" id=\"notice\">{}</div>", escape(t))
    });
    let body = format!(
        "<h1>{title}</h1>{notice}<form method=\"post\" action=\"{action}\" class=\"box\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"user\">{user_label}</label><input id=\"user\" name=\"user\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button id=\"submit\" type=\"submit\">Sign in</button></form>",
        title = escape(title),
        action = escape(action),
    );
    // Signing in may continue into a tenant host (a pending pop).
    let mut resp = page::allow_form_redirects_to(
        page::page(status, title, &body),
        &p.config.all_hosts_source(),
    );
    if let Ok(v) = http::HeaderValue::from_str(&cookies::set_csrf(&csrf, p.config.https, false)) {
        resp.headers_mut().append(http::header::SET_COOKIE, v);
    }
    resp
}

pub async fn show_admin(State(p): State<Platform>, headers: HeaderMap) -> Response {
    if !on_portal(&p, &headers) {
        return page::not_found();
    }
    form(
        &p,
        "Portal administrators",
        "/login",
        "Email",
        None,
        StatusCode::OK,
    )
}

pub async fn show_agent(
    State(p): State<Platform>,
    Path(group): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !on_portal(&p, &headers) {
        return page::not_found();
    }
    let Ok(g) = group.parse::<u64>() else {
        return page::not_found();
    };
    form(
        &p,
        &format!("Agents of group {g}"),
        &format!("/login/{g}"),
        "Username",
        None,
        StatusCode::OK,
    )
}

struct Submitted {
    user: String,
    password: String,
    source_ip: String,
    headers: HeaderMap,
}

async fn read(p: &Platform, req: Request) -> Result<Submitted, ()> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 16 * 1024).await.map_err(|_| ())?;
    let field = |name: &str| {
        url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    if !cookies::csrf_ok(&parts.headers, &field("csrf"), p.config.https) {
        return Err(());
    }
    Ok(Submitted {
        user: field("user").trim().to_owned(),
        password: field("password"),
        source_ip: ip::source_ip(&parts, &p.config).to_string(),
        headers: parts.headers,
    })
}

/// Creates the portal session and its cookie.
async fn start(
    p: &Platform,
    subject: &str,
    issuer: &str,
    data: serde_json::Value,
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
        data,
    };
    p.sessions.create(&id.storage_key(), &session).await?;
    Ok(cookies::set_session(
        &SessionCookie::Opaque(id),
        p.config.https,
        false,
    ))
}

async fn audit(p: &Platform, issuer: &str, subject: &str, source_ip: &str, outcome: &str) {
    p.record(AuditEvent {
        at: p.now(),
        tenant: PORTAL.into(),
        protocol: "portal".into(),
        issuer: issuer.into(),
        subject: subject.chars().take(128).collect(),
        source_ip: source_ip.into(),
        outcome: outcome.into(),
    })
    .await;
}

/// Runs the throttle and the password check; `Ok(true)` when both pass.
async fn check(
    p: &Platform,
    key: &str,
    verifier: Option<String>,
    password: String,
) -> Result<bool, WebError> {
    let gate = p
        .throttled(key, async {
            Ok(p.check_password(verifier, password).await.then_some(()))
        })
        .await?;
    Ok(gate == Gate::Passed(()))
}

const FAILED: &str = "Sign-in failed.";
const EXPIRED: &str = "Your sign-in form expired. Please try again.";

pub async fn submit_admin(State(p): State<Platform>, req: Request) -> Response {
    if !on_portal(&p, req.headers()) {
        return page::not_found();
    }
    let Ok(s) = read(&p, req).await else {
        return form(
            &p,
            "Portal administrators",
            "/login",
            "Email",
            Some(EXPIRED),
            StatusCode::FORBIDDEN,
        );
    };
    let result = async {
        let admin = p
            .directory
            .administrator(&s.user)
            .await?
            .filter(|a| a.enabled);
        let key = format!("portal|admin|{}|{}", s.user.to_lowercase(), s.source_ip);
        if !check(
            &p,
            &key,
            admin.as_ref().map(|a| a.verifier.clone()),
            s.password.clone(),
        )
        .await?
        {
            return Ok(None);
        }
        let Some(a) = admin else { return Ok(None) };
        let data = json!({ "role": "admin", "groups": a.groups });
        start(&p, &a.email, "admin", data).await.map(Some)
    }
    .await;
    match result {
        Ok(Some(cookie)) => {
            audit(&p, "admin", &s.user, &s.source_ip, "ok").await;
            page::redirect("/", &[cookie])
        }
        Ok(None) => {
            audit(&p, "admin", &s.user, &s.source_ip, "bad_credentials").await;
            form(
                &p,
                "Portal administrators",
                "/login",
                "Email",
                Some(FAILED),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(_) => page::unavailable(),
    }
}

pub async fn submit_agent(
    State(p): State<Platform>,
    Path(group): Path<String>,
    req: Request,
) -> Response {
    if !on_portal(&p, req.headers()) {
        return page::not_found();
    }
    let Ok(g) = group.parse::<u64>() else {
        return page::not_found();
    };
    let (title, action) = (format!("Agents of group {g}"), format!("/login/{g}"));
    let Ok(s) = read(&p, req).await else {
        return form(
            &p,
            &title,
            &action,
            "Username",
            Some(EXPIRED),
            StatusCode::FORBIDDEN,
        );
    };
    let issuer = format!("group:{g}");
    let result = async {
        let agent = p.directory.agent(g, &s.user).await?.filter(|a| a.enabled);
        let key = format!("portal|agent|{g}|{}|{}", s.user, s.source_ip);
        if !check(
            &p,
            &key,
            agent.as_ref().map(|a| a.verifier.clone()),
            s.password.clone(),
        )
        .await?
        {
            return Ok(None);
        }
        let Some(a) = agent else { return Ok(None) };
        let data = json!({ "role": "agent", "group": g, "fullname": a.fullname });
        start(&p, &a.username, &issuer, data).await.map(Some)
    }
    .await;
    match result {
        Ok(Some(cookie)) => {
            audit(&p, &issuer, &s.user, &s.source_ip, "ok").await;
            // On to the platform the agent was heading for, if any (kept server-side).
            match pop::take_pending(&p, &s.headers, g).await {
                Some(tenant) => page::redirect(
                    &pop::pop_path(g, &tenant),
                    &[cookie, pop::clear_pending(&p)],
                ),
                None => page::redirect("/", &[cookie]),
            }
        }
        Ok(None) => {
            audit(&p, &issuer, &s.user, &s.source_ip, "bad_credentials").await;
            form(
                &p,
                &title,
                &action,
                "Username",
                Some(FAILED),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(_) => page::unavailable(),
    }
}

/// `GET /logout`: asks, because a GET must not end the session (another site could link
/// here); the button posts the CSRF-protected form below.
pub async fn confirm_logout(State(p): State<Platform>, headers: HeaderMap) -> Response {
    if !on_portal(&p, &headers) {
        return page::not_found();
    }
    with_csrf(&p, "Sign out", |csrf| {
        format!("<h1>Sign out of the portal?</h1>{}", sign_out_form(csrf))
    })
}

/// `POST /logout` with the page's CSRF token: ends the portal session (platform sessions
/// keep their own lifetime). A post without a valid token gets the question again.
pub async fn logout(State(p): State<Platform>, req: Request) -> Response {
    if !on_portal(&p, req.headers()) {
        return page::not_found();
    }
    let Some((headers, _)) = form_fields(req, &p).await else {
        let mut resp = with_csrf(&p, "Sign out", |csrf| {
            format!(
                "<h1>Sign out of the portal?</h1><div class=\"box err\">Your sign-out form expired. \
                 Please try again.</div>{}",
                sign_out_form(csrf)
            )
        });
        *resp.status_mut() = StatusCode::FORBIDDEN;
        return resp;
    };
    if p.end_session(&headers, PORTAL).await.is_err() {
        return page::unavailable();
    }
    page::redirect("/login", &[cookies::clear_session(p.config.https)])
}
