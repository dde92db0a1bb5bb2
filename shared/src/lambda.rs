//! Lambda glue: tracing set-up and the runtime loop. A function's `main` is one call to [`run`].

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::function::Function;
use crate::pipeline::{Deadline, Handler, handler_from_env};

/// JSON logs when Lambda asks for them (`AWS_LAMBDA_LOG_FORMAT=JSON`), human logs otherwise.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Everything a function's `main` does: logs set up, configuration read from the process
/// environment, the handler built once, then events served until the runtime stops us.
pub async fn run<F: Function>() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let env = |key: &str| std::env::var(key).ok();
    let sdk = crate::aws::load_sdk_config().await;
    let handler = handler_from_env::<F>(&env, &sdk).await?;
    serve(handler).await
}

/// Serve events until the runtime stops us, each by the deadline Lambda hands with it. The
/// response is the report as JSON; an error is the handler's (its `error_type` says whether
/// Lambda's retry may help).
pub async fn serve<F: Function>(mut handler: Handler<F>) -> Result<(), lambda_runtime::Error> {
    handler.emit_metrics = true;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = Deadline::from_runtime(event.context.deadline);
        handler
            .handle_by(event.payload, deadline)
            .await
            .map(|report| report.to_json())
    }))
    .await
}
