//! Scanner-safe one-time links in a real headless browser: for a tenant with
//! `scanner_safe_links`, a link scanner's GET of `/sso/login?token=` or
//! `/admin/main.php?_ssot=` gets a page and burns nothing; the person's browser runs the page's
//! script, posts the token, and is signed in; the token then works no more. A tenant without
//! the option is unchanged: the GET consumes.

use reqwest::StatusCode;
use sso_core::helpdesk::password_digest;
use sso_store::model::Tenant;
use sso_store::port::{Directory, DirectoryAdmin};
use sso_tests::webdriver::Browser;
use sso_tests::{Backend, TestApp, spawn_app};

fn form(pairs: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params("http://x/", pairs)
        .unwrap()
        .query()
        .unwrap_or_default()
        .to_owned()
}

async fn login_url(app: &TestApp, host: &str) -> String {
    let r = app
        .client()
        .post(app.url(host, "/sso/0"))
        .header("content-type", "application/json")
        .header("platform-key", "demo-platform-key")
        .body(r#"{"username":"agent1","fullname":"Agent One","department_id":1}"#)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    v["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_owned()
}

async fn ssot(app: &TestApp) -> String {
    let (admin, joe) = (password_digest("test123"), password_digest("acjoe123"));
    let params = [
        ("api_user", "admin"),
        ("api_pass_h", admin.as_str()),
        ("api_output", "json"),
        ("api_action", "singlesignon"),
        ("sso_addr", "127.0.0.1"),
        ("sso_user", "joe"),
        ("sso_pass", joe.as_str()),
        ("sso_duration", "30"),
    ];
    let r = app
        .client()
        .post(app.url("demoaws", "/api.php"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&params))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let token = v["token"].as_str().unwrap_or_else(|| panic!("{v}"));
    app.url("demoaws", &format!("/admin/main.php?_ssot={token}"))
}

/// What a link scanner does: GET the URL with no cookies, twice. It must get the
/// confirmation page both times, with no session.
async fn scanned(app: &TestApp, url: &str) {
    for _ in 0..2 {
        let r = app.client().get(url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert!(r.headers().get("set-cookie").is_none());
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("method=\"post\"") && page.contains("Continue to sign in"),
            "{page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanners_do_not_burn_one_time_links_and_browsers_still_sign_in() {
    let app = spawn_app(Backend::Embedded).await;
    // Set before the server first reads (and caches) the tenant.
    let mut t: Tenant = app.store.tenant("demoaws").await.unwrap().unwrap();
    t.scanner_safe_links = true;
    app.store.put_tenant(&t).await.unwrap();
    let browser = Browser::start().await;

    // Call center: scanned twice, then opened by the agent's browser.
    let url = login_url(&app, "demoaws").await;
    scanned(&app, &url).await;
    browser.goto(&url).await;
    let home = app.url("demoaws", "/");
    assert_eq!(browser.url_once(&home).await, home);
    assert!(browser.source().await.contains("agent1"));
    browser.screenshot("scanner-safe-1-callcenter").await;
    // Used now: another post of the same token is refused.
    let token = url.rsplit("token=").next().unwrap();
    let again = app
        .client()
        .post(app.url("demoaws", "/sso/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::GONE);

    // Help desk: the same for an `_ssot` link.
    let url = ssot(&app).await;
    scanned(&app, &url).await;
    browser.goto(&url).await;
    let main = app.url("demoaws", "/admin/main.php");
    assert_eq!(browser.url_once(&main).await, main);
    assert!(browser.source().await.contains("joe"));
    browser.screenshot("scanner-safe-2-helpdesk").await;

    // A tenant without the option is unchanged: its GET consumes the token at once.
    let url = login_url(&app, "sandboxdemo").await;
    let r = app.client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(r.headers().get("set-cookie").is_some());
}
