//! Log lines an operator can query: one flat JSON object per event, every field at the top
//! level (CloudWatch Logs Insights discovers them without `fields.` prefixes):
//! `timestamp`, `level`, `message`, `target`, `service`, `cold_start`,
//! `function_request_id`, `xray_trace_id` (when the request is traced), and the event's own
//! fields — an audit line (`"target":"audit"`) carries `tenant`, `protocol`, `issuer`,
//! `subject`, `source_ip` and `outcome`. The saved queries in `infra/queries/` read them.
//!
//! The request fields come from the Lambda context of the request being served (a function
//! serves one at a time); lines outside a request (init) carry none of them.

use std::fmt;
use std::sync::Mutex;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// What the request being served adds to every line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFields {
    /// The Lambda request id.
    pub function_request_id: String,
    /// `X-Amzn-Trace-Id`, when tracing is on.
    pub xray_trace_id: Option<String>,
    /// The first request of this container.
    pub cold_start: bool,
}

static CURRENT: Mutex<Option<RequestFields>> = Mutex::new(None);
static SERVED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks the start of a request: its fields go on every line until [`end_request`].
pub fn begin_request(function_request_id: String, xray_trace_id: Option<String>) {
    let cold_start = !SERVED.swap(true, std::sync::atomic::Ordering::Relaxed);
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(RequestFields {
        function_request_id,
        xray_trace_id,
        cold_start,
    });
}

/// Marks the end of the request.
pub fn end_request() {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// The flat JSON line format, for `service`.
#[derive(Debug, Clone)]
pub struct FlatJson {
    /// The `service` field (the binary's name).
    pub service: String,
}

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

impl FlatJson {
    /// The line of `event` (without the newline).
    pub fn line(&self, event: &Event<'_>) -> String {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = Map::new();
        let mut timestamp = String::new();
        let _ =
            tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut timestamp));
        line.insert("timestamp".into(), Value::from(timestamp));
        line.insert(
            "level".into(),
            Value::from(event.metadata().level().as_str()),
        );
        line.insert("target".into(), Value::from(event.metadata().target()));
        line.insert("service".into(), Value::from(self.service.as_str()));
        if let Some(r) = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            line.insert("cold_start".into(), Value::from(r.cold_start));
            line.insert(
                "function_request_id".into(),
                Value::from(r.function_request_id),
            );
            if let Some(t) = r.xray_trace_id {
                line.insert("xray_trace_id".into(), Value::from(t));
            }
        }
        // The event's own fields never replace the line's.
        for (k, v) in fields.0 {
            line.entry(k).or_insert(v);
        }
        Value::Object(line).to_string()
    }
}

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", self.line(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_audit_line_is_flat_json_with_the_request_fields() {
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(FlatJson {
                service: "sso-signed-link".into(),
            })
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("init");
            begin_request("req-1".into(), Some("Root=1-abc".into()));
            tracing::info!(target: "audit", tenant = "demoaws", protocol = %"signed_link", outcome = %"errorID=0:bad_signature", "sso attempt");
            end_request();
            begin_request("req-2".into(), None);
            tracing::warn!(level = "spoofed", "second");
            end_request();
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].get("function_request_id").is_none(),
            "init is outside a request"
        );
        let audit = &lines[1];
        for (k, v) in [
            ("level", "INFO"),
            ("message", "sso attempt"),
            ("target", "audit"),
            ("service", "sso-signed-link"),
            ("function_request_id", "req-1"),
            ("xray_trace_id", "Root=1-abc"),
            ("tenant", "demoaws"),
            ("protocol", "signed_link"),
            ("outcome", "errorID=0:bad_signature"),
        ] {
            assert_eq!(audit[k], v, "{k} in {audit}");
        }
        assert_eq!(audit["cold_start"], true);
        assert!(audit["timestamp"].as_str().unwrap().contains('T'));
        assert_eq!(lines[2]["cold_start"], false);
        assert_eq!(
            lines[2]["level"], "WARN",
            "an event field cannot replace the line's"
        );
        assert!(lines[2].get("xray_trace_id").is_none());
    }
}
