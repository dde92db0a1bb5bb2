//! Reflex's emulator harness, shared by the end-to-end tests and the local demo.

pub mod account;
pub mod demo;
pub mod ec2;
pub mod emulator;
pub mod member;
pub mod pattern;
pub mod template;
pub mod trail;

pub use account::{Account, Delivered};
pub use emulator::Emulator;
/// The one loader of sample events, shared with the functions' own tests.
pub use reflex_testkit::{sample, sample_files};

use reflex_shared::Function;
use reflex_shared::pipeline::Handler;
use reflex_shared::report::Status;
use serde_json::Value;

/// Deliver one event five times at once, as a burst of EventBridge retries would; the status of
/// each report.
pub async fn deliver_five_at_once<F: Function>(handler: &Handler<F>, event: &Value) -> Vec<Status> {
    let results = tokio::join!(
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
    );
    [results.0, results.1, results.2, results.3, results.4]
        .into_iter()
        .map(|r| r.expect("handled").status)
        .collect()
}
