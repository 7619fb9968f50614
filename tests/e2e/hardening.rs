//! Issue 13, "Hold under abuse", as far as the in-process server shows it: short idle
//! timeouts that really extend, and unknown paths that still carry the security headers.

use reqwest::StatusCode;
use sso_core::signed_link::{Scheme, VendorSecret, sign};
use sso_store::model::Tenant;
use sso_store::port::{Directory, DirectoryAdmin};
use sso_tests::{Backend, spawn_app};
use sso_web::Clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_timeout_shorter_than_the_touch_interval_still_extends() {
    let app = spawn_app(Backend::Embedded).await;
    // Changed before the server first reads (and caches) the tenant.
    let mut t: Tenant = app.store.tenant("demoaws").await.unwrap().unwrap();
    t.session_idle_secs = 60;
    app.store.put_tenant(&t).await.unwrap();
    app.platform.directory_changed();

    let sign_in = |c: &reqwest::Client| {
        let ts = app.clock.now().to_string();
        let token = sign(Scheme::Md5, "1234", &ts, &VendorSecret::new("vendorpass"));
        let url = reqwest::Url::parse_with_params(
            &app.url("demoaws", "/signin.php"),
            &[
                ("clientID", "1234"),
                ("vendorid", "1001"),
                ("timestamp", ts.as_str()),
                ("token", token.as_str()),
            ],
        )
        .unwrap();
        let c = c.clone();
        async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.headers()["location"], "/", "signed in");
        }
    };
    let home = |c: &reqwest::Client| {
        let (c, url) = (c.clone(), app.url("demoaws", "/"));
        async move { c.get(url).send().await.unwrap().status() }
    };

    // Used every 10 s for three minutes: the session lives on.
    let busy = app.client();
    sign_in(&busy).await;
    for step in 1..=18 {
        app.clock.advance(10);
        assert_eq!(
            home(&busy).await,
            StatusCode::OK,
            "still signed in after {} s of use",
            step * 10
        );
    }
    // Then left alone for 61 s: it has ended.
    app.clock.advance(61);
    assert_eq!(home(&busy).await, StatusCode::FOUND, "idle for 61 s");

    // A session not used after sign-in ends 61 s later.
    let idle = app.client();
    sign_in(&idle).await;
    app.clock.advance(61);
    assert_eq!(home(&idle).await, StatusCode::FOUND, "never used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_path_gets_the_not_found_page_with_its_security_headers() {
    let app = spawn_app(Backend::Embedded).await;
    for host in ["demoaws", "my", "nosuchtenant"] {
        let r = app
            .client()
            .get(app.url(host, "/no-such-path"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{host}");
        for header in [
            "content-security-policy",
            "x-content-type-options",
            "cache-control",
        ] {
            assert!(
                r.headers().contains_key(header),
                "{host}: {header} missing in {:?}",
                r.headers()
            );
        }
        assert!(r.text().await.unwrap().contains("Not found"), "{host}");
    }
}
