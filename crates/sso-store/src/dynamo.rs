//! The DynamoDB backend: one table, `pk`/`sk` strings, `expires_at` as the TTL attribute.
//!
//! Each [`Write`] becomes one `PutItem` / `UpdateItem` / `DeleteItem` with a condition
//! expression (or one `TransactWriteItems`), so "exactly once" is DynamoDB's own atomic
//! conditional write, never read-then-write. `ConditionalCheckFailed` and a transaction
//! cancelled by a condition become [`WriteOutcome::ConditionFailed`]; throttling, timeouts and
//! transport failures become [`StoreError::Unavailable`]. Every call asks for
//! `ReturnConsumedCapacity`, summed in [`Dynamo::consumed`], so cost is measured, not assumed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, ConsumedCapacity, Delete,
    KeySchemaElement, KeyType, Put, ReturnConsumedCapacity, ReturnValue, ScalarAttributeType,
    SseSpecification, TimeToLiveSpecification, TransactWriteItem, Update,
};

use crate::StoreError;
use crate::item::{
    Attr, Capacity, Cond, EXPIRES_AT, Item, ItemBackend, Key, Page, Query, Req, Write, WriteOutcome,
};

/// How long one DynamoDB attempt may take before it is retried.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long one operation, retries included, may take before the caller answers
/// "temporarily unavailable".
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);
/// Attempts per operation (the SDK's standard retry policy with jittered backoff).
pub const MAX_ATTEMPTS: u32 = 3;
/// How long one operation against a loopback server (`Dynamo::local`) may take; one attempt.
pub const LOCAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the table is and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct DynamoConfig {
    /// Table name.
    pub table: String,
    /// A DynamoDB-compatible endpoint (local testing); `None` for AWS.
    pub endpoint_url: Option<String>,
    /// Region; `None` takes it from the environment (`AWS_REGION`).
    pub region: Option<String>,
}

/// The DynamoDB backend. Build it once per process and share it.
#[derive(Clone, Debug)]
pub struct Dynamo {
    client: Client,
    table: Arc<str>,
    read_milli: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    write_milli: Arc<AtomicU64>,
    call_timeout: Duration,
}

fn timeouts() -> aws_sdk_dynamodb::config::timeout::TimeoutConfig {
    aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

fn retries() -> aws_sdk_dynamodb::config::retry::RetryConfig {
    aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

impl Dynamo {
    /// Connects with the AWS default credential chain (in Lambda: the function's role), with
    /// explicit timeouts and the SDK's standard retry policy.
    pub async fn connect(config: &DynamoConfig) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts())
            .retry_config(retries());
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        Self::from_client(Client::new(&sdk), &config.table)
    }

    /// The client a Lambda function needs, built without the full default provider chains:
    /// credentials from the environment variables Lambda sets, the region from `AWS_REGION`.
    /// Loading the whole chain (profile files, IMDS, SSO…) costs start-up time a function
    /// never uses. `None` when the environment does not have credentials.
    pub fn from_lambda_environment(table: &str) -> Option<Self> {
        let region = std::env::var("AWS_REGION").ok()?;
        std::env::var_os("AWS_ACCESS_KEY_ID")?;
        let mut conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(aws_https_client())
            .region(Region::new(region))
            .credentials_provider(
                aws_config::environment::credentials::EnvironmentVariableCredentialsProvider::new(),
            )
            .timeout_config(timeouts())
            .retry_config(retries());
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
            conf = conf.endpoint_url(url);
        }
        Some(Self::from_client(Client::from_conf(conf.build()), table))
    }

    /// A client for a local DynamoDB-compatible server (moto, DynamoDB Local): static dummy
    /// credentials, a fixed region, no credential chain to consult. One attempt per operation
    /// with a generous timeout: a loopback server neither throttles nor fails over, and a
    /// request that timed out on our side is often still applied by it (moto queues requests
    /// one at a time under test load), so a retry would count an `ADD` twice or see its own
    /// conditional write as a conflict.
    pub fn local(endpoint_url: &str, table: &str) -> Self {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint_url)
            .credentials_provider(Credentials::new("local", "local", None, None, "static"))
            .timeout_config(
                aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(LOCAL_TIMEOUT)
                    .operation_timeout(LOCAL_TIMEOUT)
                    .build(),
            )
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(1),
            )
            .build();
        Self {
            call_timeout: LOCAL_TIMEOUT + Duration::from_secs(1),
            ..Self::from_client(Client::from_conf(conf), table)
        }
    }

    /// Wraps an existing client.
    pub fn from_client(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.into(),
            read_milli: Arc::default(),
            requests: Arc::default(),
            write_milli: Arc::default(),
            call_timeout: OPERATION_TIMEOUT + Duration::from_secs(1),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn count(&self, c: Option<&ConsumedCapacity>) {
        let Some(c) = c else { return };
        let milli = |v: Option<f64>| (v.unwrap_or(0.0) * 1000.0).round() as u64;
        let (r, w) = (
            milli(c.read_capacity_units()),
            milli(c.write_capacity_units()),
        );
        if r == 0 && w == 0 {
            // Some servers report only the total; the operation says which kind it was.
            return;
        }
        self.read_milli.fetch_add(r, Ordering::Relaxed);
        self.write_milli.fetch_add(w, Ordering::Relaxed);
    }

    fn count_total(&self, c: Option<&ConsumedCapacity>, write: bool) {
        let Some(c) = c else { return };
        if c.read_capacity_units().is_some() || c.write_capacity_units().is_some() {
            return self.count(Some(c));
        }
        let units = (c.capacity_units().unwrap_or(0.0) * 1000.0).round() as u64;
        if write {
            &self.write_milli
        } else {
            &self.read_milli
        }
        .fetch_add(units, Ordering::Relaxed);
    }

    /// Creates the table exactly as `infra/template.yaml` declares it: `pk` (S) hash key, `sk`
    /// (S) range key, on-demand billing, server-side encryption, TTL on `expires_at`. Point-in-
    /// time recovery is switched on where the server supports it. An existing table is left as
    /// it is apart from those two settings, which are applied again (so a run interrupted
    /// between creating and configuring the table is finished by the next one).
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let def = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_err)
        };
        let created = self
            .client
            .create_table()
            .table_name(self.table.as_ref())
            .attribute_definitions(def("pk")?)
            .attribute_definitions(def("sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(unavailable(e)),
        }
        // DynamoDB refuses to change a table that is still being created.
        for _ in 0..120 {
            let described = self
                .client
                .describe_table()
                .table_name(self.table.as_ref())
                .send()
                .await
                .map_err(unavailable)?;
            let status = described.table().and_then(|t| t.table_status().cloned());
            if status == Some(aws_sdk_dynamodb::types::TableStatus::Active) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let ttl = self
            .client
            .update_time_to_live()
            .table_name(self.table.as_ref())
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(EXPIRES_AT)
                    .enabled(true)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await;
        match ttl {
            Ok(_) => {}
            // Already enabled: DynamoDB says so with a validation error (any other validation
            // error, such as TTL on another attribute, is one to report).
            Err(e)
                if e.code() == Some("ValidationException")
                    && e.message().is_some_and(|m| m.contains("already enabled")) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let pitr = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(build_err)?;
        if let Err(e) = self
            .client
            .update_continuous_backups()
            .table_name(self.table.as_ref())
            .point_in_time_recovery_specification(pitr)
            .send()
            .await
        {
            tracing::warn!(error = %e.code().unwrap_or("unknown"), "point-in-time recovery not enabled");
        }
        Ok(())
    }
}

/// Amazon Trust Services' roots (and the Starfield roots that cross-sign them), the only CAs
/// DynamoDB's endpoints chain to: copied from Debian's `ca-certificates`.
const AWS_ROOTS_PEM: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// The SDK's default HTTPS client (hyper 1, rustls with aws-lc, the proxy settings from the
/// environment) trusting only [`AWS_ROOTS_PEM`]. The default reads and parses the system's
/// whole CA bundle (about 140 certificates) at start-up, a millisecond of every cold start
/// spent on CAs this function can never meet; trusting fewer roots is also the narrower trust.
/// Shared by every AWS client a Lambda builds (DynamoDB, SSM).
pub fn aws_https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    Builder::new().build_with_connector_fn(move |settings, components| {
        let trust = TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AWS_ROOTS_PEM);
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .unwrap_or_default();
        let mut builder = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context);
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Invalid {
        what: "DynamoDB request",
        why: e.to_string(),
    }
}

fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let what = match &e {
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "cannot reach DynamoDB".to_owned(),
        // The one an operator meets first on a new account or a mistyped --table.
        other if other.code() == Some("ResourceNotFoundException") => {
            "the DynamoDB table does not exist (ResourceNotFoundException): create it with \
             `sso create-table --store dynamodb --table <name>`, or check --table"
                .to_owned()
        }
        other => {
            if std::env::var_os("SSO_DEBUG_DYNAMODB").is_some() {
                eprintln!("DynamoDB error {:?}: {:?}", other.code(), other.message());
            }
            other
                .code()
                .map(str::to_owned)
                .unwrap_or_else(|| "DynamoDB error".to_owned())
        }
    };
    // The SDK's error is kept as the cause: the adapters' error mapping logs its chain once.
    StoreError::unavailable_from(what, e)
}

fn to_av(a: &Attr) -> AttributeValue {
    match a {
        Attr::S(s) => AttributeValue::S(s.clone()),
        Attr::N(n) => AttributeValue::N(n.to_string()),
        Attr::Bool(b) => AttributeValue::Bool(*b),
    }
}

fn key_map(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// An item as DynamoDB takes it.
pub fn to_dynamo(item: &Item) -> HashMap<String, AttributeValue> {
    let mut m = key_map(&item.key);
    for (k, v) in &item.attrs {
        m.insert(k.clone(), to_av(v));
    }
    m
}

/// An item as DynamoDB returns it. Attribute kinds this store never writes are an error.
pub fn from_dynamo(mut m: HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let mut take_s = |name: &str| match m.remove(name) {
        Some(AttributeValue::S(s)) => Ok(s),
        _ => Err(StoreError::Corrupt {
            key: "?".into(),
            reason: format!("missing {name}"),
        }),
    };
    let key = Key::new(take_s("pk")?, take_s("sk")?);
    let mut item = Item::new(key);
    for (k, v) in m {
        let attr = match v {
            AttributeValue::S(s) => Attr::S(s),
            AttributeValue::Bool(b) => Attr::Bool(b),
            AttributeValue::N(n) => Attr::N(n.parse().map_err(|_| StoreError::Corrupt {
                key: item.key.to_string(),
                reason: format!("{k} is not an integer"),
            })?),
            _ => {
                return Err(StoreError::Corrupt {
                    key: item.key.to_string(),
                    reason: format!("{k} has an unexpected type"),
                });
            }
        };
        item.attrs.insert(k, attr);
    }
    Ok(item)
}

/// Builds expressions with placeholders for every name and value.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, n: &str) -> String {
        let p = format!("#n{}", self.names.len());
        let existing = self
            .names
            .iter()
            .find(|(_, v)| v.as_str() == n)
            .map(|(k, _)| k.clone());
        existing.unwrap_or_else(|| {
            self.names.insert(p.clone(), n.to_owned());
            p
        })
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    fn cond(&mut self, c: &Cond) -> Option<String> {
        match c {
            Cond::Always => None,
            Cond::AbsentOrExpired { now } => {
                let (pk, exp) = (self.name("pk"), self.name(EXPIRES_AT));
                let now = self.value(AttributeValue::N(now.to_string()));
                Some(format!("attribute_not_exists({pk}) OR {exp} <= {now}"))
            }
            Cond::Live { now, reqs } => {
                let (pk, exp) = (self.name("pk"), self.name(EXPIRES_AT));
                let now = self.value(AttributeValue::N(now.to_string()));
                let mut parts = vec![
                    format!("attribute_exists({pk})"),
                    format!("(attribute_not_exists({exp}) OR {exp} > {now})"),
                ];
                for r in reqs {
                    parts.push(match r {
                        Req::Eq(name, v) => {
                            let (n, v) = (self.name(name), self.value(to_av(v)));
                            format!("{n} = {v}")
                        }
                        Req::Missing(name) => format!("attribute_not_exists({})", self.name(name)),
                        Req::MissingOrTrue(missing, flag) => {
                            let (m, f) = (self.name(missing), self.name(flag));
                            let t = self.value(AttributeValue::Bool(true));
                            format!("(attribute_not_exists({m}) OR {f} = {t})")
                        }
                        Req::MissingOrBelow(name, v) => {
                            let n = self.name(name);
                            let v = self.value(AttributeValue::N(v.to_string()));
                            format!("(attribute_not_exists({n}) OR {n} < {v})")
                        }
                        Req::AtLeast(name, v) => {
                            let n = self.name(name);
                            let v = self.value(AttributeValue::N(v.to_string()));
                            format!("{n} >= {v}")
                        }
                        Req::Unlocked { count, at, tiers } => self.unlocked(count, at, tiers),
                    });
                }
                Some(parts.join(" AND "))
            }
        }
    }

    /// `Req::Unlocked` as a condition expression: below the first threshold, or within one
    /// tier with its time at or before that tier's cutoff.
    fn unlocked(&mut self, count: &str, at: &str, tiers: &[(u32, i64)]) -> String {
        let (c, a) = (self.name(count), self.name(at));
        let Some(&(first, _)) = tiers.first() else {
            return format!("(attribute_exists({c}) OR attribute_not_exists({c}))");
        };
        let first = self.value(AttributeValue::N(first.to_string()));
        let mut clauses = vec![
            format!("attribute_not_exists({c})"),
            format!("{c} < {first}"),
        ];
        for (i, &(threshold, cutoff)) in tiers.iter().enumerate() {
            let lo = self.value(AttributeValue::N(threshold.to_string()));
            let cut = self.value(AttributeValue::N(cutoff.to_string()));
            clauses.push(match tiers.get(i + 1) {
                Some(&(next, _)) => {
                    let hi = self.value(AttributeValue::N(next.to_string()));
                    format!("({c} >= {lo} AND {c} < {hi} AND {a} <= {cut})")
                }
                None => format!("({c} >= {lo} AND {a} <= {cut})"),
            });
        }
        format!("({})", clauses.join(" OR "))
    }

    /// The update expression of an update write (`None` for any other write).
    fn update(&mut self, write: &Write) -> Option<String> {
        let Write::Update {
            set, add, set_sum, ..
        } = write
        else {
            return None;
        };
        let mut out = String::new();
        let mut parts: Vec<String> = set
            .iter()
            .map(|(n, v)| format!("{} = {}", self.name(n), self.value(to_av(v))))
            .collect();
        // Operands are read from the item as it was before this write, as `Write::apply` does.
        for (target, source, plus) in set_sum {
            let part = format!(
                "{} = if_not_exists({}, {}) + {}",
                self.name(target),
                self.name(source),
                self.value(AttributeValue::N("0".into())),
                self.value(AttributeValue::N(plus.to_string()))
            );
            parts.push(part);
        }
        if !parts.is_empty() {
            out.push_str(&format!("SET {}", parts.join(", ")));
        }
        if !add.is_empty() {
            let parts: Vec<String> = add
                .iter()
                .map(|(n, d)| {
                    format!(
                        "{} {}",
                        self.name(n),
                        self.value(AttributeValue::N(d.to_string()))
                    )
                })
                .collect();
            out.push_str(&format!(" ADD {}", parts.join(", ")));
        }
        Some(out.trim_start().to_owned())
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// A write request builder on `table` with its condition and the attribute names and values
/// its expressions use (every write builder has these setters, but no trait names them).
macro_rules! conditioned {
    ($builder:expr, $table:expr, $cond:expr, $x:expr) => {
        $builder
            .table_name($table)
            .set_condition_expression($cond)
            .set_expression_attribute_names($x.names())
            .set_expression_attribute_values($x.values())
    };
}

#[async_trait]
impl ItemBackend for Dynamo {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(unavailable)?;
        self.count_total(out.consumed_capacity(), false);
        out.item.map(from_dynamo).transpose()
    }

    async fn write(&self, write: Write) -> Result<WriteOutcome, StoreError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut x = Expr::default();
        let cond = x.cond(write.cond());
        let update = x.update(&write);
        let table = self.table.as_ref();
        let rcc = ReturnConsumedCapacity::Total;
        // Sends a single-item write with its condition, asking for the item (old or new) back.
        macro_rules! finish {
            ($builder:expr, $returns:expr) => {
                match conditioned!($builder, table, cond, x)
                    .return_values($returns)
                    .return_consumed_capacity(rcc)
                    .send()
                    .await
                {
                    Ok(out) => {
                        self.count_total(out.consumed_capacity(), true);
                        Ok(WriteOutcome::Done(
                            out.attributes.map(from_dynamo).transpose()?,
                        ))
                    }
                    Err(e) if is_condition_failure(&e) => Ok(WriteOutcome::ConditionFailed),
                    Err(e) => Err(unavailable(e)),
                }
            };
        }
        match &write {
            Write::Put { item, .. } => finish!(
                self.client.put_item().set_item(Some(to_dynamo(item))),
                ReturnValue::AllOld
            ),
            Write::Update { key, .. } => finish!(
                self.client
                    .update_item()
                    .set_key(Some(key_map(key)))
                    .set_update_expression(update),
                ReturnValue::AllNew
            ),
            Write::Delete { key, .. } => finish!(
                self.client.delete_item().set_key(Some(key_map(key))),
                ReturnValue::AllOld
            ),
            Write::Check { .. } => self.transact(vec![write.clone()]).await,
        }
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<WriteOutcome, StoreError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let table = self.table.as_ref();
        let mut items = Vec::with_capacity(writes.len());
        for w in &writes {
            let mut x = Expr::default();
            let cond = x.cond(w.cond());
            let update = x.update(w);
            // A check without a condition of its own checks that the item exists.
            let cond = match w {
                Write::Check { .. } => cond.or_else(|| Some("attribute_exists(pk)".into())),
                _ => cond,
            };
            // One part of the transaction, with its condition.
            macro_rules! part {
                ($builder:expr) => {
                    conditioned!($builder, table, cond, x)
                        .build()
                        .map_err(build_err)?
                };
            }
            let item = match w {
                Write::Put { item, .. } => TransactWriteItem::builder()
                    .put(part!(Put::builder().set_item(Some(to_dynamo(item))))),
                Write::Update { key, .. } => TransactWriteItem::builder().update(part!(
                    Update::builder()
                        .set_key(Some(key_map(key)))
                        .set_update_expression(update)
                )),
                Write::Delete { key, .. } => TransactWriteItem::builder()
                    .delete(part!(Delete::builder().set_key(Some(key_map(key))))),
                Write::Check { key, .. } => TransactWriteItem::builder()
                    .condition_check(part!(ConditionCheck::builder().set_key(Some(key_map(key))))),
            };
            items.push(item.build());
        }
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match sent {
            Ok(out) => {
                for c in out.consumed_capacity() {
                    self.count_total(Some(c), true);
                }
                Ok(WriteOutcome::Done(None))
            }
            Err(e) => {
                let cancelled_by_condition = e
                    .as_service_error()
                    .and_then(|s| match s {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t) => Some(t),
                        _ => None,
                    })
                    .is_some_and(|t| {
                        // A condition that failed, or another transaction on the same item
                        // (a conflict): either way nothing was applied, and a caller that
                        // re-reads and tries again is right to.
                        t.cancellation_reasons().iter().any(|r| {
                            matches!(r.code(), Some("ConditionalCheckFailed" | "TransactionConflict"))
                        })
                    });
                if cancelled_by_condition {
                    Ok(WriteOutcome::ConditionFailed)
                } else {
                    Err(unavailable(e))
                }
            }
        }
    }

    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut x = Expr::default();
        let (pk, sk) = (x.name("pk"), x.name("sk"));
        let pkv = x.value(AttributeValue::S(q.pk.clone()));
        let to = x.value(AttributeValue::S(q.sk_to.clone()));
        // DynamoDB refuses an empty string in a key condition: "from the start" is `<=`.
        let range = if q.sk_from.is_empty() {
            format!("{sk} <= {to}")
        } else {
            let from = x.value(AttributeValue::S(q.sk_from.clone()));
            format!("{sk} BETWEEN {from} AND {to}")
        };
        let limit = i32::try_from(q.limit.max(1)).unwrap_or(i32::MAX);
        let mut items = Vec::new();
        let mut start = q
            .after
            .as_ref()
            .map(|sk| key_map(&Key::new(q.pk.clone(), sk.clone())));
        // DynamoDB may stop a page early (1 MB); keep going until `limit` or the end.
        loop {
            let out = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .key_condition_expression(format!("{pk} = {pkv} AND {range}"))
                .set_expression_attribute_names(x.names())
                .set_expression_attribute_values(x.values())
                .scan_index_forward(!q.newest_first)
                .consistent_read(true)
                .limit(limit - i32::try_from(items.len()).unwrap_or(0))
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(unavailable)?;
            self.count_total(out.consumed_capacity(), false);
            for m in out.items.unwrap_or_default() {
                items.push(from_dynamo(m)?);
            }
            match out.last_evaluated_key {
                Some(k) if items.len() < q.limit => start = Some(k),
                _ => break,
            }
        }
        let next = (items.len() == q.limit)
            .then(|| items.last().map(|i| i.key.sk.clone()))
            .flatten();
        Ok(Page { items, next })
    }

    fn max_transaction_items(&self) -> usize {
        100
    }

    fn consumed(&self) -> Capacity {
        Capacity {
            read: self.read_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            write: self.write_milli.load(Ordering::Relaxed) as f64 / 1000.0,
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    /// Just above the SDK's own operation budget (retries included), which decides first.
    fn call_timeout(&self) -> Duration {
        self.call_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_lambda_client_builds_its_tls_connector_from_the_aws_roots() {
        assert_eq!(
            String::from_utf8_lossy(AWS_ROOTS_PEM)
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            6
        );
        // The connector (and so the trust store) is built on the first request: a bad PEM
        // would panic there. Nothing listens on port 9: a transport error, not a panic.
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(aws_https_client())
            .region(Region::new("us-east-1"))
            .endpoint_url("https://127.0.0.1:9")
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .timeout_config(timeouts())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        let err = Client::from_conf(conf)
            .list_tables()
            .send()
            .await
            .unwrap_err();
        assert!(unavailable(err).is_unavailable());
    }

    #[test]
    fn items_round_trip_through_attribute_values() {
        let item = Item::new(Key::new("TOKEN#t#ab", "T"))
            .with("subject", Attr::S("joe".into()))
            .with(EXPIRES_AT, Attr::N(1_700_000_000))
            .with("reusable", Attr::Bool(false));
        assert_eq!(from_dynamo(to_dynamo(&item)).unwrap(), item);
    }

    #[test]
    fn conditions_become_expressions_with_placeholders_only() {
        let mut x = Expr::default();
        let c = x
            .cond(&Cond::Live {
                now: 5,
                reqs: vec![Req::MissingOrTrue("consumed".into(), "reusable".into())],
            })
            .unwrap();
        assert_eq!(
            c,
            "attribute_exists(#n0) AND (attribute_not_exists(#n1) OR #n1 > :v0) AND (attribute_not_exists(#n2) OR #n3 = :v1)"
        );
        assert_eq!(x.names().unwrap()["#n2"], "consumed");
    }
}
