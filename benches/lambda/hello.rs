//! The baseline for Lambda start-up measurements: a hello-world `lambda_http` function built
//! with the same release profile as ours (`benches/lambda/measure_start.py`).

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
