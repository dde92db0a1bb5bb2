//! Reflex's emulator harness, shared by the end-to-end tests and the local demo.

pub mod account;
pub mod demo;
pub mod ec2;
pub mod emulator;
pub mod exposure;
pub mod manifest;
pub mod member;
pub use reflex_routing::pattern;
pub mod policy;
pub mod proxy;
pub mod render;
pub mod runtime;
pub mod shell;
pub use reflex_routing::template;
pub mod trail;

pub use account::{Account, Delivered};
pub use emulator::Emulator;
/// The one loader of sample events, shared with the functions' own tests.
pub use reflex_testkit::{sample, sample_files};

use reflex_shared::pipeline::Handler;
use reflex_shared::report::{Report, Status};
use reflex_shared::{Function, Outcome};
use serde_json::Value;

/// Whether `event` records a tag write (`TagUser`, `TagRole`) that exempts the identity it
/// tags, one that exists before it (a user or role created with the tag is new: no other sample
/// acts on it), read as the functions read it (`ExemptTag::written_in`, the default tag). Suites
/// that deliver every sample keep these apart: their replay exempts the identities the other
/// samples act on.
pub fn exempts_an_existing_identity(event: &Value) -> bool {
    let detail = &event["detail"];
    matches!(detail["eventName"].as_str(), Some("TagUser" | "TagRole"))
        && reflex_shared::exemption::ExemptTag::default()
            .written_in(detail.get("requestParameters"))
            .is_some()
}

/// Deliver one event five times at once, as duplicate deliveries may arrive: the status of each
/// report, or the error type of each delivery that failed (another one was handling the event
/// then: `Transient.InProgress`, which Lambda retries).
pub async fn deliver_five_at_once<F: Function>(
    handler: &Handler<F>,
    event: &Value,
) -> Vec<Result<Status, String>> {
    let results = tokio::join!(
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
        handler.handle(event.clone()),
    );
    [results.0, results.1, results.2, results.3, results.4]
        .into_iter()
        .map(|r| r.map(|report| report.status).map_err(|e| e.error_type()))
        .collect()
}

/// Of five concurrent deliveries, exactly one acted (`acted`); each other one found the event
/// handled, or was told to come back later because the first was still at it.
pub fn acted_once(deliveries: &[Result<Status, String>], acted: Status) {
    let actors = deliveries.iter().filter(|d| **d == Ok(acted)).count();
    assert_eq!(actors, 1, "exactly one delivery acts: {deliveries:?}");
    for d in deliveries.iter().filter(|d| **d != Ok(acted)) {
        assert!(
            *d == Ok(Status::AlreadyHandled) || *d == Err("Transient.InProgress".to_string()),
            "the others find it handled or in progress: {deliveries:?}"
        );
    }
}

/// The outcome of the report's action whose description starts with `prefix`; panics, showing
/// the report, if there is none.
pub fn outcome<'a>(report: &'a Report, prefix: &str) -> &'a Outcome {
    &report
        .actions()
        .find(|a| a.description.starts_with(prefix))
        .unwrap_or_else(|| panic!("no action starting with {prefix:?}: {report:#?}"))
        .outcome
}

/// A seeded account in a fresh emulator, with a fault proxy in front of it for the handler's
/// calls: what the fault and concurrency tests start from.
pub async fn seeded_behind_a_proxy() -> (Emulator, Account, proxy::FaultProxy) {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    let proxy = proxy::FaultProxy::start(&emulator.endpoint);
    (emulator, acct, proxy)
}
