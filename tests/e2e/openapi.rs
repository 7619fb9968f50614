//! `docs/openapi.json` (served at `/openapi.json`) held against the code, so it cannot drift:
//! every route an adapter registers is documented or named here as not partner-facing; every
//! documented path exists; every errorID, call-center code and descriptor the code can send is
//! documented; and each documented operation, called with nothing, answers a documented status
//! in a documented content type. Schemathesis (`scripts/schemathesis`) runs the spec against a
//! live server with generated inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use sso_core::callcenter::CallCenterError;
use sso_core::signed_link::ErrorId;

/// Routes that are for people or operators, not partner code, with why.
const NOT_PARTNER_FACING: [(&str, &str); 16] = [
    ("/", "a tenant's or the portal's home page"),
    ("/login", "the sign-in forms people fill in"),
    ("/login/{group}", "the portal's per-group sign-in form"),
    ("/logout", "the portal's sign-out question"),
    ("/admin/login", "the help desk's sign-in form"),
    ("/admin/logout", "the help desk's sign-out"),
    ("/groups/{group}", "the portal administrators' pages"),
    ("/groups/{group}/agents", "the portal administrators' pages"),
    ("/groups/{group}/links", "the portal administrators' pages"),
    (
        "/groups/{group}/agents/{username}",
        "the portal administrators' pages",
    ),
    (
        "/groups/{group}/agents/{username}/disable",
        "the portal administrators' pages",
    ),
    (
        "/groups/{group}/agents/{username}/enable",
        "the portal administrators' pages",
    ),
    (
        "/groups/{group}/agents/{username}/password",
        "the portal administrators' pages",
    ),
    (
        "/groups/{group}/links/{tenant}/unlink",
        "the portal administrators' pages",
    ),
    ("/healthz", "operators' health check"),
    ("/readyz", "operators' readiness check"),
];

fn spec() -> Value {
    serde_json::from_str(sso_cli::OPENAPI).expect("docs/openapi.json is JSON")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("a source directory")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.route("PATH", …)` in the adapters' sources, with the methods its handler chain
/// names (`get(…)`, `.post(…)`, `any(…)`).
fn registered_routes() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    for krate in [
        "sso-virtualagent",
        "sso-activecampaign",
        "sso-sticky",
        "sso-web",
        "sso-cli",
    ] {
        rust_files(
            &workspace().join("crates").join(krate).join("src"),
            &mut files,
        );
    }
    let mut routes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a source file");
        for (at, _) in text.match_indices(".route(") {
            let rest = &text[at + ".route(".len()..];
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let args = &rest[..end];
            let Some(path) = args.split('"').nth(1) else {
                continue;
            };
            let methods = routes.entry(path.to_owned()).or_default();
            for m in ["get", "post", "put", "patch", "delete", "any"] {
                let named = args.match_indices(&format!("{m}(")).any(|(i, _)| {
                    i == 0
                        || !args.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && args.as_bytes()[i - 1] != b'_'
                });
                if named {
                    methods.insert(m.to_owned());
                }
            }
        }
    }
    routes
}

#[test]
fn every_partner_route_is_documented_and_every_documented_path_is_routed() {
    let spec = spec();
    let paths = spec["paths"].as_object().expect("paths");
    let routes = registered_routes();
    assert!(
        routes.contains_key("/signin.php") && routes.contains_key("/sso/0"),
        "{routes:?}"
    );
    for (path, methods) in &routes {
        if NOT_PARTNER_FACING.iter().any(|(p, _)| p == path) {
            continue;
        }
        let documented = paths.get(path).unwrap_or_else(|| {
            panic!("route {path} is neither in docs/openapi.json nor named as not partner-facing")
        });
        for m in methods {
            // `any` answers every method in its own format; the protocol's method is POST.
            let m = if m == "any" { "post" } else { m.as_str() };
            assert!(
                documented.get(m).is_some(),
                "{} {path} is routed but not documented",
                m.to_uppercase()
            );
        }
    }
    for (path, item) in paths {
        let routed = routes
            .get(path)
            .unwrap_or_else(|| panic!("{path} is documented but no adapter routes it"));
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                assert!(
                    routed.contains(m) || routed.contains("any"),
                    "{} {path} is documented but not routed",
                    m.to_uppercase()
                );
            }
        }
    }
}

#[test]
fn every_code_the_protocols_send_is_documented() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let error_ids: BTreeSet<u64> = schemas["ErrorId"]["enum"]
        .as_array()
        .expect("ErrorId enum")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    for id in ErrorId::ALL {
        assert!(
            error_ids.contains(&u64::from(id.code())),
            "errorID {} is not documented",
            id.code()
        );
    }
    let descriptors: BTreeSet<&str> =
        schemas["CallCenterAnswer"]["properties"]["descriptor"]["enum"]
            .as_array()
            .expect("descriptor enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
    assert!(descriptors.contains(sso_core::callcenter::SSO_TOKEN_CREATED));
    let responses = &spec["paths"]["/sso/0"]["post"]["responses"];
    for e in CallCenterError::every() {
        assert!(
            descriptors.contains(e.descriptor()),
            "{} is not documented",
            e.descriptor()
        );
        assert!(
            responses.get(e.code().to_string()).is_some(),
            "/sso/0 answers {} ({}) but docs/openapi.json does not say so",
            e.code(),
            e.descriptor()
        );
    }
    assert!(responses.get("200").is_some());
}

#[test]
fn each_documented_operation_answers_a_documented_status_and_type() {
    let spec = spec();
    let app = sso_benches::in_process();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let host = if item.get("servers").is_some() {
            "my.localhost"
        } else {
            "demoaws.localhost"
        };
        for method in ["get", "post"] {
            let Some(op) = item.get(method) else { continue };
            let mut req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(path.as_str())
                .header("host", host);
            if method == "post" {
                let json = op["requestBody"]["content"]
                    .get("application/json")
                    .is_some();
                req = req.header(
                    "content-type",
                    if json {
                        "application/json"
                    } else {
                        "application/x-www-form-urlencoded"
                    },
                );
            }
            let resp = app.send(req.body(Body::empty()).expect("a request"));
            let status = resp.status().as_u16().to_string();
            let documented = op["responses"]
                .get(&status)
                .unwrap_or_else(|| panic!("{method} {path} answered {status}, not documented"));
            if let Some(content) = documented.get("content").and_then(Value::as_object) {
                let ct = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert!(
                    content.keys().any(|k| ct.starts_with(k.as_str())),
                    "{method} {path} answered {status} as {ct}, documented as {:?}",
                    content.keys().collect::<Vec<_>>()
                );
            }
        }
    }
}

#[test]
fn the_local_server_serves_the_document() {
    let app = sso_benches::in_process();
    for host in ["demoaws.localhost", "my.localhost", "127.0.0.1"] {
        let resp = app.send(
            Request::builder()
                .uri("/openapi.json")
                .header("host", host)
                .body(Body::empty())
                .expect("a request"),
        );
        assert_eq!(resp.status(), 200, "{host}");
        assert_eq!(resp.headers()["content-type"], "application/json");
    }
}
