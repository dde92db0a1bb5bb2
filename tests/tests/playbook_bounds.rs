//! The attacker's playbook against Reflex's disruptive triggers and its containment, end to end
//! against the emulator. The attacker is inside the account with some permissions: enough to
//! create an alarm and set its state (cloudwatch:PutMetricAlarm, SetAlarmState), or to assume a
//! role Reflex once contained. Each test reproduces one way around Reflex and checks that it is
//! closed:
//!
//! - an alarm of their own, naming a group in its `AutoScalingGroupName` dimension or its tag,
//!   flipped to ALARM again and again, ratchets that group to its maximum;
//! - a mapped alarm forged to ALARM again and again acts without end, paging each time;
//! - a role contained in an earlier incident keeps the old cut-off, and the new incident's
//!   sessions stay valid.

use std::time::Duration;

use reflex_revoke::Revoke;
use reflex_scale::Scale;
use reflex_shared::ledger::{ClaimKey, Ledger, RateCount};
use reflex_shared::report::{Report, Status};
use reflex_testkit::fails_for_now;
use reflex_tests::account::LEDGER_TABLE;
use reflex_tests::proxy::{Fault, FaultProxy};
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

/// The group `web` (min 1, max 10, desired 2): room for a ratchet to show.
async fn account_with_web() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    account.seed_group("web", 1, 10, 2).await;
    (emulator, account)
}

/// The `n`th state change to ALARM of the alarm in `file`, as CloudWatch would send it after
/// another SetAlarmState: an event of its own (id), a minute after the one before.
fn flipped(file: &str, n: u32) -> Value {
    let mut event = sample(&format!("scale/{file}"));
    let at = format!("2026-11-20T12:{n:02}:00");
    event["id"] = Value::from(format!("forged-{file}-{n}"));
    event["time"] = Value::from(format!("{at}Z"));
    event["detail"]["state"]["timestamp"] = Value::from(format!("{at}.000+0000"));
    event
}

/// No cooldown: the attacker waits it out anyway; without one the tests need no clock.
const NO_COOLDOWN: (&str, &str) = ("REFLEX_SCALE_COOLDOWN_SECONDS", "0");

#[tokio::test]
async fn an_alarm_not_in_the_targets_never_scales_the_group_it_names_however_often_it_fires() {
    let (_emu, acct) = account_with_web().await;
    let handler = acct.handler::<Scale>("enforce", &[NO_COOLDOWN]).await;
    // The attacker's alarm: `AutoScalingGroupName: web` in its metric, `web` in its tag.
    for n in 0..10 {
        let report = handler
            .handle(flipped("unlisted-alarm-naming-web.json", n))
            .await
            .expect("handled");
        assert_eq!(report.status, Status::NothingToDo, "{report:#?}");
        assert!(
            report.notes[0].contains("web-cpu-high-2 is not in REFLEX_SCALE_TARGETS"),
            "{:?}",
            report.notes
        );
    }
    assert_eq!(acct.desired_capacity("web").await, 2, "ratcheted");
    // Nor does a composite alarm's group tag, once its name is not configured.
    let unmapped = acct
        .handler::<Scale>("enforce", &[NO_COOLDOWN, ("REFLEX_SCALE_TARGETS", "")])
        .await;
    for n in 0..3 {
        unmapped
            .handle(flipped("composite-cpu-and-disk-alarm.json", n))
            .await
            .expect("handled");
    }
    assert_eq!(acct.desired_capacity("web").await, 2, "ratcheted by a tag");
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_forged_alarm_flood_is_bounded_by_the_rate_limit_and_pages_once() {
    let (_emu, acct) = account_with_web().await;
    let limit = [NO_COOLDOWN, ("REFLEX_MAX_ACTIONS_PER_HOUR", "3")];
    let handler = acct.handler::<Scale>("enforce", &limit).await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let report = handler
            .handle(flipped("cpu-high-alarm.json", n))
            .await
            .expect("handled");
        statuses.push(report.status);
    }
    // Three changes, then nothing: 2 -> 5, not 2 -> 8.
    assert_eq!(acct.desired_capacity("web").await, 5);
    assert_eq!(
        statuses,
        [
            Status::Remediated,
            Status::Remediated,
            Status::Remediated,
            Status::NeedsAttention,
            Status::NoAction,
            Status::NoAction,
        ]
    );
    // One page for the flood, naming the limit; the later refusals page no one.
    let delivered = acct.reports().await;
    let paged: Vec<&Report> = delivered.iter().map(|d| &d.report).collect();
    assert_eq!(paged.len(), 4, "{paged:#?}");
    let page = paged[3];
    assert_eq!(page.status, Status::NeedsAttention);
    let why = page.findings[0]
        .attention
        .as_deref()
        .expect("why a person must look");
    assert!(why.contains("at most 3 enforced actions per hour"), "{why}");
    assert!(why.contains("REFLEX_MAX_ACTIONS_PER_HOUR"), "{why}");
    let held = &page.findings[0].actions[0].outcome;
    assert_eq!(held.status(), "skipped", "{held:?}");
    assert!(
        held.explanation().unwrap().starts_with("rate limit"),
        "{held:?}"
    );
    // Every refusal is in the ledger, finished: a retry of it does nothing either.
    let refused = acct
        .claims()
        .await
        .into_iter()
        .filter(|c| {
            c["state"] == "done" && c["finding"].as_str().unwrap_or("").contains("rate limit")
        })
        .count();
    assert_eq!(refused, 3);
    let retry = handler
        .handle(flipped("cpu-high-alarm.json", 5))
        .await
        .expect("handled");
    assert_eq!(retry.status, Status::AlreadyHandled);
    assert_eq!(acct.desired_capacity("web").await, 5);
}

#[tokio::test]
async fn the_limit_counts_per_function_and_dry_runs_not_at_all() {
    let (_emu, acct) = account_with_web().await;
    let limit = [NO_COOLDOWN, ("REFLEX_MAX_ACTIONS_PER_HOUR", "1")];
    // Dry-run acts on nothing and counts nothing.
    let dry = acct.handler::<Scale>("dry-run", &limit).await;
    for n in 0..3 {
        let report = dry.handle(flipped("cpu-high-alarm.json", n)).await.unwrap();
        assert_eq!(report.status, Status::DryRun, "{report:#?}");
    }
    let enforce = acct.handler::<Scale>("enforce", &limit).await;
    let report = enforce
        .handle(flipped("cpu-high-alarm.json", 10))
        .await
        .unwrap();
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(acct.desired_capacity("web").await, 3);
    // Scale's limit is its own: revoke still acts in the same account and hour.
    acct.seed().await;
    let event = acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    let revoked = acct
        .handler::<Revoke>("enforce", &limit)
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(revoked.status, Status::Remediated, "{revoked:#?}");
}

#[tokio::test]
async fn without_a_ledger_there_is_no_limit_and_every_report_says_so() {
    let (_emu, acct) = account_with_web().await;
    let limit = [
        NO_COOLDOWN,
        ("REFLEX_MAX_ACTIONS_PER_HOUR", "1"),
        ("REFLEX_LEDGER_TABLE", ""),
    ];
    let handler = acct.handler::<Scale>("enforce", &limit).await;
    for n in 0..2 {
        let report = handler
            .handle(flipped("cpu-high-alarm.json", n))
            .await
            .unwrap();
        assert_eq!(report.status, Status::Remediated, "{report:#?}");
        let notes = report.notes.join("\n");
        assert!(notes.contains("and so is the rate limit"), "{notes}");
    }
    assert_eq!(acct.desired_capacity("web").await, 4);
}

#[tokio::test]
async fn a_retry_of_a_counted_delivery_is_not_counted_twice() {
    let (emu, acct) = account_with_web().await;
    let proxy = FaultProxy::start(&emu.endpoint);
    let limit = [NO_COOLDOWN, ("REFLEX_MAX_ACTIONS_PER_HOUR", "1")];
    let handler = acct.handler_via::<Scale>(&proxy, "enforce", &limit).await;
    let event = flipped("cpu-high-alarm.json", 0);
    // Counted, then the change fails for now: the delivery fails for Lambda to retry it.
    let attempts = reflex_testkit::MAX_ATTEMPTS as usize;
    proxy.fail("autoscaling:SetDesiredCapacity", Fault::Throttle, attempts);
    fails_for_now(&handler, &event, "Transient.Interrupted").await;
    proxy.clear();
    // The retry is the same claim: admitted again (the limit of one is its own action).
    let retry = handler.handle(event).await.expect("handled");
    assert_eq!(retry.status, Status::Remediated, "{retry:#?}");
    assert_eq!(acct.desired_capacity("web").await, 3);
    let counters: Vec<Value> = acct
        .ledger_entries()
        .await
        .into_iter()
        .filter(|e| e["kind"] == "rate")
        .collect();
    assert_eq!(counters.len(), 1, "{counters:?}");
    assert_eq!(counters[0]["actions"], 1, "{counters:?}");
}

#[tokio::test]
async fn the_ledger_counts_each_claim_once_and_names_one_first_refusal() {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    let ledger = Ledger::new(acct.dynamodb.clone(), LEDGER_TABLE, 1);
    let now = chrono::Utc::now();
    let claim = |n: u32| ClaimKey {
        event: format!("e-{n}"),
        rule: "scale.out".into(),
    };
    for n in 0..5 {
        let until = now.timestamp() + 60;
        ledger
            .claim(&claim(n), "scale", "test", now, until)
            .await
            .unwrap();
    }
    let count = |n: u32| {
        let ledger = ledger.clone();
        async move {
            ledger
                .count_actions(&claim(n), "scale#123456789012#test", 1, 2, now)
                .await
                .unwrap()
        }
    };
    assert_eq!(count(0).await, RateCount::Admitted { used: 1 });
    assert_eq!(count(0).await, RateCount::AlreadyCounted);
    assert_eq!(count(1).await, RateCount::Admitted { used: 2 });
    assert_eq!(
        count(2).await,
        RateCount::Refused {
            first: true,
            used: 2
        }
    );
    // A retry of the first refusal is still the first; another one is not.
    assert_eq!(
        count(2).await,
        RateCount::Refused {
            first: true,
            used: 2
        }
    );
    assert_eq!(
        count(3).await,
        RateCount::Refused {
            first: false,
            used: 2
        }
    );
    // Counted claims stay admitted.
    assert_eq!(count(1).await, RateCount::AlreadyCounted);
    // More actions than the limit at once: refused whole, never in part.
    let whole = ledger
        .count_actions(&claim(4), "scale#123456789012#other", 3, 2, now)
        .await
        .unwrap();
    assert_eq!(
        whole,
        RateCount::Refused {
            first: true,
            used: 0
        }
    );
}

// ---- containment that works twice ----

const CONTAIN: (&str, &str) = ("REFLEX_CONTAIN_ACTOR", "true");

/// ci-deployer's escalation (`PutRolePolicy` granting iam:PassRole on `*`) as a new incident at
/// `at`: its own ids and times.
fn escalation_at(n: u32, at: &str) -> Value {
    let mut event = sample("revoke/put-role-policy-passrole.json");
    event["id"] = Value::from(format!("incident-{n}"));
    event["time"] = Value::from(at);
    event["detail"]["eventID"] = Value::from(format!("incident-{n}-call"));
    event["detail"]["eventTime"] = Value::from(at);
    event
}

async fn contain(acct: &Account, event: Value, extra: &[(&str, &str)]) -> Report {
    let event = acct.replay(event).await;
    let extra = [extra, &[CONTAIN]].concat();
    acct.handler::<Revoke>("enforce", &extra)
        .await
        .handle(event)
        .await
        .expect("handled")
}

fn containment(report: &Report) -> &reflex_shared::Outcome {
    let finding = report
        .findings
        .iter()
        .find(|f| f.rule_id == "revoke.contain-actor")
        .unwrap_or_else(|| panic!("no containment: {report:#?}"));
    &finding.actions[0].outcome
}

#[tokio::test]
async fn a_role_contained_before_is_contained_again_with_the_new_incidents_cut_off() {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    let cut_off = || acct.session_cutoff("ci-deployer");
    // The first incident: ci-deployer's sessions until just after its call are cut off.
    let first = contain(&acct, escalation_at(1, "2026-11-20T10:23:07Z"), &[]).await;
    assert_eq!(containment(&first).status(), "done", "{first:#?}");
    assert_eq!(cut_off().await, "2026-11-20T10:23:08Z");

    // Days later the attacker assumes ci-deployer again (a new session) and escalates again.
    let second = contain(&acct, escalation_at(2, "2026-11-23T08:00:00Z"), &[]).await;
    let moved = containment(&second);
    assert_eq!(
        moved.status(),
        "done",
        "already done is the bypass: {second:#?}"
    );
    assert_eq!(cut_off().await, "2026-11-23T08:00:01Z");
    assert!(
        moved
            .explanation()
            .unwrap()
            .contains("moved forward from 2026-11-20T10:23:08Z"),
        "{moved:?}"
    );
    // The undo puts the earlier incident's cut-off back, not nothing.
    let undo = moved.undo().unwrap();
    assert!(
        undo.starts_with("aws --region us-east-1 iam put-role-policy --role-name ci-deployer"),
        "{undo}"
    );
    assert!(undo.contains("2026-11-20T10:23:08Z"), "{undo}");

    // Lambda's retry of the second, its ledger record lost (no ledger at all here): the same
    // cut-off, nothing changed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let retry = contain(
        &acct,
        escalation_at(2, "2026-11-23T08:00:00Z"),
        &[("REFLEX_LEDGER_TABLE", "")],
    )
    .await;
    let again = containment(&retry);
    assert_eq!(again.status(), "already-done", "{retry:#?}");
    assert_eq!(cut_off().await, "2026-11-23T08:00:01Z");

    // A late replay of the first incident never moves the cut-off back.
    let replayed = contain(
        &acct,
        escalation_at(3, "2026-11-20T10:23:07Z"),
        &[("REFLEX_LEDGER_TABLE", "")],
    )
    .await;
    assert_eq!(
        containment(&replayed).status(),
        "already-done",
        "{replayed:#?}"
    );
    assert_eq!(cut_off().await, "2026-11-23T08:00:01Z");
}

// ---- the rate limit and what must still get through ----

/// `AttachUserPolicy` of AdministratorAccess to alice, again: the `n`th event of a flood.
fn escalation_again(n: u32) -> Value {
    let mut event = sample("revoke/attach-admin-to-user.json");
    event["id"] = Value::from(format!("flood-{n}"));
    event["detail"]["eventID"] = Value::from(format!("flood-{n}-call"));
    event
}

/// A flood of escalations past the limit: each HIGH one refused pages, not only the first (a
/// refused escalation stays in place until a person acts). Removing a self-granted exemption tag
/// is neither counted nor held back: a flood must not open the way to exempting oneself.
#[tokio::test]
async fn past_the_limit_every_refused_escalation_pages_and_a_self_granted_exemption_is_still_removed()
 {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    let limit = [("REFLEX_MAX_ACTIONS_PER_HOUR", "1")];
    let handler = acct.handler::<Revoke>("enforce", &limit).await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        let event = acct.replay(escalation_again(n)).await;
        statuses.push(handler.handle(event).await.expect("handled").status);
    }
    assert_eq!(
        statuses,
        [
            Status::Remediated,
            Status::NeedsAttention,
            Status::NeedsAttention
        ],
        "the second and the third are refused, and each needs a person"
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 3, "every refused escalation pages");
    for page in &delivered[1..] {
        let why = page.report.findings[0]
            .attention
            .as_deref()
            .expect("why a person must look");
        assert!(why.contains("at most 1 enforced actions per hour"), "{why}");
    }
    // Still attached after the refusals: that is what the pages are about.
    assert!(
        acct.attached_policies(&reflex_revoke::actions::Identity::User("alice".into()))
            .await
            .contains(&reflex_tests::account::ADMIN.to_string())
    );

    let tagged = acct
        .replay(sample("revoke/tag-user-exempt-self.json"))
        .await;
    let report = handler.handle(tagged).await.expect("handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(report.findings[0].rule_id, "revoke.exemption-tag");
    assert!(
        !acct
            .tags_of(&reflex_revoke::actions::Identity::User("mallory".into()))
            .await
            .contains_key("reflex:exempt"),
        "the tag is removed past the limit"
    );
}
