//! Test support: a real DynamoDB-compatible server for the test suites of every crate.
//!
//! Starts moto's server on a loopback port it picks itself, once per test process, serving one
//! request at a time, with a watchdog that stops it when the process exits;
//! `SSO_TEST_DYNAMODB_ENDPOINT` points at another server instead. Not used by the gateway.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use crate::dynamo::Dynamo;

static ENDPOINT: OnceLock<String> = OnceLock::new();
static TABLES: AtomicUsize = AtomicUsize::new(0);

/// moto's own server (`moto.server.main`, pinned moto 5.2.1) with one lock around each
/// request, so writes apply one at a time as in DynamoDB. No single quotes: it runs in a
/// shell's single-quoted argument.
const MOTO_SERIAL: &str = "
import threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def one_at_a_time(environ, start_response):
    with lock:
        return list(app(environ, start_response))
run_simple(\"127.0.0.1\", 0, one_at_a_time, threaded=True)
";

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
    // moto's server handles each request on a thread of its own and evaluates a condition
    // and applies the write without a lock between them, so two concurrent conditional
    // writes to one item can both pass (seen: 2 of 64 redeemers of one token won). DynamoDB
    // applies each item's writes one at a time; serialising moto's request handling gives
    // the tests that same guarantee. Port 0: the server binds a free port itself and prints
    // it (picking one here and handing it over races with any other process taking it).
    // The shell waits for this test process to end, then stops moto.
    let script = format!(
        "'{python}' -c '{MOTO_SERIAL}' 2>&1 & m=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
        parent = std::process::id()
    );
    let mut shell = Command::new("sh");
    shell
        .args(["-c", &script])
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null());
    // Not waited for: the watchdog shell outlives this call and ends with the test process.
    let (_shell, port, transcript) = spawn_reporting_port(
        &mut shell,
        "Running on http://127.0.0.1:",
        Duration::from_secs(60),
    )
    .expect("sh to start moto_server");
    let port = port.unwrap_or_else(|| {
        panic!(
            "moto_server did not start within 60 s: install it with \
             `pip install 'moto[server]'` (scripts/setup does). It printed:\n{}",
            transcript.text()
        )
    });
    format!("http://127.0.0.1:{port}")
}

/// The tail of a child's output, kept for failure messages.
#[derive(Clone, Default)]
pub struct Transcript(Arc<Mutex<String>>);

impl Transcript {
    /// At most this much of the newest output is kept.
    const KEEP: usize = 64 * 1024;

    fn push(&self, line: &str) {
        if let Ok(mut text) = self.0.lock() {
            text.push_str(line);
            text.push('\n');
            if text.len() > 2 * Self::KEEP {
                let mut cut = text.len() - Self::KEEP;
                while !text.is_char_boundary(cut) {
                    cut += 1;
                }
                text.drain(..cut);
            }
        }
    }

    /// What the child printed most recently.
    pub fn text(&self) -> String {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// Reads a child's output until a line containing `marker` followed by a port number, and
/// keeps draining it into the returned transcript on a thread (so a full pipe never stalls
/// the child). The port is `None` when the output ends or `timeout` passes first. Servers
/// started on port 0 report their port this way, the only race-free way to learn it.
pub fn reported_port(
    output: impl Read + Send + 'static,
    marker: &str,
    timeout: Duration,
) -> (Option<u16>, Transcript) {
    let (tx, rx) = mpsc::channel();
    let marker = marker.to_owned();
    let transcript = Transcript::default();
    let sink = transcript.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            sink.push(&line);
            if let Some(port) = line.split(marker.as_str()).nth(1).and_then(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|digits| digits.parse::<u16>().ok())
            }) {
                let _ = tx.send(port);
            }
        }
    });
    (rx.recv_timeout(timeout).ok(), transcript)
}

/// Spawns `command` with its standard output piped to [`reported_port`]: the child, the port
/// it reported (or `None`), and the transcript of its output.
pub fn spawn_reporting_port(
    command: &mut Command,
    marker: &str,
    timeout: Duration,
) -> std::io::Result<(Child, Option<u16>, Transcript)> {
    let mut child = command.stdout(Stdio::piped()).spawn()?;
    let output = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no standard output"))?;
    let (port, transcript) = reported_port(output, marker, timeout);
    Ok((child, port, transcript))
}

/// The Python interpreter that has moto (`SSO_TEST_PYTHON`, else the virtualenv
/// `scripts/setup` makes, else `python3`): tests that run their own moto use it too.
pub fn python() -> String {
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
