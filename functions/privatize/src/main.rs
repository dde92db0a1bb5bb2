//! The `privatize` Lambda function: everything but start-up lives in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reflex_shared::lambda::run::<reflex_privatize::Privatize>().await
}
