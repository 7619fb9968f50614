//! Help-desk SSO over a real socket: a real PHP caller, both stores, the token rules.

use reqwest::StatusCode;
use serde_json::Value;
use sso_core::helpdesk::password_digest;
use sso_store::model::Tenant;
use sso_store::port::{Directory, DirectoryAdmin};
use sso_tests::{Backend, PageText, TestApp, spawn_app};

fn call_url(app: &TestApp, host: &str, extra: &[(&str, &str)]) -> String {
    let test123 = password_digest("test123");
    let acjoe = password_digest("acjoe123");
    let mut params: Vec<(&str, &str)> = vec![
        ("api_user", "admin"),
        ("api_pass_h", &test123),
        ("api_output", "json"),
        ("api_action", "singlesignon"),
        ("sso_addr", "127.0.0.1"),
        ("sso_user", "joe"),
        ("sso_pass", &acjoe),
        ("sso_duration", "30"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    reqwest::Url::parse_with_params(&app.url(host, "/api.php"), &params)
        .unwrap()
        .to_string()
}

async fn call(app: &TestApp, extra: &[(&str, &str)]) -> Value {
    let r = app
        .client()
        .get(call_url(app, "demoaws", extra))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "every answer is HTTP 200");
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

async fn redeem(app: &TestApp, client: &reqwest::Client, token: &str) -> String {
    let r = client
        .get(app.url("demoaws", &format!("/admin/main.php?_ssot={token}")))
        .send()
        .await
        .unwrap();
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The token of a successful call.
async fn token(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let r = call(app, extra).await;
    r["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {r}"))
        .to_owned()
}

/// A fresh browser redeeming `token` is sent to the sign-in page with its notice.
async fn assert_refused(app: &TestApp, token: &str) {
    assert_eq!(
        redeem(app, &app.client(), token).await,
        "/admin/login?error=sso",
        "{token}"
    );
}

async fn a_token_signs_in_once_from_its_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = call(&app, &[]).await;
    assert_eq!(r["result_code"], 1, "{r}");
    assert_eq!(r["result_message"], "User Found.");
    let token = r["token"].as_str().unwrap().to_owned();
    assert!(
        token.len() == 32
            && token
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let browser = app.client();
    assert_eq!(redeem(&app, &browser, &token).await, "/admin/main.php");
    let (status, page) = browser
        .get(app.url("demoaws", "/admin/main.php"))
        .status_and_page()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"subject\">joe<"));
    // One-time: a second browser gets the login page, and so does garbage.
    assert_refused(&app, &token).await;
    assert_refused(&app, "not-a-token").await;
}

async fn a_token_for_another_address_or_past_its_duration_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let elsewhere = token(&app, &[("sso_addr", "10.0.0.1")]).await;
    assert_refused(&app, &elsewhere).await;
    let mapped = token(&app, &[("sso_addr", "::ffff:127.0.0.1")]).await;
    assert_eq!(
        redeem(&app, &app.client(), &mapped).await,
        "/admin/main.php",
        "mapped IPv6 is IPv4"
    );
    let short = token(&app, &[("sso_duration", "1")]).await;
    app.clock.advance(60);
    assert_refused(&app, &short).await;
}

async fn a_new_token_for_the_same_user_and_address_replaces_the_old(backend: Backend) {
    let app = spawn_app(backend).await;
    let old = token(&app, &[]).await;
    let new = token(&app, &[]).await;
    assert_refused(&app, &old).await;
    assert_eq!(redeem(&app, &app.client(), &new).await, "/admin/main.php");
}

async fn sixty_four_concurrent_redemptions_make_one_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = token(&app, &[]).await;
    let url = app.url("demoaws", &format!("/admin/main.php?_ssot={token}"));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (c, u) = (app.client(), url.clone());
            tokio::spawn(async move {
                c.get(u).send().await.unwrap().headers()["location"]
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    let mut sessions = 0;
    for t in tasks {
        sessions += usize::from(t.await.unwrap() == "/admin/main.php");
    }
    assert_eq!(sessions, 1);
}

async fn failures_are_result_code_zero_with_the_documented_message(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong_admin = password_digest("nope");
    let wrong_user = password_digest("nope");
    // joe's own, right password: joe is a user, not an admin with API rights.
    let joe = password_digest("acjoe123");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("api_pass_h", &wrong_admin)],
            "API credentials are invalid.",
        ),
        (
            vec![("api_user", "joe"), ("api_pass_h", &joe)],
            "API credentials are invalid.",
        ),
        (vec![("sso_pass", &wrong_user)], "Login failed."),
        (vec![("sso_user", "nobody")], "Login failed."),
        (
            vec![
                ("sso_user", "owner"),
                ("sso_pass", "60f3c2d3e3e52ec7e53bde50b1ba7a08"),
            ],
            "Login failed.",
        ),
        (vec![("sso_user", "")], "Missing parameter: sso_user."),
        (
            vec![("sso_addr", "not-an-ip")],
            "Invalid parameter: sso_addr.",
        ),
        (
            vec![("sso_duration", "0")],
            "Invalid parameter: sso_duration.",
        ),
        (vec![("api_action", "dropdatabase")], "Unknown api_action."),
        (vec![("api_output", "yaml")], "Unknown api_output."),
    ];
    for (extra, message) in cases {
        let r = call(&app, &extra).await;
        assert_eq!(
            (
                r["result_code"].clone(),
                r["result_message"].as_str().unwrap()
            ),
            (Value::from(0), message),
            "{extra:?}"
        );
    }
    // The primary admin is never signed in, even with the right password.
    let owner = password_digest("ownerpass");
    let r = call(&app, &[("sso_user", "owner"), ("sso_pass", &owner)]).await;
    assert_eq!(
        r["result_message"],
        "The primary admin cannot be signed in by single sign-on."
    );
    // An API key works instead of the password; an unknown key does not.
    let r = call(
        &app,
        &[
            ("api_user", ""),
            ("api_pass_h", ""),
            ("api_key", "demo-api-key"),
        ],
    )
    .await;
    assert_eq!(r["result_code"], 1);
    let r = call(
        &app,
        &[("api_user", ""), ("api_pass_h", ""), ("api_key", "guess")],
    )
    .await;
    assert_eq!(r["result_message"], "API credentials are invalid.");
    // A repeated parameter, and an unknown account host.
    let url = format!("{}&sso_user=eve", call_url(&app, "demoaws", &[]));
    let r: Value = serde_json::from_str(&app.client().get(url).page().await).unwrap();
    assert_eq!(r["result_message"], "Repeated parameter: sso_user.");
    let r = app
        .client()
        .get(call_url(&app, "sandboxdemo", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let c = app.client();
    let unknown = c
        .get(format!(
            "http://127.0.0.1:{}/api.php?api_output=xml",
            app.port
        ))
        .header("host", "nosuch.localhost")
        .send()
        .await
        .unwrap();
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("<result_code>0</result_code>")
    );
}

async fn failed_calls_are_throttled_per_caller_and_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong = password_digest("nope");
    for _ in 0..30 {
        assert_eq!(
            call(&app, &[("api_pass_h", &wrong)]).await["result_code"],
            0
        );
    }
    let r = call(&app, &[]).await;
    assert_eq!(
        r["result_message"], "Too many failed attempts; try again later.",
        "locked even with the right password"
    );
    app.clock.advance(60);
    assert_eq!(call(&app, &[]).await["result_code"], 1);
    // That success forgot the count: 29 more end-user typos (59 in all without the reset)
    // do not lock the partner's integration out.
    for _ in 0..29 {
        assert_eq!(
            call(&app, &[("sso_pass", &wrong)]).await["result_message"],
            "Login failed."
        );
    }
    assert_eq!(call(&app, &[]).await["result_code"], 1);
}

async fn a_reusable_account_lets_a_token_be_used_until_it_expires(backend: Backend) {
    let app = spawn_app(backend).await;
    // Changed before the server first reads (and caches) the tenant.
    let mut t: Tenant = app.store.tenant("demoaws").await.unwrap().unwrap();
    t.helpdesk_token_reusable = true;
    app.store.put_tenant(&t).await.unwrap();
    let token = token(&app, &[("sso_duration", "2")]).await;
    for _ in 0..3 {
        assert_eq!(redeem(&app, &app.client(), &token).await, "/admin/main.php");
    }
    app.clock.advance(120);
    assert_refused(&app, &token).await;
}

async fn a_token_opens_only_its_own_door_and_is_no_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = token(&app, &[]).await;
    // GIVEN a help-desk token WHEN it is opened at the call-center door THEN it is refused
    // there and still works at its own.
    let elsewhere = app
        .get_fresh("demoaws", &format!("/sso/login?token={token}"))
        .await;
    assert_eq!(elsewhere.status(), StatusCode::GONE);
    let browser = app.client();
    assert_eq!(redeem(&app, &browser, &token).await, "/admin/main.php");
    // The session is stored under the token's hash, and the token was in a URL: the token
    // itself, sent as a session cookie, opens nothing.
    let forged = app
        .client()
        .get(app.url("demoaws", "/admin/main.php"))
        .header("cookie", format!("sso={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.headers()["location"], "/admin/login");
    let page = browser
        .get(app.url("demoaws", "/admin/main.php"))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("id=\"subject\">joe<"));
}

on_both_stores!(
    a_token_opens_only_its_own_door_and_is_no_cookie,
    a_token_signs_in_once_from_its_address,
    a_token_for_another_address_or_past_its_duration_is_refused,
    a_new_token_for_the_same_user_and_address_replaces_the_old,
    sixty_four_concurrent_redemptions_make_one_session,
    failures_are_result_code_zero_with_the_documented_message,
    failed_calls_are_throttled_per_caller_and_address,
    a_reusable_account_lets_a_token_be_used_until_it_expires,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_php_caller_reads_every_format_and_signs_the_user_in() {
    let app = spawn_app(Backend::Embedded).await;
    for (format, method) in [("serialize", "GET"), ("xml", "POST"), ("json", "GET")] {
        let r = app.php_partner(
            "helpdesk_client.php",
            &[format, "singlesignon", "127.0.0.1", method],
        );
        assert_eq!(r["api_status"], 200, "{format}: {r}");
        assert_eq!(r["result"]["result_message"], "User Found.", "{format}");
        assert_eq!(r["result"]["result_output"], format);
        assert_eq!(r["redeem_status"], 302, "{format}");
        assert_eq!(r["redeem_location"], app.url("demoaws", "/admin/main.php"));
        assert_eq!(r["page_status"], 200);
        assert!(
            r["page_body"]
                .as_str()
                .unwrap()
                .contains("id=\"subject\">joe<"),
            "{format}"
        );
    }
    // Same server: the API's own Set-Cookie signs the browser in; `hash` is that cookie.
    let r = app.php_partner(
        "helpdesk_client.php",
        &["serialize", "singlesignon_sameserver", "127.0.0.1"],
    );
    let res = &r["result"];
    assert_eq!(res["result_message"], "User Logged In.", "{r}");
    assert_eq!(
        (res["id"].clone(), res["absid"].clone()),
        (Value::from(2), Value::from(2))
    );
    assert_eq!(
        (res["username"].as_str(), res["prfxs"].as_str()),
        (Some("joe"), Some("hd_|kb_"))
    );
    assert_eq!(res["hash"].as_str().unwrap().len(), 32);
    assert_eq!(r["page_status"], 200);
    assert!(
        r["page_body"]
            .as_str()
            .unwrap()
            .contains("id=\"subject\">joe<")
    );
}
