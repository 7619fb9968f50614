//! The callcenter Lambda (tenant-host `/sso/*` and the portal host): configuration from the
//! environment, the adapter's routers over DynamoDB.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let config = sso_lambda::Config::from_env()?;
    sso_lambda::init_tracing(&config);
    let platform = sso_lambda::platform(&config).await?;
    sso_lambda::run(sso_sticky::all_routes(platform)).await
}
