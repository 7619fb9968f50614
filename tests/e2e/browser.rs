//! The portal flow in a real headless browser (Debian's Chromium via chromedriver), with a
//! screenshot of every page in `test-artifacts/`.

use sso_tests::webdriver::Browser;
use sso_tests::{Backend, FormBody, PageText, csrf_of, spawn_app};

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

/// The page source once it contains `text`, or whatever it is after 30 s: a click that posts a
/// form from the group page lands back on the same URL, so the URL cannot tell it has landed.
async fn source_once(browser: &Browser, text: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let page = browser.source().await;
        if page.contains(text) || std::time::Instant::now() >= deadline {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_resets_disables_enables_and_unlinks_by_clicking_in_a_real_browser() {
    let app = spawn_app(Backend::Embedded).await;
    let browser = Browser::start().await;
    let group = app.url("my", "/groups/21");

    // GIVEN the group's administrator signed in, on the group page…
    browser.goto(&app.url("my", "/login")).await;
    browser.type_into("#user", "admin@example.com").await;
    browser.type_into("#password", "adminpass").await;
    browser.click("#submit").await;
    assert_eq!(
        browser.url_once(&app.url("my", "/")).await,
        app.url("my", "/")
    );
    browser.goto(&group).await;

    // WHEN it types a new password for agent1 and presses "Reset password"…
    browser
        .type_into("#password-agent1", "typed-in-browser")
        .await;
    browser.click("#reset-agent1").await;
    let page = source_once(&browser, "was changed").await;
    assert!(
        page.contains("The password of agent <strong>agent1</strong> was changed"),
        "{page}"
    );
    browser.screenshot("portal-admin-1-password").await;

    // …presses "Disable", then "Enable"…
    browser.click("#disable-agent1").await;
    assert!(
        source_once(&browser, "(disabled)")
            .await
            .contains("(disabled)")
    );
    browser.screenshot("portal-admin-2-disabled").await;
    browser.click("#enable-agent1").await;
    assert!(
        source_once(&browser, "is enabled again")
            .await
            .contains("is enabled again")
    );

    // …and "Unlink" on sandboxdemo, THEN the page confirms it…
    browser.click("#unlink-sandboxdemo").await;
    let page = source_once(&browser, "is no longer linked").await;
    assert!(
        page.contains("is no longer linked") && !page.contains("id=\"unlink-sandboxdemo\""),
        "{page}"
    );
    browser.screenshot("portal-admin-3-unlinked").await;

    // …and agent1 signs in with the new password only, and is offered demoaws alone.
    app.clock.advance(1);
    let agent = app.client();
    let login = agent.get(app.url("my", "/login/21")).page().await;
    let r = agent
        .post(app.url("my", "/login/21"))
        .form_body(format!(
            "user=agent1&password=typed-in-browser&csrf={}",
            csrf_of(&login)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::FOUND);
    let home = agent.get(app.url("my", "/")).page().await;
    assert!(
        home.contains("client_subdomain=demoaws") && !home.contains("client_subdomain=sandboxdemo"),
        "{home}"
    );
}
