//! Issue 13, "Hold under abuse": the real `sso serve` behind a proxy, under slow and idle
//! clients and a low open-file limit, and what it logs for requests it refuses.

use std::process::Command;

use super::serve_with;

/// POSTs the call-center request with the demo Platform-Key (allowed from 127.0.0.1/32 and
/// ::1/128 only) to `sso serve` on `port`, optionally with an `X-Forwarded-For`; the body.
fn sso0(port: u16, forwarded_for: Option<&str>) -> String {
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        "10",
        "-H",
        "content-type: application/json",
        "-H",
        "platform-key: demo-platform-key",
        "-d",
        r#"{"username":"agent1","fullname":"Agent One","department_id":1}"#,
    ]);
    if let Some(xff) = forwarded_for {
        curl.args(["-H", &format!("x-forwarded-for: {xff}")]);
    }
    let out = curl
        .arg(format!("http://127.0.0.1:{port}/sso/0"))
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let (server, port) = serve_with("xff-trusted", &["--trusted-proxies", "127.0.0.1/32"]);
    let log = || server.log.text();
    assert!(sso0(port, None).contains("SSO_TOKEN_CREATED"), "{}", log());
    let refused = sso0(port, Some("203.0.113.9"));
    assert!(
        refused.contains("IP_NOT_WHITELISTED"),
        "the proxy says the client is 203.0.113.9: {refused}\n{}",
        log()
    );
    // A loopback client behind the proxy is admitted.
    assert!(sso0(port, Some("127.0.0.1")).contains("SSO_TOKEN_CREATED"));
    drop(server);

    // Without the flag the header is the client's own word, and ignored.
    let (server, port) = serve_with("xff-untrusted", &[]);
    let ignored = sso0(port, Some("203.0.113.9"));
    assert!(
        ignored.contains("SSO_TOKEN_CREATED"),
        "{ignored}\n{}",
        server.log.text()
    );
}
