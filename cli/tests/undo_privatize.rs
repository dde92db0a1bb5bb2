//! `reflex undo` of privatize's remediations, the real binary against the emulator: a bucket, a
//! snapshot or an image made public with the call a sample records, privatized by the real
//! handler, `reflex undo` on the event, and the exposure read back exactly as it was before the
//! remediation (undo is for a remediation that was wrong: the owner meant it public); the ledger
//! records both, and the undo of the undo privatizes again. A removed exemption tag is refused.

mod common;

use common::{Run, assert_undone_once, made_statuses, the_remediation, undo};
use reflex_privatize::Privatize;
use reflex_shared::report::{Report, Status};
use reflex_tests::exposure;
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    (emulator, acct)
}

/// The sample's call replayed in the emulator: the event, pointed at what the emulator made.
async fn replayed(acct: &Account, file: &str) -> Value {
    exposure::replay(acct, sample(&format!("privatize/{file}"))).await
}

async fn remediate(acct: &Account, event: Value) -> Report {
    acct.handler::<Privatize>("enforce", &[])
        .await
        .handle(event)
        .await
        .expect("handled")
}

/// `reflex --json undo --yes <event id>`, the real binary against the emulator.
fn undo_event(emu: &Emulator, acct: &Account, event: &Value) -> Run {
    undo(emu, acct, event["id"].as_str().expect("an event id"))
}

/// The reasons the undo's plan gives for the steps it refuses.
fn refusals(run: &Run) -> Vec<String> {
    run.json["planned"][0]["plan"]
        .as_array()
        .map(|plan| {
            plan.iter()
                .filter(|p| p["plan"] == "refused")
                .map(|p| p["why"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The snapshot or image id the replayed event names, if any.
fn shared_ids(event: &Value) -> (Option<String>, Option<String>) {
    let req = &event["detail"]["requestParameters"];
    let id = |k: &str| req[k].as_str().map(String::from);
    (id("snapshotId"), id("imageId"))
}

/// Remediate the sample's exposure, undo it with `reflex undo`, and check the state is exactly
/// what it was before the remediation (and different in between) and the ledger records both; a
/// second undo changes nothing; the undo of the undo privatizes again.
async fn remediate_and_undo(file: &str) {
    let (emu, acct) = account().await;
    let event = replayed(&acct, file).await;
    let (snapshot, image) = shared_ids(&event);
    let state = || exposure::state_text(&acct, snapshot.as_deref(), image.as_deref());
    let exposed = state().await;

    let report = remediate(&acct, event.clone()).await;
    assert_eq!(report.status, Status::Remediated, "{file}: {report:#?}");
    let private = state().await;
    assert_ne!(private, exposed, "{file}: the remediation changed it");
    let (claim, steps) = the_remediation(&acct, &event).await;
    assert_eq!(steps.len(), 1, "{file}");

    let run = undo_event(&emu, &acct, &event);

    assert_eq!(run.code, 2, "{file}: {run:#?}");
    assert_eq!(made_statuses(&run, 0), ["done"], "{file}: {run:#?}");
    assert_eq!(state().await, exposed, "{file}: back as it was");
    let undo_id = assert_undone_once(&acct, &claim).await;
    assert_eq!(the_remediation(&acct, &event).await.1, steps, "{file}");

    let again = undo_event(&emu, &acct, &event);
    assert_eq!(again.code, 0, "{file}: {again:#?}");
    assert_eq!(state().await, exposed, "{file}");

    let redo = undo(&emu, &acct, &undo_id);
    assert_eq!(redo.code, 2, "{file}: {redo:#?}");
    assert_eq!(made_statuses(&redo, 0), ["done"], "{file}: {redo:#?}");
    assert_eq!(
        state().await,
        private,
        "{file}: the undo of the undo privatizes again"
    );
}

#[tokio::test]
async fn undo_puts_a_bucket_policy_back_with_its_public_statement() {
    remediate_and_undo("put-bucket-policy-public.json").await;
}

#[tokio::test]
async fn undo_puts_a_bucket_acl_back_with_its_public_grant() {
    remediate_and_undo("put-bucket-acl-grant-all-users.json").await;
}

#[tokio::test]
async fn undo_puts_a_public_access_block_back_as_it_was() {
    // Settings turned off one by one, and the block deleted altogether.
    remediate_and_undo("put-public-access-block-off.json").await;
    remediate_and_undo("delete-public-access-block.json").await;
}

#[tokio::test]
async fn undo_shares_a_snapshot_and_an_image_with_everyone_again() {
    remediate_and_undo("modify-snapshot-attribute-public.json").await;
    remediate_and_undo("modify-image-attribute-public.json").await;
}

#[tokio::test]
async fn undo_refuses_to_grant_a_removed_exemption_again() {
    let (emu, acct) = account().await;
    exposure::seed_bucket(&acct, exposure::BUCKET).await;
    let event = replayed(&acct, "exemption-tag-on-bucket.json").await;
    let report = remediate(&acct, event.clone()).await;
    let removed = report
        .actions()
        .find(|a| a.description.starts_with("remove the exemption tag"))
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert_eq!(removed.outcome.status(), "done", "{report:#?}");
    let tags = exposure::bucket_tags(&acct, exposure::BUCKET).await;

    let run = undo_event(&emu, &acct, &event);

    let why = refusals(&run);
    assert!(
        why.iter().any(|w| w.contains("undo grants no exemption")),
        "{run:#?}"
    );
    assert_eq!(
        exposure::bucket_tags(&acct, exposure::BUCKET).await,
        tags,
        "the exemption tag is not set again"
    );
}
