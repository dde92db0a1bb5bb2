//! Reflex's emulator harness, shared by the end-to-end tests and the local demo.

pub mod account;
pub mod demo;
pub mod ec2;
pub mod emulator;
pub mod member;
pub mod pattern;
pub mod template;
pub mod trail;

pub use account::{Account, Delivered, load_event};
pub use emulator::Emulator;

use reflex_shared::pipeline::{Handler, Remediator};
use serde_json::Value;

/// Deliver one event five times at once, as a burst of EventBridge retries would; the status of
/// each report.
pub async fn deliver_five_at_once<R: Remediator>(
    handler: &Handler<R>,
    event: &Value,
) -> Vec<String> {
    let results = tokio::join!(
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
    );
    [results.0, results.1, results.2, results.3, results.4]
        .into_iter()
        .map(|r| {
            r.expect("handled").to_json()["status"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}
