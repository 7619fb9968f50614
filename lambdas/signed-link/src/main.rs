//! The signed-link Lambda: configuration from the environment, the adapter's router over DynamoDB.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let config = sso_lambda::Config::from_env()?.requiring_secret_key()?;
    sso_lambda::init_tracing(&config);
    let platform = sso_lambda::platform(&config).await?;
    sso_lambda::run(sso_virtualagent::router(platform)).await
}
