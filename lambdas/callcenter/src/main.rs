//! The callcenter Lambda (tenant-host `/sso/*` and the portal host): configuration from the
//! environment, the adapter's routers over DynamoDB.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    sso_lambda::serve(sso_sticky::all_routes, sso_lambda::SecretKey::Optional).await
}
