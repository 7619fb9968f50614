//! The key ring from SSM Parameter Store (a `SecureString`, decrypted) against moto on
//! loopback: what a function reads at init, and the errors that stop it from starting.

use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ssm::types::ParameterType;
use sso_store::SecretBox;

fn moto_ssm() -> aws_sdk_ssm::Client {
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(sso_store::testing::endpoint())
        .credentials_provider(Credentials::new("local", "local", None, None, "static"))
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

async fn put(client: &aws_sdk_ssm::Client, name: &str, value: &str) {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_secure_string_key_ring_is_read_decrypted_and_opens_what_both_keys_sealed() {
    let ssm = moto_ssm();
    let (new, old) = ("ab".repeat(32), "cd".repeat(32));
    let name = format!("/sso/test-{}/secret-key", std::process::id());
    put(&ssm, &name, &format!("{new},{old}")).await;
    let ring = sso_lambda::key_parameter::fetch_from(&ssm, &name)
        .await
        .unwrap();
    let sealed_by_old = SecretBox::from_hex(&old)
        .unwrap()
        .seal("ctx", "pw")
        .unwrap();
    let keys = SecretBox::from_ring(&ring).unwrap();
    assert!(keys.has_previous());
    assert_eq!(keys.open("ctx", &sealed_by_old).unwrap(), "pw");
}

#[tokio::test]
async fn a_missing_or_malformed_parameter_stops_the_function_without_showing_the_value() {
    let ssm = moto_ssm();
    let missing = sso_lambda::key_parameter::fetch_from(&ssm, "/sso/none")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("SSO_SECRET_KEY_PARAMETER") && missing.contains("ParameterNotFound"),
        "{missing}"
    );
    let name = format!("/sso/test-{}/short", std::process::id());
    put(&ssm, &name, "not-a-key-secretvalue").await;
    let bad = sso_lambda::key_parameter::fetch_from(&ssm, &name)
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("64 hex characters"), "{bad}");
    assert!(
        !bad.contains("secretvalue"),
        "the value is never shown: {bad}"
    );
}
