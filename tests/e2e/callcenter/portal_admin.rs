//! The portal administrators' daily work over a real socket, on both stores: disabling and
//! enabling an agent, resetting its password (typed or generated), unlinking a platform;
//! each form CSRF-protected, refused to another group's administrator, and clear about an
//! agent or a link the group does not have.

use reqwest::StatusCode;
use sso_store::model::{Administrator, Group, Outcome};
use sso_store::port::{Audit, Directory, DirectoryAdmin};
use sso_tests::{Backend, FormBody, PageText, TestApp, csrf_of, spawn_app};

use super::portal_sign_in;

/// The status a portal sign-in form answers (302 signed in, 401 refused).
async fn sign_in_status(app: &TestApp, login: &str, user: &str, password: &str) -> StatusCode {
    let client = app.client();
    let page = client.get(app.url("my", login)).page().await;
    client
        .post(app.url("my", login))
        .form_body(format!(
            "user={user}&password={password}&csrf={}",
            csrf_of(&page)
        ))
        .send()
        .await
        .unwrap()
        .status()
}

/// A signed-in client of the demo's administrator of group 21, and the CSRF token of its
/// group page.
async fn admin_of_21(app: &TestApp) -> (reqwest::Client, String) {
    let admin = app.client();
    assert_eq!(
        portal_sign_in(app, &admin, "/login", "admin%40example.com", "adminpass").await,
        "/"
    );
    let group = admin.get(app.url("my", "/groups/21")).page().await;
    (admin, csrf_of(&group))
}

/// The group page as `admin` sees it now, and its CSRF token (each view sets a new one).
async fn group_page(app: &TestApp, admin: &reqwest::Client, g: u64) -> (String, String) {
    let page = admin
        .get(app.url("my", &format!("/groups/{g}")))
        .page()
        .await;
    let csrf = csrf_of(&page);
    (page, csrf)
}

/// A signed-in agent1 of group 21.
async fn agent1(app: &TestApp) -> reqwest::Client {
    let agent = app.client();
    assert_eq!(
        portal_sign_in(app, &agent, "/login/21", "agent1", "agentpass").await,
        "/"
    );
    agent
}

/// Where a pop into `tenant` sends `agent`.
async fn pop(app: &TestApp, agent: &reqwest::Client, tenant: &str) -> reqwest::Response {
    agent
        .get(app.url("my", &format!("/pop?group_id=21&client_subdomain={tenant}")))
        .send()
        .await
        .unwrap()
}

/// Posts an administrator's form; its status, `Location` and body.
async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    body: String,
) -> (StatusCode, String, String) {
    let r = client
        .post(app.url("my", path))
        .form_body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// The portal audit events about `subject`, as stored strings.
async fn changes_of(app: &TestApp, subject: &str) -> Vec<String> {
    app.store
        .list("my", Some(subject), 0, i64::MAX, 100, None)
        .await
        .unwrap()
        .events
        .into_iter()
        .filter(|e| matches!(e.outcome, Outcome::Changed { .. }))
        .map(|e| format!("{} {}", e.issuer, e.outcome))
        .collect()
}

async fn a_disabled_agent_cannot_sign_in_or_pop_and_is_signed_out_until_enabled_again(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    // GIVEN agent1 signed in to the portal, popping into demoaws…
    let agent = agent1(&app).await;
    assert!(
        pop(&app, &agent, "demoaws").await.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/sso/login?token=")
    );
    // WHEN its administrator presses "Disable" on the group page…
    let (admin, _) = admin_of_21(&app).await;
    let (page, csrf) = group_page(&app, &admin, 21).await;
    assert!(
        page.contains("action=\"/groups/21/agents/agent1/disable\"")
            && page.contains("id=\"disable-agent1\""),
        "{page}"
    );
    let (status, location, _) = post(
        &app,
        &admin,
        "/groups/21/agents/agent1/disable",
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::FOUND, "/groups/21")
    );
    // THEN the group page confirms it once and offers "Enable"…
    let (page, _) = group_page(&app, &admin, 21).await;
    assert!(
        page.contains("id=\"notice\"")
            && page.contains("<strong>agent1</strong> is disabled")
            && page.contains("(disabled)")
            && page.contains("id=\"enable-agent1\""),
        "{page}"
    );
    let (again, csrf) = group_page(&app, &admin, 21).await;
    assert!(!again.contains("id=\"notice\""), "shown once: {again}");
    // …the agent's portal session has ended, and it can neither sign in nor pop.
    assert_eq!(
        pop(&app, &agent, "demoaws").await.headers()["location"],
        "/login/21"
    );
    assert_eq!(
        sign_in_status(&app, "/login/21", "agent1", "agentpass").await,
        StatusCode::UNAUTHORIZED
    );
    // …and the change is an audit event naming who made it (and no secret).
    assert_eq!(
        changes_of(&app, "agent1").await,
        ["group:21 changed:agent_disabled by admin@example.com"]
    );
    // WHEN it is enabled again, THEN it signs in and pops.
    let (status, location, _) = post(
        &app,
        &admin,
        "/groups/21/agents/agent1/enable",
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::FOUND, "/groups/21")
    );
    assert!(
        admin
            .get(app.url("my", "/groups/21"))
            .page()
            .await
            .contains("<strong>agent1</strong> is enabled again")
    );
    // (A sign-in within the second of the disable would still have been ended.)
    app.clock.advance(1);
    let agent = agent1(&app).await;
    assert!(
        pop(&app, &agent, "demoaws").await.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/sso/login?token=")
    );
    assert_eq!(changes_of(&app, "agent1").await.len(), 2);
}

async fn a_password_reset_ends_the_agents_sessions_and_only_the_new_password_works(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let agent = agent1(&app).await;
    let (admin, csrf) = admin_of_21(&app).await;
    // A password typed by the administrator: back to the group, with a confirmation.
    let (status, location, _) = post(
        &app,
        &admin,
        "/groups/21/agents/agent1/password",
        format!("password=brand-new-pass&csrf={csrf}"),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::FOUND, "/groups/21")
    );
    let (page, csrf) = group_page(&app, &admin, 21).await;
    assert!(
        page.contains("The password of agent <strong>agent1</strong> was changed"),
        "{page}"
    );
    assert_eq!(
        pop(&app, &agent, "demoaws").await.headers()["location"],
        "/login/21",
        "the agent's session ended"
    );
    app.clock.advance(1);
    assert_eq!(
        sign_in_status(&app, "/login/21", "agent1", "agentpass").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in_status(&app, "/login/21", "agent1", "brand-new-pass").await,
        StatusCode::FOUND
    );
    // Left empty: one is generated and shown once, on the answer itself.
    let (status, _, shown) = post(
        &app,
        &admin,
        "/groups/21/agents/agent1/password",
        format!("password=&csrf={csrf}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let generated = shown
        .split("id=\"new-password\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the generated password is shown")
        .to_owned();
    assert_eq!(generated.len(), 20, "{generated}");
    app.clock.advance(1);
    assert_eq!(
        sign_in_status(&app, "/login/21", "agent1", "brand-new-pass").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in_status(&app, "/login/21", "agent1", &generated).await,
        StatusCode::FOUND
    );
    // Too short a password is refused with the rule, and nothing changes.
    let (status, _, body) = post(
        &app,
        &admin,
        "/groups/21/agents/agent1/password",
        format!("password=short&csrf={csrf}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("at least 8 characters"), "{body}");
    assert_eq!(
        sign_in_status(&app, "/login/21", "agent1", &generated).await,
        StatusCode::FOUND
    );
    // Audited twice, never with the password.
    let changes = changes_of(&app, "agent1").await;
    assert_eq!(
        changes,
        [
            "group:21 changed:password_reset by admin@example.com",
            "group:21 changed:password_reset by admin@example.com"
        ]
    );
    let all = format!(
        "{:?}",
        app.store
            .list("my", None, 0, i64::MAX, 1000, None)
            .await
            .unwrap()
    );
    assert!(
        !all.contains("brand-new-pass") && !all.contains(&generated),
        "no password in the audit trail"
    );
}

async fn an_unlinked_platform_is_no_longer_offered_to_the_groups_agents(backend: Backend) {
    let app = spawn_app(backend).await;
    let agent = agent1(&app).await;
    let home = agent.get(app.url("my", "/")).page().await;
    assert!(home.contains("client_subdomain=sandboxdemo"), "{home}");
    let (admin, _) = admin_of_21(&app).await;
    let (page, csrf) = group_page(&app, &admin, 21).await;
    assert!(page.contains("id=\"unlink-sandboxdemo\""), "{page}");
    let (status, location, _) = post(
        &app,
        &admin,
        "/groups/21/links/sandboxdemo/unlink",
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::FOUND, "/groups/21")
    );
    let (page, csrf) = group_page(&app, &admin, 21).await;
    assert!(
        page.contains("Platform <strong>sandboxdemo</strong> is no longer linked")
            && !page.contains("sandboxdemo (department")
            && page.contains("demoaws (department 1)"),
        "{page}"
    );
    // The agent's page no longer offers it and a pop is refused; demoaws stays.
    let home = agent.get(app.url("my", "/")).page().await;
    assert!(
        !home.contains("client_subdomain=sandboxdemo") && home.contains("client_subdomain=demoaws"),
        "{home}"
    );
    let r = pop(&app, &agent, "sandboxdemo").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("not linked to group 21"));
    assert_eq!(
        app.store.group(21).await.unwrap().unwrap().links.len(),
        1,
        "written to the store"
    );
    assert_eq!(
        changes_of(&app, "sandboxdemo").await,
        ["group:21 changed:platform_unlinked by admin@example.com"]
    );
    // Unlinking it again says what is wrong.
    let (status, _, body) = post(
        &app,
        &admin,
        "/groups/21/links/sandboxdemo/unlink",
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.contains("Group 21 is not linked to platform `sandboxdemo`."),
        "{body}"
    );
}

async fn the_forms_refuse_bad_csrf_tokens_other_groups_administrators_and_unknown_agents(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (admin, csrf) = admin_of_21(&app).await;
    let actions = [
        ("/groups/21/agents/agent1/disable", ""),
        ("/groups/21/agents/agent1/enable", ""),
        (
            "/groups/21/agents/agent1/password",
            "password=forged-password&",
        ),
        ("/groups/21/links/demoaws/unlink", ""),
    ];
    // No token, or another than the cookie's: not saved.
    for (path, fields) in actions {
        for token in ["", "&csrf=00000000000000000000000000000000"] {
            let (status, _, body) = post(&app, &admin, path, format!("{fields}{token}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {token}");
            assert!(body.contains("The form expired"), "{body}");
        }
        // A client without the CSRF cookie at all, but with the page's token.
        let stranger = app.client();
        let (status, _, _) = post(&app, &stranger, path, format!("{fields}csrf={csrf}")).await;
        assert_eq!(status, StatusCode::FOUND, "not signed in: to /login");
    }
    // An administrator of another group, with a good token of its own page: 403, not a 500.
    let verifier = sso_store::password::hash("otheradminpass").unwrap();
    app.store
        .put_group(&Group {
            id: 22,
            name: "Other call center".into(),
            links: vec![],
        })
        .await
        .unwrap();
    app.store
        .put_administrator(&Administrator {
            email: "other@example.com".into(),
            verifier,
            groups: vec![22],
            enabled: true,
        })
        .await
        .unwrap();
    app.platform.directory_changed();
    let other = app.client();
    assert_eq!(
        portal_sign_in(
            &app,
            &other,
            "/login",
            "other%40example.com",
            "otheradminpass"
        )
        .await,
        "/"
    );
    let own = csrf_of(&other.get(app.url("my", "/groups/22")).page().await);
    for (path, fields) in actions {
        let (status, _, body) = post(&app, &other, path, format!("{fields}csrf={own}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(body.contains("You do not manage this group."), "{body}");
    }
    // Nothing was changed by any of them.
    let a = app.store.agent(21, "agent1").await.unwrap().unwrap();
    assert!(a.enabled);
    assert_eq!(app.store.group(21).await.unwrap().unwrap().links.len(), 2);
    assert_eq!(
        sign_in_status(&app, "/login/21", "agent1", "agentpass").await,
        StatusCode::FOUND
    );
    // An agent the group does not have: a page that names it.
    for (path, fields) in [
        ("/groups/21/agents/nobody/disable", ""),
        ("/groups/21/agents/nobody/enable", ""),
        ("/groups/21/agents/nobody/password", "password=&"),
    ] {
        let (status, _, body) = post(&app, &admin, path, format!("{fields}csrf={csrf}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("Group 21 has no agent `nobody`."), "{body}");
    }
    assert!(
        app.store.agent(21, "nobody").await.unwrap().is_none(),
        "not created"
    );
    // A group id that is no number is no page.
    let (status, _, _) = post(
        &app,
        &admin,
        "/groups/x/agents/agent1/disable",
        format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(changes_of(&app, "agent1").await.is_empty());
}

on_both_stores!(
    a_disabled_agent_cannot_sign_in_or_pop_and_is_signed_out_until_enabled_again,
    a_password_reset_ends_the_agents_sessions_and_only_the_new_password_works,
    an_unlinked_platform_is_no_longer_offered_to_the_groups_agents,
    the_forms_refuse_bad_csrf_tokens_other_groups_administrators_and_unknown_agents,
);
