//! Request fuzzing through the real router, in process, over the embedded in-memory store
//! with the demo directory: every route, every kind of host, the real parameter names with
//! hostile values, JSON bodies for `/sso/0`, cookies (harvested, forged, another tenant's),
//! and the headers that steer parsing. Valid signed links, API calls and `/sso/0` bodies are
//! mixed in, and every token, cookie and CSRF value the server hands out is harvested and
//! replayed later, so the deep paths (`_ssot` and `/sso/login` redemption, pages with a
//! session, logouts, portal pops) are reached.
//!
//! Every answer is checked ([`check`]): no panic, no 5xx but the documented 503, the answer in
//! the endpoint's own format, no secret echoed, every `Location` on the request's own origin
//! (or, from the portal, a tenant's) or a registered partner URL.
//!
//! Short mode (the default, part of the test suite): [`SHORT_CASES`] cases. Long mode:
//! `SSO_FUZZ_CASES=1000000 cargo test -p sso-tests --test e2e fuzz -- --nocapture`;
//! `SSO_FUZZ_SEED=N` replays a run. Both print the count, the seed and the time.

use std::sync::Mutex;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use sso_core::signed_link::{Scheme, VendorSecret, sign};

/// Cases in the short mode.
const SHORT_CASES: u64 = 3000;

/// Every secret of the demo directory and its digests: none may ever appear in an answer.
const DEMO_SECRETS: [&str; 12] = [
    "vendorpass",
    "vendorpass2",
    "test123",
    "cc03e747a6afbbcbf8be7668acfebee5", // md5("test123")
    "acjoe123",
    "demo-api-key",
    "demo-platform-key",
    "agentpass",
    "adminpass",
    "clientpass",
    "ownerpass",
    "0707070707070707070707070707070707070707070707070707070707070707",
];

/// Parameter names the endpoints read (and a few they do not), beside `api.php`'s own
/// ([`sso_activecampaign::params::NAMES`]).
const PARAMS: &[&str] = &[
    "email",
    "clientID",
    "vendorid",
    "timestamp",
    "token",
    "_ssot",
    "group_id",
    "client_subdomain",
    "csrf",
    "user",
    "password",
    "errorID",
    "username",
    "fullname",
    "department_id",
    "campaign_id",
];

const PATHS: &[&str] = &[
    "/signin.php",
    "/logout.php",
    "/login",
    "/api.php",
    "/admin/api.php",
    "/admin/main.php",
    "/admin/login",
    "/admin/logout",
    "/sso/0",
    "/sso/login",
    "/",
    "/healthz",
    "/pop",
    "/login/21",
    "/login/22",
    "/login/abc",
    "/logout",
    "/groups/21",
    "/groups/21/agents",
    "/groups/21/links",
    "/groups/21/agents/agent1",
    "/groups/99999999999999999999",
    "/nope",
    "/signin.php/",
    "//signin.php",
    "/%73ignin.php",
    "/admin",
    "/sso",
    "/sso/0/",
];

const HOSTS: &[&str] = &[
    "demoaws.localhost",
    "sandboxdemo.localhost",
    "my.localhost",
    "www.localhost",
    "api.localhost",
    "admin.localhost",
    "nosuchtenant.localhost",
    "evil.example",
    "DEMOAWS.LOCALHOST.",
    "demoaws.localhost:8080",
    "demoaws.localhost:99999",
    "demoaws..localhost",
    "localhost",
    ".localhost",
    "demoaws.localhost.evil.example",
    "demo aws.localhost",
    "[::1]",
    "127.0.0.1",
    "d\u{e9}moaws.localhost",
    "",
];

/// Hostile values, as raw query/body text (percent tricks stay as written).
const HOSTILE: &[&str] = &[
    "",
    " ",
    "%20",
    "+",
    "%2B",
    "%",
    "%2",
    "%%",
    "%zz",
    "%00",
    "a%00b",
    "%ff%fe",
    "%c3%28",
    "%e2%82",
    "0",
    "-0",
    "+1700000000",
    "-1",
    " 1700000000",
    "1700000000 ",
    "01700000000",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1e3",
    "0x10",
    "1.5",
    "NaN",
    "%09",
    "%0d%0a",
    "\u{e9}",
    "%e9",
    "../../etc/passwd",
    "http://evil.example/",
    "//evil.example",
    "https:%2F%2Fevil.example",
    "<script>alert(1)</script>",
    "'\"",
    "null",
    "[]",
    "{}",
    "::ffff:127.0.0.1",
    "::1",
    "127.0.0.1",
    "999.1.1.1",
    "1441",
    "1440",
    "60",
    "30",
    "singlesignon",
    "singlesignon_sameserver",
    "json",
    "xml",
    "serialize",
    "JSON",
    "1001",
    "1002",
    "1234",
    "5678",
    "client@example.com",
    "dup@example.com",
    "CLIENT@example.com",
    "admin",
    "joe",
    "owner",
    "agent1",
    "21",
    "demoaws",
    "sandboxdemo",
    "my",
    "00000000000000000000000000000000",
    "ffffffffffffffffffffffffffffffff",
];

/// One generated request, before it is bound to the server's clock and harvest.
#[derive(Debug, Clone)]
struct Spec {
    method: &'static str,
    host: Option<&'static str>,
    path: &'static str,
    query: Vec<(Name, Value)>,
    body: BodySpec,
    content_type: Option<&'static str>,
    content_length: Option<&'static str>,
    cookies: Vec<CookieSpec>,
    forwarded_for: Option<&'static str>,
    peer: Option<&'static str>,
    platform_key: Option<&'static str>,
    valid: Option<Valid>,
}

#[derive(Debug, Clone)]
enum Name {
    Known(&'static str),
    Odd(String),
}

#[derive(Debug, Clone)]
enum Value {
    Hostile(&'static str),
    Huge(usize),
    Random(Vec<u8>),
    /// A value the server handed out earlier (token, cookie half, CSRF), by index.
    Harvested(usize),
}

#[derive(Debug, Clone)]
enum BodySpec {
    None,
    Form(Vec<(Name, Value)>),
    Json(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
enum CookieSpec {
    Harvested(usize),
    Forged(&'static str, Value),
}

/// A request that passes its protocol's checks, so the success paths are reached.
#[derive(Debug, Clone)]
enum Valid {
    Link {
        email: bool,
        vendor2: bool,
        age: i64,
        upper: bool,
    },
    Helpdesk {
        same_server: bool,
        output: &'static str,
        key: bool,
    },
    CallCenter {
        campaigns: bool,
    },
    Redeem(usize),
    /// A sign-in form with a CSRF pair harvested from a form page and the right password.
    SignIn(usize),
}

fn name() -> impl Strategy<Value = Name> {
    prop_oneof![
        9 => prop::sample::select(
            PARAMS
                .iter()
                .chain(&sso_activecampaign::params::NAMES)
                .copied()
                .collect::<Vec<_>>()
        )
        .prop_map(Name::Known),
        1 => "[a-zA-Z_%\\[\\]]{0,12}".prop_map(Name::Odd),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => prop::sample::select(HOSTILE).prop_map(Value::Hostile),
        1 => prop_oneof![Just(1025usize), Just(2000), Just(20_000), Just(70_000)].prop_map(Value::Huge),
        2 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Random),
        3 => (0usize..1000).prop_map(Value::Harvested),
    ]
}

fn pairs() -> impl Strategy<Value = Vec<(Name, Value)>> {
    prop::collection::vec((name(), value()), 0..10)
}

/// JSON for `/sso/0`: the real fields with values of every type, duplicated keys, nesting.
fn json_body() -> impl Strategy<Value = String> {
    let field = prop::sample::select(
        &[
            "username",
            "fullname",
            "department_id",
            "campaign_id",
            "email",
            "call_center_did",
            "customer_cid",
            "extra",
        ][..],
    );
    let scalar = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("1".to_owned()),
        Just("2".to_owned()),
        Just("-1".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1.5".to_owned()),
        Just("1e400".to_owned()),
        Just("\"1\"".to_owned()),
        Just("\"1,2\"".to_owned()),
        Just("\"1,,2\"".to_owned()),
        Just("\" \"".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"agent1\"".to_owned()),
        Just("\"\\u0000\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("[1,2]".to_owned()),
        Just("{\"a\":1}".to_owned()),
        "\"[ -~]{0,30}\"".prop_map(|s| s.replace('\\', "")),
        (1usize..3000).prop_map(|n| format!("\"{}\"", "x".repeat(n))),
        (1usize..200).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n))),
    ];
    prop_oneof![
        8 => prop::collection::vec((field, scalar), 0..9).prop_map(|fields| {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", body.join(","))
        }),
        1 => Just("{\"username\":\"agent1\",\"username\":\"x\",\"fullname\":\"A\",\"department_id\":1}".to_owned()),
        1 => (1usize..5000).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        1 => "[ -~]{0,60}",
        1 => Just("{\"username\":\"agent1\",\"fullname\":\"A\",\"department_id\":1".to_owned()),
    ]
}

fn body() -> impl Strategy<Value = BodySpec> {
    prop_oneof![
        4 => Just(BodySpec::None),
        4 => pairs().prop_map(BodySpec::Form),
        3 => json_body().prop_map(BodySpec::Json),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(BodySpec::Bytes),
        1 => (16_000usize..17_000).prop_map(|n| BodySpec::Bytes(vec![b'a'; n])),
    ]
}

fn valid() -> impl Strategy<Value = Option<Valid>> {
    prop_oneof![
        5 => Just(None),
        1 => (any::<bool>(), any::<bool>(), prop_oneof![Just(0i64), Just(1), Just(35_999), Just(36_000 + 21_600), Just(-30_000)], any::<bool>())
            .prop_map(|(email, vendor2, age, upper)| Some(Valid::Link { email, vendor2, age, upper })),
        1 => (any::<bool>(), prop::sample::select(&["json", "xml", "serialize"][..]), any::<bool>())
            .prop_map(|(same_server, output, key)| Some(Valid::Helpdesk { same_server, output, key })),
        1 => any::<bool>().prop_map(|campaigns| Some(Valid::CallCenter { campaigns })),
        2 => (0usize..1000).prop_map(|i| Some(Valid::Redeem(i))),
        1 => (0usize..1000).prop_map(|i| Some(Valid::SignIn(i))),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let head = (
        prop::sample::select(
            &[
                "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH",
                "CONNECT",
            ][..],
        ),
        prop_oneof![9 => prop::sample::select(HOSTS).prop_map(Some), 1 => Just(None)],
        prop::sample::select(PATHS),
        pairs(),
        body(),
    );
    let headers = (
        prop::option::of(prop::sample::select(
            &[
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=utf-8",
                "application/json",
                "application/json; charset=utf-8",
                "APPLICATION/JSON",
                "text/plain",
                "multipart/form-data; boundary=x",
                "application/jsonp",
                "",
                ";",
            ][..],
        )),
        prop::option::of(prop::sample::select(
            &["0", "1", "16385", "99999999999", "abc", "-1"][..],
        )),
        prop::collection::vec(
            prop_oneof![
                (0usize..1000).prop_map(CookieSpec::Harvested),
                (
                    prop::sample::select(
                        &["sso", "csrf", "__Host-sso", "__Host-csrf", "portal", "x"][..]
                    ),
                    value()
                )
                    .prop_map(|(n, v)| CookieSpec::Forged(n, v)),
            ],
            0..3,
        ),
        prop::option::of(prop::sample::select(
            &[
                "203.0.113.7",
                "127.0.0.1",
                "::1",
                "garbage",
                "127.0.0.1, 203.0.113.7",
                "",
                "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5",
                "[::1]:80",
                "unknown",
            ][..],
        )),
        prop::option::of(prop::sample::select(
            &["127.0.0.1", "::1", "203.0.113.9", "::ffff:127.0.0.1"][..],
        )),
        prop::option::of(prop::sample::select(
            &["demo-platform-key", "wrong", "", "demo-platform-key "][..],
        )),
        valid(),
    );
    (head, headers).prop_map(
        |(
            (method, host, path, query, body),
            (content_type, content_length, cookies, forwarded_for, peer, platform_key, valid),
        )| Spec {
            method,
            host,
            path,
            query,
            body,
            content_type,
            content_length,
            cookies,
            forwarded_for,
            peer,
            platform_key,
            valid,
        },
    )
}

/// Values the server handed out, for later requests: tokens, cookie pairs, CSRF values.
#[derive(Default)]
struct Harvest {
    values: Vec<String>,
    cookies: Vec<String>,
    /// (path, CSRF cookie pair, CSRF field) of each form page seen.
    forms: Vec<(String, String, String)>,
    /// Session cookie pairs set by a successful sign-in.
    sessions: Vec<String>,
}

impl Harvest {
    fn value(&self, i: usize) -> String {
        if self.values.is_empty() {
            return String::new();
        }
        self.values[i % self.values.len()].clone()
    }

    fn cookie(&self, i: usize) -> Option<String> {
        (!self.cookies.is_empty()).then(|| self.cookies[i % self.cookies.len()].clone())
    }

    fn keep(&mut self, v: String) {
        if self.values.len() >= 1000 {
            self.values.swap_remove(v.len() % 1000);
        }
        self.values.push(v);
    }

    fn session(&self, i: usize) -> Option<String> {
        (!self.sessions.is_empty()).then(|| self.sessions[i % self.sessions.len()].clone())
    }

    fn keep_bounded<T>(list: &mut Vec<T>, v: T, at: usize) {
        if list.len() >= 200 {
            list.swap_remove(at % 200);
        }
        list.push(v);
    }

    fn keep_cookie(&mut self, c: String) {
        if self.cookies.len() >= 1000 {
            self.cookies.swap_remove(c.len() % 1000);
        }
        self.cookies.push(c);
    }
}

fn md5_hex(s: &str) -> String {
    sso_core::helpdesk::password_digest(s)
}

fn render(v: &Value, harvest: &Harvest) -> Vec<u8> {
    match v {
        Value::Hostile(s) => s.as_bytes().to_vec(),
        Value::Huge(n) => vec![b'7'; *n],
        Value::Random(b) => b.clone(),
        Value::Harvested(i) => harvest.value(*i).into_bytes(),
    }
}

/// `name=value&…` with bytes outside the URI set percent-encoded (a `%` stays as written,
/// so percent tricks reach the parser).
fn encode_pairs(pairs: &[(Name, Value)], harvest: &Harvest) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        let n = match n {
            Name::Known(s) => s.as_bytes().to_vec(),
            Name::Odd(s) => s.as_bytes().to_vec(),
        };
        for part in [n, b"=".to_vec(), render(v, harvest)].iter().flatten() {
            out.push(*part);
        }
    }
    out
}

fn uri_safe(raw: &[u8]) -> String {
    let mut s = String::new();
    for &b in raw {
        if b.is_ascii_alphanumeric() || b"-._~!$'()*+,;=:@/?%&".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The server's secrets of this run (demo directory, digests) and those a request carried.
struct Secrets(Vec<String>);

impl Secrets {
    fn demo() -> Self {
        let mut v: Vec<String> = DEMO_SECRETS.iter().map(|s| (*s).to_owned()).collect();
        for pw in [
            "acjoe123",
            "ownerpass",
            "vendorpass",
            "vendorpass2",
            "demo-api-key",
        ] {
            v.push(md5_hex(pw));
        }
        Self(v)
    }
}

/// Binds a spec to the clock and the harvest: the request, and the secrets it carries.
fn build(spec: &Spec, now: i64, harvest: &Harvest) -> (Request<Body>, Vec<String>) {
    let mut carried = Vec::new();
    let mut path = spec.path.to_owned();
    let mut query = encode_pairs(&spec.query, harvest);
    let mut body: Vec<u8> = match &spec.body {
        BodySpec::None => Vec::new(),
        BodySpec::Form(p) => encode_pairs(p, harvest),
        BodySpec::Json(j) => j.clone().into_bytes(),
        BodySpec::Bytes(b) => b.clone(),
    };
    let mut method = spec.method;
    let mut host = spec.host;
    let mut content_type = spec.content_type;
    let mut platform_key = spec.platform_key;
    let mut peer = spec.peer;
    let mut session: Option<String> = None;
    match &spec.valid {
        None => {}
        Some(Valid::Link {
            email,
            vendor2,
            age,
            upper,
        }) => {
            let (vendor, secret) = if *vendor2 {
                ("1002", "vendorpass2")
            } else {
                ("1001", "vendorpass")
            };
            let id = if *email { "client@example.com" } else { "1234" };
            let ts = (now - 21_600 - age).to_string();
            let mut token = sign(Scheme::Md5, id, &ts, &VendorSecret::new(secret));
            if *upper {
                token = token.to_uppercase();
            }
            carried.push(token.to_lowercase());
            let name = if *email { "email" } else { "clientID" };
            let link = format!(
                "{name}={}&vendorid={vendor}&timestamp={ts}&token={token}",
                id.replace('@', "%40")
            );
            path = "/signin.php".to_owned();
            host = host.or(Some("demoaws.localhost"));
            if method == "POST" {
                body = link.into_bytes();
                content_type = Some("application/x-www-form-urlencoded");
            } else {
                query = link.into_bytes();
            }
        }
        Some(Valid::Helpdesk {
            same_server,
            output,
            key,
        }) => {
            let action = if *same_server {
                "singlesignon_sameserver"
            } else {
                "singlesignon"
            };
            let creds = if *key {
                "api_key=demo-api-key".to_owned()
            } else {
                format!("api_user=admin&api_pass_h={}", md5_hex("test123"))
            };
            query = format!(
                "{creds}&api_output={output}&api_action={action}&sso_addr=127.0.0.1&sso_user=joe&sso_pass={}&sso_duration=30",
                md5_hex("acjoe123")
            )
            .into_bytes();
            if !body.is_empty() && method == "POST" {
                // The hostile part rides in the body (a repeated name is an error).
            } else {
                body.clear();
            }
            path = "/api.php".to_owned();
        }
        Some(Valid::CallCenter { campaigns }) => {
            method = "POST";
            path = "/sso/0".to_owned();
            host = host.or(Some("demoaws.localhost"));
            content_type = Some("application/json");
            platform_key = Some("demo-platform-key");
            peer = Some("127.0.0.1");
            let c = if *campaigns {
                ",\"campaign_id\":\"1,2\""
            } else {
                ""
            };
            body = format!(
                "{{\"username\":\"agent1\",\"fullname\":\"Agent One\",\"department_id\":1{c}}}"
            )
            .into_bytes();
        }
        Some(Valid::Redeem(i)) => {
            let t = harvest.value(*i);
            carried.push(t.clone());
            let (p, q) = match i % 3 {
                0 => ("/admin/main.php", format!("_ssot={t}")),
                1 => ("/sso/login", format!("token={t}")),
                _ => (
                    "/pop",
                    format!(
                        "group_id=21&client_subdomain={}",
                        if i % 2 == 0 { "demoaws" } else { "sandboxdemo" }
                    ),
                ),
            };
            path = p.to_owned();
            query = q.into_bytes();
            method = if i % 7 == 0 { "HEAD" } else { "GET" };
            if p == "/pop" {
                host = Some("my.localhost");
            }
            session = harvest.session(*i);
        }
        Some(Valid::SignIn(i)) => {
            if let Some((p, c, csrf)) = harvest.forms.get(i % harvest.forms.len().max(1)) {
                let creds = match p.as_str() {
                    "/login" => "email=client%40example.com&password=clientpass",
                    "/admin/login" => "user=joe&password=acjoe123",
                    _ if p.starts_with("/login/") => "user=agent1&password=agentpass",
                    _ => "email=admin%40example.com&password=adminpass",
                };
                body = format!("{creds}&csrf={csrf}").into_bytes();
                carried.push(csrf.clone());
                method = "POST";
                path = p.clone();
                content_type = Some("application/x-www-form-urlencoded");
                session = Some(c.clone());
            }
        }
    }
    for (n, v) in spec.query.iter().chain(match &spec.body {
        BodySpec::Form(p) => p.as_slice(),
        _ => &[],
    }) {
        let secretish = matches!(
            n,
            Name::Known(
                "token"
                    | "_ssot"
                    | "api_pass_h"
                    | "api_pass"
                    | "sso_pass"
                    | "api_key"
                    | "password"
                    | "csrf"
            )
        );
        if let (true, Value::Harvested(i)) = (secretish, v) {
            carried.push(harvest.value(*i));
        }
    }
    let q = uri_safe(&query);
    let uri = if q.is_empty() {
        path.clone()
    } else {
        format!("{path}?{q}")
    };
    let uri = axum::http::Uri::try_from(uri.as_str())
        .or_else(|_| axum::http::Uri::try_from(path.as_str()))
        .unwrap_or_else(|_| axum::http::Uri::from_static("/"));
    let mut req = Request::builder()
        .method(axum::http::Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri);
    if let Some(v) = host.and_then(|h| HeaderValue::from_str(h).ok()) {
        req = req.header("host", v);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(cl) = spec.content_length {
        req = req.header("content-length", cl);
    }
    if let Some(k) = platform_key {
        req = req.header("platform-key", k);
    }
    if let Some(x) = spec.forwarded_for {
        req = req.header("x-forwarded-for", x);
    }
    let mut cookie: Vec<String> = session.into_iter().collect();
    for c in &spec.cookies {
        match c {
            CookieSpec::Harvested(i) => {
                if let Some(pair) = harvest.cookie(*i) {
                    if let Some((_, v)) = pair.split_once('=') {
                        carried.push(v.to_owned());
                    }
                    cookie.push(pair);
                }
            }
            CookieSpec::Forged(n, v) => {
                cookie.push(format!(
                    "{n}={}",
                    uri_safe(&render(v, harvest)).replace(';', "%3B")
                ));
            }
        }
    }
    if let (false, Ok(v)) = (cookie.is_empty(), HeaderValue::from_str(&cookie.join("; "))) {
        req = req.header("cookie", v);
    }
    let mut req = req.body(Body::from(body)).expect("a request");
    if let Some(p) = peer {
        req.extensions_mut()
            .insert(sso_web::ip::PeerIp(p.parse().expect("an IP")));
    }
    carried.retain(|c| c.len() >= 16);
    (req, carried)
}

/// What kind of answer an endpoint owes.
#[derive(Debug, PartialEq, Eq)]
enum Owed {
    CallCenterJson,
    HelpdeskResult,
    Page,
}

fn owed(path: &str, host: Option<&str>) -> Owed {
    let portal = host.is_some_and(|h| h.eq_ignore_ascii_case("my.localhost"));
    match path {
        "/sso/0" => Owed::CallCenterJson,
        "/api.php" | "/admin/api.php" => Owed::HelpdeskResult,
        _ if portal => Owed::Page,
        _ => Owed::Page,
    }
}

/// Whether a `Location` is allowed from a request to `host`.
fn location_allowed(loc: &str, host: Option<&str>) -> bool {
    if loc.starts_with('/') {
        return !loc.starts_with("//") && !loc.starts_with("/\\");
    }
    if loc.starts_with("https://partner.example/") {
        return true;
    }
    let Some(rest) = loc.strip_prefix("http://") else {
        return false;
    };
    let origin = rest.split(['/', '?']).next().unwrap_or_default();
    let origin_host = origin.split(':').next().unwrap_or_default();
    let req_host = host
        .unwrap_or_default()
        .to_ascii_lowercase()
        .trim_end_matches('.')
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let from_portal = req_host == "my.localhost";
    origin_host == req_host
        || (from_portal && matches!(origin_host, "demoaws.localhost" | "sandboxdemo.localhost"))
}

/// The invariants every answer keeps.
fn check(
    method: &str,
    path: &str,
    host: Option<&str>,
    status: u16,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    secrets: &[String],
) -> Result<(), String> {
    if status >= 500 && status != 503 {
        return Err(format!("status {status}"));
    }
    let text = String::from_utf8_lossy(body);
    let location = headers
        .get("location")
        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
    for s in secrets {
        if text.contains(s.as_str()) || location.as_deref().is_some_and(|l| l.contains(s.as_str()))
        {
            return Err(format!("a secret is echoed: {s}"));
        }
    }
    if let Some(l) = location.as_deref().filter(|l| !location_allowed(l, host)) {
        return Err(format!("Location {l} is off the origin"));
    }
    let head = method == "HEAD";
    let ctype = headers
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default();
    match owed(path, host) {
        Owed::CallCenterJson if method != "CONNECT" => {
            if head {
                return Ok(());
            }
            let v: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| format!("/sso/0 not JSON ({e}): {text}"))?;
            let code = v["code"].as_u64().ok_or("no code")?;
            if code != u64::from(status)
                || v["descriptor"].as_str().is_none()
                || v["status"].as_str().is_none()
            {
                return Err(format!("/sso/0 answer {status}: {text}"));
            }
        }
        Owed::HelpdeskResult
            if method != "CONNECT" && !matches!(method, "PUT" | "DELETE" | "PATCH" | "OPTIONS") =>
        {
            if status != 200 {
                return Err(format!("api.php status {status}"));
            }
            if !head && !text.contains("result_code") {
                return Err(format!("api.php without result_code: {text}"));
            }
        }
        _ => {
            let redirect = (300..400).contains(&status) && location.is_some();
            let page = ctype.starts_with("text/html")
                || ctype.starts_with("text/plain")
                || ctype.starts_with("application/json");
            if !(redirect || page || body.is_empty() || head && status < 400) {
                return Err(format!("answer {status} of type {ctype:?}: {text}"));
            }
        }
    }
    Ok(())
}

fn harvest_answer(
    req: (&str, &str, Option<&str>),
    status: u16,
    resp_headers: &axum::http::HeaderMap,
    body: &[u8],
    harvest: &mut Harvest,
) {
    let (method, path, host) = req;
    let text = String::from_utf8_lossy(body);
    let set: Vec<String> = resp_headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let portal = host.is_some_and(|h| h == "my.localhost");
    let form_path = matches!(path, "/login" | "/admin/login") || path.starts_with("/login/");
    if method == "GET"
        && status == 200
        && form_path
        && (portal || path != "/login" || host.is_some())
    {
        let csrf = text
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.get(..32));
        if let (Some(csrf), Some(c)) = (csrf, set.iter().find(|c| c.starts_with("csrf="))) {
            let n = harvest.forms.len();
            Harvest::keep_bounded(
                &mut harvest.forms,
                (path.to_owned(), c.clone(), csrf.to_owned()),
                n,
            );
        }
    }
    for c in &set {
        if c.starts_with("sso=") && c.len() > 10 {
            let n = harvest.sessions.len();
            Harvest::keep_bounded(&mut harvest.sessions, c.clone(), n);
        }
    }
    for c in resp_headers.get_all("set-cookie") {
        if let Some(pair) = c
            .to_str()
            .ok()
            .and_then(|c| c.split(';').next())
            .filter(|pair| pair.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
        {
            harvest.keep_cookie(pair.to_owned());
        }
    }
    if let Some(l) = resp_headers.get("location").and_then(|l| l.to_str().ok()) {
        for key in ["token=", "_ssot="] {
            if let Some(t) = l.split(key).nth(1) {
                harvest.keep(t.split('&').next().unwrap_or_default().to_owned());
            }
        }
    }
    for marker in [
        "\"token\":\"",
        "name=\"csrf\" value=\"",
        "\"hash\":\"",
        "token=",
        "<token>",
    ] {
        if let Some(rest) = text.split(marker).nth(1) {
            let t: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if t.len() >= 16 {
                harvest.keep(t);
            }
        }
    }
}

/// How deep the run went: answers by class, and the successes of each protocol.
#[derive(Debug, Default)]
struct Stats {
    by_class: [u64; 6],
    unavailable_503: u64,
    links_signed_in: u64,
    helpdesk_ok: u64,
    sso0_tokens: u64,
    redeemed: u64,
    pops: u64,
    /// Milliseconds spent answering, by path (where the time goes: Argon2 on password paths).
    millis_by_path: std::collections::BTreeMap<String, u64>,
}

fn tally(s: &mut Stats, path: &str, status: u16, headers: &axum::http::HeaderMap, body: &[u8]) {
    s.by_class[usize::from(status / 100).min(5)] += 1;
    s.unavailable_503 += u64::from(status == 503);
    let loc = headers
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(body);
    match path {
        "/signin.php" if status == 302 && !loc.contains("errorID") => s.links_signed_in += 1,
        "/api.php" | "/admin/api.php"
            if text.contains("User Found") || text.contains("User Logged In") =>
        {
            s.helpdesk_ok += 1
        }
        "/sso/0" if status == 200 => s.sso0_tokens += 1,
        "/admin/main.php" | "/sso/login" if status == 302 && !loc.contains("login") => {
            s.redeemed += 1
        }
        "/pop" if loc.contains("/sso/login?token=") => s.pops += 1,
        _ => {}
    }
}

/// Cases per runner in the long mode: each chunk prints its figures, so a run cut short
/// still reports what it did.
const CHUNK: u64 = 50_000;

/// Runs `cases` fuzzed requests from `seed` in chunks (chunk k seeded `seed + k`) over one
/// application; returns how many answers were checked.
fn run(cases: u64, seed: u64) -> Result<u64, String> {
    // The server's router over the in-memory store with the demo directory, audit included.
    let t = sso_benches::in_process_with(sso_web::WebConfig::default());
    let harvest = Mutex::new(Harvest::default());
    let stats = Mutex::new(Stats::default());
    let started = Instant::now();
    let mut done = 0;
    let mut chunk = 0;
    while done < cases {
        let n = (cases - done).min(CHUNK);
        done += run_chunk(&t, &harvest, &stats, n as u32, seed.wrapping_add(chunk))?;
        chunk += 1;
        #[allow(clippy::print_stdout)]
        {
            println!(
                "fuzz: {done} of {cases} cases checked, seed {seed}, {:.1} s; {:?}",
                started.elapsed().as_secs_f64(),
                stats.lock().expect("stats")
            );
        }
    }
    Ok(done)
}

fn run_chunk(
    t: &sso_benches::InProcess,
    harvest: &Mutex<Harvest>,
    stats: &Mutex<Stats>,
    cases: u32,
    seed: u64,
) -> Result<u64, String> {
    let demo = Secrets::demo();
    let answered = std::sync::atomic::AtomicU64::new(0);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let result = runner.run(&spec(), |spec| {
        // One second per request: the per-key limits refill, links age.
        t.clock.advance(1);
        let now = sso_web::Clock::now(&*t.clock);
        let (req, carried) = build(&spec, now, &harvest.lock().expect("harvest"));
        let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
        let host = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let started = Instant::now();
        let resp: Response<Body> = t.send(req);
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = t
            .runtime
            .block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
            .map_err(|e| TestCaseError::fail(format!("body: {e}")))?;
        let mut secrets = demo.0.clone();
        secrets.extend(carried);
        check(
            &method,
            &path,
            host.as_deref(),
            status,
            &headers,
            &body,
            &secrets,
        )
        .map_err(|e| TestCaseError::fail(format!("{method} {path} host {host:?}: {e}")))?;
        harvest_answer(
            (&method, &path, host.as_deref()),
            status,
            &headers,
            &body,
            &mut harvest.lock().expect("harvest"),
        );
        let mut st = stats.lock().expect("stats");
        tally(&mut st, &path, status, &headers, &body);
        *st.millis_by_path.entry(path.clone()).or_default() += started.elapsed().as_millis() as u64;
        drop(st);
        answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    });
    result.map_err(|e| e.to_string())?;
    Ok(answered.into_inner())
}

#[test]
fn fuzzed_requests_through_the_router_keep_every_invariant() {
    // The fuzzer's own checks can fail: a 500, an echoed secret, a foreign Location, an
    // answer in another format than the endpoint's.
    let at = |l: &'static str| {
        let mut h = axum::http::HeaderMap::new();
        h.insert("location", HeaderValue::from_static(l));
        h
    };
    let none = axum::http::HeaderMap::new();
    let tenant = Some("demoaws.localhost");
    let echoed = ["vendorpass".to_owned()];
    type Asked<'a> = (&'a str, &'a str, Option<&'a str>);
    type Answer<'a> = (u16, &'a axum::http::HeaderMap, &'a [u8]);
    let failing: [(Asked, Answer, &[String]); 7] = [
        (("GET", "/", tenant), (500, &none, b""), &[]),
        (("GET", "/", None), (200, &none, b"x vendorpass"), &echoed),
        (
            ("GET", "/login", tenant),
            (302, &at("http://evil.example/"), b""),
            &[],
        ),
        (
            ("GET", "/login", tenant),
            (302, &at("//evil.example/"), b""),
            &[],
        ),
        (
            ("GET", "/login", tenant),
            (302, &at("http://sandboxdemo.localhost/"), b""),
            &[],
        ),
        (("POST", "/sso/0", None), (200, &none, b"<html>"), &[]),
        (("GET", "/api.php", None), (404, &none, b"<html>"), &[]),
    ];
    for ((method, path, host), (status, headers, body), secrets) in failing {
        assert!(check(method, path, host, status, headers, body, secrets).is_err());
    }

    let cases = std::env::var("SSO_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SHORT_CASES);
    let seed = std::env::var("SSO_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let started = Instant::now();
    let outcome = run(cases, seed);
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::print_stdout)]
    {
        println!(
            "fuzz: {} cases, seed {seed} (replay: SSO_FUZZ_SEED={seed}), {secs:.1} s",
            outcome.as_ref().map_or(0, |n| *n)
        );
    }
    if let Err(e) = outcome {
        panic!("fuzz seed {seed}: {e}");
    }
}
