//! What an operator runs and watches, through the real binary: rotating the secret key with
//! `sso rotate-key` on both stores, the readiness check that proves the key a server holds
//! opens the table's sealed canary, and the Prometheus `/metrics` only for loopback.

use std::path::Path;
use std::process::{Command, Output};

use super::{Server, ok, serve_command, spawn_server, temp_dir};

const OLD: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const NEW: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// `sso <args> --data <data>` with `SSO_SECRET_KEY` set to `key` (or unset).
fn sso_with_key(data: &Path, key: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sso"));
    c.args(args).arg("--data").arg(data).env("SSO_LOG", "warn");
    match key {
        Some(k) => c.env("SSO_SECRET_KEY", k),
        None => c.env_remove("SSO_SECRET_KEY"),
    };
    c.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// GET `url` with curl: "<status> <body>".
fn curl_body(url: &str) -> String {
    curl_with(url, &[])
}

#[test]
fn rotate_key_reseals_an_embedded_store_under_a_new_key_of_its_own() {
    let data = temp_dir("rotate-embedded");
    ok(sso_with_key(
        &data,
        None,
        &["import", "../sso-store/import/demo.toml"],
    ));
    let old = std::fs::read_to_string(data.join("secret.key")).unwrap();
    let out = sso_with_key(&data, None, &["rotate-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("re-sealed 4 vendor(s) under the current key; 0 already were"),
        "{}",
        stderr(&out)
    );
    let new = std::fs::read_to_string(data.join("secret.key")).unwrap();
    assert_ne!(old, new, "a new key");
    assert!(
        !data.join("secret.key.previous").exists(),
        "rotation finished"
    );
    // The new key opens every vendor; the old one alone no longer does.
    let listed = ok(sso_with_key(
        &data,
        None,
        &["vendor", "list", "--tenant", "demoaws"],
    ));
    assert!(
        listed.contains("1001") && listed.contains("1002"),
        "{listed}"
    );
    // Listing leaves passwords sealed (no key needed); retiring a secret opens it.
    let with_old = sso_with_key(
        &data,
        Some(old.trim()),
        &[
            "vendor",
            "retire-secret",
            "--tenant",
            "demoaws",
            "--id",
            "1001",
        ],
    );
    assert!(
        !with_old.status.success(),
        "the old key still opens vendors"
    );
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn rotate_key_reseals_a_dynamodb_table_from_the_previous_key_to_the_current() {
    let endpoint = crate::moto_endpoint();
    let data = temp_dir("rotate-dynamo");
    let table = format!("rotate-{}", std::process::id());
    let store = [
        "--store",
        "dynamodb",
        "--endpoint-url",
        endpoint,
        "--table",
        &table,
    ];
    let dynamo = |key: Option<&str>, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(store);
        sso_with_key(&data, key, &all)
    };
    ok(dynamo(None, &["create-table"]));
    ok(dynamo(
        Some(OLD),
        &["import", "../sso-store/import/demo.toml"],
    ));
    let ring = format!("{NEW},{OLD}");
    let out = dynamo(Some(&ring), &["rotate-key"]);
    assert!(
        stderr(&out).contains("re-sealed 4 vendor(s) under the current key; 0 already were"),
        "{}",
        stderr(&out)
    );
    let listed = ok(dynamo(
        Some(NEW),
        &["vendor", "list", "--tenant", "demoaws"],
    ));
    assert!(listed.contains("1001"), "{listed}");
    assert!(
        !dynamo(
            Some(OLD),
            &[
                "vendor",
                "retire-secret",
                "--tenant",
                "demoaws",
                "--id",
                "1001"
            ]
        )
        .status
        .success(),
        "what was re-sealed no longer opens with the old key"
    );
    let again = dynamo(Some(NEW), &["rotate-key"]);
    assert!(
        stderr(&again).contains("re-sealed 0 vendor(s) under the current key; 4 already were"),
        "{}",
        stderr(&again)
    );
    // Readiness: a server holding the new key is ready; one holding only the old key is not.
    let serve = |name: &str, key: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sso"));
        c.env("SSO_SECRET_KEY", key);
        serve_command(name, c, &store)
    };
    let (_ready, port) = serve("ready-new", NEW);
    assert_eq!(
        curl_body(&format!("http://127.0.0.1:{port}/readyz")),
        r#"200 {"status":"ready"}"#
    );
    let (_stale, port) = serve("ready-old", OLD);
    assert_eq!(
        curl_body(&format!("http://127.0.0.1:{port}/readyz")),
        r#"503 {"status":"not ready","reason":"the secret key does not open the sealed canary"}"#
    );
    assert_eq!(
        curl_body(&format!("http://127.0.0.1:{port}/healthz")),
        r#"200 {"status":"ok"}"#,
        "liveness does not look at the table"
    );
    let _ = std::fs::remove_dir_all(&data);
}

/// `sso serve <args>` (no --demo unless given) with `SSO_SECRET_KEY`, on the port it reports.
fn serve_plain(name: &str, args: &[&str]) -> (Server, u16) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sso"));
    command.env("SSO_SECRET_KEY", NEW);
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    spawn_server(name, command, &all)
}

#[test]
fn readiness_answers_503_when_the_table_is_unreachable() {
    // Port 9 on loopback: nothing listens (connection refused at once). No --demo: the
    // server starts without reading the store.
    let (_server, port) = serve_plain(
        "ready-down",
        &[
            "--listen",
            "127.0.0.1:0",
            "--store",
            "dynamodb",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--table",
            "none",
        ],
    );
    assert_eq!(
        curl_body(&format!("http://127.0.0.1:{port}/readyz")),
        r#"503 {"status":"not ready","reason":"the table is unreachable"}"#
    );
    assert_eq!(
        curl_body(&format!("http://127.0.0.1:{port}/healthz")),
        r#"200 {"status":"ok"}"#
    );
}

/// This machine's address on its default route (no packet is sent: a UDP "connect" only
/// picks the source address).
fn non_loopback_address() -> std::net::IpAddr {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("203.0.113.1:9")
        .expect("a default route, to reach the server from a non-loopback address");
    let ip = s.local_addr().unwrap().ip();
    assert!(!ip.is_loopback(), "{ip}");
    ip
}

/// GET `url` with curl and extra headers: "<status> <body>".
fn curl_with(url: &str, headers: &[&str]) -> String {
    let mut args = vec![
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        "30",
        "-w",
        " %{http_code}",
    ];
    for h in headers {
        args.extend(["-H", h]);
    }
    args.push(url);
    let out = Command::new("curl").args(&args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once(' ').unwrap_or((&text, ""));
    format!("{status} {body}{}", String::from_utf8_lossy(&out.stderr))
}

#[test]
fn metrics_count_attempts_for_loopback_and_refuse_any_other_source() {
    let (server, port) = serve_plain(
        "metrics",
        &[
            "--demo",
            "--listen",
            "0.0.0.0:0",
            "--trusted-proxies",
            "127.0.0.1/32",
        ],
    );
    // A signed link with a wrong token: refused with errorID 0, counted.
    let link = format!(
        "http://127.0.0.1:{port}/signin.php?clientID=1234&vendorid=1001&timestamp=1&token=00"
    );
    let refused = curl_with(&link, &["Host: demoaws.localhost"]);
    assert!(
        refused.starts_with("302"),
        "{refused}\n{}",
        server.log.text()
    );
    let local = curl_with(&format!("http://127.0.0.1:{port}/metrics"), &[]);
    assert!(local.starts_with("200 "), "{local}");
    assert!(
        local.contains("sso_attempts_total{protocol=\"signed_link\",outcome=\"errorID "),
        "{local}"
    );
    assert!(local.contains("sso_store_latency_ms_count "), "{local}");
    // The same server reached from this machine's non-loopback address.
    let outside = non_loopback_address();
    let url = format!("http://{outside}:{port}/metrics");
    assert_eq!(curl_with(&url, &[]), "403 forbidden\n");
    // A client behind a trusted proxy on loopback is that client, not the proxy.
    assert_eq!(
        curl_with(
            &format!("http://127.0.0.1:{port}/metrics"),
            &["X-Forwarded-For: 198.51.100.7"]
        ),
        "403 forbidden\n"
    );
}
