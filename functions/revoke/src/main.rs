//! The `revoke` Lambda function. Everything but start-up lives in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reflex_shared::lambda::init_tracing();
    let env = |key: &str| std::env::var(key).ok();
    let handler = reflex_revoke::handler_from_env(&env).await?;
    reflex_shared::lambda::serve(handler).await
}
