//! The deployment's settings, read and checked once, in one place, for the local server and
//! for the Lambda functions alike (12-factor: environment variables; the local server's flags
//! are the same names). What differs between the two is only the defaults.

use ipnet::IpNet;
use thiserror::Error;

use crate::WebConfig;

/// `SSO_BASE_DOMAIN`: tenants are `<tenant>.<base>`, the portal `my.<base>`.
pub const BASE_DOMAIN: &str = "SSO_BASE_DOMAIN";
/// `SSO_TABLE`: the DynamoDB table.
pub const TABLE: &str = "SSO_TABLE";
/// `SSO_SECRET_KEY`: the key ring that seals vendor passwords at rest: 64 hex characters,
/// or during a rotation `CURRENT,PREVIOUS` (the previous key only opens).
pub const SECRET_KEY: &str = "SSO_SECRET_KEY";
/// `SSO_SECRET_KEY_PARAMETER`: the name of an SSM Parameter Store `SecureString` holding the
/// key ring (same format as [`SECRET_KEY`]); a Lambda reads it once per container at init,
/// so the key is never in the function's environment.
pub const SECRET_KEY_PARAMETER: &str = "SSO_SECRET_KEY_PARAMETER";
/// `SSO_TRUSTED_PROXIES`: comma-separated CIDRs whose `X-Forwarded-For` is believed.
pub const TRUSTED_PROXIES: &str = "SSO_TRUSTED_PROXIES";
/// `SSO_AUDIT_TO_TABLE`: also store audit events in the table (`true` / `1`).
pub const AUDIT_TO_TABLE: &str = "SSO_AUDIT_TO_TABLE";
/// `SSO_HTTPS`: public URLs and cookies are https.
pub const HTTPS: &str = "SSO_HTTPS";
/// `SSO_SINGLE_TENANT`: serve this tenant on hosts that name none.
pub const SINGLE_TENANT: &str = "SSO_SINGLE_TENANT";
/// `SSO_METRICS_FROM`: comma-separated CIDRs that may read the local server's `/metrics`
/// (default loopback only).
pub const METRICS_FROM: &str = "SSO_METRICS_FROM";
/// `SSO_LOG`: the log filter (`info`, `debug`, `sso_web=debug,info`…).
pub const LOG: &str = "SSO_LOG";

/// A setting that cannot be used: the process refuses to start rather than serve wrongly.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A required variable is missing.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable has an unusable value.
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

/// Where the settings are used, which decides the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// A Lambda function: base domain and table required, https, audit in log lines unless
    /// `SSO_AUDIT_TO_TABLE`.
    Lambda,
    /// `sso serve`: `localhost`, table `sso`, plain http unless `SSO_HTTPS`, audit always in
    /// the store.
    Local,
}

/// Every setting the gateway reads.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// See [`BASE_DOMAIN`].
    pub base_domain: String,
    /// See [`TABLE`].
    pub table: String,
    /// See [`SECRET_KEY`] (checked to be one or two keys of 64 hex characters).
    pub secret_key: Option<String>,
    /// See [`SECRET_KEY_PARAMETER`] (a Lambda fetches the ring from it when `secret_key` is
    /// not given).
    pub secret_key_parameter: Option<String>,
    /// See [`TRUSTED_PROXIES`].
    pub trusted_proxies: Vec<IpNet>,
    /// Audit events are stored as well as logged.
    pub audit_to_store: bool,
    /// See [`HTTPS`].
    pub https: bool,
    /// See [`SINGLE_TENANT`] (the local server only; never in a Lambda).
    pub single_tenant: Option<String>,
    /// See [`LOG`].
    pub log: String,
    /// See [`METRICS_FROM`].
    pub metrics_from: Vec<IpNet>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("base_domain", &self.base_domain)
            .field("table", &self.table)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("secret_key_parameter", &self.secret_key_parameter)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("audit_to_store", &self.audit_to_store)
            .field("https", &self.https)
            .field("single_tenant", &self.single_tenant)
            .field("log", &self.log)
            .field("metrics_from", &self.metrics_from)
            .finish()
    }
}

fn flag(v: Option<String>) -> bool {
    v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"))
}

/// Comma-separated CIDRs (single addresses are taken as /32 or /128).
pub fn parse_cidrs(name: &'static str, text: &str) -> Result<Vec<IpNet>, SettingsError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| SettingsError::Invalid(name, s.to_owned()))
        })
        .collect()
}

impl Settings {
    /// Reads every setting through `get` (the environment, or the local server's flags under
    /// the same names), with the defaults of `deployment`.
    pub fn read(
        get: impl Fn(&str) -> Option<String>,
        deployment: Deployment,
    ) -> Result<Self, SettingsError> {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        let local = deployment == Deployment::Local;
        let required_or = |name: &'static str, default: &str| match get(name) {
            Some(v) => Ok(v),
            None if local => Ok(default.to_owned()),
            None => Err(SettingsError::Missing(name)),
        };
        let secret_key = get(SECRET_KEY);
        if let Some(k) = &secret_key {
            sso_store::SecretBox::from_ring(k)
                .map_err(|e| SettingsError::Invalid(SECRET_KEY, e.to_string()))?;
        }
        Ok(Self {
            table: required_or(TABLE, "sso")?,
            base_domain: required_or(BASE_DOMAIN, "localhost")?,
            secret_key,
            secret_key_parameter: get(SECRET_KEY_PARAMETER),
            trusted_proxies: parse_cidrs(
                TRUSTED_PROXIES,
                &get(TRUSTED_PROXIES).unwrap_or_default(),
            )?,
            audit_to_store: local || flag(get(AUDIT_TO_TABLE)),
            https: !local || flag(get(HTTPS)),
            // A deployed function serves only hosts that name their tenant.
            single_tenant: get(SINGLE_TENANT).filter(|_| local),
            log: get(LOG).unwrap_or_else(|| "info".to_owned()),
            metrics_from: match get(METRICS_FROM) {
                Some(v) => parse_cidrs(METRICS_FROM, &v)?,
                None => crate::config::loopback_nets(),
            },
        })
    }

    /// A Lambda function's settings from a variable lookup (the environment in production).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Self::read(get, Deployment::Lambda)
    }

    /// A Lambda function's settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Insists on [`SECRET_KEY`] or [`SECRET_KEY_PARAMETER`]: whatever reads vendors cannot
    /// work without the key their passwords were sealed with, so it refuses to start rather
    /// than fail every link.
    pub fn requiring_secret_key(self) -> Result<Self, SettingsError> {
        match (&self.secret_key, &self.secret_key_parameter) {
            (None, None) => Err(SettingsError::Missing(SECRET_KEY)),
            _ => Ok(self),
        }
    }

    /// The shared web configuration these settings make.
    pub fn web(&self) -> WebConfig {
        WebConfig {
            base_domain: self.base_domain.clone(),
            https: self.https,
            public_port: None,
            single_tenant: self.single_tenant.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            audit_to_store: self.audit_to_store,
            check_sealed_canary: self.secret_key.is_some() || self.secret_key_parameter.is_some(),
            metrics_from: self.metrics_from.clone(),
            ..WebConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_local_server_has_working_defaults_and_lambda_requires_its_own() {
        let local = Settings::read(env(&[]), Deployment::Local).unwrap();
        assert_eq!(
            (
                local.base_domain.as_str(),
                local.table.as_str(),
                local.https
            ),
            ("localhost", "sso", false)
        );
        assert!(local.audit_to_store);
        assert_eq!(
            Settings::read(env(&[("SSO_TABLE", "t")]), Deployment::Lambda),
            Err(SettingsError::Missing("SSO_BASE_DOMAIN"))
        );
        let lambda = Settings::from_lookup(env(&[
            ("SSO_TABLE", "t"),
            ("SSO_BASE_DOMAIN", "sso.example"),
            ("SSO_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
            ("SSO_SINGLE_TENANT", "demoaws"),
        ]))
        .unwrap();
        assert!(lambda.https && !lambda.audit_to_store);
        assert_eq!(
            lambda.single_tenant, None,
            "a function never serves a default tenant"
        );
        assert_eq!(lambda.trusted_proxies.len(), 2);
        assert_eq!(lambda.web().base_domain, "sso.example");
        assert!(matches!(
            Settings::read(
                env(&[("SSO_TRUSTED_PROXIES", "nonsense")]),
                Deployment::Local
            ),
            Err(SettingsError::Invalid("SSO_TRUSTED_PROXIES", _))
        ));
    }
}
