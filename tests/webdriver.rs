//! A minimal W3C WebDriver client for Debian's chromium + chromium-driver: enough to open
//! pages, fill and submit forms, read the URL and page source, and take screenshots.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use sso_store::testing::spawn_reporting_port;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session driven through chromedriver. Both processes end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the WebDriver session first, so chromedriver closes Chromium: killing only
        // chromedriver would leave the browser running for the rest of the test run. A
        // plain blocking request, because `drop` cannot await (and runs on panics too).
        if let Some(addr) = self.base.strip_prefix("http://") {
            let _ = delete_session(addr, &self.session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `DELETE /session/{id}` over a std socket, waiting (at most 10 s) for the answer.
fn delete_session(addr: &str, session: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(())
}

fn find(cmds: &[&str]) -> Option<String> {
    cmds.iter()
        .find(|c| {
            Command::new("sh")
                .args(["-c", &format!("command -v {c}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|c| (*c).to_owned())
}

/// How many times [`start_driver`] starts chromedriver before it gives up.
const DRIVER_ATTEMPTS: usize = 5;

/// Starts chromedriver on a port of its own choosing and returns it with that port.
///
/// With `--port=0` chromedriver takes a free IPv6 port and then binds IPv4 to the same
/// number; when another process (a moto server, a test's HTTP server) already holds that
/// number on IPv4, it exits with "IPv4 port not available". That is a collision, not a broken
/// install, so it is retried with a new port (seen once in CI with many servers running);
/// any other failure panics with chromedriver's own words.
fn start_driver(driver_bin: &Path) -> (Child, u16) {
    let mut transcripts = Vec::new();
    for _ in 0..DRIVER_ATTEMPTS {
        let (mut driver, port, transcript) = spawn_reporting_port(
            Command::new(driver_bin)
                .arg("--port=0")
                .stderr(Stdio::null()),
            "started successfully on port ",
            Duration::from_secs(30),
        )
        .expect("start chromedriver");
        if let Some(port) = port {
            return (driver, port);
        }
        let _ = driver.kill();
        let _ = driver.wait();
        let text = transcript.text();
        let collided = text.contains("port not available");
        transcripts.push(text);
        if !collided {
            break;
        }
    }
    panic!(
        "chromedriver did not start:\n{}",
        transcripts.join("\n---\n")
    );
}

impl Browser {
    /// Starts chromedriver and a headless Chromium. Panics (failing the test) when they are
    /// missing: `scripts/setup` installs Debian's `chromium` and `chromium-driver`.
    pub async fn start() -> Self {
        let driver_bin = find(&["chromedriver"]).expect(
            "chromedriver is not installed (apt-get install chromium-driver; scripts/setup does)",
        );
        let chromium = find(&["chromium", "chromium-browser"])
            .expect("chromium is not installed (scripts/setup does)");
        let (driver, port) = start_driver(Path::new(&driver_bin));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("HTTP client");
        let profile =
            std::env::temp_dir().join(format!("sso-chromium-{}-{port}", std::process::id()));
        let bin = String::from_utf8(
            Command::new("sh")
                .args(["-c", &format!("command -v {chromium}")])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
            "binary": bin.trim(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1000,800",
                     format!("--user-data-dir={}", profile.display())]
        }}}});
        let resp: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {resp}"))
            .to_owned();
        Self {
            driver,
            base,
            session,
            http,
            profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "webdriver {path}: {v}");
        v["value"].clone()
    }

    /// A GET command whose value is a string (the URL, the page source).
    async fn text(&self, path: &str) -> String {
        let v = self.call(reqwest::Method::GET, path, None).await;
        v.as_str()
            .unwrap_or_else(|| panic!("webdriver {path}: not a string: {v}"))
            .to_owned()
    }

    /// Navigates and waits for the load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.text("/url").await
    }

    /// The current URL once it is `expected`, or whatever it is after 30 s: a click that
    /// submits a form may return before the navigation it starts has landed (a password
    /// check takes a while on a busy machine).
    pub async fn url_once(&self, expected: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let url = self.url().await;
            if url == expected || std::time::Instant::now() >= deadline {
                return url;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.text("/source").await
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    /// Types into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Saves a PNG screenshot under `test-artifacts/` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Writes an executable script at `path` so that it can be started at once.
    ///
    /// Writing it from this process and then executing it races with every other test thread
    /// that forks meanwhile: the child inherits the still-open write descriptor until it
    /// execs, and executing a file open for writing fails with "Text file busy" (ETXTBSY,
    /// seen in CI). So the text goes to a side file and `cp` (another process, gone when it
    /// returns) writes the executable: no descriptor of ours ever had it open for writing.
    fn write_executable(path: &Path, text: &str) {
        let source = path.with_extension("txt");
        std::fs::write(&source, text).unwrap();
        let copied = Command::new("cp").arg(&source).arg(path).status().unwrap();
        assert!(copied.success(), "cp {}", path.display());
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn a_script_written_while_other_threads_fork_starts() {
        let dir = scratch("busy");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let forkers: Vec<_> = (0..3)
            .map(|_| {
                let stop = std::sync::Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let _ = Command::new("true").status();
                    }
                })
            })
            .collect();
        let started = (0..400).map(|i| {
            let script = dir.join(format!("s{i}"));
            write_executable(&script, "#!/bin/sh\nexit 0\n");
            Command::new(&script).status().map(|s| s.success())
        });
        let failures: Vec<_> = started.filter(|r| !matches!(r, Ok(true))).collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for forker in forkers {
            forker.join().unwrap();
        }
        assert!(failures.is_empty(), "{failures:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A stand-in chromedriver that collides on its first `fails` starts, then starts.
    fn flaky_driver(dir: &Path, fails: usize) -> PathBuf {
        let script = dir.join("chromedriver");
        let count = dir.join("count");
        write_executable(
            &script,
            &format!(
                "#!/bin/sh\nn=$(cat {c} 2>/dev/null || echo 0)\necho $((n + 1)) > {c}\n\
                 if [ \"$n\" -lt {fails} ]; then echo 'IPv4 port not available. Exiting...'; exit 1; fi\n\
                 echo 'ChromeDriver was started successfully on port 45678.'\nexec sleep 30\n",
                c = count.display()
            ),
        );
        script
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sso-driver-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_port_collision_is_retried_with_a_new_port() {
        let dir = scratch("collide");
        let (mut driver, port) = start_driver(&flaky_driver(&dir, 2));
        let _ = driver.kill();
        let _ = driver.wait();
        assert_eq!(port, 45678);
        assert_eq!(
            std::fs::read_to_string(dir.join("count")).unwrap().trim(),
            "3"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_driver_that_keeps_colliding_fails_with_its_own_words() {
        let dir = scratch("always");
        let script = flaky_driver(&dir, 1000);
        let err = std::panic::catch_unwind(|| start_driver(&script)).unwrap_err();
        let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("IPv4 port not available"), "{text}");
        assert_eq!(
            std::fs::read_to_string(dir.join("count")).unwrap().trim(),
            DRIVER_ATTEMPTS.to_string()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
