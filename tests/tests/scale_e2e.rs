//! End to end against the emulator (Auto Scaling, DynamoDB, SNS/SQS): alarm state changes scale
//! the `web` group exactly once per event, in order, with a cooldown.

use std::time::Duration;

use reflex_scale::Scale;
use reflex_shared::Outcome;
use reflex_shared::ledger::Ledger;
use reflex_shared::report::{Report, Status};
use reflex_tests::account::LEDGER_TABLE;
use reflex_tests::proxy::FaultProxy;
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

/// A fresh emulator with `web` (min 1, max 4, desired 2) and the ledger table.
async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    account.seed_group("web", 1, 4, 2).await;
    (emulator, account)
}

async fn deliver(acct: &Account, file: &str, extra: &[(&str, &str)]) -> Report {
    let handler = acct.handler::<Scale>("enforce", extra).await;
    handler
        .handle(sample(&format!("scale/{file}")))
        .await
        .expect("handled")
}

/// Reflex's record of `web` in the ledger; panics, showing the ledger, when there is none (a
/// missing record must not pass for one whose fields are all null).
async fn group_record(acct: &Account) -> Value {
    let entries = acct.ledger_entries().await;
    let record = entries
        .iter()
        .find(|e| e["pk"] == "state#scale-group#web")
        .unwrap_or_else(|| panic!("no record of group web: {entries:?}"));
    serde_json::from_str(record["doc"].as_str().expect("the record's document")).expect("JSON")
}

/// Scale in by 1, and no cooldown unless a test asks for one.
const IN_AND_NO_COOLDOWN: &[(&str, &str)] = &[
    ("REFLEX_SCALE_IN_STEP", "1"),
    ("REFLEX_SCALE_COOLDOWN_SECONDS", "0"),
];

#[tokio::test]
async fn alarm_raises_capacity_by_the_step_and_reports_it() {
    let (_emu, acct) = account().await;
    let report = deliver(&acct, "cpu-high-alarm.json", &[]).await;
    assert_eq!(acct.desired_capacity("web").await, 3);
    assert_eq!(report.status, Status::Remediated);

    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    let d = &delivered[0];
    assert_eq!(
        d.subject,
        "[Reflex MEDIUM] Remediated: alarm web-cpu-high OK -> ALARM in 123456789012"
    );
    let finding = &d.report.findings[0];
    assert_eq!(finding.rule_id, "scale.out");
    assert!(
        finding
            .reason
            .contains("CPUUtilization 91.2 against threshold 80")
    );
    let action = &finding.actions[0];
    assert_eq!(
        action.description,
        "raise desired capacity of web from 2 to 3 (min 1, max 4)"
    );
    assert_eq!(action.outcome.prior_state().unwrap()["desired_capacity"], 2);
    assert!(
        action
            .outcome
            .undo()
            .unwrap()
            .ends_with("--desired-capacity 2")
    );
}

#[tokio::test]
async fn alarm_is_capped_at_the_group_maximum() {
    let (_emu, acct) = account().await;
    let report = deliver(
        &acct,
        "cpu-high-alarm.json",
        &[("REFLEX_SCALE_OUT_STEP", "200%")],
    )
    .await;
    assert_eq!(acct.desired_capacity("web").await, 4);
    assert_eq!(report.findings[0].actions[0].action["to"], 4);
}

#[tokio::test]
async fn ok_lowers_capacity_but_not_below_what_it_was_before_reflex_raised_it() {
    let (_emu, acct) = account().await;
    let big_in = [
        ("REFLEX_SCALE_IN_STEP", "3"),
        ("REFLEX_SCALE_COOLDOWN_SECONDS", "0"),
    ];
    deliver(&acct, "cpu-high-alarm.json", &big_in).await;
    deliver(&acct, "cpu-high-alarm-again.json", &big_in).await;
    assert_eq!(acct.desired_capacity("web").await, 4);
    let report = deliver(&acct, "cpu-back-to-ok.json", &big_in).await;
    assert_eq!(report.findings[0].rule_id, "scale.in");
    assert_eq!(
        acct.desired_capacity("web").await,
        2,
        "floored at the capacity before the alarm, not the minimum 1"
    );
}

#[tokio::test]
async fn the_same_alarm_event_twice_changes_capacity_once() {
    let (_emu, acct) = account().await;
    let first = deliver(&acct, "cpu-high-alarm.json", IN_AND_NO_COOLDOWN).await;
    let second = deliver(&acct, "cpu-high-alarm.json", IN_AND_NO_COOLDOWN).await;
    assert_eq!(first.status, Status::Remediated);
    assert_eq!(second.status, Status::AlreadyHandled);
    // The duplicate reports what the first delivery did, not a plan recomputed from capacity 3.
    let action = &second.findings[0].actions[0];
    assert_eq!(
        action.description,
        "raise desired capacity of web from 2 to 3 (min 1, max 4)"
    );
    assert!(
        action
            .outcome
            .explanation()
            .unwrap()
            .ends_with("the earlier outcome was done")
    );
    assert_eq!(acct.desired_capacity("web").await, 3);
    assert_eq!(acct.reports().await.len(), 1);
}

#[tokio::test]
async fn five_concurrent_deliveries_change_capacity_once() {
    let (_emu, acct) = account().await;
    let handler = acct.handler::<Scale>("enforce", IN_AND_NO_COOLDOWN).await;
    let event = sample("scale/cpu-high-alarm.json");
    let statuses = reflex_tests::deliver_five_at_once(&handler, &event).await;
    reflex_tests::acted_once(&statuses, Status::Remediated);
    assert_eq!(acct.desired_capacity("web").await, 3);
    // Lambda's retries of the ones told to come back change nothing more.
    let retry = handler.handle(event).await.expect("the retry is handled");
    assert_eq!(retry.status, Status::AlreadyHandled);
    assert_eq!(acct.desired_capacity("web").await, 3);
}

#[tokio::test]
async fn a_decision_made_on_stale_group_state_is_not_applied() {
    use reflex_shared::{Function, Interpreted};
    let (_emu, acct) = account().await;
    let handler = acct.handler::<Scale>("enforce", IN_AND_NO_COOLDOWN).await;
    let scale = handler.places.home();
    let event = reflex_testkit::sample_event("scale/cpu-high-alarm.json");
    let Interpreted::Trigger(trigger) = Scale::interpret(&event, &handler.settings).unwrap() else {
        panic!("an alarm that scales web");
    };
    // One invocation reads the group (capacity 2, no record yet) and decides to raise it...
    let facts = scale.gather(&trigger, &mut Default::default()).await;
    let decision = Scale::decide(&trigger, &facts, &handler.settings);
    let raise = &decision[0].actions[0];
    assert_eq!((raise.from, raise.to), (2, 3));
    // ...while another invocation records its own change to the group first.
    let ledger = reflex_shared::ledger::Ledger::new(
        acct.dynamodb.clone(),
        reflex_tests::account::LEDGER_TABLE,
        1,
    );
    let other = serde_json::json!({"last_change_at": chrono::Utc::now().to_rfc3339()});
    assert!(
        ledger
            .store("scale-group#web", &other, None, chrono::Utc::now())
            .await
            .unwrap()
    );

    let outcome = scale.execute(raise).await;
    assert!(
        matches!(&outcome, Outcome::Skipped { why } if why.contains("another invocation changed web first")),
        "{outcome:?}"
    );
    assert_eq!(
        acct.desired_capacity("web").await,
        2,
        "the stale decision was not applied"
    );
}

#[tokio::test]
async fn an_ok_delivered_after_a_newer_alarm_does_not_scale_in() {
    let (_emu, acct) = account().await;
    deliver(&acct, "cpu-high-alarm.json", IN_AND_NO_COOLDOWN).await;
    assert_eq!(acct.desired_capacity("web").await, 3);
    let report = deliver(&acct, "cpu-ok-delivered-late.json", IN_AND_NO_COOLDOWN).await;
    assert_eq!(acct.desired_capacity("web").await, 3);
    assert_eq!(report.status, Status::NoAction);
    assert!(report.findings[0].reason.contains("out of order"));
}

#[tokio::test]
async fn cooldown_holds_between_reflex_changes_to_a_group() {
    let (_emu, acct) = account().await;
    let cooldown = [("REFLEX_SCALE_COOLDOWN_SECONDS", "600")];
    deliver(&acct, "cpu-high-alarm.json", &cooldown).await;
    let report = deliver(&acct, "cpu-high-alarm-again.json", &cooldown).await;
    assert_eq!(acct.desired_capacity("web").await, 3);
    assert!(report.findings[0].reason.contains("cooldown"));
    assert_eq!(
        acct.reports().await.len(),
        1,
        "a held-back change pages nobody"
    );
}

#[tokio::test]
async fn insufficient_data_and_unmapped_alarms_change_nothing() {
    let (_emu, acct) = account().await;
    let report = deliver(&acct, "cpu-insufficient-data.json", &[]).await;
    assert_eq!(report.status, Status::NothingToDo);
    let report = deliver(&acct, "unmapped-billing-alarm.json", &[]).await;
    assert_eq!(report.status, Status::NothingToDo);
    assert!(
        report.notes[0].contains("is not in REFLEX_SCALE_TARGETS"),
        "{:?}",
        report.notes
    );
    assert_eq!(acct.desired_capacity("web").await, 2);
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn composite_and_metric_math_alarms_scale_too_each_in_its_own_order() {
    let (_emu, acct) = account().await;
    // The metric-math alarm's change (11:50) first, then the composite's older one (11:40): an
    // older change of another alarm is not out of order.
    deliver(
        &acct,
        "metric-math-error-rate-alarm.json",
        IN_AND_NO_COOLDOWN,
    )
    .await;
    assert_eq!(acct.desired_capacity("web").await, 3);
    deliver(
        &acct,
        "composite-cpu-and-disk-alarm.json",
        IN_AND_NO_COOLDOWN,
    )
    .await;
    assert_eq!(acct.desired_capacity("web").await, 4);
    let doc = group_record(&acct).await;
    let alarms: Vec<&String> = doc["last_event_times"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(alarms.len(), 2, "both alarms remembered: {doc}");
}

#[tokio::test]
async fn dry_run_changes_no_capacity_and_reports_the_plan() {
    let (_emu, acct) = account().await;
    let handler = acct.handler::<Scale>("dry-run", &[]).await;
    let report = handler
        .handle(sample("scale/cpu-high-alarm.json"))
        .await
        .unwrap();
    assert_eq!(report.status, Status::DryRun);
    assert_eq!(acct.desired_capacity("web").await, 2);
    let delivered = acct.reports().await;
    assert!(
        delivered[0].subject.contains("Dry-run"),
        "{}",
        delivered[0].subject
    );
    assert_eq!(delivered[0].report.findings[0].actions[0].action["to"], 3);
}

#[tokio::test]
async fn the_ledger_shows_the_claim_and_the_groups_scaling_record() {
    let (_emu, acct) = account().await;
    deliver(&acct, "cpu-high-alarm.json", &[]).await;
    let entries = acct.ledger_entries().await;
    let claim = entries
        .iter()
        .find(|e| e["kind"] == "claim")
        .expect("a claim");
    assert_eq!(claim["rule_id"], "scale.out");
    assert_eq!(claim["state"], "done");
    let doc = group_record(&acct).await;
    assert_eq!(doc["baseline"], 2);
    assert_eq!(
        doc["last_event_times"]["web-cpu-high"],
        "2026-11-20T11:00:00+00:00"
    );
}

#[tokio::test]
async fn revoke_events_are_refused_by_scale() {
    let (_emu, acct) = account().await;
    let err = acct
        .handler::<Scale>("enforce", &[])
        .await
        .handle(sample("revoke/attach-admin-to-user.json"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Permanent.BadEvent.UnsupportedEvent");
}

#[tokio::test]
async fn a_dry_run_does_not_stop_a_later_enforcement_of_the_same_event() {
    let (_emu, acct) = account().await;
    let event = sample("scale/cpu-high-alarm.json");
    let dry = acct
        .handler::<Scale>("dry-run", &[])
        .await
        .handle(event.clone())
        .await
        .unwrap();
    assert_eq!(dry.status, Status::DryRun);
    // The dry-run's claim is its own: enforcing the event (say, after switching modes) acts.
    let enforced = acct
        .handler::<Scale>("enforce", &[])
        .await
        .handle(event.clone())
        .await
        .unwrap();
    assert_eq!(enforced.status, Status::Remediated);
    assert_eq!(acct.desired_capacity("web").await, 3);
    // A redelivery changes nothing more (the ledger, the cooldown and the ordering all hold it).
    acct.handler::<Scale>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(acct.desired_capacity("web").await, 3);
}

// ---- a run killed between the record's writes and the change ----

const WAIT: Duration = Duration::from_secs(30);

/// Deliver `file` through `proxy`, which holds the `nth` `call`. Once it is held, the delivery
/// is killed (its future dropped mid-call, as a crash or Lambda's timeout ends the process), and
/// the held call never reaches AWS. The record's writes are `dynamodb:PutItem`s: 1 the pending
/// mark, 2 its confirmation.
async fn killed_at(acct: &Account, proxy: &FaultProxy, file: &str, (call, nth): (&str, usize)) {
    let held = proxy.hold(call, nth);
    let handler = acct
        .handler_via::<Scale>(proxy, "enforce", IN_AND_NO_COOLDOWN)
        .await;
    let event = sample(&format!("scale/{file}"));
    let run = tokio::spawn(async move { handler.handle(event).await });
    let waiting = held.clone();
    let arrived = tokio::task::spawn_blocking(move || waiting.wait_arrived(WAIT))
        .await
        .unwrap();
    assert!(arrived, "{call} #{nth} never came");
    run.abort();
    assert!(
        run.await.unwrap_err().is_cancelled(),
        "the killed run answered"
    );
    held.drop_it();
    let finished = tokio::task::spawn_blocking(move || held.wait_finished(WAIT))
        .await
        .unwrap();
    assert_eq!(finished, Some(false), "{call} #{nth} reached AWS");
    proxy.clear();
}

#[tokio::test]
async fn killed_after_the_change_before_its_confirmation_the_retry_confirms_it_and_scales_no_more()
{
    let (emu, acct) = account().await;
    let proxy = FaultProxy::start(&emu.endpoint);
    killed_at(
        &acct,
        &proxy,
        "cpu-high-alarm.json",
        ("dynamodb:PutItem", 2),
    )
    .await;
    assert_eq!(acct.desired_capacity("web").await, 3);
    assert_eq!(group_record(&acct).await["pending"]["to"], 3);

    // Lambda's retry, no cooldown to hold it back: it finds the change made and confirms it.
    acct.let_leases_run_out().await;
    let retry = deliver(&acct, "cpu-high-alarm.json", IN_AND_NO_COOLDOWN).await;
    assert_eq!(
        acct.desired_capacity("web").await,
        3,
        "scaled a second time"
    );
    let outcome = &retry.findings[0].actions[0].outcome;
    assert_eq!(outcome.status(), "already-done", "{retry:#?}");
    let record = group_record(&acct).await;
    assert!(record["pending"].is_null(), "{record}");
    assert!(record["last_change_at"].is_string(), "{record}");
    assert_eq!(record["baseline"], 2, "{record}");
    assert_eq!(acct.reports().await.len(), 1);
}

#[tokio::test]
async fn killed_after_the_mark_before_the_change_the_retry_makes_the_change_once() {
    let (emu, acct) = account().await;
    let proxy = FaultProxy::start(&emu.endpoint);
    killed_at(
        &acct,
        &proxy,
        "cpu-high-alarm.json",
        ("autoscaling:SetDesiredCapacity", 1),
    )
    .await;
    assert_eq!(acct.desired_capacity("web").await, 2);
    assert_eq!(group_record(&acct).await["pending"]["to"], 3);

    // The retry, at once: its own mark is no live run's, so it does not wait for it.
    acct.let_leases_run_out().await;
    let retry = deliver(&acct, "cpu-high-alarm.json", IN_AND_NO_COOLDOWN).await;
    assert_eq!(retry.status, Status::Remediated, "{retry:#?}");
    assert_eq!(acct.desired_capacity("web").await, 3);
    let record = group_record(&acct).await;
    assert!(record["pending"].is_null(), "{record}");
    assert_eq!(record["baseline"], 2, "{record}");
}

#[tokio::test]
async fn a_killed_run_s_mark_holds_back_another_alarm_only_while_the_run_could_still_be_alive() {
    let (emu, acct) = account().await;
    let proxy = FaultProxy::start(&emu.endpoint);
    killed_at(
        &acct,
        &proxy,
        "cpu-high-alarm.json",
        ("autoscaling:SetDesiredCapacity", 1),
    )
    .await;
    // Right away, the mark may be a live run's about to set 3: no decision on capacity 2.
    let held = deliver(
        &acct,
        "metric-math-error-rate-alarm.json",
        IN_AND_NO_COOLDOWN,
    )
    .await;
    assert_eq!(held.status, Status::NoAction, "{held:#?}");
    assert!(
        held.findings[0].reason.contains("under way"),
        "{}",
        held.findings[0].reason
    );
    assert_eq!(acct.desired_capacity("web").await, 2);

    // Later than any run lives, the mark is a dead run's: it blocks nobody.
    let ledger = Ledger::new(acct.dynamodb.clone(), LEDGER_TABLE, 1);
    let (mut doc, version) = ledger.load("scale-group#web").await.unwrap().unwrap();
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(10);
    doc["pending"]["marked_at"] = Value::from(long_ago.to_rfc3339());
    let now = chrono::Utc::now();
    assert!(
        ledger
            .store("scale-group#web", &doc, Some(version), now)
            .await
            .unwrap()
    );
    let report = deliver(
        &acct,
        "composite-cpu-and-disk-alarm.json",
        IN_AND_NO_COOLDOWN,
    )
    .await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(acct.desired_capacity("web").await, 3);
    assert!(group_record(&acct).await["pending"].is_null());
}

#[tokio::test]
async fn another_alarm_does_not_decide_on_the_capacity_a_change_under_way_is_about_to_replace() {
    let (emu, acct) = account().await;
    let proxy = FaultProxy::start(&emu.endpoint);
    // One delivery marks its change (2 -> 3) and is held on its way to set it...
    let held = proxy.hold("autoscaling:SetDesiredCapacity", 1);
    let handler = acct
        .handler_via::<Scale>(&proxy, "enforce", IN_AND_NO_COOLDOWN)
        .await;
    let first =
        tokio::spawn(async move { handler.handle(sample("scale/cpu-high-alarm.json")).await });
    let waiting = held.clone();
    assert!(
        tokio::task::spawn_blocking(move || waiting.wait_arrived(WAIT))
            .await
            .unwrap()
    );
    // ...while another alarm's state change reads capacity 2: deciding 2 -> 3 on it would make
    // the same change twice, reported as two.
    let second = deliver(
        &acct,
        "metric-math-error-rate-alarm.json",
        IN_AND_NO_COOLDOWN,
    )
    .await;
    assert_eq!(second.status, Status::NoAction, "{second:#?}");
    assert!(
        second.findings[0]
            .reason
            .contains("another change to web is under way (2 -> 3"),
        "{}",
        second.findings[0].reason
    );
    held.release();
    let first = first.await.unwrap().expect("handled");
    assert_eq!(first.status, Status::Remediated, "{first:#?}");
    assert_eq!(acct.desired_capacity("web").await, 3);
    assert!(group_record(&acct).await["pending"].is_null());
}

#[tokio::test]
async fn a_change_that_timed_out_after_reaching_aws_is_not_made_again_by_the_retry() {
    use reflex_tests::proxy::Fault;
    let (emu, acct) = account().await;
    let proxy = FaultProxy::start(&emu.endpoint);
    // Every attempt reaches Auto Scaling only after the SDK stopped waiting for it: the call
    // times out, failed for now, yet the capacity is set.
    proxy.fail(
        "autoscaling:SetDesiredCapacity",
        Fault::Slow(Duration::from_secs(5)),
        5,
    );
    let handler = acct
        .handler_via::<Scale>(&proxy, "enforce", IN_AND_NO_COOLDOWN)
        .await;
    let event = sample("scale/cpu-high-alarm.json");
    let err = handler.handle(event.clone()).await.expect_err("timed out");
    assert_eq!(err.error_type(), "Transient.Interrupted", "{err}");
    // The attempts the SDK gave up on still land.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(acct.desired_capacity("web").await, 3);
    proxy.clear();

    // Lambda's retry, no cooldown to hold it back: the capacity shows the change made.
    let retry = handler.handle(event).await.expect("handled");
    assert_eq!(
        acct.desired_capacity("web").await,
        3,
        "scaled a second time"
    );
    let outcome = &retry.findings[0].actions[0].outcome;
    assert_eq!(outcome.status(), "already-done", "{retry:#?}");
    let record = group_record(&acct).await;
    assert!(record["pending"].is_null(), "{record}");
    assert_eq!(record["baseline"], 2, "{record}");
}
