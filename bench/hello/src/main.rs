//! The cold-start floor: the smallest `lambda_runtime` function, with the same runtime, tracing
//! set-up and release profile as Reflex's functions, and nothing else. It answers every event
//! with `{"hello": "world"}`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, lambda_runtime::Error>(json!({"hello": "world"}))
    }))
    .await
}
