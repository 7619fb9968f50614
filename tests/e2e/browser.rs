//! The portal flow in a real headless browser (Debian's Chromium via chromedriver), with a
//! screenshot of every page in `test-artifacts/`.

use sso_tests::webdriver::Browser;
use sso_tests::{Backend, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_pops_into_two_platforms_with_one_sign_in_in_a_real_browser() {
    let app = spawn_app(Backend::Embedded).await;
    let browser = Browser::start().await;

    // GIVEN an agent with no portal session, WHEN it opens a pop URL for demoaws…
    browser
        .goto(&app.url("my", "/pop?group_id=21&client_subdomain=demoaws"))
        .await;
    assert_eq!(browser.url().await, app.url("my", "/login/21"));
    browser.screenshot("portal-1-login").await;

    // …and signs in, THEN it lands on demoaws signed in.
    browser.type_into("#user", "agent1").await;
    browser.type_into("#password", "agentpass").await;
    browser.click("#submit").await;
    let home = app.url("demoaws", "/");
    assert_eq!(browser.url_once(&home).await, home);
    let page = browser.source().await;
    assert!(
        page.contains("agent1") && page.contains("call-center single sign-on"),
        "{page}"
    );
    browser.screenshot("portal-2-demoaws").await;

    // WHEN it opens the pop URL for sandboxdemo, THEN it lands there with no sign-in.
    browser
        .goto(&app.url("my", "/pop?group_id=21&client_subdomain=sandboxdemo"))
        .await;
    assert_eq!(browser.url().await, app.url("sandboxdemo", "/"));
    assert!(browser.source().await.contains("agent1"));
    browser.screenshot("portal-3-sandboxdemo").await;

    // A platform the group is not linked to is refused with a clear page.
    browser
        .goto(&app.url("my", "/pop?group_id=21&client_subdomain=elsewhere"))
        .await;
    assert!(browser.source().await.contains("not linked to group 21"));
    browser.screenshot("portal-4-refused").await;

    // WHEN it presses "Sign out" on the portal page, THEN the portal session ends: the next
    // pop asks for a sign-in again.
    browser.goto(&app.url("my", "/")).await;
    browser.click("#sign-out").await;
    assert_eq!(
        browser.url_once(&app.url("my", "/login")).await,
        app.url("my", "/login")
    );
    browser
        .goto(&app.url("my", "/pop?group_id=21&client_subdomain=demoaws"))
        .await;
    assert_eq!(browser.url().await, app.url("my", "/login/21"));
}
