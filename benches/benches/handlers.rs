//! Whole requests in process: the server's router (Host dispatch, middleware, adapter) over
//! the embedded in-memory store. Each iteration uses a fresh link (the clock moves one second
//! and the link is signed for that second), so every request takes the full success path:
//! verify, client lookup (cached), one conditional session write, 302 with a cookie.

use std::hint::black_box;

use axum::body::Body;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sso_benches::{NOW, in_process};
use sso_core::signed_link::{Scheme, VendorSecret, sign};

/// A browser's GET of `uri` on the demo tenant.
fn demoaws_get(uri: impl AsRef<str>) -> axum::http::Request<Body> {
    axum::http::Request::get(uri.as_ref())
        .header("host", "demoaws.localhost")
        .body(Body::empty())
        .expect("request")
}

fn signin(c: &mut Criterion) {
    let app = in_process();
    let secret = VendorSecret::new("vendorpass");
    let mut second = NOW;
    let mut g = c.benchmark_group("handlers");
    g.bench_function("signin_php_success", |b| {
        b.iter_batched(
            || {
                second += 1;
                app.clock.set(second);
                let ts = second.to_string();
                let token = sign(Scheme::Md5, "1234", &ts, &secret);
                demoaws_get(format!(
                    "/signin.php?clientID=1234&vendorid=1001&timestamp={ts}&token={token}"
                ))
            },
            |req| black_box(app.send_expecting(req, 302)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("signin_php_bad_signature", |b| {
        b.iter_batched(
            || {
                demoaws_get(format!(
                    "/signin.php?clientID=1234&vendorid=1001&timestamp={NOW}&token={}",
                    "0".repeat(32)
                ))
            },
            |req| black_box(app.send(req)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn helpdesk(c: &mut Criterion) {
    let app = in_process();
    let call = |action: &str| {
        format!(
            "/api.php?api_user=admin&api_pass_h=cc03e747a6afbbcbf8be7668acfebee5&api_output=serialize\
             &api_action={action}&sso_addr=127.0.0.1&sso_user=joe\
             &sso_pass={}&sso_duration=30",
            sso_core::helpdesk::password_digest("acjoe123")
        )
    };
    let mut g = c.benchmark_group("handlers");
    for action in ["singlesignon", "singlesignon_sameserver"] {
        let uri = call(action);
        g.bench_function(format!("api_php_{action}"), |b| {
            b.iter_batched(
                || demoaws_get(uri.as_str()),
                |req| black_box(app.send_expecting(req, 200)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// A partner's `POST /sso/0` from an allowed address.
fn sso0_request(body: &'static str) -> axum::http::Request<Body> {
    let mut req = axum::http::Request::post("/sso/0")
        .header("host", "demoaws.localhost")
        .header("content-type", "application/json")
        .header("platform-key", "demo-platform-key")
        .body(Body::from(body))
        .expect("request");
    req.extensions_mut()
        .insert(sso_web::ip::PeerIp([127, 0, 0, 1].into()));
    req
}

fn callcenter(c: &mut Criterion) {
    let app = in_process();
    let body = r#"{"username":"agent1","fullname":"Agent One","department_id":1,"campaign_id":"1,2","call_center_did":"8005550100"}"#;
    let mut g = c.benchmark_group("handlers");
    g.bench_function("sso_0", |b| {
        b.iter_batched(
            || {
                // One call per second of the server's clock: stays under the per-key limit.
                app.clock.advance(1);
                sso0_request(body)
            },
            |req| black_box(app.send_expecting(req, 200)),
            BatchSize::PerIteration,
        )
    });
    // The agent's browser opening the one-time URL: one conditional write turns the token
    // into the platform session.
    g.bench_function("sso_login_redeem", |b| {
        b.iter_batched(
            || {
                app.clock.advance(1);
                let req = sso0_request(body);
                let resp = app.send(req);
                let bytes = app
                    .runtime
                    .block_on(axum::body::to_bytes(resp.into_body(), 1 << 16))
                    .expect("body");
                let v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
                let url = v["url"].as_str().expect("a login URL").to_owned();
                let path = url[url.find("/sso/login").expect("path")..].to_owned();
                let mut req = demoaws_get(path);
                req.extensions_mut()
                    .insert(sso_web::ip::PeerIp([127, 0, 0, 1].into()));
                req
            },
            |req| black_box(app.send_expecting(req, 302)),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, signin, helpdesk, callcenter);
criterion_main!(benches);
