//! Injected store faults through the real server: every protocol's scenario runs over
//! `sso_store::faults::Faulty` (a seeded schedule of calls refused, writes applied and then
//! reported failed, and calls stalled far past the store's call deadline) around the
//! in-memory store. Every answer is the protocol's own "temporarily unavailable" or a normal
//! answer, within a bounded time; afterwards, with the faults disarmed, the store is read back:
//! no link signs in twice and every session's link is recorded, no token is usable twice,
//! every audit event decodes and is listed the same way by tenant and by subject.
//!
//! Also: the DynamoDB-compatible server (moto) is killed in the middle of a scenario and
//! restarted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sso_cli::stores::{SharedBackend, StoreChoice};
use sso_core::signed_link::{Scheme, VendorSecret, sign};
use sso_store::faults::{Faulty, Schedule, Tally};
use sso_store::port::Audit;
use sso_tests::{TestApp, spawn_with};
use sso_web::Clock;

/// The store's call deadline in these tests: a stalled call (10 s) is cut off after it.
const DEADLINE: Duration = Duration::from_millis(200);
/// What any one answer may take, with every store call of it stalled to the deadline.
const ANSWER_BOUND: Duration = Duration::from_secs(4);

fn schedule(seed: u64) -> Schedule {
    Schedule {
        seed,
        fail_per_mille: 80,
        fail_after_per_mille: 80,
        stall_per_mille: 30,
        stall: Duration::from_secs(10),
    }
}

/// The real server over a faulty in-memory store (disarmed until the demo data is in).
async fn faulty_app(seed: u64) -> (TestApp, Arc<Faulty>) {
    let inner = Arc::new(sso_store::embedded::Embedded::in_memory().expect("memory store"));
    let faulty = Arc::new(Faulty::scheduled(inner, schedule(seed)).bounded_by(DEADLINE));
    faulty.set_armed(false);
    let app = spawn_with(StoreChoice::Backend(SharedBackend(faulty.clone())), true).await;
    faulty.set_armed(true);
    (app, faulty)
}

/// A timed request: its answer and how long it took, which must stay bounded.
async fn timed(req: reqwest::RequestBuilder) -> reqwest::Response {
    let started = Instant::now();
    let r = req.send().await.expect("an answer");
    let took = started.elapsed();
    assert!(took < ANSWER_BOUND, "an answer took {took:?}");
    r
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|l| l.to_str().expect("ASCII").to_owned())
        .unwrap_or_default()
}

/// Counts of what came back, for the figures.
#[derive(Debug, Default)]
struct Answers {
    ok: u32,
    unavailable: u32,
    refused: u32,
}

fn report(protocol: &str, tally: Tally, answers: &Answers) {
    #[allow(clippy::print_stdout)]
    {
        println!(
            "faults {protocol}: {} store calls, {} refused, {} failed after applying, {} stalled; \
             answers: {} ok, {} temporarily unavailable, {} refused",
            tally.calls,
            tally.failed_before,
            tally.failed_after,
            tally.stalled,
            answers.ok,
            answers.unavailable,
            answers.refused
        );
    }
}

/// Every audit event of `tenant` decodes, and those of `subject` are listed the same by
/// tenant and by subject (an event written halfway would be in one list only).
async fn audit_is_whole(app: &TestApp, tenant: &str, subject: &str) {
    let all = |subject: Option<&'static str>| {
        let store = app.store.clone();
        let tenant = tenant.to_owned();
        async move {
            let mut events = Vec::new();
            let mut cursor = None;
            loop {
                let page = store
                    .list(&tenant, subject, 0, i64::MAX, 100, cursor.as_deref())
                    .await
                    .expect("the audit trail reads back");
                events.extend(page.events);
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => return events,
                }
            }
        }
    };
    let subject: &'static str = Box::leak(subject.to_owned().into_boxed_str());
    let by_tenant: Vec<_> = all(None)
        .await
        .into_iter()
        .filter(|e| e.subject == subject)
        .collect();
    let by_subject = all(Some(subject)).await;
    assert!(!by_tenant.is_empty(), "audit events of {subject} are there");
    assert_eq!(by_tenant, by_subject, "the audit views of {subject} agree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_links_under_store_faults_sign_in_at_most_once_and_every_session_is_recorded() {
    let (app, faulty) = faulty_app(14_001).await;
    let now = app.clock.now();
    let links: Vec<String> = (0..60)
        .map(|i| {
            let ts = (now - i).to_string();
            let token = sign(Scheme::Md5, "1234", &ts, &VendorSecret::new("vendorpass"));
            app.url(
                "demoaws",
                &format!("/signin.php?clientID=1234&vendorid=1001&timestamp={ts}&token={token}"),
            )
        })
        .collect();
    let mut answers = Answers::default();
    let mut signed_in = vec![0u32; links.len()];
    let mut sessions = Vec::new();
    // GIVEN a store failing on a seeded schedule, WHEN each link is opened twice by a fresh
    // browser, THEN each answer is a sign-in, the 503 page, or errorID 3 (used).
    for (i, link) in links.iter().enumerate() {
        for _ in 0..2 {
            let browser = app.client();
            let r = timed(browser.get(link)).await;
            let loc = location(&r);
            match r.status() {
                StatusCode::FOUND if loc == "/" => {
                    answers.ok += 1;
                    signed_in[i] += 1;
                    sessions.push(browser);
                }
                StatusCode::FOUND if loc == "/login?errorID=3" => answers.refused += 1,
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(r.text().await.unwrap().contains("unavailable"));
                    answers.unavailable += 1;
                }
                s => panic!("link {i}: {s} to {loc:?}"),
            }
        }
    }
    report("signed link", faulty.tally(), &answers);
    assert!(answers.unavailable > 0 && answers.ok > 0, "{answers:?}");
    faulty.set_armed(false);
    // AFTERWARDS every link is recorded as used (whether or not its answer got through) or
    // still signs in exactly once; none signs in twice.
    for (i, link) in links.iter().enumerate() {
        let r = app.client().get(link).send().await.unwrap();
        let loc = location(&r);
        if loc == "/" {
            signed_in[i] += 1;
        } else {
            assert_eq!(loc, "/login?errorID=3", "link {i}");
        }
        assert!(
            signed_in[i] <= 1,
            "link {i} signed in {} times",
            signed_in[i]
        );
    }
    // Every session that was handed out is readable.
    for browser in &sessions {
        let home = browser.get(app.url("demoaws", "/")).send().await.unwrap();
        assert!(home.text().await.unwrap().contains("id=\"subject\">1234<"));
    }
    audit_is_whole(&app, "demoaws", "1234").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_desk_tokens_under_store_faults_are_redeemed_at_most_once() {
    let (app, faulty) = faulty_app(14_002).await;
    let admin = sso_core::helpdesk::password_digest("test123");
    let joe = sso_core::helpdesk::password_digest("acjoe123");
    let mut answers = Answers::default();
    let mut tokens = Vec::new();
    for i in 0..40 {
        let (action, addr) = if i % 4 == 3 {
            ("singlesignon_sameserver", "127.0.0.1")
        } else {
            // A distinct visitor address per mint: minting again for the same address
            // replaces the previous token, which would hide a second redemption.
            ("singlesignon", "127.0.0.1")
        };
        let url = app.url(
            "demoaws",
            &format!(
                "/api.php?api_user=admin&api_pass_h={admin}&api_output=json&api_action={action}\
                 &sso_addr={addr}&sso_user=joe&sso_pass={joe}&sso_duration=30"
            ),
        );
        let r = timed(app.client().get(&url)).await;
        assert_eq!(r.status(), StatusCode::OK, "api.php always answers 200");
        let v: Value = r.json().await.unwrap();
        match v["result_code"].as_i64() {
            Some(1) => {
                answers.ok += 1;
                if let Some(t) = v["token"].as_str() {
                    tokens.push(t.to_owned());
                }
            }
            Some(0) => {
                assert_eq!(
                    v["result_message"],
                    sso_core::helpdesk::MSG_UNAVAILABLE,
                    "{v}"
                );
                answers.unavailable += 1;
            }
            _ => panic!("{v}"),
        }
        // Each minted token is redeemed twice while the faults go on.
        if let Some(t) = tokens.last().cloned().filter(|_| v["token"].is_string()) {
            let mut ok = 0;
            for _ in 0..2 {
                let r = timed(
                    app.client()
                        .get(app.url("demoaws", &format!("/admin/main.php?_ssot={t}"))),
                )
                .await;
                match (r.status(), location(&r).as_str()) {
                    (StatusCode::FOUND, "/admin/main.php") => ok += 1,
                    (StatusCode::FOUND, l) if l.starts_with("/admin/login") => {}
                    (StatusCode::SERVICE_UNAVAILABLE, _) => answers.unavailable += 1,
                    (s, l) => panic!("redeem: {s} {l}"),
                }
            }
            assert!(ok <= 1, "a token was redeemed twice");
            if ok == 1 {
                // Used up: after the faults it must still be refused.
                tokens.push(format!("used:{t}"));
            }
        }
    }
    report("help desk", faulty.tally(), &answers);
    assert!(answers.unavailable > 0 && answers.ok > 0, "{answers:?}");
    faulty.set_armed(false);
    for t in tokens.iter().filter_map(|t| t.strip_prefix("used:")) {
        let r = app
            .get_fresh("demoaws", &format!("/admin/main.php?_ssot={t}"))
            .await;
        assert_ne!(location(&r), "/admin/main.php", "a used token works again");
    }
    audit_is_whole(&app, "demoaws", "joe").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_center_and_portal_under_store_faults_answer_unavailable_or_work_and_tokens_work_once()
{
    let (app, faulty) = faulty_app(14_003).await;
    let mut answers = Answers::default();
    let mut urls = Vec::new();
    for i in 0..40 {
        app.clock.advance(1);
        let r = timed(
            app.client()
                .post(app.url("demoaws", "/sso/0"))
                .header("content-type", "application/json")
                .header("platform-key", "demo-platform-key")
                .body(format!(
                    r#"{{"username":"agent{i}","fullname":"Agent","department_id":1}}"#
                )),
        )
        .await;
        let status = r.status();
        let v: Value = r.json().await.expect("/sso/0 answers JSON");
        match (status.as_u16(), v["descriptor"].as_str()) {
            (200, Some("SSO_TOKEN_CREATED")) => {
                answers.ok += 1;
                urls.push(v["url"].as_str().unwrap().to_owned());
            }
            (503, Some("UNAVAILABLE")) => answers.unavailable += 1,
            _ => panic!("{status} {v}"),
        }
    }
    // Portal: sign in (retrying while the store fails), then pop into both platforms.
    let agent = app.client();
    let portal = |p: &str| app.url("my", p);
    let mut signed_in = false;
    for _ in 0..20 {
        let page = timed(agent.get(portal("/login/21"))).await;
        if page.status() != StatusCode::OK {
            answers.unavailable += 1;
            continue;
        }
        let csrf = sso_tests::csrf_of(&page.text().await.unwrap());
        let r = timed(
            agent
                .post(portal("/login/21"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("user=agent1&password=agentpass&csrf={csrf}")),
        )
        .await;
        // Signed in: to the portal home (no pop was pending).
        if r.status() == StatusCode::FOUND && location(&r) == "/" {
            signed_in = true;
            break;
        }
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        answers.unavailable += 1;
    }
    assert!(signed_in, "the agent signs in within 20 tries");
    for i in 0..30 {
        let tenant = if i % 2 == 0 { "demoaws" } else { "sandboxdemo" };
        let r = timed(agent.get(portal(&format!(
            "/pop?group_id=21&client_subdomain={tenant}"
        ))))
        .await;
        let loc = location(&r);
        match r.status() {
            StatusCode::FOUND if loc.contains("/sso/login?token=") => {
                answers.ok += 1;
                urls.push(loc);
            }
            StatusCode::SERVICE_UNAVAILABLE => answers.unavailable += 1,
            s => panic!("pop: {s} {loc}"),
        }
    }
    let mut redeemed = vec![0u32; urls.len()];
    for (i, url) in urls.iter().enumerate() {
        for _ in 0..2 {
            let r = timed(app.client().get(url)).await;
            match (r.status(), location(&r).as_str()) {
                (StatusCode::FOUND, "/") => redeemed[i] += 1,
                (StatusCode::SERVICE_UNAVAILABLE, _) => answers.unavailable += 1,
                (s, l) if s.is_client_error() || l.contains("login") => answers.refused += 1,
                (s, l) => panic!("/sso/login: {s} {l}"),
            }
        }
    }
    report("call center + portal", faulty.tally(), &answers);
    assert!(answers.unavailable > 0 && answers.ok > 0, "{answers:?}");
    faulty.set_armed(false);
    for (i, url) in urls.iter().enumerate() {
        let r = app.client().get(url).send().await.unwrap();
        redeemed[i] += u32::from(location(&r) == "/");
        assert!(redeemed[i] <= 1, "token {i} used {} times", redeemed[i]);
    }
    audit_is_whole(&app, "demoaws", "agent1").await;
}

/// A moto server of this test's own, on a fixed port, that the test can kill and restart.
struct Moto {
    port: u16,
    child: std::process::Child,
}

impl Moto {
    fn start(port: u16) -> Self {
        // Reaped in `kill` and `Drop`.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new(sso_store::testing::python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto starts (scripts/setup installs it)");
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { port, child };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto did not listen on {port} within 60 s");
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        self.child.kill().expect("kill moto");
        self.child.wait().expect("reap moto");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request of each protocol; `true` when all three were served normally, `false` when
/// all three answered their own "temporarily unavailable" (anything else fails the test).
async fn each_protocol_once(app: &TestApp, n: i64) -> bool {
    let browser = app.client();
    let ts = (app.clock.now() - 100 * n).to_string();
    let token = sign(Scheme::Md5, "1234", &ts, &VendorSecret::new("vendorpass"));
    let link = app.url(
        "demoaws",
        &format!("/signin.php?clientID=1234&vendorid=1001&timestamp={ts}&token={token}"),
    );
    let r = timed(browser.get(&link)).await;
    let link_ok = match (r.status(), location(&r).as_str()) {
        (StatusCode::FOUND, "/") => true,
        (StatusCode::SERVICE_UNAVAILABLE, _) => false,
        (s, l) => panic!("signin.php: {s} {l}"),
    };
    let (admin, joe) = (
        sso_core::helpdesk::password_digest("test123"),
        sso_core::helpdesk::password_digest("acjoe123"),
    );
    let r = timed(browser.get(app.url(
        "demoaws",
        &format!(
            "/api.php?api_user=admin&api_pass_h={admin}&api_output=json&api_action=singlesignon\
             &sso_addr=127.0.0.1&sso_user=joe&sso_pass={joe}&sso_duration=30"
        ),
    )))
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let api_ok = match v["result_code"].as_i64() {
        Some(1) => true,
        Some(0) if v["result_message"] == sso_core::helpdesk::MSG_UNAVAILABLE => false,
        _ => panic!("api.php: {v}"),
    };
    app.clock.advance(1);
    let r = timed(
        browser
            .post(app.url("demoaws", "/sso/0"))
            .header("content-type", "application/json")
            .header("platform-key", "demo-platform-key")
            .body(r#"{"username":"agent1","fullname":"Agent One","department_id":1}"#),
    )
    .await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    let cc_ok = match (status.as_u16(), v["descriptor"].as_str()) {
        (200, Some("SSO_TOKEN_CREATED")) => true,
        (503, Some("UNAVAILABLE")) => false,
        _ => panic!("/sso/0: {status} {v}"),
    };
    assert!(
        link_ok == api_ok && api_ok == cc_ok,
        "all up or all down: {link_ok} {api_ok} {cc_ok}"
    );
    link_ok
}

async fn create_table_and_demo(endpoint: &str, table: &str) {
    let dynamo = sso_store::dynamo::Dynamo::local(endpoint, table);
    dynamo.create_table().await.expect("create the table");
    let store = sso_store::Store::new(
        Arc::new(dynamo),
        sso_store::SecretBox::from_hex(&"00".repeat(32)).expect("key"),
    );
    store
        .import("demo.toml", sso_cli::DEMO_DIRECTORY)
        .await
        .expect("the demo directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_moto_mid_scenario_gives_unavailable_answers_and_normal_ones_once_it_is_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut moto = Moto::start(port);
    let table = format!("kill-{}", std::process::id());
    create_table_and_demo(&moto.endpoint(), &table).await;
    let app = spawn_with(
        StoreChoice::Dynamo(sso_store::dynamo::DynamoConfig {
            table: table.clone(),
            endpoint_url: Some(moto.endpoint()),
            region: None,
        }),
        false,
    )
    .await;
    // GIVEN a scenario under way on moto,
    for n in 0..3 {
        assert!(each_protocol_once(&app, n).await, "normal before the kill");
    }
    // WHEN moto is killed, THEN every protocol says "temporarily unavailable", at once.
    moto.kill();
    for n in 10..13 {
        assert!(!each_protocol_once(&app, n).await, "unavailable while down");
    }
    // WHEN it is back (moto keeps its tables in memory: the restarted one is empty, so the
    // table and directory are restored as an operator would), THEN answers are normal again
    // right away.
    let moto = Moto::start(port);
    create_table_and_demo(&moto.endpoint(), &table).await;
    app.platform.directory_changed();
    for n in 20..23 {
        assert!(
            each_protocol_once(&app, n).await,
            "normal after the restart"
        );
    }
}
