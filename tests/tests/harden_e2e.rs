//! End to end against the emulator: seed the audit trail and log groups, replay the caller's
//! CloudTrail or CloudWatch Logs call, run the real harden handler on the sample event, then
//! read the end state and the SNS report back.

use reflex_harden::Harden;
use reflex_shared::guard::{EventSkip, Mode};
use reflex_shared::report::{Report, Status};
use reflex_shared::{Outcome, ReflexError, Severity};
use reflex_tests::proxy::FaultProxy;
use reflex_tests::trail::{
    self, KMS_KEY, LEDGER, ORDERS, ORDERS_RETENTION_DAYS, PAYMENTS, TRAIL, TrailState,
};
use reflex_tests::{Account, Emulator, deliver_five_at_once, sample};
use serde_json::Value;

const MALLORY: &str = "arn:aws:iam::123456789012:user/mallory";
/// Keys CloudWatch Logs would refuse for the sample's log group (account 123456789012,
/// us-east-1): the same account's in another region, another account's in the same region.
const EU_KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab";
const MEMBER_KEY: &str =
    "arn:aws:kms:us-east-1:222222222222:key/9012abcd-12ab-34cd-56ef-1234567890ab";

/// A fresh emulator with the sample account seeded: IAM (mallory and her access key), the
/// audit trail and a log group with a retention policy.
async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let acct = seeded(&emulator).await;
    (emulator, acct)
}

async fn seeded(emulator: &Emulator) -> Account {
    let acct = Account::new(emulator).await;
    acct.seed().await;
    trail::seed(&acct).await;
    acct
}

/// Replay the sample event's call, then hand the event to harden in `mode`.
async fn run(acct: &Account, file: &str, mode: &str, extra: &[(&str, &str)]) -> Report {
    let event = trail::replay(acct, sample(&format!("harden/{file}"))).await;
    acct.handler::<Harden>(mode, extra)
        .await
        .handle(event)
        .await
        .expect("handled")
}

fn outcome(report: &Report, finding: usize, action: usize) -> &Outcome {
    &report.findings[finding].actions[action].outcome
}

async fn trail_now(acct: &Account) -> TrailState {
    trail::trail_state(acct, TRAIL)
        .await
        .expect("the trail exists")
}

async fn retention(acct: &Account, group: &str) -> Option<i32> {
    trail::log_group_state(acct, group)
        .await
        .expect("the log group exists")
        .retention_days
}

#[tokio::test]
async fn a_stopped_trail_is_logging_again_and_reported() {
    let (_emu, acct) = account().await;
    let event = trail::replay(&acct, sample("harden/stop-logging.json")).await;
    assert!(!trail_now(&acct).await.logging, "the replay stopped it");

    let report = acct
        .handler::<Harden>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();

    assert!(trail_now(&acct).await.logging);
    assert_eq!(report.status, Status::Remediated);
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "one report per event");
    let d = &delivered[0];
    assert!(
        d.subject
            .contains("Remediated: cloudtrail:StopLogging by mallory in 123456789012"),
        "{}",
        d.subject
    );
    assert_eq!(d.report.event.actor, MALLORY);
    assert_eq!(d.report.findings[0].rule_id, "harden.trail-stopped");
    let done = outcome(&d.report, 0, 0);
    assert_eq!(done.status(), "done");
    assert_eq!(done.prior_state().unwrap()["is_logging"], false);
    // The event named the trail by ARN, so does the undo.
    assert_eq!(
        done.undo(),
        Some(
            "aws --region us-east-1 cloudtrail stop-logging --name arn:aws:cloudtrail:us-east-1:123456789012:trail/main"
        )
    );
}

#[tokio::test]
async fn multi_region_is_restored() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "update-trail-disables-multi-region.json",
        "enforce",
        &[],
    )
    .await;
    let now = trail_now(&acct).await;
    assert!(now.multi_region, "{now}");
    assert!(now.log_file_validation && now.logging, "{now}");
    assert_eq!(report.findings[0].rule_id, "harden.trail-weakened");
    let done = outcome(&report, 0, 0);
    assert_eq!(done.status(), "done");
    assert_eq!(
        done.undo(),
        Some(
            "aws --region us-east-1 cloudtrail update-trail --name main --no-is-multi-region-trail"
        )
    );
    assert_eq!(acct.reports().await.len(), 1);
}

#[tokio::test]
async fn log_file_validation_is_restored() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "update-trail-disables-log-file-validation.json",
        "enforce",
        &[],
    )
    .await;
    let now = trail_now(&acct).await;
    assert!(now.log_file_validation, "{now}");
    assert!(now.multi_region, "{now}");
    assert_eq!(
        outcome(&report, 0, 0).undo(),
        Some(
            "aws --region us-east-1 cloudtrail update-trail --name main --no-enable-log-file-validation"
        )
    );
}

#[tokio::test]
async fn an_update_that_weakens_nothing_is_left_alone_and_nobody_is_paged() {
    let (_emu, acct) = account().await;
    let event = trail::replay(
        &acct,
        sample("harden/update-trail-changes-only-s3-key-prefix.json"),
    )
    .await;
    let before = trail_now(&acct).await;
    let report = acct
        .handler::<Harden>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(report.status, Status::NothingToDo);
    assert_eq!(
        trail_now(&acct).await,
        before,
        "the trail is as the caller left it"
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_deleted_trail_needs_a_person_and_the_report_names_the_actor() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "delete-trail.json", "enforce", &[]).await;
    assert_eq!(trail::trail_state(&acct, TRAIL).await, None);
    assert_eq!(report.status, Status::NeedsAttention);

    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "a person is told");
    let d = &delivered[0];
    assert_eq!(d.report.status, Status::NeedsAttention);
    assert!(d.subject.starts_with("[Reflex CRITICAL] "), "{}", d.subject);
    assert!(
        d.subject
            .contains("cloudtrail:DeleteTrail by mallory in 123456789012"),
        "{}",
        d.subject
    );
    assert_eq!(d.report.event.actor, MALLORY);
    let finding = &d.report.findings[0];
    assert_eq!(finding.rule_id, "harden.trail-deleted");
    assert_eq!(finding.severity, Severity::Critical);
    assert!(finding.actions.is_empty());
    let reason = &finding.reason;
    assert!(reason.contains(MALLORY), "{reason}");
    assert!(reason.contains("trail main"), "{reason}");
}

#[tokio::test]
async fn a_new_log_group_gets_the_default_retention() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "create-log-group-without-kms-key.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(retention(&acct, PAYMENTS).await, Some(90));
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(report.findings.len(), 1, "no key configured");
    let done = outcome(&report, 0, 0);
    assert_eq!(
        done.prior_state().unwrap()["retention_in_days"],
        Value::Null
    );
    assert_eq!(
        done.undo(),
        Some("aws --region us-east-1 logs delete-retention-policy --log-group-name /app/payments")
    );
}

/// Log group names may hold `#`, which starts a comment where a shell word begins: the undo
/// command quotes the name, so it acts on this group and no other.
#[tokio::test]
async fn the_undo_quotes_a_log_group_name_a_shell_would_misread() {
    let (_emu, acct) = account().await;
    let group = "#audit/payments";
    let mut event = sample("harden/create-log-group-without-kms-key.json");
    event["detail"]["requestParameters"]["logGroupName"] = group.into();
    let event = trail::replay(&acct, event).await;
    let report = acct
        .handler::<Harden>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(retention(&acct, group).await, Some(90));
    let done = outcome(&report, 0, 0);
    assert_eq!(
        done.undo(),
        Some(
            "aws --region us-east-1 logs delete-retention-policy --log-group-name '#audit/payments'"
        )
    );
    assert!(
        done.explanation()
            .unwrap()
            .contains("log group #audit/payments"),
        "{done:?}"
    );
}

#[tokio::test]
async fn a_deleted_retention_policy_is_put_back_with_the_configured_retention() {
    let (_emu, acct) = account().await;
    assert_eq!(retention(&acct, ORDERS).await, Some(ORDERS_RETENTION_DAYS));
    let report = run(
        &acct,
        "delete-retention-policy.json",
        "enforce",
        &[("REFLEX_LOG_RETENTION_DAYS", "365")],
    )
    .await;
    // The configured value, not the one that was deleted (the event does not carry it).
    assert_eq!(retention(&acct, ORDERS).await, Some(365));
    assert_eq!(outcome(&report, 0, 0).status(), "done");
}

#[tokio::test]
async fn a_retention_set_since_the_event_is_left_as_it_is() {
    let (_emu, acct) = account().await;
    let event = trail::replay(
        &acct,
        sample("harden/create-log-group-without-kms-key.json"),
    )
    .await;
    // The tool that created the group set its own retention right after.
    trail::logs(&acct)
        .put_retention_policy()
        .log_group_name(PAYMENTS)
        .retention_in_days(7)
        .send()
        .await
        .unwrap();
    let report = acct
        .handler::<Harden>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(retention(&acct, PAYMENTS).await, Some(7));
    assert_eq!(outcome(&report, 0, 0).status(), "already-done");
}

/// moto server answers CloudWatch Logs `AssociateKmsKey` with HTTP 500 (not implemented), so
/// here the KMS action can only fail; `functions/harden/tests/faults.rs` tests the association
/// itself with the SDK's mocks. A 500 is a fault that may pass: the invocation fails (Lambda
/// retries it) with the retention step done and recorded, and the retry does not redo it. What
/// this shows end to end: with a key configured, the retention is still set, and the key's
/// fault is neither hidden nor final.
#[tokio::test]
async fn with_a_key_configured_the_retention_is_set_and_a_key_fault_is_retried() {
    let (_emu, acct) = account().await;
    let key = [("REFLEX_LOG_KMS_KEY_ARN", KMS_KEY)];
    let event = trail::replay(
        &acct,
        sample("harden/create-log-group-without-kms-key.json"),
    )
    .await;
    let handler = acct.handler::<Harden>("enforce", &key).await;
    let err = handler.handle(event.clone()).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient.Interrupted");
    assert!(
        err.to_string()
            .contains("logs:AssociateKmsKey failed: HTTP 500 with no AWS error code or message"),
        "{err}"
    );
    let group = trail::log_group_state(&acct, PAYMENTS).await.unwrap();
    assert_eq!(group.retention_days, Some(90), "the retention step is done");
    assert_eq!(group.kms_key_id, None);
    assert!(acct.reports().await.is_empty(), "reported once finished");
    // The ledger: retention done and reported to nobody yet, the key's claim interrupted with
    // its failed step recorded, for the retry to resume.
    let entries = acct.ledger_entries().await;
    let state = |rule: &str| {
        entries
            .iter()
            .find(|e| e["rule_id"] == rule)
            .map(|e| e["state"].clone())
    };
    assert_eq!(state("harden.log-retention"), Some("done".into()));
    assert_eq!(state("harden.log-encryption"), Some("interrupted".into()));

    // The retry: the retention is not redone, the key fails for now again.
    let err = handler.handle(event).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient.Interrupted");

    // A group created with its own key needs only the retention.
    let report = run(&acct, "create-log-group-with-kms-key.json", "enforce", &key).await;
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(retention(&acct, LEDGER).await, Some(90));
}

/// What the two tests below share: a fresh account, a proxy in front of the emulator (to see
/// which calls reached it), the sample `CreateLogGroup` replayed, and harden enforcing with
/// `REFLEX_LOG_KMS_KEY_ARN` = `keys` handling it through the proxy.
async fn create_log_group_with_keys(
    keys: &str,
) -> (Emulator, Account, FaultProxy, Result<Report, ReflexError>) {
    let (emulator, acct) = account().await;
    let proxy = FaultProxy::start(&emulator.endpoint);
    let event = trail::replay(
        &acct,
        sample("harden/create-log-group-without-kms-key.json"),
    )
    .await;
    let handled = acct
        .handler_via::<Harden>(&proxy, "enforce", &[("REFLEX_LOG_KMS_KEY_ARN", keys)])
        .await
        .handle(event)
        .await;
    (emulator, acct, proxy, handled)
}

/// With keys of several regions configured, the group is given the one of its own region and
/// account. moto cannot associate a key (see above), so the group cannot end up associated
/// here; what shows the choice is every `AssociateKmsKey` request that reached the emulator
/// (through the proxy): each names that key.
#[tokio::test]
async fn of_several_keys_the_one_of_the_groups_region_and_account_is_associated() {
    let (_emu, acct, proxy, handled) =
        create_log_group_with_keys(&format!("{EU_KEY}, {KMS_KEY}")).await;
    let err = handled.unwrap_err();
    assert_eq!(
        err.error_type(),
        "Transient.Interrupted",
        "moto's 500: {err}"
    );

    let asked = proxy.requests("logs:AssociateKmsKey");
    assert!(!asked.is_empty(), "the key step was tried");
    for request in &asked {
        let body: Value = serde_json::from_str(&request.body).expect("a JSON request");
        assert_eq!(body["kmsKeyId"], KMS_KEY, "{body}");
        assert_eq!(body["logGroupName"], PAYMENTS, "{body}");
        assert_eq!(request.region, "us-east-1");
    }
    assert_eq!(retention(&acct, PAYMENTS).await, Some(90));
}

/// With only keys of another region or another account, no key is tried (CloudWatch Logs would
/// refuse it, and the event would end partially failed): the retention is set, the group stays
/// unencrypted, and a `harden.log-encryption` finding of its own, with no action, tells a person.
#[tokio::test]
async fn with_no_key_of_the_groups_region_and_account_the_group_stays_unencrypted_and_is_reported()
{
    let (_emu, acct, proxy, handled) =
        create_log_group_with_keys(&format!("{EU_KEY},{MEMBER_KEY}")).await;
    let report = handled.expect("handled");

    assert_eq!(report.status, Status::NeedsAttention, "{report:#?}");
    assert_eq!(proxy.seen("logs:AssociateKmsKey"), 0);
    let group = trail::log_group_state(&acct, PAYMENTS).await.unwrap();
    assert_eq!(group.retention_days, Some(90));
    assert_eq!(group.kms_key_id, None);

    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    let d = &delivered[0].report;
    assert_eq!(d.findings.len(), 2, "the retention and the verdict: {d:#?}");
    assert_eq!(d.findings[0].rule_id, "harden.log-retention");
    assert_eq!(outcome(d, 0, 0).status(), "done");
    let verdict = &d.findings[1];
    assert_eq!(verdict.rule_id, "harden.log-encryption");
    assert_eq!(verdict.severity, Severity::High);
    assert!(verdict.actions.is_empty(), "{verdict:#?}");
    let says = "no key in REFLEX_LOG_KMS_KEY_ARN is of region us-east-1 and account 123456789012";
    assert!(
        verdict.reason.contains(says) && verdict.reason.ends_with("it is left unencrypted"),
        "{}",
        verdict.reason
    );
    let text = d.text();
    assert!(
        text.contains(says) && text.contains("it is left unencrypted"),
        "{text}"
    );
}

/// Every sample with an action, in dry-run: nothing changes and the report says what would be
/// done.
#[tokio::test]
async fn dry_run_changes_nothing_and_reports_the_plan() {
    let emulator = Emulator::start();
    let positives = [
        "stop-logging.json",
        "update-trail-disables-multi-region.json",
        "update-trail-disables-log-file-validation.json",
        "create-log-group-without-kms-key.json",
        "create-log-group-with-kms-key.json",
        "delete-retention-policy.json",
    ];
    for file in positives {
        emulator.reset();
        let acct = seeded(&emulator).await;
        let event = trail::replay(&acct, sample(&format!("harden/{file}"))).await;
        let before = snapshot(&acct).await;
        let report = acct
            .handler::<Harden>("dry-run", &[("REFLEX_CONTAIN_ACTOR", "true")])
            .await
            .handle(event)
            .await
            .unwrap();
        assert_eq!(report.status, Status::DryRun, "{file}");
        // The full plan, containment included where a trail was stopped: every step would-do.
        let actions: Vec<_> = report.actions().collect();
        assert!(!actions.is_empty(), "{file}");
        for a in &actions {
            assert_eq!(a.outcome, Outcome::WouldDo, "{file}: {a:#?}");
            assert!(!a.description.is_empty(), "{file}");
        }
        if file == "stop-logging.json" {
            assert_eq!(report.findings[1].rule_id, "harden.contain-actor");
        }
        assert_eq!(
            snapshot(&acct).await,
            before,
            "{file}: dry-run changed the account"
        );
        let delivered = acct.reports().await;
        assert_eq!(delivered.len(), 1, "{file}");
        assert!(
            delivered[0].subject.contains("Dry-run (would remediate)"),
            "{file}: {}",
            delivered[0].subject
        );
        assert_eq!(delivered[0].report.findings[0].mode, Mode::DryRun);
    }

    // A deleted trail has no plan to dry-run: a person is still told, whatever the mode.
    emulator.reset();
    let acct = seeded(&emulator).await;
    let report = run(&acct, "delete-trail.json", "dry-run", &[]).await;
    assert_eq!(report.status, Status::NeedsAttention);
    assert_eq!(report.findings[0].mode, Mode::DryRun);
    assert_eq!(acct.reports().await.len(), 1);
}

/// Everything harden could change, as text, to compare before and after.
async fn snapshot(acct: &Account) -> String {
    let mut out = format!("trail: {:?}\n", trail::trail_state(acct, TRAIL).await);
    for group in [ORDERS, PAYMENTS, LEDGER] {
        out += &format!("{group}: {:?}\n", trail::log_group_state(acct, group).await);
    }
    out += &format!(
        "mallory active keys: {}\n",
        acct.active_access_keys("mallory").await
    );
    out
}

#[tokio::test]
async fn loop_guard_leaves_reflex_own_stop_logging_alone() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "stop-logging-by-reflex.json", "enforce", &[]).await;
    assert_eq!(report.status, Status::Skipped);
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("loop-guard")
    );
    assert!(!trail_now(&acct).await.logging, "left as Reflex left it");
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_failed_call_is_not_remediated() {
    let (_emu, acct) = account().await;
    // The trail is stopped some other, legitimate way: the failed call must not touch it.
    trail::cloudtrail(&acct)
        .stop_logging()
        .name(TRAIL)
        .send()
        .await
        .unwrap();
    let report = run(&acct, "stop-logging-access-denied.json", "enforce", &[]).await;
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("failed-call")
    );
    assert_eq!(
        report.skipped,
        Some(EventSkip::FailedCall {
            error_code: "AccessDeniedException".into()
        })
    );
    assert!(
        !trail_now(&acct).await.logging,
        "Reflex left the trail alone"
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn an_actor_exempt_by_tag_is_left_alone_and_reported() {
    let (_emu, acct) = account().await;
    acct.tag_user("mallory", "reflex:exempt", "true").await;
    let report = run(&acct, "stop-logging.json", "enforce", &[]).await;
    assert_eq!(report.skipped, None);
    assert_eq!(report.status, Status::Exempt);
    assert!(!trail_now(&acct).await.logging);
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "an exemption is never silent");
    assert_eq!(delivered[0].report.status, Status::Exempt);
}

#[tokio::test]
async fn a_second_delivery_is_already_handled_and_without_a_ledger_already_done() {
    let (_emu, acct) = account().await;
    let event = trail::replay(&acct, sample("harden/stop-logging.json")).await;

    // With the ledger: the redelivery is recognised and nothing runs twice.
    let handler = acct.handler::<Harden>("enforce", &[]).await;
    let first = handler.handle(event.clone()).await.unwrap();
    assert_eq!(first.status, Status::Remediated);
    let second = handler.handle(event.clone()).await.unwrap();
    assert_eq!(second.status, Status::AlreadyHandled);
    assert_eq!(
        deliver_five_at_once(&handler, &event).await,
        vec![Ok(Status::AlreadyHandled); 5]
    );

    // Without a ledger the executor still reads before it writes: "already done".
    let no_ledger = acct
        .handler::<Harden>("enforce", &[("REFLEX_LEDGER_TABLE", "")])
        .await;
    let again = no_ledger.handle(event).await.unwrap();
    assert_eq!(outcome(&again, 0, 0).status(), "already-done");
    assert!(trail_now(&acct).await.logging);

    let created = trail::replay(
        &acct,
        sample("harden/create-log-group-without-kms-key.json"),
    )
    .await;
    for expected in ["done", "already-done"] {
        let report = no_ledger.handle(created.clone()).await.unwrap();
        assert_eq!(outcome(&report, 0, 0).status(), expected);
    }
    assert_eq!(retention(&acct, PAYMENTS).await, Some(90));
}

#[tokio::test]
async fn a_trail_deleted_before_reflex_acts_is_reported_as_failed() {
    let (_emu, acct) = account().await;
    let event = trail::replay(&acct, sample("harden/stop-logging.json")).await;
    trail::cloudtrail(&acct)
        .delete_trail()
        .name(TRAIL)
        .send()
        .await
        .unwrap();
    let report = acct
        .handler::<Harden>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    match outcome(&report, 0, 0) {
        Outcome::Failed {
            why, error_code, ..
        } => {
            assert_eq!(error_code.as_deref(), Some("TrailNotFoundException"));
            assert!(why.contains("no longer exists"), "{why}");
        }
        other => panic!("a trail that is gone cannot be repaired: {other:?}"),
    }
    assert_eq!(report.status, Status::Failed);
    assert_eq!(acct.reports().await.len(), 1);
}

#[tokio::test]
async fn containment_deactivates_the_keys_of_whoever_stopped_or_deleted_a_trail() {
    let (_emu, acct) = account().await;
    let contain = [("REFLEX_CONTAIN_ACTOR", "true")];
    assert_eq!(acct.active_access_keys("mallory").await, 1);
    let report = run(&acct, "stop-logging.json", "enforce", &contain).await;
    assert!(trail_now(&acct).await.logging);
    assert_eq!(report.findings[1].rule_id, "harden.contain-actor");
    assert_eq!(outcome(&report, 1, 0).status(), "done");
    assert_eq!(acct.active_access_keys("mallory").await, 0);

    // A new key, then the trail deleted: contained again, and the deletion still reported.
    acct.iam
        .create_access_key()
        .user_name("mallory")
        .send()
        .await
        .unwrap();
    acct.reports().await;
    let report = run(&acct, "delete-trail.json", "enforce", &contain).await;
    assert_eq!(acct.active_access_keys("mallory").await, 0);
    assert_eq!(report.findings[0].rule_id, "harden.trail-deleted");
    assert!(report.findings[0].actions.is_empty());
    assert_eq!(report.findings[1].rule_id, "harden.contain-actor");
    // The containment was done, but the deleted trail still needs a person: that leads.
    assert_eq!(report.status, Status::NeedsAttention);
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0]
            .subject
            .starts_with("[Reflex CRITICAL] Needs attention: cloudtrail:DeleteTrail by mallory"),
        "{}",
        delivered[0].subject
    );
}

#[tokio::test]
async fn containment_is_off_by_default() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "delete-trail.json", "enforce", &[]).await;
    assert_eq!(report.findings.len(), 1);
    assert_eq!(acct.active_access_keys("mallory").await, 1);
}

#[tokio::test]
async fn a_bad_retention_fails_the_cold_start_naming_the_variable() {
    let (_emu, acct) = account().await;
    let env = acct.env("enforce", &[("REFLEX_LOG_RETENTION_DAYS", "10")]);
    let err = match reflex_shared::pipeline::handler_from_env::<Harden>(&env, &acct.sdk).await {
        Ok(_) => panic!("10 days is not a retention CloudWatch Logs accepts"),
        Err(e) => e,
    };
    assert_eq!(err.variable, "REFLEX_LOG_RETENTION_DAYS");
}
