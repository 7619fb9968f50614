//! The signed-link Lambda: configuration from the environment, the adapter's router over DynamoDB.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    sso_lambda::serve(sso_virtualagent::router, sso_lambda::SecretKey::Required).await
}
