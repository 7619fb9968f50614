//! The metrics a function writes while it handles real API Gateway events parse as
//! CloudWatch Embedded Metric Format: each line checked against the EMF specification's
//! structure (the `_aws.CloudWatchMetrics` directive, dimension and metric members at the top
//! level, units from CloudWatch's list). Its own test binary: the metrics are per process.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use sso_core::signed_link::{Scheme, VendorSecret, sign};
use sso_store::embedded::Embedded;
use sso_web::metrics::Timed;
use sso_web::{Clock, SystemClock};
use tower::ServiceExt;

mod support;

/// CloudWatch's units (`MetricDatum.Unit`).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Panics unless `line` is a valid EMF document; returns it.
fn check_emf(line: &str) -> Value {
    let doc: Value = serde_json::from_str(line).expect("an EMF line is one JSON object");
    let root = doc.as_object().expect("object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    assert!(aws["Timestamp"].is_u64(), "Timestamp: epoch milliseconds");
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty());
    for d in directives {
        let ns = d["Namespace"].as_str().expect("Namespace");
        assert!((1..=255).contains(&ns.len()));
        let dim_sets = d["Dimensions"].as_array().expect("Dimensions");
        for set in dim_sets {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions per set");
            for name in set {
                let name = name.as_str().expect("dimension names are strings");
                assert!(
                    root.get(name).is_some_and(Value::is_string),
                    "dimension {name} is a top-level string member: {line}"
                );
            }
        }
        let metrics = d["Metrics"].as_array().expect("Metrics");
        assert!((1..=100).contains(&metrics.len()));
        for m in metrics {
            let name = m["Name"].as_str().expect("Name");
            if let Some(unit) = m.get("Unit") {
                assert!(UNITS.contains(&unit.as_str().unwrap()), "unit {unit}");
            }
            let value = root
                .get(name)
                .unwrap_or_else(|| panic!("metric {name} has a value"));
            let ok = value.is_number()
                || value.as_array().is_some_and(|a| {
                    !a.is_empty() && a.len() <= 100 && a.iter().all(Value::is_number)
                });
            assert!(ok, "metric {name} is a number or up to 100 numbers: {line}");
        }
    }
    doc
}

#[tokio::test]
async fn the_metrics_of_real_api_gateway_events_parse_as_emf() {
    let backend = Arc::new(Timed::new(Arc::new(Embedded::in_memory().unwrap())));
    let p = support::demo_platform(backend, Arc::new(SystemClock)).await;
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let emf = sso_lambda::Emf {
        namespace: "SsoGateway".into(),
        function: "sso-SignedLinkFunction".into(),
        out: Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned())),
    };
    sso_web::metrics::cold_start(std::time::Duration::from_millis(3));
    let ts = SystemClock.now().to_string();
    let good = sign(Scheme::Md5, "1234", &ts, &VendorSecret::new("vendorpass"));
    for token in [good.as_str(), "0123456789abcdef0123456789abcdef"] {
        let event = include_str!("events/http_api_v2_signin.json")
            .replace("{{TS}}", &ts)
            .replace("{{TOKEN}}", token);
        let req = lambda_http::request::from_str(&event).unwrap();
        let router =
            sso_lambda::wrap_with_metrics(sso_virtualagent::router(p.clone()), emf.clone());
        let resp = router
            .oneshot(req.map(axum::body::Body::new))
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
    }
    let lines = lines.lock().unwrap().clone();
    let docs: Vec<Value> = lines.iter().map(|l| check_emf(l)).collect();
    let outcomes: Vec<&str> = docs
        .iter()
        .filter(|d| d["Protocol"] == "signed_link")
        .map(|d| d["Outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["success", "errorID 0"], "{lines:#?}");
    let timing = docs
        .iter()
        .find(|d| d.get("ColdStart").is_some())
        .expect("the cold start goes out with the first request");
    assert_eq!(timing["Function"], "sso-SignedLinkFunction");
    assert!(
        timing["StoreLatency"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(
        docs.iter().filter(|d| d.get("ColdStart").is_some()).count(),
        1,
        "once per container"
    );
}
