//! The administrator pages: my groups; a group's agents and linked platforms, with forms to
//! create agents and link platforms (CSRF-protected); an agent's activity.

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use sso_store::model::{Agent, Group, GroupLink, Session};
use sso_store::password;
use sso_web::extract::PortalHost;
use sso_web::form::{FormRejection, StrictForm};
use sso_web::page::{self, escape};
use sso_web::{PageError, Platform, WebError};

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
    let agent_rows: String = agents
        .iter()
        .map(|a| {
            format!(
                "<li>{u} — {f} <a href=\"/groups/{g}/agents/{u}\">activity</a></li>",
                u = escape(&a.username),
                f = escape(&a.fullname)
            )
        })
        .collect();
    let link_rows: String = grp
        .links
        .iter()
        .map(|l| {
            format!(
                "<li>{} (department {})</li>",
                escape(&l.tenant),
                l.department
            )
        })
        .collect();
    Ok(with_csrf(&p, &format!("Group {g}"), |csrf| {
        format!(
            "<h1>Group {g} {name}</h1><h2>Agents</h2><ul id=\"agents\">{agent_rows}</ul>\
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
            name = escape(&grp.name)
        )
    }))
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
/// they manage (else refused as [`managing`] refuses), and the fields, whose CSRF token
/// matched (else "not saved").
pub struct GroupForm {
    group: u64,
    fields: StrictForm,
}

impl FromRequest<Platform> for GroupForm {
    type Rejection = Response;

    async fn from_request(req: Request, p: &Platform) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        PortalHost::from_request_parts(&mut parts, p)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(group) = Path::<String>::from_request_parts(&mut parts, p)
            .await
            .map_err(IntoResponse::into_response)?;
        let (_, group) = managing(p, &parts.headers, &group)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let fields = StrictForm::from_request(Request::from_parts(parts, body), p).await;
        let fields = checked(p, &headers, fields).map_err(IntoResponse::into_response)?;
        Ok(GroupForm { group, fields })
    }
}

/// `POST /groups/<G>/agents`.
pub async fn create_agent(
    State(p): State<Platform>,
    GroupForm { group: g, fields }: GroupForm,
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
    let pass = pass.to_owned();
    let verifier = tokio::task::spawn_blocking(move || password::hash(&pass))
        .await
        .map_err(|e| {
            sso_store::StoreError::unavailable_from("password hashing task failed", e)
        })??;
    let agent = Agent {
        group: g,
        username: username.into(),
        fullname: fullname.into(),
        verifier,
        enabled: true,
    };
    p.admin.put_agent(&agent).await?;
    p.directory_changed();
    Ok(page::redirect(&format!("/groups/{g}"), &[]))
}

/// `POST /groups/<G>/links`.
pub async fn link_platform(
    State(p): State<Platform>,
    GroupForm { group: g, fields }: GroupForm,
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
    Ok(page::redirect(&format!("/groups/{g}"), &[]))
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
