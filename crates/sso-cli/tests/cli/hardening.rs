//! Issue 13, "Hold under abuse": the real `sso serve` behind a proxy, under slow and idle
//! clients and a low open-file limit, and what it logs for requests it refuses.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

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

/// Sends `request` as is on a fresh connection and reads the answer until the server closes
/// the connection or 5 s pass.
fn raw(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_connect_request_is_refused_and_logs_no_error() {
    let (server, port) = serve_with("connect", &[]);
    let answers: Vec<(&str, String)> = [
        // Authority form, as a proxy client sends it.
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
        // Origin form on a tenant host, to a route that takes any method.
        "CONNECT /sso/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        // The health check on a host that names no tenant.
        "CONNECT /healthz HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    ]
    .into_iter()
    .map(|request| (request, raw(port, request.as_bytes())))
    .collect();
    // Each request's log line is written before its answer; give the reader a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.log.text().matches("\"method\":\"CONNECT\"").count() < 3
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log.text();
    assert!(
        !log.contains("\"level\":\"ERROR\""),
        "a refused request is no error:\n{log}"
    );
    for (request, answer) in answers {
        // Not a 2xx: that would tell a proxy client its tunnel is open.
        assert!(
            answer.starts_with("HTTP/1.1 405 "),
            "{request:?} → {answer}"
        );
    }
}
