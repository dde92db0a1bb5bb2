//! Notify through the core's pipeline (`Handler::handle`, no ledger, no topic): every finding
//! reaches a person, and an event from another account is reported from home.

use reflex_notify::{Notify, Settings};
use reflex_shared::report::{Report, Status};
use reflex_testkit::{enforcing, sample};
use serde_json::Value;

async fn handle(event: Value) -> Report {
    enforcing(Notify, Settings::default())
        .handle(event)
        .await
        .expect("the event is handled")
}

#[tokio::test]
async fn a_finding_of_any_severity_needs_a_person() {
    // INSUFFICIENT_DATA is a LOW finding: still for a person.
    let report = handle(sample("notify/alarm-metric-math-insufficient-data.json")).await;
    assert_eq!(report.findings.len(), 1, "{report:#?}");
    assert_eq!(report.status, Status::NeedsAttention);
    assert_eq!(report.actions().count(), 0);
}

#[tokio::test]
async fn nothing_to_report_is_nothing_to_do() {
    let report = handle(sample("notify/sign-in-with-mfa.json")).await;
    assert_eq!(report.status, Status::NothingToDo);
}

#[tokio::test]
async fn an_event_from_a_member_account_is_reported_from_home() {
    let mut event = sample("notify/sign-in-root.json");
    event["account"] = "222222222222".into();
    event["region"] = "eu-west-1".into();
    // The handler acts only in the sample account: a function that acted where the event
    // happened would refuse this one.
    let report = handle(event).await;
    assert_eq!(report.status, Status::NeedsAttention, "{report:#?}");
    assert!(
        !report.notes.iter().any(|n| n.starts_with("acting in")),
        "{:?}",
        report.notes
    );
}
