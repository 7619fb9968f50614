//! The `sso` binary as an operator and a partner use it: admin commands over the embedded
//! store with secrets on stdin, and the partner helpers against a running `sso serve`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use sso_store::testing::{Transcript, reported_port};

#[path = "cli/admin.rs"]
mod admin;
#[path = "cli/durability.rs"]
mod durability;
#[path = "cli/hardening.rs"]
mod hardening;
#[path = "cli/operations.rs"]
mod operations;

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
