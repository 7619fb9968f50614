//! Black-box tests, one binary. Add a module, not a file beside this one.

/// Runs each named scenario `fn(Backend)` twice: on the embedded store and on DynamoDB (moto).
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(sso_tests::Backend::Embedded).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(sso_tests::Backend::DynamoDb).await;
                }
            )*
        }
    };
}

mod abuse;
mod browser;
mod callcenter;
mod faults;
mod fuzz;
mod hardening;
mod helpdesk;
mod openapi;
mod partner_kit;
mod php_golden;
mod redaction;
mod scanner_safe;
mod signed_link;
