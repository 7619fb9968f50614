//! Signed-link SSO over a real socket: real HTTP clients, a real PHP partner, both stores.

use reqwest::StatusCode;
use sso_cli::stores::StoreChoice;
use sso_core::expiry::ExpiryPolicy;
use sso_core::signed_link::{Scheme, SecretSet, VendorSecret, sign};
use sso_store::dynamo::DynamoConfig;
use sso_store::model::Vendor;
use sso_store::port::{Audit, Directory, DirectoryAdmin};
use sso_tests::{Backend, FormBody, PageText, TestApp, csrf_of, spawn_app, spawn_with};
use sso_web::{Clock, SystemClock};

fn link(
    app: &TestApp,
    host: &str,
    field: &str,
    id: &str,
    vendor: &str,
    pass: &str,
    ts: i64,
) -> String {
    let token = sign(Scheme::Md5, id, &ts.to_string(), &VendorSecret::new(pass));
    let query = reqwest::Url::parse_with_params(
        &app.url(host, "/signin.php"),
        &[
            (field, id),
            ("vendorid", vendor),
            ("timestamp", &ts.to_string()),
            ("token", &token),
        ],
    )
    .unwrap();
    query.to_string()
}

/// The demo partner's link (vendor 1001) for client 1234, stamped `ts`.
fn demo_link(app: &TestApp, ts: i64) -> String {
    link(app, "demoaws", "clientID", "1234", "1001", "vendorpass", ts)
}

/// The second demo partner's link (vendor 1002, which has a failure URL) for `field` = `id`,
/// stamped `ts`.
fn partner_link(app: &TestApp, field: &str, id: &str, ts: i64) -> String {
    link(app, "demoaws", field, id, "1002", "vendorpass2", ts)
}

async fn location(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let r = client.get(url).send().await.unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status(), loc)
}

async fn home_text(app: &TestApp, client: &reqwest::Client, host: &str) -> (StatusCode, String) {
    let r = client.get(app.url(host, "/")).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn a_signed_link_signs_the_client_in_and_opens_the_home(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock.now();
    let c = app.client();
    let signed_in = c.get(demo_link(&app, now)).send().await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::FOUND);
    assert_eq!(signed_in.headers()["location"], "/");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, body) = home_text(&app, &c, "demoaws").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("id=\"subject\">1234<") && body.contains("client@example.com"),
        "{body}"
    );
    // The session belongs to demoaws only: its cookie, sent by hand to another tenant's host
    // (a browser would not even send it), opens nothing there.
    let elsewhere = app
        .client()
        .get(app.url("sandboxdemo", "/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::FOUND);
    assert_eq!(elsewhere.headers()["location"], "/login");
    // Whoever knows the link can derive the session's key, but not the cookie's secret: a
    // forged cookie with that key does not end the client's session.
    let (name, value) = cookie.split_once('=').unwrap();
    let mut parts: Vec<&str> = value.split('.').collect();
    let forged_secret = "0".repeat(32);
    parts[1] = &forged_secret;
    let forged = format!("{name}={}", parts.join("."));
    app.client()
        .get(app.url("demoaws", "/logout.php"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(home_text(&app, &c, "demoaws").await.0, StatusCode::OK);
}

async fn every_error_id_is_reached_by_a_real_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock.now();
    let c = app.client();
    let cases = [
        // errorID 0: wrong password
        (
            link(&app, "demoaws", "clientID", "1234", "1002", "wrong", now),
            "clientID=1234&errorID=0",
        ),
        // errorID 1: no token
        (
            format!(
                "{}?clientID=1234&vendorid=1002&timestamp={now}",
                app.url("demoaws", "/signin.php")
            ),
            "errorID=1",
        ),
        // errorID 2: no such client
        (
            partner_link(&app, "clientID", "9999", now),
            "clientID=9999&errorID=2",
        ),
        // errorID 3: 10+ hours old on the CST reference
        (
            partner_link(&app, "clientID", "1234", now - 21_600 - 36_000),
            "clientID=1234&errorID=3",
        ),
        // errorID 4: the email belongs to two clients
        (
            partner_link(&app, "email", "dup@example.com", now),
            "email=dup%40example.com&errorID=4",
        ),
    ];
    for (url, expected) in cases {
        let (status, loc) = location(&c, &url).await;
        assert_eq!(status, StatusCode::FOUND);
        assert_eq!(
            loc,
            format!("https://partner.example/fail.php?{expected}"),
            "{url}"
        );
    }
    // Vendor 1001 registered no failure URL: the tenant's login page explains the code.
    let (_, loc) = location(
        &c,
        &link(
            &app,
            "demoaws",
            "clientID",
            "9999",
            "1001",
            "vendorpass",
            now,
        ),
    )
    .await;
    assert_eq!(loc, "/login?errorID=2");
    let page = c.get(app.url("demoaws", "/login?errorID=2")).page().await;
    assert!(
        page.contains("No account matches the sign-in link"),
        "{page}"
    );
    // Every attempt left one audit event, without the token.
    let events = app
        .store
        .list("demoaws", None, 0, i64::MAX, 100, None)
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 6);
    // No link token (32 hex characters) in any field of any event.
    for e in &events {
        let text = serde_json::to_string(e).unwrap();
        let hex_run = text
            .as_bytes()
            .windows(32)
            .any(|w| w.iter().all(u8::is_ascii_hexdigit));
        assert!(!hex_run, "a token-like value in the audit trail: {text}");
    }
}

async fn a_link_is_single_use_but_a_double_click_goes_home(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock.now();
    let url = partner_link(&app, "email", "client@example.com", now);
    let browser = app.client();
    assert_eq!(location(&browser, &url).await.1, "/");
    // The same browser reloading its own link: home, no error.
    assert_eq!(
        location(&browser, &url).await,
        (StatusCode::FOUND, "/".to_owned())
    );
    // Anyone else replaying it, even with a re-cased token: errorID 3.
    let other = app.client();
    let recased = url.replace(
        &url[url.len() - 32..],
        &url[url.len() - 32..].to_uppercase(),
    );
    for u in [&url, &recased] {
        let (_, loc) = location(&other, u).await;
        assert_eq!(
            loc,
            "https://partner.example/fail.php?email=client%40example.com&errorID=3"
        );
    }
    // Check 4 before checks 5 and 6: once used, a link is "expired" (3) even if its client
    // has since gained a twin with the same email (which would be 4) or been disabled (2).
    let mut twin = app.store.client("demoaws", "1234").await.unwrap().unwrap();
    twin.client_id = "1235".into();
    app.store.put_client(&twin).await.unwrap();
    app.platform.directory_changed();
    assert_eq!(
        location(&app.client(), &url).await.1,
        "https://partner.example/fail.php?email=client%40example.com&errorID=3"
    );
    // HEAD (a link scanner) never consumes a link.
    let fresh = demo_link(&app, now - 1);
    assert_eq!(
        other.head(&fresh).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(location(&other, &fresh).await.1, "/");
}

async fn two_simultaneous_uses_of_one_link_give_exactly_one_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = demo_link(&app, app.clock.now());
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (c, u) = (app.client(), url.clone());
            tokio::spawn(async move { location(&c, &u).await.1 })
        })
        .collect();
    let mut homes = 0;
    for a in attempts {
        let loc = a.await.unwrap();
        if loc == "/" {
            homes += 1;
        } else {
            assert_eq!(loc, "/login?errorID=3");
        }
    }
    assert_eq!(homes, 1);
}

async fn the_ten_hour_boundary_holds_to_the_second_on_both_clock_references(backend: Backend) {
    let app = spawn_app(backend).await;
    let t0 = app.clock.now();
    // A partner sending CST wall-clock-as-UTC gets exactly 10 hours…
    let cst = demo_link(&app, t0 - 21_600);
    let utc = demo_link(&app, t0);
    app.clock.set(t0 + 35_999);
    assert_eq!(location(&app.client(), &cst).await.1, "/");
    let cst2 = demo_link(&app, t0 - 21_601);
    assert_eq!(
        location(&app.client(), &cst2).await.1,
        "/login?errorID=3",
        "10 h + 1 s old"
    );
    // …one sending true Unix time (PHP's time()) gets 16 hours, to the second.
    app.clock.set(t0 + 57_599);
    assert_eq!(location(&app.client(), &utc).await.1, "/");
    let utc2 = demo_link(&app, t0 - 1);
    assert_eq!(location(&app.client(), &utc2).await.1, "/login?errorID=3");
    // Far-future timestamps are refused.
    app.clock.set(t0);
    let future = demo_link(&app, t0 + 21_601);
    assert_eq!(location(&app.client(), &future).await.1, "/login?errorID=3");
}

async fn logout_and_expired_sessions_go_to_the_vendors_logout_url(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock.now();
    let c = app.client();
    location(&c, &partner_link(&app, "clientID", "1234", now)).await;
    assert_eq!(home_text(&app, &c, "demoaws").await.0, StatusCode::OK);
    let (_, loc) = location(&c, &app.url("demoaws", "/logout.php")).await;
    assert_eq!(loc, "https://partner.example/bye");
    assert_eq!(location(&c, &app.url("demoaws", "/")).await.1, "/login");

    // Vendor 1001 has no logout URL: the login page.
    let c1 = app.client();
    location(&c1, &demo_link(&app, now)).await;
    assert_eq!(
        location(&c1, &app.url("demoaws", "/logout.php")).await.1,
        "/login"
    );

    // An expired (idle) session is sent to the same place its logout would go.
    let c2 = app.client();
    location(&c2, &partner_link(&app, "email", "client@example.com", now)).await;
    app.clock.advance(1800);
    assert_eq!(
        location(&c2, &app.url("demoaws", "/")).await.1,
        "https://partner.example/bye"
    );
}

async fn the_failure_url_keeps_an_existing_query(backend: Backend) {
    let app = spawn_app(backend).await;
    let vendor = Vendor {
        tenant: "demoaws".into(),
        id: "1003".into(),
        scheme: Scheme::Md5,
        secrets: SecretSet::single(VendorSecret::new("pass3")),
        policy: ExpiryPolicy::default(),
        reusable: false,
        failure_url: Some("https://partner.example/fail.php?lang=de".into()),
        logout_url: None,
        enabled: true,
        test_mode: false,
    };
    app.store.put_vendor(&vendor).await.unwrap();
    let now = app.clock.now();
    let (_, loc) = location(
        &app.client(),
        &link(&app, "demoaws", "clientID", "777", "1003", "pass3", now),
    )
    .await;
    assert_eq!(
        loc,
        "https://partner.example/fail.php?lang=de&clientID=777&errorID=2"
    );
    // A vendor of another tenant is unknown here.
    let mut other = vendor.clone();
    other.tenant = "sandboxdemo".into();
    other.id = "2001".into();
    app.store.put_vendor(&other).await.unwrap();
    let (_, loc) = location(
        &app.client(),
        &link(&app, "demoaws", "clientID", "1234", "2001", "pass3", now),
    )
    .await;
    assert_eq!(loc, "/login?errorID=0");
}

async fn bad_input_gets_its_error_redirect_never_an_error_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock.now();
    let good = sign(
        Scheme::Md5,
        "1234",
        &now.to_string(),
        &VendorSecret::new("vendorpass2"),
    );
    let base = app.url("demoaws", "/signin.php");
    let q = |rest: &str| format!("{base}?{rest}");
    let long = "a".repeat(1025);
    let cases: Vec<(String, &str)> = vec![
        (
            q(&format!(
                "clientID=1234&clientID=1234&vendorid=1002&timestamp={now}&token={good}"
            )),
            "errorID=1",
        ),
        (
            q(&format!(
                "clientID={long}&vendorid=1002&timestamp={now}&token={good}"
            )),
            "errorID=1",
        ),
        (
            q(&format!(
                "clientID=%FF&vendorid=1002&timestamp={now}&token={good}"
            )),
            "errorID=1",
        ),
        (
            q(&format!(
                "email=a%40b.c&clientID=1234&vendorid=1002&timestamp={now}&token={good}"
            )),
            "errorID=1",
        ),
        (
            q(&format!(
                "clientID=1234&vendorid=1002&timestamp=%2B{now}&token={good}"
            )),
            "clientID=1234&errorID=0",
        ),
        (
            q(&format!(
                "clientID=1234&vendorid=1002&timestamp=0{now}&token={good}"
            )),
            "clientID=1234&errorID=0",
        ),
        (
            q(&format!(
                "clientID=1234&vendorid=1002&timestamp={now}&token={}",
                &good[..31]
            )),
            "clientID=1234&errorID=0",
        ),
        (
            q(&format!(
                "clientID=1234&vendorid=1002&timestamp={now}&token={}g",
                &good[..31]
            )),
            "clientID=1234&errorID=0",
        ),
    ];
    let c = app.client();
    for (url, expected) in cases {
        let (status, loc) = location(&c, &url).await;
        assert_eq!(status, StatusCode::FOUND, "{url}");
        assert_eq!(
            loc,
            format!("https://partner.example/fail.php?{expected}"),
            "{url}"
        );
    }
    // A signed +timestamp or leading zero is refused as expired (errorID 3), not accepted.
    for ts in [format!("+{now}"), format!("0{now}")] {
        let t = sign(Scheme::Md5, "1234", &ts, &VendorSecret::new("vendorpass2"));
        let url = reqwest::Url::parse_with_params(
            &base,
            &[
                ("clientID", "1234"),
                ("vendorid", "1002"),
                ("timestamp", ts.as_str()),
                ("token", t.as_str()),
            ],
        )
        .unwrap();
        assert_eq!(
            location(&c, url.as_str()).await.1,
            "https://partner.example/fail.php?clientID=1234&errorID=3"
        );
    }
    // POST with the wrong content type, and an oversized body.
    let r = c
        .post(&base)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/login?errorID=1");
    let huge = format!("clientID=1234&vendorid=1002&pad={}", "x".repeat(20_000));
    let r = c.post(&base).form_body(huge).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/login?errorID=1");
    // A POST form works like a GET.
    let form = format!("clientID=1234&vendorid=1002&timestamp={now}&token={good}");
    let r = c
        .post(&base)
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/");
}

on_both_stores!(
    a_signed_link_signs_the_client_in_and_opens_the_home,
    every_error_id_is_reached_by_a_real_request,
    a_link_is_single_use_but_a_double_click_goes_home,
    two_simultaneous_uses_of_one_link_give_exactly_one_session,
    the_ten_hour_boundary_holds_to_the_second_on_both_clock_references,
    logout_and_expired_sessions_go_to_the_vendors_logout_url,
    the_failure_url_keeps_an_existing_query,
    bad_input_gets_its_error_redirect_never_an_error_page,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_php_partner_signs_clients_in_by_get_and_post() {
    let app = spawn_app(Backend::Embedded).await;
    let runs = [
        ("email", "client@example.com", "1001", "vendorpass"),
        ("clientID", "1234", "1002", "vendorpass2"),
        ("post-email", "client@example.com", "1002", "vendorpass2"),
        ("post-clientID", "1234", "1001", "vendorpass"),
    ];
    for (mode, id, vendor, pass) in runs {
        // PHP signs with the real `time()`: keep the server's hand-set clock in step.
        app.clock.set(SystemClock.now());
        let r = app.php_partner("signin_client.php", &[mode, id, vendor, pass]);
        assert_eq!(r["status"], 302, "{mode}: {r}");
        assert_eq!(r["location"], app.url("demoaws", "/"), "{mode}");
        assert_eq!(r["home_status"], 200, "{mode}");
        assert!(
            r["home_body"]
                .as_str()
                .unwrap()
                .contains("id=\"subject\">1234<"),
            "{mode}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_login_page_signs_a_client_in_with_a_password() {
    let app = spawn_app(Backend::Embedded).await;
    let c = app.client();
    let post = |ident: &str, pass: &str, token: &str| {
        c.post(app.url("demoaws", "/login"))
            .form_body(format!("identifier={ident}&password={pass}&csrf={token}"))
            .send()
    };
    let page = c.get(app.url("demoaws", "/login")).page().await;
    let forged = post("1234", "clientpass", &"0".repeat(32)).await.unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "a token that is not the cookie's"
    );
    let _ = csrf_of(&page);
    let page = forged.text().await.unwrap();
    let wrong = post("1234", "wrong", &csrf_of(&page)).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("Sign-in failed"));
    let ok = post("client%40example.com", "clientpass", &csrf_of(&page))
        .await
        .unwrap();
    assert_eq!(
        (ok.status(), ok.headers()["location"].to_str().unwrap()),
        (StatusCode::FOUND, "/")
    );
    assert!(
        home_text(&app, &c, "demoaws")
            .await
            .1
            .contains("id=\"subject\">1234<")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_count_per_client_whether_typed_as_email_or_client_id() {
    let app = spawn_app(Backend::Embedded).await;
    let c = app.client();
    let mut csrf = csrf_of(&c.get(app.url("demoaws", "/login")).page().await);
    let mut post = async |ident: &str, pass: &str| {
        let r = c
            .post(app.url("demoaws", "/login"))
            .form_body(format!("identifier={ident}&password={pass}&csrf={csrf}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let page = r.text().await.unwrap();
        if page.contains("name=\"csrf\"") {
            csrf = csrf_of(&page);
        }
        status
    };
    // 30 failures, half typed as the email and half as the clientID: one client, one count.
    for i in 0..30 {
        let ident = if i % 2 == 0 {
            "client%40example.com"
        } else {
            "1234"
        };
        assert_eq!(post(ident, "wrong").await, StatusCode::UNAUTHORIZED, "{i}");
    }
    // Locked: the right password is refused the same way, under either name.
    assert_eq!(post("1234", "clientpass").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post("client%40example.com", "clientpass").await,
        StatusCode::UNAUTHORIZED
    );
    // 60 s × ⌊30 / 30⌋ later the lock is over.
    app.clock.set(app.clock.now() + 61);
    assert_eq!(post("1234", "clientpass").await, StatusCode::FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_store_gets_a_503_page() {
    let app = spawn_with(
        StoreChoice::Dynamo(DynamoConfig {
            table: "unreachable".into(),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            region: None,
        }),
        false,
    )
    .await;
    let (status, page) = app
        .client()
        .get(app.url("demoaws", "/signin.php?clientID=1"))
        .status_and_page()
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.contains("Temporarily unavailable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hosts_get_a_plain_404() {
    let app = spawn_app(Backend::Embedded).await;
    let c = app.client();
    for host in [
        "127.0.0.1",
        "nosuchtenant.localhost",
        "www.localhost",
        "a.b.localhost",
    ] {
        let r = c
            .get(format!("http://127.0.0.1:{}/signin.php", app.port))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{host}");
    }
}

/// A sign-in costs one durable commit of the embedded store, its audit event included (it
/// rides with the session: a login no longer waits for a second commit in turn), and the
/// event is stored all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_and_its_audit_event_are_one_durable_commit() {
    let embedded = std::sync::Arc::new(sso_store::embedded::Embedded::in_memory().unwrap());
    let app = spawn_with(
        StoreChoice::Backend(sso_cli::stores::SharedBackend(embedded.clone())),
        true,
    )
    .await;
    let now = app.clock.now();
    let before = embedded.commits();
    let r = app.client().get(demo_link(&app, now)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(r.headers().get("set-cookie").is_some(), "signed in");
    assert_eq!(
        embedded.commits() - before,
        1,
        "session and audit event in one commit"
    );
    let trail = app
        .store
        .list("demoaws", Some("1234"), now - 5, now + 5, 10, None)
        .await
        .unwrap();
    assert_eq!(trail.events.len(), 1, "{:?}", trail.events);
    assert_eq!(trail.events[0].issuer, "1001");
}
