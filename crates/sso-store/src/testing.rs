//! Test support: a real DynamoDB-compatible server for the test suites of every crate.
//!
//! Starts moto's server on a free loopback port, once per test process, with a watchdog that
//! stops it when the process exits; `SSO_TEST_DYNAMODB_ENDPOINT` points at another server
//! instead. Not used by the gateway itself.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::dynamo::Dynamo;

static ENDPOINT: OnceLock<String> = OnceLock::new();
static TABLES: AtomicUsize = AtomicUsize::new(0);

#[allow(clippy::panic, clippy::expect_used)]
fn start() -> String {
    if let Ok(url) = std::env::var("SSO_TEST_DYNAMODB_ENDPOINT") {
        return url;
    }
    let python = python();
    let found = Command::new(&python)
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "moto is not installed: `pip install 'moto[server]'` (scripts/setup does); \
         the DynamoDB half of the conformance suite needs it"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // The shell waits for this test process to end, then stops moto.
    let script = format!(
        "'{python}' -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
        parent = std::process::id()
    );
    // Not waited for: the watchdog shell outlives this call and ends with the test process.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .expect("sh to start moto_server");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port} within 60 s: install it with \
             `pip install 'moto[server]'` (scripts/setup does)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("http://127.0.0.1:{port}")
}

/// The Python that has moto: `SSO_TEST_PYTHON`, else the virtualenv `scripts/setup` makes,
/// else `python3`.
fn python() -> String {
    if let Ok(p) = std::env::var("SSO_TEST_PYTHON")
        && !p.is_empty()
    {
        return p;
    }
    let venv = std::env::var("HOME")
        .map(|h| format!("{h}/.cache/sso-moto-venv/bin/python"))
        .unwrap_or_default();
    if !venv.is_empty() && std::path::Path::new(&venv).exists() {
        return venv;
    }
    "python3".into()
}

/// The endpoint of the test server, starting it on first use. Panics (failing the test, never
/// skipping it) when moto is not installed.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(start)
}

/// A backend on a new, empty table (created as `sso create-table` creates it).
#[allow(clippy::expect_used)]
pub async fn fresh_table() -> Dynamo {
    let endpoint = endpoint();
    let n = TABLES.fetch_add(1, Ordering::Relaxed);
    let table = format!("sso-test-{}-{n}", std::process::id());
    let dynamo = Dynamo::local(endpoint, &table);
    dynamo.create_table().await.expect("create the test table");
    dynamo
}
