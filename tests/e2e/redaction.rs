//! The log-redaction harness itself (`sso_tests::redaction`): server lines are captured, the
//! secrets a request carries are registered at the socket, and a secret in a line fails.

use sso_core::signed_link::{Scheme, VendorSecret, sign};
use sso_tests::{Backend, redaction, spawn_app};
use sso_web::Clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_lines_are_captured_and_a_logged_link_token_fails_the_test() {
    let app = spawn_app(Backend::Embedded).await;
    let (lines_before, _) = redaction::figures();
    let ts = app.clock.now().to_string();
    let token = sign(Scheme::Md5, "1234", &ts, &VendorSecret::new("vendorpass"));
    let link = app.url(
        "demoaws",
        &format!("/signin.php?clientID=1234&vendorid=1001&timestamp={ts}&token={token}"),
    );
    let r = app.client().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let (lines_after, secrets) = redaction::figures();
    assert!(
        lines_after > lines_before,
        "the request's lines were captured"
    );
    // The server logged no secret so far…
    redaction::assert_clean();
    // …and a line carrying the link's token (as a careless log call would) is caught.
    tracing::info!(query = %format!("token={token}"), "a careless line");
    let caught = std::panic::catch_unwind(redaction::assert_clean);
    assert!(caught.is_err(), "the leaked token is a violation");
    #[allow(clippy::print_stdout)]
    {
        println!(
            "redaction: {lines_after} server lines captured so far, {secrets} secrets registered"
        );
    }
}
