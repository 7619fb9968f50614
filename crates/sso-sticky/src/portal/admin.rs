//! The administrator pages: my groups; a group's agents and linked platforms, with forms to
//! create, disable, enable and reset the password of agents, and to link and unlink
//! platforms (all CSRF-protected, each answered by a redirect back to the group with a
//! confirmation); an agent's activity.

use std::net::IpAddr;

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use sso_store::model::{Agent, Group, GroupLink, Outcome, Protocol, Session};
use sso_store::password;
use sso_web::extract::{PortalHost, SourceIp};
use sso_web::form::{FormRejection, StrictForm};
use sso_web::page::{self, escape};
use sso_web::{PageError, Platform, WebError, cookies, random_bytes};

use super::{PORTAL, admin_groups, agent_group, csrf_ok, session, sign_out_form, with_csrf};
use crate::error::Error;

/// The notice of an administrator form whose CSRF token did not match.
const MSG_FORM_EXPIRED: &str = "The form expired; go back and try again.";

/// `/`: an administrator's groups, or an agent's platforms.
pub async fn index(
    State(p): State<Platform>,
    _: PortalHost,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let s = session(&p, &headers).await?.ok_or(Error::SignInFirst)?;
    Ok(render_index(&p, &s).await?)
}

async fn render_index(p: &Platform, s: &Session) -> Result<Response, WebError> {
    if let Some(g) = agent_group(s) {
        let group = p.directory.group(g).await?;
        let links: String = group
            .map(|gr| gr.links)
            .unwrap_or_default()
            .iter()
            .map(|l| {
                format!(
                    "<li><a href=\"/pop?group_id={g}&amp;client_subdomain={t}\">{t}</a></li>",
                    t = escape(&l.tenant)
                )
            })
            .collect();
        let subject = escape(&s.subject);
        return Ok(with_csrf(p, "Agent portal", |csrf| {
            format!(
                "<h1>Agent portal</h1><div class=\"box ok\">Signed in as <strong id=\"subject\">{subject}</strong> (group {g}).</div>\
                 <h2>Platforms</h2><ul>{links}</ul>{}",
                sign_out_form(csrf)
            )
        }));
    }
    let mut items = String::new();
    for &g in admin_groups(s) {
        let name = p
            .directory
            .group(g)
            .await?
            .map(|gr| gr.name)
            .unwrap_or_default();
        items.push_str(&format!(
            "<li><a href=\"/groups/{g}\">Group {g}</a> {}</li>",
            escape(&name)
        ));
    }
    let subject = escape(&s.subject);
    Ok(with_csrf(p, "Portal administration", |csrf| {
        format!(
            "<h1>Portal administration</h1><div class=\"box ok\">Signed in as <strong id=\"subject\">{subject}</strong>.</div>\
             <h2>My groups</h2><ul id=\"groups\">{items}</ul>{}",
            sign_out_form(csrf)
        )
    }))
}

/// The administrator session of this request, if it manages `group`.
async fn managing(p: &Platform, headers: &HeaderMap, group: &str) -> Result<(Session, u64), Error> {
    let s = session(p, headers).await?.ok_or(Error::SignInFirst)?;
    let g = group
        .parse::<u64>()
        .map_err(|_| Error::Page(PageError::NotFound))?;
    if !admin_groups(&s).contains(&g) {
        return Err(Error::NotYourGroup);
    }
    Ok((s, g))
}

/// The group, or an empty one of that id (a group can be managed before it has links).
async fn group_or_new(p: &Platform, g: u64) -> Result<Group, WebError> {
    Ok(p.directory.group(g).await?.unwrap_or(Group {
        id: g,
        name: String::new(),
        links: vec![],
    }))
}

/// A path segment, percent-encoded (everything but RFC 3986's unreserved characters), so a
/// username with `/`, `?` or `#` still names that agent in a form's action.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A one-button POST form with the page's CSRF token.
fn button_form(action: &str, csrf: &str, id: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\" style=\"display:inline\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" id=\"{id}\">{label}</button></form>"
    )
}

/// The confirmation a saved form leaves for the next view of the group page: a short-lived
/// cookie (not a URL parameter, so nobody can link to a false confirmation).
fn flash_name(https: bool) -> &'static str {
    if https { "__Host-flash" } else { "flash" }
}

/// The kinds of confirmation, by the code the flash cookie carries.
const CONFIRMATIONS: [(&str, &str); 6] = [
    (
        "disabled",
        "Agent {} is disabled; their portal sessions have ended.",
    ),
    ("enabled", "Agent {} is enabled again."),
    (
        "password",
        "The password of agent {} was changed; their portal sessions have ended.",
    ),
    ("unlinked", "Platform {} is no longer linked to this group."),
    ("created", "Agent {} was created."),
    ("linked", "Platform {} is linked to this group."),
];

/// `Set-Cookie` for a confirmation.
fn set_flash(p: &Platform, g: u64, code: &str, name: &str) -> String {
    let value = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("group", &g.to_string())
        .append_pair("done", code)
        .append_pair("name", name)
        .finish();
    format!(
        "{}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age=60{}",
        flash_name(p.config.https),
        if p.config.https { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` removing the confirmation once shown.
fn clear_flash(p: &Platform) -> String {
    format!(
        "{}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        flash_name(p.config.https),
        if p.config.https { "; Secure" } else { "" }
    )
}

/// The confirmation this request carries for group `g`, as HTML, if any.
fn flash(p: &Platform, headers: &HeaderMap, g: u64) -> Option<String> {
    let value = cookies::read(headers, flash_name(p.config.https))?;
    let (mut code, mut name, mut group) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(value.as_bytes()) {
        match k.as_ref() {
            "group" => group = v.parse::<u64>().ok(),
            "done" => code = Some(v.into_owned()),
            "name" => name = Some(v.into_owned()),
            _ => {}
        }
    }
    let (code, name) = (code?, name?);
    if group != Some(g) {
        return None;
    }
    let (_, text) = CONFIRMATIONS.iter().find(|(c, _)| *c == code)?;
    let (before, after) = text.split_once("{}")?;
    Some(format!(
        "<div class=\"box ok\" id=\"notice\">{}<strong>{}</strong>{}</div>",
        escape(before),
        escape(&name),
        escape(after)
    ))
}

/// The answer to a saved form: back to the group page, which shows the confirmation.
fn saved(p: &Platform, g: u64, code: &str, name: &str) -> Response {
    page::redirect(&format!("/groups/{g}"), &[set_flash(p, g, code, name)])
}

/// `/groups/<G>`.
pub async fn group(
    State(p): State<Platform>,
    _: PortalHost,
    Path(group): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let (_, g) = managing(&p, &headers, &group).await?;
    let agents = p.admin.list_agents(g).await?;
    let grp = group_or_new(&p, g).await?;
    let notice = flash(&p, &headers, g);
    let mut resp = with_csrf(&p, &format!("Group {g}"), |csrf| {
        let agent_rows: String = agents
            .iter()
            .map(|a| {
                let (u, path) = (escape(&a.username), segment(&a.username));
                let base = format!("/groups/{g}/agents/{path}");
                let (state, toggle) = if a.enabled {
                    (
                        "",
                        button_form(&format!("{base}/disable"), csrf, &format!("disable-{u}"), "Disable"),
                    )
                } else {
                    (
                        " <strong class=\"disabled\">(disabled)</strong>",
                        button_form(&format!("{base}/enable"), csrf, &format!("enable-{u}"), "Enable"),
                    )
                };
                format!(
                    "<li id=\"agent-{u}\">{u} — {f}{state} <a href=\"{base}\">activity</a> {toggle}\
                     <form method=\"post\" action=\"{base}/password\" class=\"box\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <label for=\"password-{u}\">New password for {u} (empty: one is generated and shown once)</label>\
                     <input id=\"password-{u}\" name=\"password\" type=\"password\" autocomplete=\"new-password\">\
                     <button type=\"submit\" id=\"reset-{u}\">Reset password</button></form></li>",
                    f = escape(&a.fullname)
                )
            })
            .collect();
        let link_rows: String = grp
            .links
            .iter()
            .map(|l| {
                let t = escape(&l.tenant);
                format!(
                    "<li id=\"link-{t}\">{t} (department {}) {}</li>",
                    l.department,
                    button_form(
                        &format!("/groups/{g}/links/{}/unlink", segment(&l.tenant)),
                        csrf,
                        &format!("unlink-{t}"),
                        "Unlink"
                    )
                )
            })
            .collect();
        format!(
            "<h1>Group {g} {name}</h1>{notice}<h2>Agents</h2><ul id=\"agents\">{agent_rows}</ul>\
             <form method=\"post\" action=\"/groups/{g}/agents\" class=\"box\"><h3>Create an agent</h3>\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"username\">Username</label><input id=\"username\" name=\"username\" required>\
             <label for=\"fullname\">Full name</label><input id=\"fullname\" name=\"fullname\" required>\
             <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" required>\
             <button type=\"submit\">Create</button></form>\
             <h2>Linked platforms</h2><ul id=\"links\">{link_rows}</ul>\
             <form method=\"post\" action=\"/groups/{g}/links\" class=\"box\"><h3>Link a platform</h3>\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"tenant\">Platform (client subdomain)</label><input id=\"tenant\" name=\"tenant\" required>\
             <label for=\"department\">Department</label><input id=\"department\" name=\"department\" required>\
             <button type=\"submit\">Link</button></form><p><a href=\"/\">Back</a></p>",
            name = escape(&grp.name),
            notice = notice.as_deref().unwrap_or_default(),
        )
    });
    if notice.is_some()
        && let Ok(v) = http::HeaderValue::from_str(&clear_flash(&p))
    {
        resp.headers_mut().append(http::header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// The fields of an administrator's form, if its CSRF token matches.
fn checked(
    p: &Platform,
    headers: &HeaderMap,
    fields: Result<StrictForm, FormRejection>,
) -> Result<StrictForm, Error> {
    if !csrf_ok(p, headers, &fields) {
        return Err(Error::NotSaved(MSG_FORM_EXPIRED));
    }
    fields.map_err(|_| Error::NotSaved(MSG_FORM_EXPIRED))
}

/// A form an administrator posts to `/groups/<G>/…` on the portal host: the group, which
/// they manage (else refused as [`managing`] refuses), the other path parameters (an agent's
/// username, a platform), who posted it, and the fields, whose CSRF token matched (else "not
/// saved").
pub struct GroupForm {
    group: u64,
    params: Vec<(String, String)>,
    admin: String,
    fields: StrictForm,
}

impl GroupForm {
    /// A path parameter other than the group (empty if the route has none of that name).
    fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl FromRequest<Platform> for GroupForm {
    type Rejection = Response;

    async fn from_request(req: Request, p: &Platform) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        PortalHost::from_request_parts(&mut parts, p)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(&mut parts, p)
            .await
            .map_err(IntoResponse::into_response)?;
        let group = params
            .iter()
            .find(|(k, _)| k == "group")
            .map_or("", |(_, v)| v.as_str());
        let (session, group) = managing(p, &parts.headers, group)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let fields = StrictForm::from_request(Request::from_parts(parts, body), p).await;
        let fields = checked(p, &headers, fields).map_err(IntoResponse::into_response)?;
        Ok(GroupForm {
            group,
            params: params.into_iter().filter(|(k, _)| k != "group").collect(),
            admin: session.subject,
            fields,
        })
    }
}

/// `POST /groups/<G>/agents`.
pub async fn create_agent(
    State(p): State<Platform>,
    GroupForm {
        group: g, fields, ..
    }: GroupForm,
) -> Result<Response, Error> {
    let (username, fullname, pass) = (
        fields.value("username").trim(),
        fields.value("fullname").trim(),
        fields.value("password").trim(),
    );
    let valid =
        |s: &str, max: usize| !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control);
    if !valid(username, 128) || !valid(fullname, 256) || pass.len() < 8 {
        return Err(Error::NotSaved(
            "Username and full name are required; passwords need at least 8 characters.",
        ));
    }
    let verifier = hash(pass.to_owned()).await?;
    let agent = Agent {
        group: g,
        username: username.into(),
        fullname: fullname.into(),
        verifier,
        enabled: true,
    };
    p.admin.put_agent(&agent).await?;
    p.directory_changed();
    Ok(saved(&p, g, "created", username))
}

/// `POST /groups/<G>/links`.
pub async fn link_platform(
    State(p): State<Platform>,
    GroupForm {
        group: g, fields, ..
    }: GroupForm,
) -> Result<Response, Error> {
    let tenant = fields.value("tenant").trim().to_ascii_lowercase();
    let department = fields
        .value("department")
        .trim()
        .parse::<u64>()
        .map_err(|_| Error::NotSaved("The department must be a number."))?;
    let t = p
        .tenant(&tenant)
        .await?
        .ok_or(Error::NotSaved("No such platform."))?;
    // A group administrator is the call center's, not the platform's: only platforms that
    // allowed this group may be linked, or any administrator could send agents anywhere.
    if !t.portal_groups.contains(&g) {
        return Err(Error::NotSaved(
            "That platform has not allowed this group to link it; ask its operator.",
        ));
    }
    if !t.departments.contains(&department) {
        return Err(Error::NotSaved("That platform has no such department."));
    }
    // One conditional write on the group as read: a concurrent link by another
    // administrator is kept, not overwritten.
    p.admin
        .link_group(
            g,
            GroupLink {
                tenant: tenant.clone(),
                department,
            },
        )
        .await?;
    p.directory_changed();
    Ok(saved(&p, g, "linked", &tenant))
}

/// An Argon2id verifier of `pass`, computed off the async workers.
async fn hash(pass: String) -> Result<String, Error> {
    Ok(tokio::task::spawn_blocking(move || password::hash(&pass))
        .await
        .map_err(|e| {
            sso_store::StoreError::unavailable_from("password hashing task failed", e)
        })??)
}

/// The refusal for an agent the group does not have.
fn no_agent(g: u64, username: &str) -> Error {
    Error::NoSuch(format!("Group {g} has no agent `{username}`."))
}

/// Records an administrator's change as an audit event: the subject is what changed, the
/// issuer the group, the outcome what was done and by whom. Never a password.
async fn audit_change(
    p: &Platform,
    source_ip: IpAddr,
    form: &GroupForm,
    subject: &str,
    change: &str,
) {
    p.attempt(Protocol::Portal, PORTAL, source_ip)
        .issuer(&format!("group:{}", form.group))
        .subject(subject)
        .record(Outcome::Changed {
            change: change.into(),
            by: form.admin.clone(),
        })
        .await;
}

/// Ends every portal session of an agent: a not-before time one second ahead, so that a
/// session started within the current second (with the old password, or just before the
/// agent was disabled) ends too. Portal sessions name agents by username only, so a
/// same-named agent of another group is signed out as well (it can sign in again).
async fn end_portal_sessions(p: &Platform, username: &str) -> Result<(), Error> {
    p.sessions
        .revoke_all_for_subject(PORTAL, username, p.now().saturating_add(1))
        .await?;
    Ok(())
}

/// `POST /groups/<G>/agents/<username>/disable`: the agent can no longer sign in or pop, and
/// its portal sessions end.
pub async fn disable_agent(
    State(p): State<Platform>,
    SourceIp(source_ip): SourceIp,
    form: GroupForm,
) -> Result<Response, Error> {
    set_enabled(&p, source_ip, &form, false).await
}

/// `POST /groups/<G>/agents/<username>/enable`.
pub async fn enable_agent(
    State(p): State<Platform>,
    SourceIp(source_ip): SourceIp,
    form: GroupForm,
) -> Result<Response, Error> {
    set_enabled(&p, source_ip, &form, true).await
}

async fn set_enabled(
    p: &Platform,
    source_ip: IpAddr,
    form: &GroupForm,
    enabled: bool,
) -> Result<Response, Error> {
    let (g, username) = (form.group, form.param("username"));
    // One conditional write on the agent as read: a password reset made meanwhile is kept,
    // an agent deleted meanwhile is not written back.
    p.admin
        .update_agent(g, username, &move |a: &mut Agent| a.enabled = enabled)
        .await?
        .ok_or_else(|| no_agent(g, username))?;
    p.directory_changed();
    // Written after the flag, so a failure here (answered 503) leaves the agent disabled
    // (pops check the flag too); posting again ends the sessions.
    if !enabled {
        end_portal_sessions(p, username).await?;
    }
    let (change, code) = if enabled {
        ("agent_enabled", "enabled")
    } else {
        ("agent_disabled", "disabled")
    };
    audit_change(p, source_ip, form, username, change).await;
    Ok(saved(p, g, code, username))
}

/// Length of a generated password (32 symbols: 5 bits each, 100 bits in all).
const GENERATED_LEN: usize = 20;
/// The symbols of generated passwords: no `0`/`O`, `1`/`I`/`L` to misread.
const SYMBOLS: &[u8; 32] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789a";

fn generate_password() -> Result<String, Error> {
    let bytes = random_bytes::<GENERATED_LEN>()?;
    Ok(bytes
        .iter()
        .map(|b| char::from(SYMBOLS[usize::from(b & 31)]))
        .collect())
}

/// `POST /groups/<G>/agents/<username>/password`: a new password, typed by the
/// administrator or (left empty) generated and shown once, stored as an Argon2id verifier;
/// the agent's portal sessions end. A typed one answers with the redirect back to the group;
/// a generated one with a page that shows it (no-store), since a secret never goes into a
/// URL or a cookie.
pub async fn reset_password(
    State(p): State<Platform>,
    SourceIp(source_ip): SourceIp,
    form: GroupForm,
) -> Result<Response, Error> {
    let (g, username) = (form.group, form.param("username"));
    let typed = form.fields.value("password").trim();
    if !typed.is_empty() && !(8..=1024).contains(&typed.len()) {
        return Err(Error::NotSaved(
            "Passwords need at least 8 characters (and at most 1024); leave it empty to have one generated.",
        ));
    }
    // Unknown agents are refused before the Argon2 work.
    if p.directory.agent(g, username).await?.is_none() {
        return Err(no_agent(g, username));
    }
    let generated = if typed.is_empty() {
        Some(generate_password()?)
    } else {
        None
    };
    let new = generated.clone().unwrap_or_else(|| typed.to_owned());
    let verifier = hash(new).await?;
    p.admin
        .update_agent(g, username, &move |a: &mut Agent| {
            a.verifier = verifier.clone()
        })
        .await?
        .ok_or_else(|| no_agent(g, username))?;
    p.directory_changed();
    end_portal_sessions(&p, username).await?;
    audit_change(&p, source_ip, &form, username, "password_reset").await;
    Ok(match generated {
        None => saved(&p, g, "password", username),
        Some(pass) => page::page(
            StatusCode::OK,
            "Password changed",
            &format!(
                "<h1>Password changed</h1><div class=\"box ok\" id=\"notice\">The new password of agent \
                 <strong>{u}</strong> is <code id=\"new-password\">{pass}</code>. It is shown only this once: \
                 give it to the agent now. Their portal sessions have ended.</div>\
                 <p><a href=\"/groups/{g}\" id=\"back\">Back to group {g}</a></p>",
                u = escape(username)
            ),
        ),
    })
}

/// `POST /groups/<G>/links/<tenant>/unlink`: the group's agents can no longer pop into that
/// platform (sessions already opened there keep their own lifetime).
pub async fn unlink_platform(
    State(p): State<Platform>,
    SourceIp(source_ip): SourceIp,
    form: GroupForm,
) -> Result<Response, Error> {
    let g = form.group;
    let tenant = form.param("tenant").trim().to_ascii_lowercase();
    // One conditional write on the group as read: a link another administrator adds
    // meanwhile stays.
    p.admin
        .unlink_group(g, &tenant)
        .await?
        .ok_or_else(|| Error::NoSuch(format!("Group {g} is not linked to platform `{tenant}`.")))?;
    p.directory_changed();
    audit_change(&p, source_ip, &form, &tenant, "platform_unlinked").await;
    Ok(saved(&p, g, "unlinked", &tenant))
}

/// `/groups/<G>/agents/<username>`: the agent's portal sign-ins and platform SSO attempts.
pub async fn activity(
    State(p): State<Platform>,
    _: PortalHost,
    Path((group, username)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let (_, g) = managing(&p, &headers, &group).await?;
    let mut tenants = vec![PORTAL.to_owned()];
    if let Ok(Some(grp)) = p.directory.group(g).await {
        tenants.extend(grp.links.into_iter().map(|l| l.tenant));
    }
    // An agent is (tenant, issuer, username): another group's or a partner key's `agent1` is
    // someone else, whose activity this administrator must not see. Their events share the
    // username's audit partition, so page on until this agent has 100 (or 10 pages are read).
    let issuer = format!("group:{g}");
    let mut events = Vec::new();
    for t in &tenants {
        let mut cursor: Option<String> = None;
        let mut mine = 0;
        for _ in 0..10 {
            let page = p
                .audit
                .list(t, Some(&username), 0, i64::MAX, 100, cursor.as_deref())
                .await?;
            let before = events.len();
            events.extend(page.events.into_iter().filter(|e| e.issuer == issuer));
            mine += events.len() - before;
            cursor = page.next;
            if mine >= 100 || cursor.is_none() {
                break;
            }
        }
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
    let rows: String = events
        .iter()
        .take(100)
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.at,
                escape(&e.tenant),
                escape(e.protocol.as_str()),
                escape(&e.source_ip),
                escape(&e.outcome.to_string())
            )
        })
        .collect();
    let body = format!(
        "<h1>Activity of {u}</h1><table id=\"activity\"><tr><th>time</th><th>platform</th><th>protocol</th><th>source IP</th><th>outcome</th></tr>{rows}</table>\
         <p><a href=\"/groups/{g}\">Back</a></p>",
        u = escape(&username)
    );
    Ok(page::page(StatusCode::OK, "Activity", &body))
}
