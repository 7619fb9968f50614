//! The helpdesk Lambda: configuration from the environment, the adapter's router over DynamoDB.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let config = sso_lambda::Config::from_env()?;
    sso_lambda::init_tracing(&config);
    let platform = sso_lambda::platform(&config).await?;
    sso_lambda::run(sso_activecampaign::router(platform)).await
}
