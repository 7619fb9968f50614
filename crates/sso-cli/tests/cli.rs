//! The `sso` binary as an operator and a partner use it: admin commands over the embedded
//! store with secrets on stdin, and the partner helpers against a running `sso serve`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use sso_store::testing::{Transcript, reported_port};

#[path = "cli/admin.rs"]
mod admin;
#[path = "cli/audit_trail.rs"]
mod audit_trail;
#[path = "cli/durability.rs"]
mod durability;
#[path = "cli/export.rs"]
mod export;
#[path = "cli/hardening.rs"]
mod hardening;
#[path = "cli/import_merge.rs"]
mod import_merge;
#[path = "cli/operations.rs"]
mod operations;
#[path = "cli/progress.rs"]
mod progress;

/// The loopback moto server of the DynamoDB tests. They drive `sso --store dynamodb`, which
/// a build without this crate's `dynamodb` feature refuses: say so instead of failing later.
fn moto_endpoint() -> &'static str {
    #[cfg(not(feature = "dynamodb"))]
    panic!(
        "the DynamoDB tests need `sso` built with DynamoDB: \
         cargo test -p sso-cli --features dynamodb (scripts/test does)"
    );
    #[cfg(feature = "dynamodb")]
    sso_store::testing::endpoint()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sso-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn sso(data: &PathBuf, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sso"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env("SSO_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// [`sso`] with the arguments written as the operator types them (split at spaces).
fn sso_words(data: &PathBuf, words: &str, stdin: &str) -> Output {
    sso(data, &words.split(' ').collect::<Vec<_>>(), stdin)
}

#[test]
fn an_operator_manages_the_directory_with_secrets_on_stdin() {
    let data = temp_dir("admin");
    let run = |words: &str, stdin: &str| ok(sso_words(&data, words, stdin));
    // A list shows the state asked about, and never the secret that was set.
    let shows_but_never_the_secret = |words: &str, shown: &str, secret: &str| {
        let out = run(words, "");
        assert!(out.contains(shown) && !out.contains(secret), "{out}");
    };
    run("tenant add acme --departments 1,2 --campaigns 1", "");
    assert!(run("tenant list", "").contains("\"name\":\"acme\""));
    run(
        "vendor add --tenant acme --id 9 --failure-url https://p.example/f",
        "s3cret\n",
    );
    run("vendor rotate-secret --tenant acme --id 9", "n3w\n");
    shows_but_never_the_secret("vendor list --tenant acme", "\"rotating\":true", "s3cret");
    run("vendor retire-secret --tenant acme --id 9", "");
    assert!(run("vendor list --tenant acme", "").contains("\"rotating\":false"));
    run("client add --tenant acme --id 1 --email c@example.com", "");
    run("client disable --tenant acme --id 1", "");
    assert!(run("client list --tenant acme", "").contains("\"enabled\":false"));
    run(
        "helpdesk-user add --tenant acme --username adm --id 1 --api-rights",
        "pw\n",
    );
    run(
        "helpdesk-user add-api-key --tenant acme --username adm",
        "key-1\n",
    );
    assert!(run("helpdesk-user list --tenant acme", "").contains("\"api_rights\":true"));
    run(
        "platform-key add --tenant acme --key-id k --partner p --allow 10.0.0.0/8 --allow ::1",
        "pk\n",
    );
    let bad = sso_words(
        &data,
        "platform-key add --tenant acme --key-id x --partner p --allow nope",
        "pk\n",
    );
    assert!(!bad.status.success());
    run("platform-key disable --tenant acme --key-id k", "");
    shows_but_never_the_secret(
        "platform-key list --tenant acme",
        "\"enabled\":false",
        "\"pk\"",
    );
    run("group add --id 7 --name Team", "");
    run("group link --id 7 --tenant acme --department 2", "");
    assert!(run("group list", "").contains("acme:2"));
    // The full name has a space: this one takes its arguments as a list.
    ok(sso(
        &data,
        &[
            "agent",
            "add",
            "--group",
            "7",
            "--username",
            "a1",
            "--fullname",
            "A One",
        ],
        "agentpw\n",
    ));
    run(
        "administrator add --email boss@example.com --group 7",
        "adminpw\n",
    );
    assert!(run("administrator list", "").contains("boss@example.com"));
    run("agent disable --group 7 --username a1", "");
    assert!(run("agent list --group 7", "").contains("\"enabled\":false"));
    // A missing secret on stdin is an error, not an empty password.
    let no_secret = sso_words(&data, "agent add --group 7 --username a2 --fullname A", "");
    assert!(!no_secret.status.success());
    let _ = std::fs::remove_dir_all(&data);
}

#[cfg(unix)]
#[test]
fn a_new_data_directory_is_private_to_the_operator() {
    use std::os::unix::fs::PermissionsExt;
    let parent = temp_dir("modes");
    let data = parent.join("new");
    let out = Command::new(env!("CARGO_BIN_EXE_sso"))
        .args(["tenant", "add", "acme", "--data"])
        .arg(&data)
        .env("SSO_LOG", "warn")
        .env_remove("SSO_SECRET_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &PathBuf| {
        format!(
            "{:o}",
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777
        )
    };
    assert_eq!(mode(&parent), "700", "directories made on the way");
    assert_eq!(mode(&data), "700", "the data directory");
    assert_eq!(mode(&data.join("sso.redb")), "600", "the store");
    assert_eq!(mode(&data.join("secret.key")), "600", "the generated key");
    let _ = std::fs::remove_dir_all(&parent);
}

/// A running `sso serve`, killed on drop; its log is kept for failure messages. Its data
/// directory is removed on drop unless `keep_data` (a restart test reads it again).
pub(crate) struct Server {
    child: Child,
    data: PathBuf,
    keep_data: bool,
    log: Transcript,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_data {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

/// Starts `sso serve --demo` on a port the server picks itself (port 0) and learns the port
/// from its "listening" log line. Picking a free port here and handing it over would race
/// with any other process taking it, and a connect probe could be answered by a stranger.
fn serve() -> (Server, u16) {
    serve_with("serve", &[])
}

/// [`serve`] with more flags, its data directory named after `name` (tests run in parallel).
fn serve_with(name: &str, flags: &[&str]) -> (Server, u16) {
    serve_command(name, Command::new(env!("CARGO_BIN_EXE_sso")), flags)
}

/// [`serve_with`] through a given command (e.g. `sh -c 'ulimit -n 64; exec "$0" "$@"' sso`):
/// `sso serve --demo …` and its flags are appended to it.
fn serve_command(name: &str, command: Command, flags: &[&str]) -> (Server, u16) {
    launch(command, temp_dir(name), false, flags)
}

/// `sso serve --demo …` and `flags` through `command`, on `data`.
fn launch(command: Command, data: PathBuf, keep_data: bool, flags: &[&str]) -> (Server, u16) {
    let mut args = vec![
        "serve",
        "--demo",
        "--single-tenant",
        "demoaws",
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(flags);
    start(command, data, keep_data, &args)
}

/// Runs `command <args> --data <a fresh directory named after name>` (a `sso serve`).
fn spawn_server(name: &str, command: Command, args: &[&str]) -> (Server, u16) {
    start(command, temp_dir(name), false, args)
}

/// The one way every test here starts a server: `command <args> --data <data>`, its port
/// learnt from its "listening" log line.
fn start(mut command: Command, data: PathBuf, keep_data: bool, args: &[&str]) -> (Server, u16) {
    let mut child = command
        .args(args)
        .arg("--data")
        .arg(&data)
        .env("SSO_LOG", "info")
        .env_remove("SSO_TRUSTED_PROXIES")
        .env_remove("SSO_METRICS_FROM")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (port, log) = reported_port(stderr, "\"listening\",\"port\":", Duration::from_secs(60));
    let server = Server {
        child,
        data,
        keep_data,
        log,
    };
    let port = port.unwrap_or_else(|| panic!("sso serve did not start:\n{}", server.log.text()));
    (server, port)
}

/// Runs `command` to its end: its standard output, then its standard error.
fn output_text(command: &mut Command) -> String {
    let out = command.output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// GET `url` with curl (no proxy: the server is on loopback); "<status> <redirect>", then
/// curl's own error if it had one.
fn curl_status(url: &str) -> String {
    output_text(Command::new("curl").args([
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        "30",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        url,
    ]))
}

#[test]
fn the_partner_helpers_work_against_a_running_server() {
    let (server, port) = serve();
    let base = format!("http://127.0.0.1:{port}");
    let data = &server.data;
    // The embedded store is held by the server: admin commands say so clearly.
    let locked = sso(data, &["tenant", "list"], "");
    assert!(!locked.status.success());
    assert!(String::from_utf8_lossy(&locked.stderr).contains("in use by another process"));

    let link = ok(sso(
        &temp_dir("link"),
        &[
            "link",
            "--base-url",
            &base,
            "--vendor",
            "1001",
            "--client-id",
            "1234",
        ],
        "vendorpass\n",
    ));
    assert!(link.trim().starts_with(&format!(
        "{base}/signin.php?clientID=1234&vendorid=1001&timestamp="
    )));
    assert_eq!(
        curl_status(link.trim()),
        format!("302 {base}/"),
        "server log:\n{}",
        server.log.text()
    );

    let hd = ok(sso(
        &temp_dir("hd"),
        &[
            "call",
            "helpdesk",
            "--base-url",
            &base,
            "--api-user",
            "admin",
            "--sso-user",
            "joe",
            "--sso-addr",
            "127.0.0.1",
        ],
        "test123\nacjoe123\n",
    ));
    assert!(
        hd.contains("\"result_code\":1") && hd.contains("\"token\""),
        "{hd}"
    );
    // DEMO.md's API key works instead of the admin's password.
    let by_key = ok(sso(
        &temp_dir("hdkey"),
        &[
            "call",
            "helpdesk",
            "--base-url",
            &base,
            "--api-key",
            "--sso-user",
            "joe",
            "--sso-addr",
            "127.0.0.1",
        ],
        "demo-api-key\nacjoe123\n",
    ));
    assert!(by_key.contains("\"result_code\":1"), "{by_key}");

    let cc = ok(sso(
        &temp_dir("cc"),
        &[
            "call",
            "callcenter",
            "--base-url",
            &base,
            "--username",
            "agent1",
            "--fullname",
            "Agent One",
            "--department",
            "1",
        ],
        "demo-platform-key\n",
    ));
    assert!(cc.contains("SSO_TOKEN_CREATED"), "{cc}");
}

/// Runs a partner helper; its exit code, stdout and stderr.
fn partner(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let out = sso(&temp_dir("partner"), args, stdin);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn partner_helpers_exit_non_zero_on_every_failure_and_say_why() {
    let (server, port) = serve_with("partner-failures", &[]);
    let local = format!("http://demoaws.localhost:{port}");
    let helpdesk = |base: &str, output: &str, extra: &[&str], stdin: &str| {
        let mut args = vec![
            "call",
            "helpdesk",
            "--base-url",
            base,
            "--api-user",
            "admin",
            "--sso-user",
            "joe",
            "--sso-addr",
            "127.0.0.1",
            "--output",
            output,
        ];
        args.extend_from_slice(extra);
        partner(&args, stdin)
    };
    // A *.localhost name goes to loopback without --resolve, and --open redeems the _ssot.
    let (code, out, err) = helpdesk(&local, "json", &["--open"], "test123\nacjoe123\n");
    assert_eq!(code, Some(0), "{out}{err}\n{}", server.log.text());
    assert!(
        err.contains("opened the link: HTTP 302, session set"),
        "{err}"
    );
    // result_code 0, in each output format: exit 3 and the protocol's message.
    for output in ["json", "xml", "serialize"] {
        let (code, _, err) = helpdesk(&local, output, &[], "test123\nwrong\n");
        assert_eq!(code, Some(3), "{output}: {err}");
        assert!(
            err.contains("result_code 0: Login failed."),
            "{output}: {err}"
        );
    }
    // --verbose shows the request, never the secrets.
    let (_, _, err) = helpdesk(&local, "json", &["--verbose"], "test123\nacjoe123\n");
    let digest = "cc03e747a6afbbcbf8be7668acfebee5"; // md5("test123")
    assert!(
        err.contains("> POST ") && err.contains("api_user=admin"),
        "{err}"
    );
    assert!(
        !err.contains(digest) && err.contains("api_pass_h=%28secret%29"),
        "{err}"
    );
    // --resolve, curl's meaning, for a name this machine cannot resolve.
    let partner_host = format!("http://sso.partner.invalid:{port}");
    let resolve = format!("sso.partner.invalid:{port}:127.0.0.1");
    let (code, _, err) = helpdesk(
        &partner_host,
        "json",
        &["--resolve", &resolve],
        "test123\nacjoe123\n",
    );
    // It reached the server, which serves no tenant on that host: api.php's own refusal.
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("result_code 0: Unknown account."), "{err}");
    // Without it: the DNS failure, its cause, and the hint.
    let (code, _, err) = helpdesk(&partner_host, "json", &[], "test123\nacjoe123\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("dns error") && err.contains("--resolve sso.partner.invalid"),
        "{err}"
    );
    // Nothing listening: connection refused, and what to check.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let (code, _, err) = helpdesk(&dead, "json", &[], "test123\nacjoe123\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("Connection refused") && err.contains("nothing listens"),
        "{err}"
    );
    // https:// to a plain-HTTP server: the TLS stack (ring, not aws-lc, in this build) runs
    // and says the handshake failed, with the cause and the hint.
    let tls = format!("https://demoaws.localhost:{port}");
    let (code, _, err) = helpdesk(&tls, "json", &[], "test123\nacjoe123\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("TLS handshake with demoaws.localhost") && err.contains("use http://"),
        "{err}"
    );

    // /sso/0: success 0 is exit 3 with code and descriptor.
    let callcenter = |key: &str| {
        partner(
            &[
                "call",
                "callcenter",
                "--base-url",
                &local,
                "--username",
                "agent1",
                "--fullname",
                "Agent One",
                "--department",
                "1",
                "--open",
            ],
            key,
        )
    };
    let (code, _, err) = callcenter("demo-platform-key\n");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("opened the link: HTTP 302, session set"),
        "{err}"
    );
    let (code, _, err) = callcenter("not-the-key\n");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("HTTP 401 INVALID_PLATFORM_KEY"), "{err}");

    // A signed link: opened, refused with its errorID, or an HTTP 404 page.
    let link = |base: &str, ts: &str| {
        partner(
            &[
                "link",
                "--base-url",
                base,
                "--vendor",
                "1001",
                "--client-id",
                "1234",
                "--open",
                "--timestamp",
                ts,
            ],
            "vendorpass\n",
        )
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let (code, _, err) = link(&local, &now);
    assert_eq!(code, Some(0), "{err}");
    let (code, url, err) = link(&local, "1600000000");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("errorID 3: "), "{err}");
    let (code, _, err) = link(&format!("http://nosuch.localhost:{port}"), &now);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("HTTP 404"), "{err}");

    // --check explains a link offline: the layout, both clocks, never the digest.
    let (code, report, err) = partner(&["link", "--check", url.trim()], "vendorpass\n");
    assert_eq!(code, Some(3), "{report}{err}");
    assert!(
        report.contains("<clientID><timestamp><password>"),
        "{report}"
    );
    assert!(report.contains("by Unix time") && report.contains("Central Standard Time"));
    assert!(err.contains("errorID 3"), "{err}");
    let (code, report, _) = partner(&["link", "--check", url.trim()], "wrongpass\n");
    assert_eq!(code, Some(3));
    assert!(report.contains("token: does not match"), "{report}");
}

#[test]
fn the_cli_follows_the_conventions_a_newcomer_expects() {
    // A mistyped command gets a suggestion.
    let typo = sso(&temp_dir("typo"), &["tenent", "list"], "");
    assert!(!typo.status.success());
    assert!(String::from_utf8_lossy(&typo.stderr).contains("'tenant'"));

    // --listen takes a host name; --demo prints where everything is and the demo sign-ins.
    let data = temp_dir("conventions");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sso"))
        .args(["serve", "--demo", "--listen", "localhost:0", "--data"])
        .arg(&data)
        .env("SSO_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (port, log) = reported_port(stderr, "\"listening\",\"port\":", Duration::from_secs(60));
    let port = port.unwrap_or_else(|| panic!("not started:\n{}", log.text()));
    let mut banner = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    while !banner.contains("administrator") {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut out, &mut line).unwrap() == 0 {
            break;
        }
        banner.push_str(&line);
    }
    assert!(
        banner.contains(&format!(
            "tenant demoaws      http://demoaws.localhost:{port}"
        )),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("http://my.localhost:{port}")),
        "{banner}"
    );
    assert!(
        banner.contains("Platform-Key demo-platform-key"),
        "{banner}"
    );

    // The bare address explains host routing (and is still the 404 of a host with no tenant).
    let bare = output_text(Command::new("curl").args([
        "-sS",
        "--noproxy",
        "*",
        "-w",
        "%{http_code}",
        &format!("http://127.0.0.1:{port}/"),
    ]));
    assert!(
        bare.contains("routes by host name") && bare.ends_with("404"),
        "{bare}"
    );

    // A taken address is named, with what to do.
    let taken = sso(
        &temp_dir("taken"),
        &["serve", "--listen", &format!("127.0.0.1:{port}")],
        "",
    );
    assert!(!taken.status.success());
    let err = String::from_utf8_lossy(&taken.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")) && err.contains("--listen"),
        "{err}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_vendor_in_test_mode_gets_refused_links_explained_and_live_vendors_need_force() {
    let data = temp_dir("test-mode");
    drop(launch(
        Command::new(env!("CARGO_BIN_EXE_sso")),
        data.clone(),
        true,
        &[],
    ));
    let switch = |args: &str| {
        sso_words(
            &data,
            &format!("test-mode --tenant demoaws --vendor 1001 {args}"),
            "",
        )
    };
    let on = ok(switch("on"));
    assert!(on.contains("test_mode false -> true"), "{on}");
    let nosuch = sso_words(&data, "test-mode --tenant demoaws --vendor 999 on", "");
    assert!(
        String::from_utf8_lossy(&nosuch.stderr).contains("tenant `demoaws` has no vendor `999`")
    );

    let (server, port) = launch(
        Command::new(env!("CARGO_BIN_EXE_sso")),
        data.clone(),
        true,
        &[],
    );
    let base = format!("http://127.0.0.1:{port}");
    let link = |ts: &str, pw: &str| {
        ok(sso(
            &temp_dir("test-mode-link"),
            &[
                "link",
                "--base-url",
                &base,
                "--vendor",
                "1001",
                "--client-id",
                "1234",
                "--timestamp",
                ts,
            ],
            &format!("{pw}\n"),
        ))
        .trim()
        .to_owned()
    };
    let curl_page = |url: &str| {
        output_text(Command::new("curl").args(["-sS", "--noproxy", "*", "-w", "%{http_code}", url]))
    };
    // A wrong password: the page names the check and the layout, never the right digest.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let page = curl_page(&link(&now, "not-the-password"));
    let right = link(&now, "vendorpass");
    let right_token = right.rsplit("token=").next().unwrap();
    assert!(page.ends_with("400"), "{page}");
    assert!(
        page.contains("Signed link refused (test mode)") && page.contains("token: does not match"),
        "{page}"
    );
    assert!(
        page.contains("&lt;clientID&gt;&lt;timestamp&gt;&lt;password&gt;"),
        "{page}"
    );
    assert!(
        !page.contains(right_token) && !page.contains("vendorpass"),
        "{page}"
    );
    // An old link: its age on both clocks.
    let stale = curl_page(&link("1600000000", "vendorpass"));
    assert!(
        stale.contains("by Unix time") && stale.contains("Central Standard Time"),
        "{stale}"
    );
    // A good link still signs in.
    assert!(
        curl_status(&right).starts_with("302 "),
        "{}",
        server.log.text()
    );
    drop(server);

    // Now the vendor has live traffic: turning test mode on needs --force.
    ok(switch("off"));
    let refused = switch("on");
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("has live traffic") && why.contains("--force"),
        "{why}"
    );
    assert!(ok(switch("on --force")).contains("false -> true"));
    // The tenant's scanner-safe links are a setting like any other (tests/e2e/scanner_safe.rs
    // checks what they do in a browser).
    sso_words(&data, "tenant update demoaws --scanner-safe-links true", "");
    let shown = ok(sso_words(&data, "tenant show demoaws", ""));
    assert!(shown.contains("\"scanner_safe_links\":true"), "{shown}");
    let _ = std::fs::remove_dir_all(&data);
}

/// The README's first command builds `sso` without the DynamoDB store (the AWS SDK is most
/// of a clean build): `--store dynamodb` then says how to get a build that has it, and
/// touches nothing. scripts/test runs this in a build of its own (`cargo test -p sso-cli`).
#[cfg(not(feature = "dynamodb"))]
#[test]
fn a_build_without_dynamodb_says_how_to_get_it() {
    let data = temp_dir("no-dynamodb");
    for words in [
        "tenant list --store dynamodb",
        "create-table",
        "serve --store dynamodb --listen 127.0.0.1:0",
    ] {
        let out = sso_words(&data, words, "");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{words}: {err}");
        assert!(
            err.contains("built without the DynamoDB store") && err.contains("--features dynamodb"),
            "{words}: {err}"
        );
    }
    assert!(!data.exists(), "nothing was created");
}
