//! Every harden rule and guard over the sample events in `events/harden/`: pure, no emulator.

use std::collections::BTreeMap;

use reflex_harden::rules;
use reflex_harden::settings::LogKey;
use reflex_harden::{Harden, HardenAction, Settings, Trigger};
use reflex_shared::event;
use reflex_shared::exemption::ExemptPrincipals;
use reflex_shared::guard::{Disposition, EventSkip, Guards, Mode};
use reflex_shared::iam::Containment;
use reflex_shared::identity::SelfIdentity;
use reflex_shared::{
    Action, ApiCall, EventError, Finding, Function, Interpreted, Resource, Severity,
};
use reflex_testkit::{sample, sample_event, sample_files};
use serde_json::Value;

const TRAIL_ARN: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A sample of `events/harden/` as decoded JSON, to alter before parsing.
fn raw(name: &str) -> Value {
    sample(&format!("harden/{name}"))
}

/// The API call of a sample event, for the event guards.
fn call(name: &str) -> ApiCall {
    sample_event(&format!("harden/{name}"))
        .api_call()
        .cloned()
        .unwrap_or_else(|| panic!("{name}: not an API call"))
}

/// What harden makes of an event (a sample, altered or not).
fn interpret_value(value: Value, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
    let event = event::parse(value).expect("a well-formed event");
    Harden::interpret(&event, settings)
}

/// The findings for an event; an ignored event has none.
fn findings_of(value: Value, settings: &Settings) -> Vec<Finding<HardenAction>> {
    match interpret_value(value, settings).expect("a valid event") {
        Interpreted::Trigger(trigger) => rules::decide(&trigger, &(), settings),
        Interpreted::Ignored(why) => panic!("ignored: {why}"),
    }
}

fn findings_with(name: &str, settings: &Settings) -> Vec<Finding<HardenAction>> {
    findings_of(raw(name), settings)
}

fn findings(name: &str) -> Vec<Finding<HardenAction>> {
    findings_with(name, &Settings::default())
}

fn only_finding(name: &str) -> Finding<HardenAction> {
    let mut f = findings(name);
    assert_eq!(f.len(), 1, "{name}: {f:?}");
    f.remove(0)
}

fn with_key() -> Settings {
    Settings {
        kms_keys: vec![LogKey::parse(KEY).expect("a key ARN")],
        ..Settings::default()
    }
}

fn contain() -> Settings {
    Settings {
        contain_actor: true,
        ..Settings::default()
    }
}

#[test]
fn every_sample_is_a_cloudtrail_or_logs_api_call() {
    let files = sample_files("harden");
    assert_eq!(files.len(), 10, "{files:?}");
    for file in files {
        let event = sample_event(&format!("harden/{file}"));
        assert!(event.is_one_of(Harden::ACCEPTS), "{file}");
        let source = event.envelope().source.clone();
        let call = event.api_call().expect("an API call");
        assert_eq!(
            call.event_source,
            format!("{}.amazonaws.com", source.trim_start_matches("aws.")),
            "{file}"
        );
    }
}

#[test]
fn a_stopped_trail_is_started_again() {
    let f = only_finding("stop-logging.json");
    assert_eq!(f.rule_id, rules::TRAIL_STOPPED);
    assert_eq!(f.severity, Severity::High);
    // The console names the trail by ARN; the action keeps it (the API takes either).
    assert_eq!(
        f.actions,
        vec![HardenAction::StartLogging {
            trail: TRAIL_ARN.into()
        }]
    );
    assert!(f.reason.contains("user/mallory"), "{}", f.reason);
    assert!(f.reason.contains("trail main"), "{}", f.reason);
}

#[test]
fn a_weakened_trail_is_strengthened_again_but_a_harmless_update_is_left_alone() {
    let f = only_finding("update-trail-disables-multi-region.json");
    assert_eq!(f.rule_id, rules::TRAIL_WEAKENED);
    assert_eq!(
        f.actions,
        vec![HardenAction::EnableMultiRegion {
            trail: "main".into()
        }]
    );
    assert!(f.reason.contains("multi-region"), "{}", f.reason);

    let f = only_finding("update-trail-disables-log-file-validation.json");
    assert_eq!(f.rule_id, rules::TRAIL_WEAKENED);
    assert_eq!(
        f.actions,
        vec![HardenAction::EnableLogFileValidation {
            trail: "main".into()
        }]
    );

    assert!(findings("update-trail-changes-only-s3-key-prefix.json").is_empty());
}

#[test]
fn turning_both_off_at_once_plans_both_and_string_booleans_count() {
    let mut value = raw("update-trail-disables-multi-region.json");
    // CloudTrail sometimes renders booleans as strings.
    value["detail"]["requestParameters"]["enableLogFileValidation"] = "false".into();
    let f = findings_of(value, &Settings::default());
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].actions,
        vec![
            HardenAction::EnableMultiRegion {
                trail: "main".into()
            },
            HardenAction::EnableLogFileValidation {
                trail: "main".into()
            },
        ],
        "{f:?}"
    );
    assert!(f[0].reason.contains(" and "), "{}", f[0].reason);
}

#[test]
fn a_deleted_trail_is_a_critical_finding_for_a_person_naming_the_actor() {
    let f = only_finding("delete-trail.json");
    assert_eq!(f.rule_id, rules::TRAIL_DELETED);
    assert_eq!(f.severity, Severity::Critical);
    assert!(f.actions.is_empty(), "nothing can be done automatically");
    assert!(
        f.reason.contains("arn:aws:iam::123456789012:user/mallory"),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("user mallory"), "{}", f.reason);
    assert!(f.reason.contains("trail main"), "{}", f.reason);
}

#[test]
fn a_new_log_group_gets_the_configured_retention() {
    let f = only_finding("create-log-group-without-kms-key.json");
    assert_eq!(f.rule_id, rules::LOG_RETENTION);
    assert_eq!(
        f.actions,
        vec![HardenAction::PutRetention {
            log_group: "/app/payments".into(),
            days: 90
        }]
    );
    let thirty = Settings {
        retention_days: 30,
        ..Settings::default()
    };
    let f = findings_with("delete-retention-policy.json", &thirty);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule_id, rules::LOG_RETENTION);
    assert_eq!(
        f[0].actions,
        vec![HardenAction::PutRetention {
            log_group: "/app/orders".into(),
            days: 30
        }]
    );
    assert!(f[0].reason.contains("mallory"), "{}", f[0].reason);
}

#[test]
fn a_new_log_group_without_a_key_gets_the_configured_key_only_when_one_is_configured() {
    // No key configured: only the retention.
    assert_eq!(findings("create-log-group-without-kms-key.json").len(), 1);

    let f = findings_with("create-log-group-without-kms-key.json", &with_key());
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[1].rule_id, rules::LOG_ENCRYPTION);
    assert_eq!(
        f[1].actions,
        vec![HardenAction::AssociateKmsKey {
            log_group: "/app/payments".into(),
            kms_key_arn: KEY.into()
        }]
    );

    // Created with a key of its own: that key stands, only the retention is missing.
    let f = findings_with("create-log-group-with-kms-key.json", &with_key());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_id, rules::LOG_RETENTION);
}

#[test]
fn containment_is_off_by_default_and_applies_to_stopped_and_deleted_trails() {
    assert_eq!(findings("stop-logging.json").len(), 1);
    assert_eq!(findings("delete-trail.json").len(), 1);

    for file in ["stop-logging.json", "delete-trail.json"] {
        let f = findings_with(file, &contain());
        assert_eq!(f.len(), 2, "{file}: {f:?}");
        assert_eq!(f[1].rule_id, rules::CONTAIN_ACTOR, "{file}");
        assert_eq!(f[1].severity, Severity::Critical);
        assert_eq!(
            f[1].actions,
            vec![HardenAction::ContainActor {
                action: Containment::DeactivateUserAccessKeys {
                    user: "mallory".into()
                }
            }],
            "{file}"
        );
        assert!(f[1].reason.contains("CloudTrail trail"), "{}", f[1].reason);
    }
    // Weakening a trail or touching logs is remediated, not contained.
    for file in [
        "update-trail-disables-multi-region.json",
        "create-log-group-without-kms-key.json",
        "delete-retention-policy.json",
        "update-trail-changes-only-s3-key-prefix.json",
    ] {
        assert!(
            findings_with(file, &contain())
                .iter()
                .all(|f| f.rule_id != rules::CONTAIN_ACTOR),
            "{file}"
        );
    }
}

#[test]
fn containment_of_a_role_revokes_its_sessions() {
    let mut value = raw("stop-logging.json");
    value["detail"]["userIdentity"] =
        raw("stop-logging-by-reflex.json")["detail"]["userIdentity"].clone();
    let f = findings_of(value, &contain());
    assert_eq!(
        f[1].actions,
        vec![HardenAction::ContainActor {
            action: Containment::RevokeRoleSessions {
                role: "reflex-revoke".into(),
                // The second after the call: the session that made it is cut off.
                issued_before: Some("2026-11-20T11:01:08Z".into()),
            }
        }]
    );
}

#[test]
fn containment_keeps_its_json_shape() {
    let f = findings_with("stop-logging.json", &contain());
    assert_eq!(
        serde_json::to_value(&f[1].actions[0]).unwrap(),
        serde_json::json!({
            "type": "contain-actor",
            "action": {"type": "deactivate-user-access-keys", "user": "mallory"}
        })
    );
}

#[test]
fn an_event_missing_a_field_a_rule_needs_is_a_clear_error() {
    let cases = [
        ("stop-logging.json", "name"),
        ("update-trail-disables-multi-region.json", "name"),
        ("update-trail-changes-only-s3-key-prefix.json", "name"),
        ("delete-trail.json", "name"),
        ("create-log-group-without-kms-key.json", "logGroupName"),
        ("delete-retention-policy.json", "logGroupName"),
    ];
    for (file, field) in cases {
        let mut value = raw(file);
        value["detail"]["requestParameters"]
            .as_object_mut()
            .unwrap()
            .remove(field);
        let err = interpret_value(value, &Settings::default()).unwrap_err();
        assert_eq!(err.error_type(), "MissingField", "{file}");
        assert!(
            err.to_string()
                .contains(&format!("requestParameters.{field}")),
            "{file}: {err}"
        );
    }
}

#[test]
fn a_call_harden_has_no_rule_for_is_ignored_with_the_reason() {
    let mut value = raw("stop-logging.json");
    value["detail"]["eventName"] = "StartLogging".into();
    match interpret_value(value, &Settings::default()).unwrap() {
        Interpreted::Ignored(why) => {
            assert!(why.contains("cloudtrail:StartLogging"), "{why}");
        }
        other => panic!("StartLogging should be ignored: {other:?}"),
    }
    // A call of another service's name, from a source harden accepts: no rule either.
    let mut value = raw("delete-retention-policy.json");
    value["detail"]["eventName"] = "StopLogging".into();
    assert!(matches!(
        interpret_value(value, &Settings::default()).unwrap(),
        Interpreted::Ignored(why) if why.contains("logs:StopLogging")
    ));
}

#[test]
fn only_cloudtrail_and_logs_api_calls_are_accepted() {
    for file in [
        "harden/stop-logging.json",
        "harden/delete-retention-policy.json",
    ] {
        assert!(sample_event(file).is_one_of(Harden::ACCEPTS), "{file}");
    }
    for file in [
        "revoke/attach-admin-to-user.json",
        "scale/cpu-high-alarm.json",
        "invalid/alarm-state-change-for-revoke.json",
    ] {
        let event = sample_event(file);
        assert!(!event.is_one_of(Harden::ACCEPTS), "{file}");
        assert_eq!(
            event.unsupported().error_type(),
            "UnsupportedEvent",
            "{file}"
        );
    }
}

// ---- guards over the same sample events ----

fn guards() -> Guards {
    Guards {
        self_identity: Some(SelfIdentity::from_arn(
            "arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex-revoke",
        )),
        exempt: ExemptPrincipals::new("TEST", &["arn:aws:iam::*:role/break-glass".to_string()])
            .unwrap(),
        default_mode: Mode::Enforce,
        rule_modes: BTreeMap::new(),
        max_actions: 10,
    }
}

#[test]
fn loop_guard_skips_reflex_own_calls() {
    let skip = guards().screen(&call("stop-logging-by-reflex.json"));
    assert!(
        matches!(skip, Some(EventSkip::LoopGuard { .. })),
        "{skip:?}"
    );
    assert_eq!(guards().screen(&call("stop-logging.json")), None);
}

#[test]
fn failed_calls_are_not_remediated() {
    let skip = guards().screen(&call("stop-logging-access-denied.json"));
    assert_eq!(
        skip,
        Some(EventSkip::FailedCall {
            error_code: "AccessDeniedException".into()
        })
    );
}

#[test]
fn mode_per_rule_decides_run_dry_run_or_off() {
    let f = findings_with("create-log-group-without-kms-key.json", &with_key());
    let mut g = guards();
    g.rule_modes
        .insert(rules::LOG_ENCRYPTION.into(), Mode::DryRun);
    let guarded = g.apply(f.clone(), &BTreeMap::new());
    assert_eq!(guarded[0].steps[0].1, Disposition::Run);
    assert_eq!(guarded[1].steps[0].1, Disposition::DryRun);
    g.rule_modes.insert(rules::LOG_RETENTION.into(), Mode::Off);
    let guarded = g.apply(f, &BTreeMap::new());
    assert!(matches!(guarded[0].steps[0].1, Disposition::Skip { .. }));
}

#[test]
fn blast_radius_counts_harden_actions_too() {
    let f = findings_with("stop-logging.json", &contain());
    let mut g = guards();
    g.max_actions = 1;
    let guarded = g.apply(f, &BTreeMap::new());
    assert_eq!(guarded[0].steps[0].1, Disposition::Run);
    assert!(
        matches!(&guarded[1].steps[0].1, Disposition::Skip { why } if why.contains("blast radius"))
    );
}

#[test]
fn every_action_names_the_resource_it_touches() {
    let trail = Resource::Trail(TRAIL_ARN.into());
    let cases = [
        ("stop-logging.json", trail.clone()),
        (
            "update-trail-disables-multi-region.json",
            Resource::Trail("main".into()),
        ),
        (
            "update-trail-disables-log-file-validation.json",
            Resource::Trail("main".into()),
        ),
        (
            "delete-retention-policy.json",
            Resource::LogGroup("/app/orders".into()),
        ),
    ];
    for (file, resource) in cases {
        assert_eq!(findings(file)[0].actions[0].resource(), resource, "{file}");
    }
    let f = findings_with("create-log-group-without-kms-key.json", &with_key());
    for finding in &f {
        assert_eq!(
            finding.actions[0].resource(),
            Resource::LogGroup("/app/payments".into())
        );
    }
    let f = findings_with("stop-logging.json", &contain());
    assert_eq!(f[1].actions[0].resource(), Resource::User("mallory".into()));
}

#[test]
fn an_exemption_tag_on_the_trail_or_log_group_makes_its_action_exempt() {
    let cases = [
        ("stop-logging.json", Resource::Trail(TRAIL_ARN.into())),
        (
            "delete-retention-policy.json",
            Resource::LogGroup("/app/orders".into()),
        ),
    ];
    for (file, resource) in cases {
        let why = format!("{resource} carries the exemption tag reflex:exempt=true");
        let exempt = BTreeMap::from([(resource, why.clone())]);
        let guarded = guards().apply(findings(file), &exempt);
        assert_eq!(
            guarded[0].steps[0].1,
            Disposition::Exempt { why },
            "{file}: {guarded:?}"
        );
    }
    // Only the exempt resource: containing the caller still runs.
    let exempt = BTreeMap::from([(Resource::Trail(TRAIL_ARN.into()), "exempt".to_string())]);
    let guarded = guards().apply(findings_with("stop-logging.json", &contain()), &exempt);
    assert_eq!(guarded[1].steps[0].1, Disposition::Run);
}
