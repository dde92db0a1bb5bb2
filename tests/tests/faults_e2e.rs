//! AWS faults against the emulator, for every function, through the fault-injecting proxy
//! (`reflex_tests::proxy`): the real SDK, the real retry classification, the real ledger.
//!
//! What each shows, as the README's promises say it:
//!
//! - a transient fault the SDK's retries get past is invisible: the remediation completes;
//! - one that outlasts them fails the invocation (`Transient.*`, so Lambda retries the event)
//!   after recording what was done, and the redelivery completes the job, once, with one report;
//! - a final fault (AccessDenied) on one step leaves the others done, and the report says which
//!   step failed.

use reflex_harden::Harden;
use reflex_notify::Notify;
use reflex_quarantine::Quarantine;
use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_scale::Scale;
use reflex_shared::report::{Report, Status};
use reflex_shared::{Outcome, ReflexError};
use reflex_testkit::fails_for_now;
use reflex_tests::ec2::{self, Fleet};
use reflex_tests::proxy::{Fault, FaultProxy};
use reflex_tests::trail::{self, TRAIL};
use reflex_tests::{Account, Emulator, outcome, sample};
use serde_json::Value;

/// Attempts the SDK makes per call (`reflex_tests::emulator::sdk_config_at`): a fault this many
/// times in a row outlasts its retries.
const ATTEMPTS: usize = reflex_testkit::MAX_ATTEMPTS as usize;

struct World {
    _emulator: Emulator,
    acct: Account,
    proxy: FaultProxy,
}

/// The figures in the README's table: run with `--nocapture` to see the faults each test
/// injected (and, since it passed, survived).
impl Drop for World {
    fn drop(&mut self) {
        let test = std::thread::current().name().unwrap_or("?").to_string();
        println!("faults: {test} injected {}", self.proxy.faults_injected());
    }
}

async fn world() -> World {
    let (emulator, acct, proxy) = reflex_tests::seeded_behind_a_proxy().await;
    World {
        _emulator: emulator,
        acct,
        proxy,
    }
}

fn alice() -> Identity {
    Identity::User("alice".into())
}

fn handled(result: Result<Report, ReflexError>) -> Report {
    result.expect("the event is handled")
}

// ---- revoke ----

#[tokio::test]
async fn revoke_a_throttle_the_sdk_retries_past_is_invisible() {
    let w = world().await;
    let event = w
        .acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    w.proxy.fail("iam:DetachUserPolicy", Fault::Throttle, 1);
    w.proxy.fail("iam:ListUserTags", Fault::Status(503), 1);
    let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(!w.acct.is_admin(&alice()).await);
    assert_eq!(w.proxy.seen("iam:DetachUserPolicy"), 2, "one retry");
    assert_eq!(w.acct.reports().await.len(), 1);
}

#[tokio::test]
async fn revoke_a_fault_that_outlasts_the_retries_fails_and_the_redelivery_completes() {
    for fault in [Fault::Throttle, Fault::Status(500), Fault::Reset] {
        let w = world().await;
        let event = w
            .acct
            .replay(sample("revoke/attach-admin-to-user.json"))
            .await;
        w.proxy
            .fail("iam:DetachUserPolicy", fault.clone(), ATTEMPTS);
        let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;

        fails_for_now(&handler, &event, "Transient.Interrupted").await;
        assert!(w.acct.is_admin(&alice()).await, "{fault:?}");
        assert!(
            w.acct.reports().await.is_empty(),
            "{fault:?}: reported once done"
        );
        let claim = &w.acct.ledger_entries().await[0];
        assert_eq!(claim["state"], "interrupted", "{fault:?}: {claim}");

        // Lambda's retry: the fault has passed.
        let report = handled(handler.handle(event.clone()).await);
        assert_eq!(report.status, Status::Remediated, "{fault:?}");
        assert!(!w.acct.is_admin(&alice()).await, "{fault:?}");
        assert_eq!(w.acct.reports().await.len(), 1, "{fault:?}: one report");
        let claim = &w.acct.ledger_entries().await[0];
        assert_eq!(
            (&claim["state"], &claim["reported"]),
            (&Value::from("done"), &Value::from(true)),
            "{fault:?}"
        );
        // A later redelivery is a duplicate.
        let again = handled(handler.handle(event).await);
        assert_eq!(again.status, Status::AlreadyHandled, "{fault:?}");
        assert!(w.acct.reports().await.is_empty(), "{fault:?}");
    }
}

#[tokio::test]
async fn revoke_a_call_slower_than_the_timeouts_fails_and_is_retried() {
    let w = world().await;
    let event = w
        .acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    // Each attempt answers after the SDK's attempt timeout (4 s): the call's 10 s run out.
    w.proxy.fail(
        "iam:DetachUserPolicy",
        Fault::Slow(std::time::Duration::from_secs(5)),
        ATTEMPTS,
    );
    let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;
    fails_for_now(&handler, &event, "Transient.Interrupted").await;
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated);
    assert!(!w.acct.is_admin(&alice()).await);
}

#[tokio::test]
async fn revoke_access_denied_on_one_step_leaves_the_others_done_and_says_which_failed() {
    let w = world().await;
    let event = w
        .acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    w.proxy.fail("iam:DetachUserPolicy", Fault::AccessDenied, 1);
    let handler = w
        .acct
        .handler_via::<Revoke>(&w.proxy, "enforce", &[("REFLEX_CONTAIN_ACTOR", "true")])
        .await;
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::PartiallyFailed, "{report:#?}");
    match outcome(&report, "detach AdministratorAccess from user alice") {
        Outcome::Failed {
            error_code,
            retryable,
            ..
        } => {
            assert_eq!(error_code.as_deref(), Some("AccessDenied"));
            assert!(!retryable, "AccessDenied is final");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        outcome(&report, "contain the actor").status(),
        "done",
        "the other step still ran"
    );
    assert_eq!(w.acct.active_access_keys("mallory").await, 0);
    let delivered = w.acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].subject.contains("PARTIALLY FAILED"),
        "{}",
        delivered[0].subject
    );
    assert_eq!(
        w.proxy.seen("iam:DetachUserPolicy"),
        1,
        "a final fault is not retried"
    );
}

#[tokio::test]
async fn revoke_a_ledger_that_cannot_be_reached_fails_before_anything_is_done() {
    let w = world().await;
    let event = w
        .acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    w.proxy
        .fail("dynamodb:UpdateItem", Fault::Throttle, ATTEMPTS);
    let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;
    fails_for_now(&handler, &event, "Transient.Ledger").await;
    assert!(
        w.acct.is_admin(&alice()).await,
        "nothing done without the claim"
    );
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated);
    assert!(!w.acct.is_admin(&alice()).await);
}

#[tokio::test]
async fn revoke_a_lookup_that_fails_for_now_is_retried_not_decided_without() {
    let w = world().await;
    let event = w
        .acct
        .replay(sample("revoke/add-user-to-admin-group.json"))
        .await;
    w.proxy
        .fail("iam:ListAttachedGroupPolicies", Fault::Throttle, ATTEMPTS);
    let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;
    fails_for_now(&handler, &event, "Transient.Lookup").await;
    assert!(
        w.acct
            .groups_of("mallory")
            .await
            .contains(&"admins".to_string())
    );
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated);
    assert!(
        !w.acct
            .groups_of("mallory")
            .await
            .contains(&"admins".to_string())
    );
}

#[tokio::test]
async fn revoke_a_failed_publish_keeps_the_record_and_the_retry_sends_it() {
    let w = world().await;
    let event = w
        .acct
        .replay(sample("revoke/put-user-policy-allow-all.json"))
        .await;
    w.proxy.fail("sns:Publish", Fault::Status(500), ATTEMPTS);
    let handler = w.acct.handler_via::<Revoke>(&w.proxy, "enforce", &[]).await;
    fails_for_now(&handler, &event, "Transient.Notify").await;
    assert!(w.acct.inline_policies(&alice()).await.is_empty(), "deleted");
    // The retry finds the policy gone: its report still carries the deleted document and the
    // undo command, as the first delivery recorded them.
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated);
    let deleted = outcome(&report, "delete inline policy debug-access");
    assert_eq!(deleted.status(), "done");
    assert!(deleted.prior_state().unwrap()["policy_document"].is_string());
    assert!(
        deleted
            .undo()
            .unwrap()
            .starts_with("aws --region us-east-1 iam put-user-policy")
    );
    assert_eq!(w.acct.reports().await.len(), 1, "one report");
}

// ---- scale ----

async fn scale_world() -> World {
    let w = world().await;
    w.acct.seed_group("web", 1, 4, 2).await;
    w
}

async fn group_record(acct: &Account) -> Value {
    let entries = acct.ledger_entries().await;
    let record = entries
        .iter()
        .find(|e| e["pk"] == "state#scale-group#web")
        .unwrap_or_else(|| panic!("no record of group web: {entries:?}"));
    serde_json::from_str(record["doc"].as_str().expect("the record's document")).expect("JSON")
}

#[tokio::test]
async fn scale_a_throttle_the_sdk_retries_past_scales_once() {
    let w = scale_world().await;
    w.proxy.fail(
        "autoscaling:SetDesiredCapacity",
        Fault::Throttle,
        ATTEMPTS - 1,
    );
    let handler = w.acct.handler_via::<Scale>(&w.proxy, "enforce", &[]).await;
    let report = handled(handler.handle(sample("scale/cpu-high-alarm.json")).await);
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(w.acct.desired_capacity("web").await, 3);
    assert!(group_record(&w.acct).await["last_change_at"].is_string());
    assert_eq!(w.acct.reports().await.len(), 1);
    assert_eq!(w.proxy.faults_injected(), ATTEMPTS - 1);
}

#[tokio::test]
async fn scale_a_change_that_fails_for_now_advances_no_cooldown_and_the_retry_scales_once() {
    let w = scale_world().await;
    let event = sample("scale/cpu-high-alarm.json");
    w.proxy
        .fail("autoscaling:SetDesiredCapacity", Fault::Throttle, ATTEMPTS);
    let handler = w.acct.handler_via::<Scale>(&w.proxy, "enforce", &[]).await;
    fails_for_now(&handler, &event, "Transient.Interrupted").await;
    assert_eq!(w.acct.desired_capacity("web").await, 2);
    // The record did not move on: no cooldown from a change not made. (Whether a pending mark
    // stays for the retry to settle is the executor's business; the retry below must scale,
    // and once.)
    let record = group_record(&w.acct).await;
    assert!(record["last_change_at"].is_null(), "{record}");

    let report = handled(handler.handle(event.clone()).await);
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(w.acct.desired_capacity("web").await, 3);
    assert!(group_record(&w.acct).await["last_change_at"].is_string());
    assert_eq!(w.acct.reports().await.len(), 1);
    // The redelivery of the same event does not scale again.
    handled(handler.handle(event).await);
    assert_eq!(w.acct.desired_capacity("web").await, 3);
}

#[tokio::test]
async fn scale_access_denied_is_reported_and_the_next_alarm_is_not_held_by_a_cooldown() {
    let w = scale_world().await;
    w.proxy
        .fail("autoscaling:SetDesiredCapacity", Fault::AccessDenied, 1);
    let handler = w.acct.handler_via::<Scale>(&w.proxy, "enforce", &[]).await;
    let report = handled(handler.handle(sample("scale/cpu-high-alarm.json")).await);
    assert_eq!(report.status, Status::Failed, "{report:#?}");
    assert_eq!(w.acct.desired_capacity("web").await, 2);
    let delivered = w.acct.reports().await;
    assert_eq!(delivered.len(), 1, "reported");
    assert_eq!(delivered[0].report.status, Status::Failed);
    assert_eq!(
        w.proxy.seen("autoscaling:SetDesiredCapacity"),
        1,
        "a final fault is not retried"
    );
    // The next ALARM of the alarm, within what would be the cooldown: it scales.
    let report = handled(
        handler
            .handle(sample("scale/cpu-high-alarm-again.json"))
            .await,
    );
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(w.acct.desired_capacity("web").await, 3);
}

// ---- harden ----

#[tokio::test]
async fn harden_a_trail_that_cannot_be_restarted_now_is_restarted_by_the_retry() {
    let w = world().await;
    trail::seed(&w.acct).await;
    let event = trail::replay(&w.acct, sample("harden/stop-logging.json")).await;
    w.proxy
        .fail("cloudtrail:StartLogging", Fault::Status(503), ATTEMPTS);
    let handler = w.acct.handler_via::<Harden>(&w.proxy, "enforce", &[]).await;
    fails_for_now(&handler, &event, "Transient.Interrupted").await;
    assert!(!trail::trail_state(&w.acct, TRAIL).await.unwrap().logging);
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated);
    assert!(trail::trail_state(&w.acct, TRAIL).await.unwrap().logging);
    assert_eq!(w.acct.reports().await.len(), 1);
}

#[tokio::test]
async fn harden_a_5xx_the_sdk_retries_past_is_invisible() {
    let w = world().await;
    trail::seed(&w.acct).await;
    let event = trail::replay(&w.acct, sample("harden/stop-logging.json")).await;
    w.proxy
        .fail("cloudtrail:StartLogging", Fault::Status(500), ATTEMPTS - 1);
    let handler = w.acct.handler_via::<Harden>(&w.proxy, "enforce", &[]).await;
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(trail::trail_state(&w.acct, TRAIL).await.unwrap().logging);
    assert_eq!(w.acct.reports().await.len(), 1);
    assert_eq!(w.proxy.faults_injected(), ATTEMPTS - 1);
}

#[tokio::test]
async fn harden_access_denied_on_the_restart_leaves_the_actor_contained_and_says_which_failed() {
    let w = world().await;
    trail::seed(&w.acct).await;
    let event = trail::replay(&w.acct, sample("harden/stop-logging.json")).await;
    w.proxy
        .fail("cloudtrail:StartLogging", Fault::AccessDenied, 1);
    let handler = w
        .acct
        .handler_via::<Harden>(&w.proxy, "enforce", &[("REFLEX_CONTAIN_ACTOR", "true")])
        .await;
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::PartiallyFailed, "{report:#?}");
    let failed: Vec<&str> = report
        .actions()
        .filter(|a| a.outcome.is_failed())
        .map(|a| a.description.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with("start logging"), "{failed:?}");
    assert!(!trail::trail_state(&w.acct, TRAIL).await.unwrap().logging);
    assert_eq!(w.acct.active_access_keys("mallory").await, 0);
    let delivered = w.acct.reports().await;
    assert_eq!(delivered.len(), 1);
    // The report sent says which step failed, and why.
    let sent = delivered[0]
        .report
        .actions()
        .find(|a| a.outcome.is_failed())
        .expect("the failed step is in the report sent");
    assert!(sent.description.starts_with("start logging"), "{sent:?}");
    match &sent.outcome {
        Outcome::Failed { error_code, .. } => {
            // CloudTrail speaks JSON: its code is `AccessDeniedException`.
            assert_eq!(error_code.as_deref(), Some("AccessDeniedException"))
        }
        other => panic!("{other:?}"),
    }
}

// ---- quarantine ----

async fn fleet_world() -> (World, Fleet) {
    let w = world().await;
    let fleet = ec2::seed_fleet(&w.acct).await;
    (w, fleet)
}

#[tokio::test]
async fn quarantine_a_throttle_the_sdk_retries_past_is_invisible() {
    let (w, fleet) = fleet_world().await;
    let event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        &fleet.instance_id,
    );
    w.proxy
        .fail("ec2:ModifyInstanceAttribute", Fault::Throttle, ATTEMPTS - 1);
    let handler = w
        .acct
        .handler_via::<Quarantine>(&w.proxy, "enforce", &[])
        .await;
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    ec2::assert_quarantined(&w.acct, &fleet).await;
    assert_eq!(w.acct.reports().await.len(), 1);
    assert_eq!(w.proxy.faults_injected(), ATTEMPTS - 1);
}

#[tokio::test]
async fn quarantine_an_isolation_that_fails_for_now_is_resumed_after_the_recorded_steps() {
    let (w, fleet) = fleet_world().await;
    let event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        &fleet.instance_id,
    );
    w.proxy
        .fail("ec2:ModifyInstanceAttribute", Fault::Throttle, ATTEMPTS);
    let handler = w
        .acct
        .handler_via::<Quarantine>(&w.proxy, "enforce", &[])
        .await;
    fails_for_now(&handler, &event, "Transient.Interrupted").await;
    // The previous groups were recorded before isolation was tried: they stay recorded.
    let tags = ec2::instance_tags(&w.acct, &fleet.instance_id).await;
    assert!(
        tags.keys()
            .any(|k| k.starts_with("reflex:previous-groups:")),
        "{tags:?}"
    );
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    ec2::assert_quarantined(&w.acct, &fleet).await;
    // The retry resumed after the recorded step: the report carries what the first delivery did
    // (a redone step would find the tags there and say "already done"), and the only other tag
    // write is the quarantine's own.
    let recorded = outcome(&report, "record the previous security groups");
    assert_eq!(recorded.status(), "done", "{recorded:?}");
    assert!(recorded.undo().is_some(), "{recorded:?}");
    assert_eq!(w.proxy.seen("ec2:CreateTags"), 2);
    // Each step once in the ledger, in the finished record.
    assert_eq!(w.acct.finished_steps_once().await, 8);
    assert_eq!(w.acct.reports().await.len(), 1);
}

#[tokio::test]
async fn a_retry_that_plans_nothing_still_reports_the_work_done_and_finishes_the_claim() {
    let (w, fleet) = fleet_world().await;
    let event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        &fleet.instance_id,
    );
    // The first delivery isolates the instance, then a snapshot fails for now.
    w.proxy
        .fail("ec2:CreateSnapshot", Fault::Status(503), ATTEMPTS);
    let first = w
        .acct
        .handler_via::<Quarantine>(&w.proxy, "enforce", &[])
        .await;
    fails_for_now(&first, &event, "Transient.Interrupted").await;
    assert!(w.acct.reports().await.is_empty());

    // Before Lambda's retry the rule is turned off: the retry plans nothing for the finding.
    let retry = w
        .acct
        .handler_via::<Quarantine>(
            &w.proxy,
            "enforce",
            &[("REFLEX_RULE_MODES", "quarantine.guardduty-finding=off")],
        )
        .await;
    let report = handled(retry.handle(event).await);
    // What the first delivery did is reported, once, and its claim is finished.
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(outcome(&report, "isolate instance").status(), "done");
    let delivered = w.acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0]
            .report
            .actions()
            .any(|a| a.description.starts_with("isolate instance") && a.outcome.is_done()),
        "{:#?}",
        delivered[0].report
    );
    let claims = w.acct.claims().await;
    assert_eq!(claims.len(), 1, "{claims:#?}");
    assert_eq!(claims[0]["state"], "done", "{claims:#?}");
    // The second volume's snapshot, which the first delivery took; nothing was done again.
    assert_eq!(
        ec2::snapshots_of(&w.acct, &fleet.instance_id).await.len(),
        1
    );
    assert_eq!(w.proxy.seen("ec2:CreateSnapshot"), ATTEMPTS + 1);
}

#[tokio::test]
async fn quarantine_access_denied_on_a_snapshot_leaves_the_isolation_done() {
    let (w, fleet) = fleet_world().await;
    let event = ec2::for_instance(
        sample("quarantine/guardduty-bitcoin-tool-high.json"),
        &fleet.instance_id,
    );
    w.proxy.fail("ec2:CreateSnapshot", Fault::AccessDenied, 1);
    let handler = w
        .acct
        .handler_via::<Quarantine>(&w.proxy, "enforce", &[])
        .await;
    let report = handled(handler.handle(event).await);
    assert_eq!(report.status, Status::PartiallyFailed, "{report:#?}");
    let failed: Vec<&str> = report
        .actions()
        .filter(|a| a.outcome.is_failed())
        .map(|a| a.description.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with("snapshot volume"), "{failed:?}");
    assert_eq!(outcome(&report, "isolate instance").status(), "done");
    assert_eq!(
        ec2::instance_groups(&w.acct, &fleet.instance_id).await,
        [ec2::quarantine_group(&w.acct, &fleet.vpc_id).await.unwrap()],
        "isolated in the emulator, not only in the report"
    );
    assert_eq!(
        ec2::snapshots_of(&w.acct, &fleet.instance_id).await.len(),
        1
    );
    assert_eq!(w.acct.reports().await.len(), 1);
}

// ---- notify ----

#[tokio::test]
async fn notify_a_5xx_the_sdk_retries_past_is_invisible() {
    let w = world().await;
    w.proxy
        .fail("sns:Publish", Fault::Status(503), ATTEMPTS - 1);
    let handler = w.acct.handler_via::<Notify>(&w.proxy, "enforce", &[]).await;
    let report = handled(handler.handle(sample("notify/sign-in-root.json")).await);
    assert_eq!(report.status, Status::NeedsAttention);
    let delivered = w.acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].subject.contains("root"),
        "{}",
        delivered[0].subject
    );
    assert_eq!(w.proxy.faults_injected(), ATTEMPTS - 1);
}

#[tokio::test]
async fn notify_a_report_that_cannot_be_published_now_is_published_by_the_retry_once() {
    let w = world().await;
    let event = sample("notify/sign-in-root.json");
    w.proxy.fail("sns:Publish", Fault::Throttle, ATTEMPTS);
    let handler = w.acct.handler_via::<Notify>(&w.proxy, "enforce", &[]).await;
    fails_for_now(&handler, &event, "Transient.Notify").await;
    assert!(w.acct.reports().await.is_empty());
    let report = handled(handler.handle(event.clone()).await);
    assert_eq!(report.status, Status::NeedsAttention);
    assert_eq!(w.acct.reports().await.len(), 1);
    let again = handled(handler.handle(event).await);
    assert_eq!(again.status, Status::AlreadyHandled);
    assert!(w.acct.reports().await.is_empty(), "no second message");
    assert_eq!(w.proxy.faults_injected(), ATTEMPTS);
}
