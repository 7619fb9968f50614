//! "Durable and fast: group commit in the embedded store": the real `sso serve` under
//! concurrent signed-link logins, killed with SIGKILL mid-load. Every login it acknowledged
//! (a 302 with a session cookie) must have been durable: after a restart on the same data
//! directory the link is refused as used and the session still opens the home page.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sso_core::signed_link::{Scheme, VendorSecret, sign};

use super::{Server, launch, temp_dir};

/// `sso serve --demo` on `data`, which is kept as it is for the restart; killed on drop.
fn start(data: &Path) -> (Server, u16) {
    launch(
        Command::new(env!("CARGO_BIN_EXE_sso")),
        data.to_path_buf(),
        true,
        &[],
    )
}

/// A response's status, `Location` and the `name=value` of its first `Set-Cookie`.
#[derive(Debug)]
struct Reply {
    status: u16,
    location: String,
    cookie: Option<String>,
    body: String,
}

/// One HTTP/1.1 GET on a fresh connection; `None` if the server did not answer in full.
fn get(port: u16, path: &str, cookie: Option<&str>) -> Option<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: demoaws.localhost:{port}\r\n{cookie}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let (mut location, mut set_cookie) = (String::new(), None);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "location" => location = value.trim().to_owned(),
            "set-cookie" if set_cookie.is_none() => {
                set_cookie = value.trim().split(';').next().map(str::to_owned);
            }
            _ => {}
        }
    }
    Some(Reply {
        status,
        location,
        cookie: set_cookie,
        body: body.to_owned(),
    })
}

/// The signed link of the demo client 1234 at `timestamp` (vendor 1001, `vendorpass`).
fn link(timestamp: i64) -> String {
    let ts = timestamp.to_string();
    let token = sign(Scheme::Md5, "1234", &ts, &VendorSecret::new("vendorpass"));
    format!("/signin.php?clientID=1234&vendorid=1001&timestamp={ts}&token={token}")
}

#[test]
fn every_acknowledged_login_survives_a_kill_mid_load() {
    let data: PathBuf = temp_dir("group-commit-kill");
    let (first, port) = start(&data);
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    // Each link distinct: one second further back per login.
    let next = Arc::new(AtomicI64::new(now));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (next, stop, acknowledged) = (
                Arc::clone(&next),
                Arc::clone(&stop),
                Arc::clone(&acknowledged),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let path = link(next.fetch_sub(1, Ordering::Relaxed));
                    let Some(reply) = get(port, &path, None) else {
                        continue;
                    };
                    if reply.status == 302
                        && !reply.location.contains("errorID")
                        && let Some(cookie) = reply.cookie
                    {
                        acknowledged.lock().unwrap().push((path, cookie));
                    }
                }
            })
        })
        .collect();
    // Let the load build up, then pull the plug while requests are in flight.
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 50 && started.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    let log = first.log.text();
    drop(first);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 10,
        "only {} logins acknowledged before the kill:\n{log}",
        acknowledged.len()
    );

    eprintln!("{} logins acknowledged before the kill", acknowledged.len());
    let (second, port) = start(&data);
    // The logins since the last checkpoint were durable in the log only: the restart replays
    // them (the test would not see the log's part otherwise).
    let restart = second.log.text();
    assert!(
        restart.contains("store log replayed"),
        "the restart replays the log:\n{restart}"
    );
    for (path, cookie) in &acknowledged {
        let again = get(port, path, None).expect("the restarted server answers");
        assert!(
            again.status == 302 && again.location.contains("errorID=3"),
            "{path} was acknowledged before the kill, so it is used now: {again:?}\n{}",
            second.log.text()
        );
        let home = get(port, "/", Some(cookie)).expect("the restarted server answers");
        assert!(
            home.status == 200 && home.body.contains("Signed in as"),
            "the session of {path} survives the kill: {home:?}\n{}",
            second.log.text()
        );
    }
    drop(second);
    let _ = std::fs::remove_dir_all(&data);
}
