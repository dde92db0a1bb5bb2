//! `reflex undo` of scale's remediation, the real binary against the emulator: the real scale
//! handler raises a group's desired capacity on an alarm, `reflex undo` sets it back, the group
//! is read back at its capacity from before and the ledger records both; the undo of the undo
//! raises it again; a capacity changed since is left alone.

mod common;

use common::{Run, assert_undone_once, made_statuses, the_remediation, undo};
use reflex_scale::Scale;
use reflex_shared::report::{Report, Status};
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

/// A fresh emulator with `web` (min 1, max 4, desired 2).
async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed_group("web", 1, 4, 2).await;
    (emulator, acct)
}

async fn remediate(acct: &Account, event: &Value) -> Report {
    acct.handler::<Scale>("enforce", &[])
        .await
        .handle(event.clone())
        .await
        .expect("handled")
}

/// `reflex --json undo --yes <event id>`, the real binary against the emulator.
fn undo_event(emu: &Emulator, acct: &Account, event: &Value) -> Run {
    undo(emu, acct, event["id"].as_str().expect("an event id"))
}

#[tokio::test]
async fn undo_sets_the_capacity_back_and_the_undo_of_the_undo_raises_it_again() {
    let (emu, acct) = account().await;
    let event = sample("scale/cpu-high-alarm.json");
    let report = remediate(&acct, &event).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(acct.desired_capacity("web").await, 3);
    let (claim, steps) = the_remediation(&acct, &event).await;
    assert_eq!(steps.len(), 1);

    let run = undo_event(&emu, &acct, &event);

    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(made_statuses(&run, 0), ["done"], "{run:#?}");
    assert_eq!(
        run.json["made"][0]["steps"][0]["outcome"]["detail"],
        "desired capacity of web set back: 3 -> 2"
    );
    assert_eq!(acct.desired_capacity("web").await, 2);
    let undo_id = assert_undone_once(&acct, &claim).await;
    assert_eq!(
        the_remediation(&acct, &event).await.1,
        steps,
        "the remediation stays recorded"
    );

    // Again: already undone, nothing changes.
    let again = undo_event(&emu, &acct, &event);
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(acct.desired_capacity("web").await, 2);

    // The undo of the undo is the original remediation.
    let redo = undo(&emu, &acct, &undo_id);
    assert_eq!(redo.code, 2, "{redo:#?}");
    assert_eq!(made_statuses(&redo, 0), ["done"], "{redo:#?}");
    assert_eq!(acct.desired_capacity("web").await, 3);
}

#[tokio::test]
async fn undo_leaves_a_capacity_that_changed_since_alone() {
    let (emu, acct) = account().await;
    let event = sample("scale/cpu-high-alarm.json");
    let report = remediate(&acct, &event).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(acct.desired_capacity("web").await, 3);
    // Someone scales the group to 4 after Reflex's change.
    acct.autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name("web")
        .desired_capacity(4)
        .send()
        .await
        .expect("scale");

    let run = undo_event(&emu, &acct, &event);

    assert_eq!(made_statuses(&run, 0), ["failed"], "{run:#?}");
    assert_eq!(run.code, 1, "a step that failed is an error: {run:#?}");
    let why = run.json["made"][0]["steps"][0]["outcome"]["why"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("is 4 now, not the 3 Reflex set"), "{run:#?}");
    assert_eq!(
        acct.desired_capacity("web").await,
        4,
        "the person's change stands"
    );
}
