//! Helpers shared by the black-box tests in `e2e/`: finding and running the real clients.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The folder of PHP client scripts that the tests run with php-cli.
pub fn php_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("php")
}

/// Runs `php <script>` with `stdin`, returning its standard output. Panics with instructions when
/// php-cli is missing: these tests are the proof that real PHP clients interoperate, so they
/// fail rather than skip (`scripts/setup` installs php-cli, php-xml and php-curl).
pub fn run_php(script: &str, stdin: &str) -> String {
    let path = php_dir().join(script);
    let mut child = Command::new("php")
        .arg(&path)
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
        "php {script} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("php printed UTF-8")
}
