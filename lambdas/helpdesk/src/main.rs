//! The helpdesk Lambda: configuration from the environment, the adapter's router over DynamoDB.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    sso_lambda::serve(sso_activecampaign::router, sso_lambda::SecretKey::Optional).await
}
