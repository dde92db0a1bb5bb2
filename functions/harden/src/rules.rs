//! The harden rules: pure decisions from a trigger to findings. No AWS call, no failure;
//! `executor.rs` reads the current state and acts on the plans.

use reflex_shared::iam::contain_caller;
use reflex_shared::target::Target;
use reflex_shared::{Finding, Severity};

use crate::actions::{HardenAction, trail_name};
use crate::facts::Facts;
use crate::settings::{LOG_KMS_KEY_ARN, Settings};
use crate::trigger::{Change, Trigger};

pub const TRAIL_STOPPED: &str = "harden.trail-stopped";
pub const TRAIL_WEAKENED: &str = "harden.trail-weakened";
pub const TRAIL_DELETED: &str = "harden.trail-deleted";
pub const LOG_RETENTION: &str = "harden.log-retention";
pub const LOG_ENCRYPTION: &str = "harden.log-encryption";
pub const CONTAIN_ACTOR: &str = "harden.contain-actor";

pub const RULE_IDS: &[&str] = &[
    TRAIL_STOPPED,
    TRAIL_WEAKENED,
    TRAIL_DELETED,
    LOG_RETENTION,
    LOG_ENCRYPTION,
    CONTAIN_ACTOR,
];

/// Every rule over one trigger.
pub fn decide(
    trigger: &Trigger,
    _facts: &Facts,
    settings: &Settings,
) -> Vec<Finding<HardenAction>> {
    let mut findings = match &trigger.change {
        Change::LoggingStopped { trail } => vec![trail_stopped(trigger, trail)],
        Change::TrailUpdated {
            trail,
            multi_region_off,
            log_file_validation_off,
        } => trail_weakened(trigger, trail, *multi_region_off, *log_file_validation_off)
            .into_iter()
            .collect(),
        Change::TrailDeleted { trail } => vec![trail_deleted(trigger, trail)],
        Change::LogGroupCreated {
            log_group,
            kms_key_id,
        } => log_group_created(trigger, log_group, kms_key_id.as_deref(), settings),
        Change::RetentionDeleted { log_group } => {
            vec![retention_deleted(trigger, log_group, settings)]
        }
    };
    if settings.contain_actor {
        findings.extend(contain_actor(trigger));
    }
    findings
}

fn trail_stopped(trigger: &Trigger, trail: &str) -> Finding<HardenAction> {
    Finding {
        rule_id: TRAIL_STOPPED,
        severity: Severity::High,
        reason: format!(
            "{} stopped logging on trail {}: API calls are no longer recorded",
            trigger.actor.describe(),
            trail_name(trail)
        ),
        actions: vec![HardenAction::StartLogging {
            trail: trail.to_string(),
        }],
    }
}

/// Only what the update turned off is turned back on; an update that weakens nothing is fine.
fn trail_weakened(
    trigger: &Trigger,
    trail: &str,
    multi_region_off: bool,
    log_file_validation_off: bool,
) -> Option<Finding<HardenAction>> {
    let mut actions = Vec::new();
    let mut what = Vec::new();
    if multi_region_off {
        what.push("multi-region logging (other regions are no longer recorded)");
        actions.push(HardenAction::EnableMultiRegion {
            trail: trail.to_string(),
        });
    }
    if log_file_validation_off {
        what.push("log file validation (tampering with delivered logs goes unnoticed)");
        actions.push(HardenAction::EnableLogFileValidation {
            trail: trail.to_string(),
        });
    }
    if actions.is_empty() {
        return None;
    }
    Some(Finding {
        rule_id: TRAIL_WEAKENED,
        severity: Severity::High,
        reason: format!(
            "{} turned off {} on trail {}",
            trigger.actor.describe(),
            what.join(" and "),
            trail_name(trail)
        ),
        actions,
    })
}

/// A deleted trail cannot be recreated automatically (its settings are gone): a person must act.
fn trail_deleted(trigger: &Trigger, trail: &str) -> Finding<HardenAction> {
    Finding {
        rule_id: TRAIL_DELETED,
        severity: Severity::Critical,
        reason: format!(
            "{} deleted trail {}: its API calls are no longer recorded. This cannot be undone \
             automatically: recreate the trail (aws cloudtrail create-trail, then start-logging) \
             and find out why {} did it",
            trigger.actor.describe(),
            trail_name(trail),
            short_actor(trigger)
        ),
        actions: Vec::new(),
    }
}

/// A new log group: no retention policy yet (`CreateLogGroup` cannot set one), and maybe no key.
/// The key is the configured one of the group's region and account; with keys configured but
/// none there, the encryption finding has no action and says the group is left unencrypted.
fn log_group_created(
    trigger: &Trigger,
    group: &str,
    kms_key_id: Option<&str>,
    settings: &Settings,
) -> Vec<Finding<HardenAction>> {
    let retention = Finding {
        rule_id: LOG_RETENTION,
        severity: Severity::Low,
        reason: format!(
            "log group {group} was created without a retention policy: its events would be kept forever"
        ),
        actions: vec![HardenAction::PutRetention {
            log_group: group.to_string(),
            days: settings.retention_days,
        }],
    };
    if kms_key_id.is_some() || settings.kms_keys.is_empty() {
        return vec![retention];
    }
    let Target { account, region } = &trigger.target;
    let encryption = match settings.kms_key_for(account, region) {
        Some(key) => Finding {
            rule_id: LOG_ENCRYPTION,
            severity: Severity::Medium,
            reason: format!(
                "log group {group} was created without a KMS key: its events are not \
                 encrypted with the configured key"
            ),
            actions: vec![HardenAction::AssociateKmsKey {
                log_group: group.to_string(),
                kms_key_arn: key.to_string(),
            }],
        },
        // Its own finding, not a line in the retention's: reported even when the retention is
        // already set, and found by the rule id. High, harden's alert severity: with no action,
        // only that gets it to a person, who must add the key or encrypt the group.
        None => Finding {
            rule_id: LOG_ENCRYPTION,
            severity: Severity::High,
            reason: format!(
                "log group {group} was created without a KMS key, and no key in \
                 {LOG_KMS_KEY_ARN} is of region {region} and account {account} (a log group \
                 gets only a key of its own region and account): it is left unencrypted"
            ),
            actions: Vec::new(),
        },
    };
    vec![retention, encryption]
}

fn retention_deleted(trigger: &Trigger, group: &str, settings: &Settings) -> Finding<HardenAction> {
    Finding {
        rule_id: LOG_RETENTION,
        severity: Severity::Low,
        reason: format!(
            "{} deleted the retention policy of log group {group}: its events would be kept forever",
            trigger.actor.describe()
        ),
        actions: vec![HardenAction::PutRetention {
            log_group: group.to_string(),
            days: settings.retention_days,
        }],
    }
}

/// Containment of a caller who blinded the audit trail, when enabled: a user's access keys go
/// inactive, a role's sessions issued before now are denied. Weakening a trail or touching
/// logs is remediated, not contained.
fn contain_actor(trigger: &Trigger) -> Option<Finding<HardenAction>> {
    let did = match trigger.change {
        Change::LoggingStopped { .. } => "stopped a CloudTrail trail",
        Change::TrailDeleted { .. } => "deleted a CloudTrail trail",
        _ => return None,
    };
    Some(contain_caller(
        CONTAIN_ACTOR,
        &trigger.actor,
        trigger.at,
        did,
        |action| HardenAction::ContainActor { action },
    ))
}

/// The caller for a sentence: user name, role session, or the ARN.
fn short_actor(trigger: &Trigger) -> String {
    let who = &trigger.actor;
    who.principal()
        .map(|p| p.to_string())
        .unwrap_or_else(|| who.describe())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::LogKey;
    use reflex_shared::Interpreted;

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const EU_KEY: &str =
        "arn:aws:kms:eu-west-1:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab";
    const MEMBER_KEY: &str =
        "arn:aws:kms:us-east-1:222222222222:key/9012abcd-12ab-34cd-56ef-1234567890ab";

    /// `CreateLogGroup` of `/app/payments` without a key, as if in `account` and `region`.
    fn created_in(account: &str, region: &str) -> Trigger {
        let event = reflex_testkit::sample_event("harden/create-log-group-without-kms-key.json");
        let Ok(Interpreted::Trigger(mut trigger)) = crate::trigger::interpret(&event) else {
            panic!("the sample is a trigger");
        };
        trigger.target = Target::new(account, region);
        trigger
    }

    fn with_keys(keys: &[&str]) -> Settings {
        Settings {
            kms_keys: keys.iter().map(|k| LogKey::parse(k).unwrap()).collect(),
            ..Settings::default()
        }
    }

    fn key_of(findings: &[Finding<HardenAction>]) -> Option<&str> {
        findings
            .iter()
            .flat_map(|f| &f.actions)
            .find_map(|a| match a {
                HardenAction::AssociateKmsKey { kms_key_arn, .. } => Some(kms_key_arn.as_str()),
                _ => None,
            })
    }

    #[test]
    fn the_sample_is_in_its_envelopes_account_and_region() {
        let event = reflex_testkit::sample_event("harden/create-log-group-without-kms-key.json");
        let Ok(Interpreted::Trigger(trigger)) = crate::trigger::interpret(&event) else {
            panic!("the sample is a trigger");
        };
        assert_eq!(trigger.target, Target::new("123456789012", "us-east-1"));
    }

    #[test]
    fn a_new_log_group_gets_the_key_of_its_region_and_account() {
        let all = with_keys(&[EU_KEY, MEMBER_KEY, KEY]);
        for (account, region, key) in [
            ("123456789012", "us-east-1", KEY),
            ("123456789012", "eu-west-1", EU_KEY),
            ("222222222222", "us-east-1", MEMBER_KEY),
        ] {
            let f = decide(&created_in(account, region), &(), &all);
            assert_eq!(f.len(), 2, "{f:?}");
            assert_eq!(f[1].rule_id, LOG_ENCRYPTION);
            assert_eq!(key_of(&f), Some(key), "{account} {region}");
            assert!(!f[0].reason.contains("unencrypted"), "{}", f[0].reason);
        }
    }

    #[test]
    fn no_key_of_another_region_or_account_and_its_own_finding_says_so() {
        for (keys, account, region) in [
            (&[EU_KEY][..], "123456789012", "us-east-1"),
            (&[MEMBER_KEY][..], "123456789012", "us-east-1"),
            (&[EU_KEY, MEMBER_KEY][..], "123456789012", "us-east-1"),
            (&[KEY][..], "123456789012", "eu-west-1"),
            (&[KEY][..], "222222222222", "us-east-1"),
        ] {
            let f = decide(&created_in(account, region), &(), &with_keys(keys));
            assert_eq!(
                f.len(),
                2,
                "the retention, and the encryption's verdict: {f:?}"
            );
            assert_eq!(f[0].rule_id, LOG_RETENTION);
            assert!(!f[0].reason.contains("KMS"), "{}", f[0].reason);
            assert_eq!(key_of(&f), None);
            let verdict = &f[1];
            assert_eq!(verdict.rule_id, LOG_ENCRYPTION);
            assert!(verdict.actions.is_empty(), "{verdict:?}");
            // With no action, only harden's alert severity gets it to a person.
            assert_eq!(verdict.severity, Severity::High);
            assert!(verdict.severity >= <crate::Harden as reflex_shared::Function>::ALERT_SEVERITY);
            assert_eq!(
                verdict.reason,
                format!(
                    "log group /app/payments was created without a KMS key, and no key in \
                     REFLEX_LOG_KMS_KEY_ARN is of region {region} and account {account} (a log \
                     group gets only a key of its own region and account): it is left \
                     unencrypted"
                )
            );
        }
        // No key configured: encryption is not enforced, and not mentioned.
        let f = decide(
            &created_in("123456789012", "eu-west-1"),
            &(),
            &Settings::default(),
        );
        assert_eq!(f.len(), 1);
        assert!(!f[0].reason.contains("KMS"), "{}", f[0].reason);
    }
}
