//! Every harden rule and guard over the sample events in `events/harden/`: pure, no emulator.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::config::BehaviorVersion;
use reflex_harden::rules::{self, RuleSettings};
use reflex_harden::{Harden, HardenAction};
use reflex_revoke::IamAction;
use reflex_shared::event::{self, Event};
use reflex_shared::guard::{Disposition, EventSkip, ExemptPrincipals, Guards, Mode};
use reflex_shared::identity::SelfIdentity;
use reflex_shared::pipeline::Remediator;
use reflex_shared::{ApiCall, Finding, Severity};
use serde_json::Value;

const TRAIL_ARN: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main";
const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn path(name: &str) -> String {
    format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn raw(name: &str) -> Value {
    let path = path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn call_of(value: Value, name: &str) -> ApiCall {
    match event::parse(value).unwrap_or_else(|e| panic!("{name}: {e}")) {
        Event::ApiCall { call, .. } => call,
        other => panic!("{name}: not an API call: {other:?}"),
    }
}

fn load(name: &str) -> ApiCall {
    call_of(raw(&format!("harden/{name}")), name)
}

fn findings_with(name: &str, settings: &RuleSettings) -> Vec<Finding<HardenAction>> {
    rules::evaluate(&load(name), settings).expect("a valid sample event")
}

fn findings(name: &str) -> Vec<Finding<HardenAction>> {
    findings_with(name, &RuleSettings::default())
}

fn only_finding(name: &str) -> Finding<HardenAction> {
    let mut f = findings(name);
    assert_eq!(f.len(), 1, "{name}: {f:?}");
    f.remove(0)
}

fn with_key() -> RuleSettings {
    RuleSettings {
        kms_key_arn: Some(KEY.into()),
        ..RuleSettings::default()
    }
}

fn contain() -> RuleSettings {
    RuleSettings {
        contain_actor: true,
        ..RuleSettings::default()
    }
}

#[test]
fn every_sample_is_a_cloudtrail_or_logs_api_call() {
    let dir = path("harden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 10, "{files:?}");
    for file in files {
        let value = raw(&format!("harden/{file}"));
        let source = value["source"].as_str().unwrap_or_default().to_string();
        assert!(reflex_harden::SOURCES.contains(&source.as_str()), "{file}");
        let call = call_of(value, &file);
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
    let mut value = raw("harden/update-trail-disables-multi-region.json");
    // CloudTrail sometimes renders booleans as strings.
    value["detail"]["requestParameters"]["enableLogFileValidation"] = "false".into();
    let f = rules::evaluate(&call_of(value, "both"), &RuleSettings::default()).unwrap();
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
    let thirty = RuleSettings {
        retention_days: 30,
        ..RuleSettings::default()
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
                action: IamAction::DeactivateUserAccessKeys {
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
    let mut value = raw("harden/stop-logging.json");
    value["detail"]["userIdentity"] =
        raw("harden/stop-logging-by-reflex.json")["detail"]["userIdentity"].clone();
    let f = rules::evaluate(&call_of(value, "role"), &contain()).unwrap();
    assert_eq!(
        f[1].actions,
        vec![HardenAction::ContainActor {
            action: IamAction::RevokeRoleSessions {
                role: "reflex-revoke".into()
            }
        }]
    );
}

#[test]
fn an_event_missing_a_field_a_rule_needs_is_a_clear_error() {
    let cases = [
        ("stop-logging.json", "name"),
        ("update-trail-disables-multi-region.json", "name"),
        ("delete-trail.json", "name"),
        ("create-log-group-without-kms-key.json", "logGroupName"),
        ("delete-retention-policy.json", "logGroupName"),
    ];
    for (file, field) in cases {
        let mut value = raw(&format!("harden/{file}"));
        value["detail"]["requestParameters"]
            .as_object_mut()
            .unwrap()
            .remove(field);
        let err = rules::evaluate(&call_of(value, file), &RuleSettings::default()).unwrap_err();
        assert_eq!(err.error_type(), "MissingField", "{file}");
        assert!(
            err.to_string()
                .contains(&format!("requestParameters.{field}")),
            "{file}: {err}"
        );
    }
}

#[test]
fn only_cloudtrail_and_logs_api_calls_are_accepted() {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .build();
    let harden = Harden::new(
        RuleSettings::default(),
        aws_sdk_cloudtrail::Client::new(&config),
        aws_sdk_cloudwatchlogs::Client::new(&config),
        aws_sdk_iam::Client::new(&config),
    );
    for file in [
        "harden/stop-logging.json",
        "harden/delete-retention-policy.json",
    ] {
        let ev = event::parse(raw(file)).unwrap();
        assert_eq!(harden.accepts(&ev), Ok(()), "{file}");
    }
    for file in [
        "revoke/attach-admin-to-user.json",
        "scale/cpu-high-alarm.json",
        "invalid/alarm-state-change-for-revoke.json",
    ] {
        let ev = event::parse(raw(file)).unwrap();
        let err = harden.accepts(&ev).unwrap_err();
        assert_eq!(err.error_type(), "UnsupportedEvent", "{file}");
    }
}

// ---- guards over the same sample events ----

fn guards() -> Guards {
    Guards {
        self_identity: Some(SelfIdentity::from_arn(
            "arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex-revoke",
        )),
        member_role: None,
        exempt: ExemptPrincipals::new("TEST", &["arn:aws:iam::*:role/break-glass".to_string()])
            .unwrap(),
        default_mode: Mode::Enforce,
        rule_modes: BTreeMap::new(),
        max_actions: 10,
    }
}

#[test]
fn loop_guard_skips_reflex_own_calls() {
    let skip = guards().screen(&load("stop-logging-by-reflex.json"));
    assert!(
        matches!(skip, Some(EventSkip::LoopGuard { .. })),
        "{skip:?}"
    );
    assert_eq!(guards().screen(&load("stop-logging.json")), None);
}

#[test]
fn failed_calls_are_not_remediated() {
    let skip = guards().screen(&load("stop-logging-access-denied.json"));
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
    let guarded = g.apply(f.clone(), &BTreeSet::new());
    assert_eq!(guarded[0].steps[0].1, Disposition::Run);
    assert_eq!(guarded[1].steps[0].1, Disposition::DryRun);
    g.rule_modes.insert(rules::LOG_RETENTION.into(), Mode::Off);
    let guarded = g.apply(f, &BTreeSet::new());
    assert!(matches!(guarded[0].steps[0].1, Disposition::Skip { .. }));
}

#[test]
fn blast_radius_counts_harden_actions_too() {
    let f = findings_with("stop-logging.json", &contain());
    let mut g = guards();
    g.max_actions = 1;
    let guarded = g.apply(f, &BTreeSet::new());
    assert_eq!(guarded[0].steps[0].1, Disposition::Run);
    assert!(
        matches!(&guarded[1].steps[0].1, Disposition::Skip { why } if why.contains("blast radius"))
    );
}
