//! Helpers shared by the black-box tests in `e2e/`: the real server on port 0, HTTP clients
//! that reach `*.localhost` hosts, and the real PHP clients.

pub mod redaction;
pub mod webdriver;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use sso_cli::stores::StoreChoice;
use sso_cli::{App, ServeConfig};
use sso_store::Store;
use sso_store::dynamo::DynamoConfig;
use sso_web::{Clock, ManualClock, SystemClock, WebConfig};

/// The folder of PHP client scripts that the tests run with php-cli.
pub fn php_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("php")
}

/// Runs `php <script> <args…>` with `stdin`, returning its standard output. Panics with
/// instructions when php-cli is missing: these tests are the proof that real PHP clients
/// interoperate, so they fail rather than skip (`scripts/setup` installs php-cli, php-xml
/// and php-curl).
pub fn run_php_with(script: &str, args: &[&str], stdin: &str) -> String {
    let path = php_dir().join(script);
    let mut child = Command::new("php")
        .arg(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run php ({e}); install php-cli php-xml php-curl (scripts/setup does)")
        });
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .expect("write to php's stdin");
    }
    let out = child.wait_with_output().expect("wait for php");
    assert!(
        out.status.success(),
        "php {script} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("php printed UTF-8")
}

/// [`run_php_with`] without arguments.
pub fn run_php(script: &str, stdin: &str) -> String {
    run_php_with(script, &[], stdin)
}

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store, in memory.
    Embedded,
    /// DynamoDB on the moto server the tests start.
    DynamoDb,
}

/// A running server on a free loopback port, with the demo directory and a hand-set clock.
pub struct TestApp {
    /// The bound port.
    pub port: u16,
    /// The server's clock (starts at the real time, so real clients' `time()` agrees).
    pub clock: Arc<ManualClock>,
    /// The store behind it.
    pub store: Store,
    /// The server's platform (to forget cached directory answers after a test changes the
    /// directory behind the server's back).
    pub platform: sso_web::Platform,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // The test that made the server log a secret fails (not one that already failed).
        if !std::thread::panicking() {
            redaction::assert_clean();
        }
        if std::env::var_os("SSO_REDACTION_REPORT").is_some() {
            let (lines, secrets) = redaction::figures();
            eprintln!("redaction: {lines} server lines checked against {secrets} secrets");
        }
    }
}

/// The hosts tests talk to.
pub const HOSTS: [&str; 4] = ["demoaws", "sandboxdemo", "my", "nosuchtenant"];

impl TestApp {
    /// `http://<label>.localhost:<port><path>`.
    pub fn url(&self, label: &str, path: &str) -> String {
        format!("http://{label}.localhost:{}{path}", self.port)
    }

    /// `GET <label>.localhost<path>` from a fresh client (no cookies), not followed.
    pub async fn get_fresh(&self, label: &str, path: &str) -> reqwest::Response {
        self.client()
            .get(self.url(label, path))
            .send()
            .await
            .unwrap()
    }

    /// A client with its own cookie jar that does not follow redirects and reaches every
    /// test host on loopback (whatever the system resolver thinks of `*.localhost`, and
    /// whatever proxy the environment names).
    pub fn client(&self) -> reqwest::Client {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            // Drop idle connections well before the server's idle timeout (60 s) closes
            // them: reusing one the server is closing fails with "incomplete message"
            // (seen under heavy load, when a scenario's stalls left a connection idle).
            .pool_idle_timeout(std::time::Duration::from_secs(20));
        for h in HOSTS {
            b = b.resolve(&format!("{h}.localhost"), addr);
        }
        b.build().expect("HTTP client")
    }

    /// Runs a PHP partner script against this server's `demoaws` tenant:
    /// `php <script> <base URL> <CURLOPT_RESOLVE entries> <args…>`; what it prints, as JSON.
    pub fn php_partner(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let (base, resolve) = (self.url("demoaws", ""), self.curl_resolve());
        let out = run_php_with(script, &[&[base.as_str(), &resolve], args].concat(), "");
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {out}"))
    }

    /// `CURLOPT_RESOLVE` entries for PHP's curl.
    pub fn curl_resolve(&self) -> String {
        HOSTS
            .iter()
            .map(|h| format!("{h}.localhost:{}:127.0.0.1", self.port))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Starts the real application (`sso serve --demo`'s code path) on port 0.
pub async fn spawn_app(backend: Backend) -> TestApp {
    let store = match backend {
        Backend::Embedded => StoreChoice::Memory,
        Backend::DynamoDb => {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let table = format!("e2e-{}-{n}", std::process::id());
            let endpoint = sso_store::testing::endpoint();
            sso_store::dynamo::Dynamo::local(endpoint, &table)
                .create_table()
                .await
                .expect("create the test table");
            StoreChoice::Dynamo(DynamoConfig {
                table,
                endpoint_url: Some(endpoint.to_owned()),
                region: None,
            })
        }
    };
    spawn_with(store, true).await
}

/// Starts the application on a given store choice.
pub async fn spawn_with(store: StoreChoice, demo: bool) -> TestApp {
    spawn_on(SocketAddr::from(([127, 0, 0, 1], 0)), store, demo).await
}

/// Starts the application on a given address (e.g. `[::1]:0` for IPv6 clients).
pub async fn spawn_on(listen: SocketAddr, store: StoreChoice, demo: bool) -> TestApp {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let config = ServeConfig {
        listen,
        web: WebConfig::default(),
        store,
        secret_key: Some("00".repeat(32)),
        demo,
        clock: clock.clone(),
        limits: sso_cli::Limits::default(),
    };
    redaction::install();
    let app = App::build(config)
        .await
        .expect("the app builds")
        .wrap_router(|r| r.layer(axum::middleware::from_fn(redaction::observe)));
    let (port, store, platform) = (app.port(), app.store().clone(), app.platform().clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        port,
        clock,
        store,
        platform,
        shutdown: Some(tx),
    }
}

/// A form post as a browser sends it: `application/x-www-form-urlencoded`, the body given
/// already encoded (tests need exact bytes, repeated names and malformed values too).
pub trait FormBody {
    /// Sets the form content type and the encoded body.
    fn form_body(self, body: impl Into<String>) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, body: impl Into<String>) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.into())
    }
}

/// A request's answer body as text, for tests that only read the page (a failed send or
/// read fails the test).
pub trait PageText {
    /// Sends the request and returns the body.
    fn page(self) -> impl std::future::Future<Output = String> + Send;

    /// Sends the request and returns its status and body.
    fn status_and_page(
        self,
    ) -> impl std::future::Future<Output = (reqwest::StatusCode, String)> + Send;
}

impl PageText for reqwest::RequestBuilder {
    async fn page(self) -> String {
        self.status_and_page().await.1
    }

    async fn status_and_page(self) -> (reqwest::StatusCode, String) {
        let r = self.send().await.expect("the request is answered");
        let status = r.status();
        (status, r.text().await.expect("a text body"))
    }
}

/// Sends a request to a JSON API (`/sso/0`, `api.php` in JSON) and reads its answer: the
/// status and the JSON body (an unanswered request or a body that is not JSON fails the test).
pub trait JsonAnswer {
    /// Sends the request; the status and the parsed body.
    fn json_answer(
        self,
    ) -> impl std::future::Future<Output = (reqwest::StatusCode, serde_json::Value)> + Send;
}

impl JsonAnswer for reqwest::RequestBuilder {
    async fn json_answer(self) -> (reqwest::StatusCode, serde_json::Value) {
        let r = self.send().await.expect("the request is answered");
        let status = r.status();
        let text = r.text().await.expect("a text body");
        let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (status, v)
    }
}

/// Sends a request that is answered with a redirect: its `Location` (an answer without one
/// fails the test).
pub trait Redirected {
    /// Sends the request; the `Location` it was answered with.
    fn location(self) -> impl std::future::Future<Output = String> + Send;
}

impl Redirected for reqwest::RequestBuilder {
    async fn location(self) -> String {
        let r = self.send().await.expect("the request is answered");
        r.headers()
            .get("location")
            .unwrap_or_else(|| panic!("no Location in a {} answer", r.status()))
            .to_str()
            .expect("an ASCII Location")
            .to_owned()
    }
}

/// The CSRF token a sign-in or admin form carries (its hidden `csrf` field).
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.get(..32))
        .expect("a form with a CSRF token")
        .to_owned()
}
