//! The `quarantine` Lambda function. Everything but start-up lives in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reflex_shared::lambda::init_tracing();
    let env = |key: &str| std::env::var(key).ok();
    let sdk = reflex_shared::aws::load_sdk_config().await;
    let handler = reflex_quarantine::handler_from_env(&env, &sdk).await?;
    reflex_shared::lambda::serve(handler).await
}
