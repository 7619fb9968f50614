//! Call-center SSO over a real socket: the API's table of answers, the allow-list, the
//! one-time URL, a real PHP partner, the portal (HTTP here; a real browser in `browser.rs`).

use std::net::{IpAddr, SocketAddr};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sso_cli::stores::StoreChoice;
use sso_core::ident::StorageKey;
use sso_store::model::PlatformKey;
use sso_store::port::{Directory, DirectoryAdmin};
use sso_tests::{
    Backend, FormBody, JsonAnswer, PageText, Redirected, TestApp, csrf_of, spawn_app, spawn_on,
};

const KEY: &str = "demo-platform-key";
const JSON: &str = "application/json";

fn body() -> Value {
    json!({ "username": "agent1", "fullname": "Agent One", "department_id": 1,
            "campaign_id": "1,2", "call_center_did": "8005550100", "customer_cid": "2125550123" })
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    host: &str,
    key: Option<&str>,
    ctype: &str,
    body: String,
) -> (StatusCode, Value) {
    let mut r = client
        .post(app.url(host, "/sso/0"))
        .header("content-type", ctype)
        .body(body);
    if let Some(k) = key {
        r = r.header("platform-key", k);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    let v: Value = serde_json::from_str(&resp.text().await.unwrap()).expect("always JSON");
    assert_eq!(
        v["code"].as_u64(),
        Some(u64::from(status.as_u16())),
        "code equals the HTTP status"
    );
    (status, v)
}

async fn sso0(app: &TestApp, body: Value) -> (StatusCode, Value) {
    post(
        app,
        &app.client(),
        "demoaws",
        Some(KEY),
        "application/json",
        body.to_string(),
    )
    .await
}

/// The good body, as JSON, to `host` with `key`.
async fn good_call(
    app: &TestApp,
    client: &reqwest::Client,
    host: &str,
    key: Option<&str>,
) -> (StatusCode, Value) {
    post(app, client, host, key, JSON, body().to_string()).await
}

/// An answer's `descriptor`.
fn descriptor(v: &Value) -> &str {
    v["descriptor"]
        .as_str()
        .expect("every answer has a descriptor")
}

async fn a_partner_gets_a_one_time_url_that_opens_the_platform(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, v) = sso0(&app, body()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            v["success"].as_u64(),
            v["status"].as_str(),
            v["descriptor"].as_str()
        ),
        (Some(1), Some("SUCCESS"), Some("SSO_TOKEN_CREATED"))
    );
    let url = v["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&app.url("demoaws", "/sso/login?token=")),
        "{url}"
    );
    let browser = app.client();
    let r = browser.get(&url).send().await.unwrap();
    assert_eq!(
        (r.status(), r.headers()["location"].to_str().unwrap()),
        (StatusCode::FOUND, "/")
    );
    let home = browser.get(app.url("demoaws", "/")).page().await;
    for shown in [
        "id=\"subject\">agent1<",
        "Agent One",
        "1, 2",
        "8005550100",
        "2125550123",
    ] {
        assert!(home.contains(shown), "{shown} in {home}");
    }
    // Exactly once; HEAD never consumes.
    let (_, v2) = sso0(&app, body()).await;
    let second = v2["url"].as_str().unwrap().to_owned();
    assert_eq!(
        app.client().head(&second).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        app.client().get(&second).send().await.unwrap().status(),
        StatusCode::FOUND
    );
    assert_eq!(
        app.client().get(&second).send().await.unwrap().status(),
        StatusCode::GONE
    );
    // Five minutes.
    let (_, v3) = sso0(&app, body()).await;
    app.clock.advance(300);
    assert_eq!(
        app.client()
            .get(v3["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::GONE
    );
}

async fn every_failure_has_its_code_and_descriptor(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = app.client();
    let with = |k: &str, v: Value| {
        let mut b = body();
        b[k] = v;
        b.to_string()
    };
    let mut cases: Vec<(Option<&str>, &str, String, u16, &str)> = vec![
        (None, JSON, body().to_string(), 401, "INVALID_PLATFORM_KEY"),
        (
            Some("wrong"),
            JSON,
            body().to_string(),
            401,
            "INVALID_PLATFORM_KEY",
        ),
        (
            Some(KEY),
            "text/plain",
            body().to_string(),
            400,
            "INVALID_REQUEST",
        ),
        (Some(KEY), JSON, "{not json".into(), 400, "INVALID_REQUEST"),
        (Some(KEY), JSON, "[1,2]".into(), 400, "INVALID_REQUEST"),
        (
            Some(KEY),
            JSON,
            format!("{{\"pad\":\"{}\"}}", "x".repeat(17_000)),
            400,
            "INVALID_REQUEST",
        ),
        (
            Some(KEY),
            JSON,
            json!({"fullname": "x", "department_id": 1}).to_string(),
            400,
            "MISSING_FIELD",
        ),
    ];
    // The good body with one field changed, sent with the right key as JSON.
    let one_field_off = [
        ("fullname", json!(""), 400, "MISSING_FIELD"),
        ("username", json!(42), 422, "INVALID_FIELD"),
        ("fullname", json!(["a"]), 422, "INVALID_FIELD"),
        ("department_id", json!("x"), 422, "INVALID_FIELD"),
        ("campaign_id", json!("1,,2"), 422, "INVALID_FIELD"),
        ("campaign_id", json!("1,1"), 422, "INVALID_FIELD"),
        ("campaign_id", json!("1,a"), 422, "INVALID_FIELD"),
        ("department_id", json!(9), 404, "DEPARTMENT_NOT_FOUND"),
        ("campaign_id", json!("1,9"), 404, "CAMPAIGN_NOT_FOUND"),
        ("campaign_id", Value::Null, 200, "SSO_TOKEN_CREATED"),
        ("campaign_id", json!(3), 200, "SSO_TOKEN_CREATED"),
    ];
    cases.extend(
        one_field_off
            .into_iter()
            .map(|(k, v, code, d)| (Some(KEY), JSON, with(k, v), code, d)),
    );
    cases.push((
        Some(KEY),
        "application/json; charset=utf-8",
        with("unknown_field", json!({"x": 1})),
        200,
        "SSO_TOKEN_CREATED",
    ));
    for (key, ctype, b, code, expected) in cases {
        let (status, v) = post(&app, &c, "demoaws", key, ctype, b.clone()).await;
        assert_eq!(
            (status.as_u16(), descriptor(&v)),
            (code, expected),
            "{}",
            &b[..b.len().min(80)]
        );
        if code != 200 {
            assert_eq!(
                (
                    v["success"].as_u64(),
                    v["status"].as_str(),
                    v["url"].as_str()
                ),
                (Some(0), Some("FAILURE"), Some(""))
            );
        }
    }
    let (status, v) = good_call(&app, &c, "nosuchtenant", Some(KEY)).await;
    assert_eq!((status.as_u16(), descriptor(&v)), (404, "UNKNOWN_PLATFORM"));
}

/// Stores an enabled Platform-Key `secret` for `tenant`, usable from `allowed` only.
async fn add_platform_key(
    app: &TestApp,
    secret: &str,
    tenant: &str,
    key_id: &str,
    partner: &str,
    allowed: &str,
) {
    let record = PlatformKey {
        tenant: tenant.into(),
        key_id: key_id.into(),
        partner: partner.into(),
        allow_list: vec![allowed.into()],
        enabled: true,
    };
    app.store
        .put_platform_key(&StorageKey::of_secret(secret), &record)
        .await
        .unwrap();
}

async fn a_key_of_another_tenant_is_unknown_here(backend: Backend) {
    let app = spawn_app(backend).await;
    add_platform_key(
        &app,
        "sandbox-key",
        "sandboxdemo",
        "sandbox-only",
        "other",
        "127.0.0.1",
    )
    .await;
    let c = app.client();
    let (status, _) = good_call(&app, &c, "sandboxdemo", Some("sandbox-key")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = good_call(&app, &c, "demoaws", Some("sandbox-key")).await;
    assert_eq!(
        (status.as_u16(), descriptor(&v)),
        (401, "INVALID_PLATFORM_KEY")
    );
}

async fn the_checks_run_in_order_so_the_unauthenticated_learn_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = app.client();
    // A bad key with a body that is not even JSON: the key decides (401), not the body.
    let (status, v) = post(&app, &c, "demoaws", Some("nope"), "text/plain", "{".into()).await;
    assert_eq!(
        (status, v["descriptor"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("INVALID_PLATFORM_KEY"))
    );
    // No Content-Type at all, with a good key: 400 INVALID_REQUEST, in JSON.
    let (status, v) = c
        .post(app.url("demoaws", "/sso/0"))
        .header("platform-key", KEY)
        .body(body().to_string())
        .json_answer()
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["descriptor"], "INVALID_REQUEST");
    // Another method is no bare 405: the same checks answer, in JSON.
    let (status, v) = c.get(app.url("demoaws", "/sso/0")).json_answer().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["descriptor"], "INVALID_PLATFORM_KEY");
    // `application/json; charset=utf-8` is JSON.
    let (status, _) = post(
        &app,
        &c,
        "demoaws",
        Some(KEY),
        "application/json; charset=utf-8",
        body().to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

on_both_stores!(
    the_checks_run_in_order_so_the_unauthenticated_learn_nothing,
    a_partner_gets_a_one_time_url_that_opens_the_platform,
    every_failure_has_its_code_and_descriptor,
    a_key_of_another_tenant_is_unknown_here,
);

fn client_from(app: &TestApp, source: IpAddr) -> reqwest::Client {
    let addr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), app.port);
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(source)
        .resolve("demoaws.localhost", addr)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_holds_at_cidr_edges_and_ignores_forwarded_for() {
    let app = spawn_app(Backend::Embedded).await;
    add_platform_key(
        &app,
        "edge-key",
        "demoaws",
        "edge",
        "edge-partner",
        "127.0.0.2/31",
    )
    .await;
    for (source, expected) in [
        ("127.0.0.2", 200),
        ("127.0.0.3", 200),
        ("127.0.0.1", 403),
        ("127.0.0.4", 403),
    ] {
        let c = client_from(&app, source.parse().unwrap());
        let (status, v) = good_call(&app, &c, "demoaws", Some("edge-key")).await;
        assert_eq!(status.as_u16(), expected, "{source}: {v}");
        if expected == 403 {
            assert_eq!(v["descriptor"], "IP_NOT_WHITELISTED");
        }
    }
    // A spoofed X-Forwarded-For does not move the source (no trusted proxy configured).
    let c = client_from(&app, "127.0.0.9".parse().unwrap());
    let r = c
        .post(app.url("demoaws", "/sso/0"))
        .header("content-type", "application/json")
        .header("platform-key", KEY)
        .header("x-forwarded-for", "127.0.0.1")
        .body(body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_partner_on_the_allow_list_is_served() {
    let app = spawn_on("[::1]:0".parse().unwrap(), StoreChoice::Memory, true).await;
    let addr = SocketAddr::new("::1".parse().unwrap(), app.port);
    let c = reqwest::Client::builder()
        .no_proxy()
        .resolve("demoaws.localhost", addr)
        .build()
        .unwrap();
    let (status, v) = good_call(&app, &c, "demoaws", Some(KEY)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_php_partner_gets_a_url_and_its_browser_lands_on_the_platform() {
    let app = spawn_app(Backend::Embedded).await;
    let r = app.php_partner("callcenter_client.php", &[KEY]);
    assert_eq!(r["http_status"], 200, "{r}");
    assert_eq!(r["result"]["success"], 1);
    assert_eq!(r["result"]["code"], 200);
    assert_eq!(r["login_status"], 200, "followed into the platform home");
    let home = r["home_body"].as_str().unwrap();
    assert!(
        home.contains("id=\"subject\">agent7<")
            && home.contains("1, 3")
            && home.contains("8005550100"),
        "{home}"
    );
    assert_eq!(r["second_status"], 410, "the URL works once");
}

/// Fills in the portal sign-in form at `login` (`/login`, `/login/21`) as `user`, with the
/// form's own CSRF token: where the portal then sends `client`.
async fn portal_sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    login: &str,
    user: &str,
    password: &str,
) -> String {
    let page = client.get(app.url("my", login)).page().await;
    client
        .post(app.url("my", login))
        .form_body(format!(
            "user={user}&password={password}&csrf={}",
            csrf_of(&page)
        ))
        .location()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_pops_an_agent_into_each_linked_platform_with_one_sign_in() {
    let app = spawn_app(Backend::Embedded).await;
    let agent = app.client();
    let portal = |path: &str| app.url("my", path);
    let pop = |tenant: &str| {
        agent.get(portal(&format!(
            "/pop?group_id=21&client_subdomain={tenant}"
        )))
    };
    // Without a session: to /login/21, the destination kept server-side.
    assert_eq!(pop("demoaws").location().await, "/login/21");
    let back = portal_sign_in(&app, &agent, "/login/21", "agent1", "agentpass").await;
    assert_eq!(back, "/pop?group_id=21&client_subdomain=demoaws");
    let url = pop("demoaws").location().await;
    assert!(
        url.starts_with(&app.url("demoaws", "/sso/login?token=")),
        "{url}"
    );
    assert_eq!(
        agent.get(&url).send().await.unwrap().status(),
        StatusCode::FOUND
    );
    let home = agent.get(app.url("demoaws", "/")).page().await;
    assert!(
        home.contains("id=\"subject\">agent1<") && home.contains("group:21"),
        "{home}"
    );
    // Second platform: no new sign-in.
    let url = pop("sandboxdemo").location().await;
    assert!(url.starts_with(&app.url("sandboxdemo", "/sso/login?token=")));
    // A platform not linked to the group is refused clearly.
    let refused = |tenant: &str, why: &'static str| {
        let req = pop(tenant);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            assert!(r.text().await.unwrap().contains(why));
        }
    };
    refused("elsewhere", "not linked to group 21").await;
    // A platform that withdraws its consent is closed to the group at once, link or not.
    let mut sandbox = app.store.tenant("sandboxdemo").await.unwrap().unwrap();
    sandbox.portal_groups.clear();
    app.store.put_tenant(&sandbox).await.unwrap();
    app.platform.directory_changed();
    refused("sandboxdemo", "does not admit group 21").await;
    // Signing out is a CSRF-protected POST: a link (GET) or a post without the page's token
    // (another site's form) only asks, and the session lives on.
    let ask = agent.get(portal("/logout")).send().await.unwrap();
    assert_eq!(ask.status(), StatusCode::OK);
    assert!(
        ask.text()
            .await
            .unwrap()
            .contains("Sign out of the portal?")
    );
    let forged = agent
        .post(portal("/logout"))
        .form_body(format!("csrf={}", "0".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let still = agent.get(portal("/")).send().await.unwrap();
    assert_eq!(still.status(), StatusCode::OK);
    // The portal page's own "Sign out" button ends the portal session; the platform
    // session lives on.
    let csrf = csrf_of(&still.text().await.unwrap());
    let out = agent
        .post(portal("/logout"))
        .form_body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::FOUND);
    assert_eq!(out.headers()["location"], "/login");
    assert_eq!(pop("demoaws").location().await, "/login/21");
    assert_eq!(
        agent
            .get(app.url("demoaws", "/"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_creates_an_agent_links_a_platform_and_reads_its_activity() {
    let app = spawn_app(Backend::Embedded).await;
    let admin = app.client();
    let portal = |path: &str| app.url("my", path);
    assert_eq!(
        portal_sign_in(&app, &admin, "/login", "admin%40example.com", "adminpass").await,
        "/"
    );
    let index = admin.get(portal("/")).page().await;
    assert!(index.contains("href=\"/groups/21\""), "{index}");
    let group = admin.get(portal("/groups/21")).page().await;
    let csrf = csrf_of(&group);
    let post = |path: &str, body: String| admin.post(portal(path)).form_body(body).send();
    // Each saved form sends the administrator back to the group.
    for (path, fields) in [
        (
            "/groups/21/agents",
            "username=agent2&fullname=Agent+Two&password=longpassword",
        ),
        ("/groups/21/links", "tenant=sandboxdemo&department=2"),
    ] {
        let r = post(path, format!("{fields}&csrf={csrf}")).await.unwrap();
        assert_eq!(r.headers()["location"], "/groups/21", "{path}");
    }
    let r = post(
        "/groups/21/agents",
        format!(
            "username=x&fullname=y&password=longpassword&csrf={}",
            "0".repeat(32)
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "CSRF");
    let group = admin.get(portal("/groups/21")).page().await;
    assert!(
        group.contains("agent2 — Agent Two") && group.contains("sandboxdemo (department 2)"),
        "{group}"
    );
    // The new agent signs in and pops into sandboxdemo (department 2 now).
    let agent = app.client();
    portal_sign_in(&app, &agent, "/login/21", "agent2", "longpassword").await;
    let url = agent
        .get(portal("/pop?group_id=21&client_subdomain=sandboxdemo"))
        .location()
        .await;
    agent.get(url).send().await.unwrap();
    let home = agent.get(app.url("sandboxdemo", "/")).page().await;
    assert!(home.contains("<dt>Department</dt><dd>2</dd>"), "{home}");
    // A partner's own `agent2` (signed in with its Platform-Key) is another agent.
    let (status, _) = sso0(
        &app,
        json!({"username": "agent2", "fullname": "Partner's Agent Two", "department_id": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Its activity, newest first: the pop, then the portal sign-in.
    let activity = admin.get(portal("/groups/21/agents/agent2")).page().await;
    assert!(
        activity.contains("SSO_TOKEN_CREATED") && activity.contains("portal"),
        "{activity}"
    );
    assert_eq!(
        activity.matches("SSO_TOKEN_CREATED").count(),
        1,
        "only this group's agent2: {activity}"
    );
    // Another group's pages are not this administrator's.
    assert_eq!(
        admin
            .get(portal("/groups/22"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_store_is_503_unavailable_here_and_result_code_zero_in_the_help_desk() {
    let app = sso_tests::spawn_with(
        StoreChoice::Dynamo(sso_store::dynamo::DynamoConfig {
            table: "unreachable".into(),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            region: None,
        }),
        false,
    )
    .await;
    let c = app.client();
    let (status, v) = good_call(&app, &c, "demoaws", Some(KEY)).await;
    assert_eq!((status.as_u16(), descriptor(&v)), (503, "UNAVAILABLE"));
    let r = c
        .get(app.url("demoaws", "/api.php?api_output=json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the help desk always answers 200"
    );
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(
        (v["result_code"].as_u64(), v["result_message"].as_str()),
        (Some(0), Some("Temporarily unavailable; try again."))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_session_ends_after_thirty_idle_minutes() {
    let app = spawn_app(Backend::Embedded).await;
    let agent = app.client();
    let portal = |path: &str| app.url("my", path);
    portal_sign_in(&app, &agent, "/login/21", "agent1", "agentpass").await;
    let pop = portal("/pop?group_id=21&client_subdomain=demoaws");
    app.clock.advance(29 * 60);
    let r = agent.get(&pop).send().await.unwrap();
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/sso/login?token=")
    );
    app.clock.advance(30 * 60);
    let r = agent.get(&pop).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/login/21");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_sign_ins_lock_after_thirty_failures_and_odd_pops_are_refused() {
    let app = spawn_app(Backend::Embedded).await;
    let agent = app.client();
    let portal = |path: &str| app.url("my", path);
    let sign_in = |password: &'static str| {
        let agent = agent.clone();
        let login = portal("/login/21");
        async move {
            let page = agent.get(&login).page().await;
            agent
                .post(&login)
                .form_body(format!(
                    "user=agent1&password={password}&csrf={}",
                    csrf_of(&page)
                ))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // A sign-in form posted without its CSRF cookie's twin is refused.
    let r = app
        .client()
        .post(portal("/login/21"))
        .form_body(format!(
            "user=agent1&password=agentpass&csrf={}",
            "0".repeat(32)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for _ in 0..30 {
        assert_eq!(sign_in("wrong").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        sign_in("agentpass").await,
        StatusCode::UNAUTHORIZED,
        "locked: even the right password is refused"
    );
    // Attempts while locked do not prolong the lock: 60 s after the 30th failure it is over.
    app.clock.advance(60);
    assert_eq!(sign_in("agentpass").await, StatusCode::FOUND);
    // A client_subdomain that is no host label never reaches a Location header.
    let r = agent
        .get(portal(
            "/pop?group_id=21&client_subdomain=demo%0D%0Aset-cookie:x",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

mod portal_admin;
