//! Real API Gateway events (HTTP API payload v2 with cookies and a named stage; REST API v1
//! with multi-value headers and the stage in the path) through `lambda_http`'s request
//! conversion into the routers the Lambdas run, exactly as `sso_lambda::run` serves them.

use std::sync::Arc;

use axum::Router;
use axum::body::to_bytes;
use axum::response::Response;
use serde_json::Value;
use sso_core::helpdesk::password_digest;
use sso_core::signed_link::{Scheme, VendorSecret, sign};
use sso_store::embedded::Embedded;
use sso_web::{Clock, ManualClock, Platform, SystemClock};
use tower::ServiceExt;

mod support;

async fn platform() -> (Platform, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let backend = Arc::new(Embedded::in_memory().unwrap());
    (support::demo_platform(backend, clock.clone()).await, clock)
}

async fn send(router: Router, event: &str) -> Response {
    let req = lambda_http::request::from_str(event).expect("a valid API Gateway event");
    sso_lambda::wrap(router)
        .oneshot(req.map(axum::body::Body::new))
        .await
        .unwrap()
}

async fn json(resp: Response) -> Value {
    serde_json::from_slice(&to_bytes(resp.into_body(), 1 << 20).await.unwrap()).unwrap()
}

#[tokio::test]
async fn an_http_api_v2_signed_link_event_signs_in_and_its_cookie_opens_the_home() {
    let (p, clock) = platform().await;
    let ts = clock.now().to_string();
    let token = sign(Scheme::Md5, "1234", &ts, &VendorSecret::new("vendorpass"));
    let event = include_str!("events/http_api_v2_signin.json")
        .replace("{{TS}}", &ts)
        .replace("{{TOKEN}}", &token);
    let resp = send(sso_virtualagent::router(p.clone()), &event).await;
    assert_eq!(
        resp.status(),
        302,
        "the /prod stage prefix must not break routing"
    );
    assert_eq!(resp.headers()["location"], "/");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-sso=")
            && cookie.contains("Secure")
            && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // The audit event has API Gateway's source IP, not the X-Forwarded-For header.
    let pair = cookie.split(';').next().unwrap();
    let home = include_str!("events/http_api_v2_home_with_cookie.json").replace("{{COOKIE}}", pair);
    let resp = send(sso_virtualagent::router(p), &home).await;
    assert_eq!(resp.status(), 200);
    let body =
        String::from_utf8(to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(body.contains("id=\"subject\">1234<"), "{body}");
}

#[tokio::test]
async fn a_rest_api_v1_event_takes_the_source_ip_from_the_request_context() {
    let (p, _) = platform().await;
    let allowed =
        include_str!("events/rest_api_v1_sso0.json").replace("{{SOURCE_IP}}", "127.0.0.1");
    let resp = send(sso_sticky::router(p.clone()), &allowed).await;
    assert_eq!(resp.status(), 200);
    let v = json(resp).await;
    assert_eq!(v["descriptor"], "SSO_TOKEN_CREATED");
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .starts_with("https://demoaws.sso.example/sso/login?token=")
    );
    // X-Forwarded-For says 127.0.0.1, but API Gateway saw 203.0.113.7: refused.
    let spoofed =
        include_str!("events/rest_api_v1_sso0.json").replace("{{SOURCE_IP}}", "203.0.113.7");
    let resp = send(sso_sticky::router(p), &spoofed).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(json(resp).await["descriptor"], "IP_NOT_WHITELISTED");
}

#[tokio::test]
async fn a_rest_api_v1_event_with_the_stage_in_its_path_reaches_the_help_desk() {
    let (p, _) = platform().await;
    let event = include_str!("events/rest_api_v1_api_php.json")
        .replace("{{JOE}}", &password_digest("acjoe123"));
    let resp = send(sso_activecampaign::router(p), &event).await;
    assert_eq!(resp.status(), 200);
    let v = json(resp).await;
    assert_eq!(
        (v["result_code"].as_u64(), v["result_message"].as_str()),
        (Some(1), Some("User Found.")),
        "{v}"
    );
}

#[tokio::test]
async fn the_callcenter_function_serves_the_portal_host_and_unknown_paths_get_the_404_page() {
    let (p, _) = platform().await;
    let event = include_str!("events/http_api_v2_portal_pop.json");
    let resp = send(sso_sticky::all_routes(p.clone()), event).await;
    assert_eq!(
        resp.status(),
        302,
        "a pop without a portal session goes to sign in"
    );
    assert_eq!(resp.headers()["location"], "/login/21");
    let pending = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(pending.starts_with("__Host-pending=") && pending.contains("Secure"));
    let unknown = event.replace("\"/pop\"", "\"/nowhere\"");
    let resp = send(sso_sticky::all_routes(p), &unknown).await;
    assert_eq!(resp.status(), 404);
    let body = to_bytes(resp.into_body(), 1 << 16).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("<html"));
}
