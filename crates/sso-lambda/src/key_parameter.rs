//! The secret key ring out of the environment: read from an SSM Parameter Store
//! `SecureString` (`SSO_SECRET_KEY_PARAMETER`) once per container, at init, with decryption.
//! The function's role may read that one parameter only (`infra/template.yaml`). The value has
//! the format of `SSO_SECRET_KEY`: `CURRENT` or `CURRENT,PREVIOUS` during a rotation.
//!
//! In a Lambda the client is built like the DynamoDB one: credentials from the variables
//! Lambda sets, the region from `AWS_REGION`, AWS's roots only; `AWS_ENDPOINT_URL_SSM` is
//! honoured (the tests point it at moto on loopback). Elsewhere the default provider chain.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ssm::config::{Region, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_ssm::error::DisplayErrorContext;
use sso_web::settings::SECRET_KEY_PARAMETER;

use crate::ConfigError;

/// An init that cannot read its key fails within this (the Lambda init phase allows 10 s).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_millis(1500))
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The SSM client of this environment (see the module docs).
pub async fn client() -> aws_sdk_ssm::Client {
    let lambda_env = std::env::var("AWS_REGION")
        .ok()
        .filter(|_| std::env::var_os("AWS_ACCESS_KEY_ID").is_some());
    if let Some(region) = lambda_env {
        let mut conf = aws_sdk_ssm::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(sso_store::dynamo::aws_https_client())
            .region(Region::new(region))
            .credentials_provider(
                aws_config::environment::credentials::EnvironmentVariableCredentialsProvider::new(),
            )
            .timeout_config(timeouts())
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_SSM") {
            conf = conf.endpoint_url(url);
        }
        return aws_sdk_ssm::Client::from_conf(conf.build());
    }
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await;
    aws_sdk_ssm::Client::new(&sdk)
}

/// The key ring held by the parameter `name`, decrypted, through this environment's client.
pub async fn fetch(name: &str) -> Result<String, ConfigError> {
    fetch_from(&client().await, name).await
}

/// The key ring held by the parameter `name`, decrypted, checked to be a usable ring. Errors
/// name the parameter and the service's reason, never the value.
pub async fn fetch_from(client: &aws_sdk_ssm::Client, name: &str) -> Result<String, ConfigError> {
    let invalid = |why: String| ConfigError::Invalid(SECRET_KEY_PARAMETER, why);
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| invalid(format!("{name}: {}", DisplayErrorContext(&e))))?;
    let ring = out
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| invalid(format!("{name}: the parameter has no value")))?;
    sso_store::SecretBox::from_ring(ring).map_err(|e| invalid(format!("{name}: {e}")))?;
    Ok(ring.to_owned())
}
