//! `/login`: the tenant's standard login page. Explains an `errorID` in plain words and offers
//! the client's own email (or clientID) + password sign-in.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::json;
use sso_core::ident::SessionId;
use sso_core::signed_link::ErrorId;
use sso_store::model::{AuditEvent, Client, NewSession, Protocol, Tenant};
use sso_web::cookies::{self, SessionCookie};
use sso_web::page::{self, escape};
use sso_web::{Gate, Platform, WebError, ip, random_bytes};

const FAILED: &str = "Sign-in failed. Check your email or client ID and password.";

fn form_page(
    p: &Platform,
    tenant: &Tenant,
    notice: Option<(&str, &str)>,
    status: StatusCode,
) -> Response {
    let csrf = match random_bytes::<16>() {
        Ok(b) => hex::encode(b),
        Err(_) => return page::unavailable(),
    };
    let notice = notice.map_or(String::new(), |(class, text)| {
        format!(
            "<div class=\"box {class}\" id=\"notice\">{}</div>",
            escape(text)
        )
    });
    let body = format!(
        "<h1>Sign in to {tenant}</h1>{notice}\
         <form method=\"post\" action=\"/login\" class=\"box\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"identifier\">Email or client ID</label>\
         <input id=\"identifier\" name=\"identifier\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        tenant = escape(&tenant.name),
    );
    let mut resp = page::secure(
        page::page(status, "Sign in", &body),
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

/// `GET /login[?errorID=N]`.
pub async fn show(State(p): State<Platform>, req: Request) -> Response {
    let tenant = match p.tenant_for_page(req.headers()).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let error = url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "errorID")
        .and_then(|(_, v)| v.parse::<u8>().ok())
        .and_then(ErrorId::from_code);
    let notice = error.map(|e| ("err", e.explanation()));
    form_page(&p, &tenant, notice, StatusCode::OK)
}

/// `POST /login`.
pub async fn submit(State(p): State<Platform>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let tenant = match p.tenant_for_page(&parts.headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Ok(bytes) = to_bytes(body, 16 * 1024).await else {
        return form_page(&p, &tenant, Some(("err", FAILED)), StatusCode::BAD_REQUEST);
    };
    let field = |name: &str| {
        url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (identifier, password, csrf) = (field("identifier"), field("password"), field("csrf"));
    if !cookies::csrf_ok(&parts.headers, &csrf, p.config.https) {
        let text = "Your sign-in form expired. Please try again.";
        return form_page(&p, &tenant, Some(("err", text)), StatusCode::FORBIDDEN);
    }
    let source_ip = ip::source_ip(&parts, &p.config).to_string();
    match check(&p, &tenant, identifier.trim(), &password, &source_ip).await {
        Ok(Some(cookie)) => {
            let set =
                cookies::set_session(&cookie, p.config.https, !tenant.frame_ancestors.is_empty());
            page::redirect(&tenant.home_path, &[set])
        }
        Ok(None) => form_page(&p, &tenant, Some(("err", FAILED)), StatusCode::UNAUTHORIZED),
        Err(e) => {
            tracing::warn!(error = %e, "login: store unavailable");
            page::unavailable()
        }
    }
}

async fn check(
    p: &Platform,
    tenant: &Tenant,
    identifier: &str,
    password: &str,
    source_ip: &str,
) -> Result<Option<SessionCookie>, WebError> {
    let now = p.now();
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
    let gate = p
        .throttled(&throttle_key, async {
            let client: Option<Client> = client.filter(|c| c.enabled);
            let verifier = client.as_ref().and_then(|c| c.verifier.clone());
            let password = password.to_owned();
            // Argon2id is meant to cost: keep it off the async workers. Unknown accounts pay
            // the same work against a dummy verifier.
            let ok = p.check_password(verifier, password).await;
            Ok(client.filter(|_| ok))
        })
        .await?;
    let outcome = match &gate {
        Gate::Passed(c) => {
            let id = SessionId::from_random_bytes(random_bytes()?);
            let session = NewSession {
                tenant: tenant.name.clone(),
                subject: c.client_id.clone(),
                protocol: Protocol::SignedLink,
                issuer: "password".into(),
                created_at: now,
                idle_secs: tenant.session_idle_secs,
                absolute_expiry: now.saturating_add(tenant.session_absolute_secs),
                secret_sha256: None,
                keep_until: None,
                data: json!({ "display": [["Client ID", c.client_id], ["Email", c.email]] }),
            };
            p.sessions.create(&id.storage_key(), &session).await?;
            Some(SessionCookie::Opaque(id))
        }
        Gate::Failed | Gate::Locked => None,
    };
    p.record(AuditEvent {
        at: now,
        tenant: tenant.name.clone(),
        protocol: "signed_link".into(),
        issuer: "password".into(),
        subject: identifier.chars().take(128).collect(),
        source_ip: source_ip.to_owned(),
        outcome: match gate {
            Gate::Passed(_) => "ok".into(),
            Gate::Locked => "locked".into(),
            Gate::Failed => "bad_credentials".into(),
        },
    })
    .await;
    Ok(outcome)
}
