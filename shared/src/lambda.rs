//! Lambda glue: tracing set-up and the runtime loop. A function's `main` is a few lines.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use crate::pipeline::{Handler, Remediator};

/// JSON logs when Lambda asks for them (`AWS_LAMBDA_LOG_FORMAT=JSON`), human logs otherwise.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Serve events until the runtime stops us. The response is the report as JSON.
pub async fn serve<R: Remediator>(mut handler: Handler<R>) -> Result<(), lambda_runtime::Error> {
    handler.emit_metrics = true;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler
            .handle(event.payload)
            .await
            .map(|report| report.to_json())
    }))
    .await
}
