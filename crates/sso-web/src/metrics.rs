//! The gateway's metrics, without API calls: counters kept in process memory and, in a
//! Lambda, written as CloudWatch Embedded Metric Format (EMF) lines on stdout after each
//! request, which CloudWatch Logs turns into metrics (no `PutMetricData`, no extra latency).
//! The local server renders the same counters as Prometheus text at `/metrics`.
//!
//! | metric | unit | dimensions | what |
//! |---|---|---|---|
//! | `Attempts` | Count | `Protocol`, `Outcome` | every audited SSO attempt: `success`, `errorID <n>` (signed link), the `api.php` result, the call-center `descriptor`, `bad_credentials`, `locked`, `bad_token`, `unavailable` |
//! | `StoreLatency` | Milliseconds | `Function` | each store round trip (get, write, transaction, query) |
//! | `Argon2Time` | Milliseconds | `Function` | each Argon2id verification |
//! | `ColdStart` | Count | `Function` | once per container, with `InitTime` (ms from `main` to ready) |
//!
//! Namespace: `SSO_METRICS_NAMESPACE` (template default `SsoGateway`); `Function` is the
//! Lambda function's name. A process runs one request at a time in Lambda, so what is
//! pending at the end of a request belongs to it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use sso_store::StoreError;
use sso_store::item::{
    FollowUp, Followed, Item, ItemBackend, Key, Page, Query, Write, WriteOutcome,
};
use sso_store::model::{Outcome, Protocol};

/// Kept so a burst of one request cannot grow a line without bound (EMF allows 100 values).
const MAX_SAMPLES: usize = 100;

#[derive(Default)]
struct Timing {
    count: u64,
    sum_ms: f64,
}

#[derive(Default)]
struct Registry {
    attempts: BTreeMap<(&'static str, String), u64>,
    store: Timing,
    argon2: Timing,
    pending_attempts: Vec<(&'static str, String)>,
    pending_store: Vec<f64>,
    pending_argon2: Vec<f64>,
    pending_cold_start: Option<f64>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut guard = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(Registry::default))
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// The `Outcome` dimension of an attempt: bounded (an errorID without its finer reason), so
/// metrics never get a series per request value.
pub fn outcome_label(o: &Outcome) -> String {
    let label = match o {
        Outcome::Ok | Outcome::SameBrowser | Outcome::SessionStarted | Outcome::TokenCreated => {
            "success".to_owned()
        }
        Outcome::LinkRefused { error_id, .. } => format!("errorID {error_id}"),
        Outcome::BadToken => "bad_token".to_owned(),
        Outcome::ApiRefused(result) => result.clone(),
        Outcome::CallCenterRefused(descriptor) => descriptor.clone(),
        // Without who made the change: one series per kind of change.
        Outcome::Changed { change, .. } => format!("changed:{change}"),
        other => other.to_string(),
    };
    label.chars().take(64).collect()
}

/// Counts one audited attempt.
pub fn attempt(protocol: Protocol, outcome: &Outcome) {
    let key = (protocol.as_str(), outcome_label(outcome));
    with(|r| {
        *r.attempts.entry(key.clone()).or_default() += 1;
        if r.pending_attempts.len() < MAX_SAMPLES {
            r.pending_attempts.push(key);
        }
    });
}

/// Records one store round trip.
pub fn store_latency(d: Duration) {
    record_timing(d, |r| (&mut r.store, &mut r.pending_store));
}

/// Records one Argon2id verification.
pub fn argon2_time(d: Duration) {
    record_timing(d, |r| (&mut r.argon2, &mut r.pending_argon2));
}

fn record_timing(d: Duration, which: fn(&mut Registry) -> (&mut Timing, &mut Vec<f64>)) {
    let x = ms(d);
    with(|r| {
        let (total, pending) = which(r);
        total.count += 1;
        total.sum_ms += x;
        if pending.len() < MAX_SAMPLES {
            pending.push(x);
        }
    });
}

/// Records this container's cold start: `init` from `main` to ready for the first event.
pub fn cold_start(init: Duration) {
    with(|r| r.pending_cold_start = Some(ms(init)));
}

/// The EMF lines of everything recorded since the last call (none if nothing was), for the
/// function `function` under `namespace`, stamped `timestamp_ms`. One line per attempt
/// (its dimensions are its own) and one for the function's timings.
pub fn take_emf(namespace: &str, function: &str, timestamp_ms: u64) -> Vec<String> {
    let (attempts, store, argon2, cold) = with(|r| {
        (
            std::mem::take(&mut r.pending_attempts),
            std::mem::take(&mut r.pending_store),
            std::mem::take(&mut r.pending_argon2),
            r.pending_cold_start.take(),
        )
    });
    let directive = |dims: &[&str], metrics: &[(&str, &str)]| {
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dims],
                "Metrics": metrics.iter().map(|(n, u)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        })
    };
    let mut lines = Vec::new();
    for (protocol, outcome) in attempts {
        let line = json!({
            "_aws": directive(&["Protocol", "Outcome"], &[("Attempts", "Count")]),
            "Protocol": protocol,
            "Outcome": outcome,
            "Attempts": 1,
        });
        lines.push(line.to_string());
    }
    let mut metrics: Vec<(&str, &str)> = Vec::new();
    let mut line = Map::new();
    line.insert("Function".into(), Value::from(function));
    if !store.is_empty() {
        metrics.push(("StoreLatency", "Milliseconds"));
        line.insert("StoreLatency".into(), json!(store));
    }
    if !argon2.is_empty() {
        metrics.push(("Argon2Time", "Milliseconds"));
        line.insert("Argon2Time".into(), json!(argon2));
    }
    if let Some(init) = cold {
        metrics.push(("ColdStart", "Count"));
        metrics.push(("InitTime", "Milliseconds"));
        line.insert("ColdStart".into(), json!(1));
        line.insert("InitTime".into(), json!(init));
    }
    if !metrics.is_empty() {
        line.insert("_aws".into(), directive(&["Function"], &metrics));
        lines.push(Value::Object(line).to_string());
    }
    lines
}

fn prom_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The counters as Prometheus text (exposition format 0.0.4), for `/metrics`.
pub fn prometheus_text() -> String {
    use std::fmt::Write as _;
    with(|r| {
        let mut out = String::new();
        out.push_str("# HELP sso_attempts_total Audited SSO attempts by protocol and outcome.\n");
        out.push_str("# TYPE sso_attempts_total counter\n");
        for ((protocol, outcome), n) in &r.attempts {
            let _ = writeln!(
                out,
                "sso_attempts_total{{protocol=\"{}\",outcome=\"{}\"}} {n}",
                prom_label(protocol),
                prom_label(outcome)
            );
        }
        for (name, help, t) in [
            ("sso_store_latency_ms", "Store round trips", &r.store),
            ("sso_argon2_time_ms", "Argon2id verifications", &r.argon2),
        ] {
            let _ = writeln!(out, "# HELP {name} {help} (milliseconds).");
            let _ = writeln!(out, "# TYPE {name} summary");
            let _ = writeln!(out, "{name}_sum {}", t.sum_ms);
            let _ = writeln!(out, "{name}_count {}", t.count);
        }
        out
    })
}

/// A store backend that times every round trip into [`store_latency`].
pub struct Timed {
    inner: Arc<dyn ItemBackend>,
}

impl Timed {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ItemBackend>) -> Self {
        Self { inner }
    }
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = f.await;
    store_latency(started.elapsed());
    out
}

#[async_trait]
impl ItemBackend for Timed {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        timed(self.inner.get(key)).await
    }
    async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError> {
        timed(self.inner.write(write)).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        timed(self.inner.transact(writes)).await
    }
    async fn write_then(&self, first: Write, then: FollowUp) -> Result<Followed, StoreError> {
        timed(self.inner.write_then(first, then)).await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        timed(self.inner.query(query)).await
    }
    fn wrapped(&self) -> Option<&dyn ItemBackend> {
        Some(&*self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_labels_are_bounded_and_name_the_protocols_own_codes() {
        let refused = Outcome::LinkRefused {
            error_id: 0,
            reason: "bad signature from 203.0.113.9".into(),
        };
        assert_eq!(outcome_label(&refused), "errorID 0");
        assert_eq!(outcome_label(&Outcome::SessionStarted), "success");
        assert_eq!(
            outcome_label(&Outcome::CallCenterRefused("IP_NOT_WHITELISTED".into())),
            "IP_NOT_WHITELISTED"
        );
        assert_eq!(outcome_label(&Outcome::BadCredentials), "bad_credentials");
    }
}
