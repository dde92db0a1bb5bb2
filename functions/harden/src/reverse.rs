//! Taking back harden's changes from what the ledger recorded (`reflex undo`).
//!
//! What is reversed: a log group's retention (kept forever again), its KMS key (disassociated
//! again), and the containment of the caller (keys active again, the sessions cut-off lifted):
//! the usual way back from a false positive, none of which leaves the account blind.
//!
//! What is refused: stopping a trail's logging, making it single-region, turning its log file
//! validation off. Each re-opens a gap in the audit trail, which is exactly what the event that
//! triggered harden did; an experienced security engineer expects that to be a person's
//! deliberate, separately reviewed act (under their own name in CloudTrail), never a side
//! effect of taking back an automatic fix. The refusal says which command does it by hand.

use aws_sdk_cloudwatchlogs::Client as Logs;
use reflex_shared::aws;
use reflex_shared::outcome::settle;
use reflex_shared::report::ActionReport;
use reflex_shared::reverse::containment::{self, ContainmentReversal};
use reflex_shared::reverse::{Irreversible, action, prior, reversed};
use reflex_shared::{Outcome, Step};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions::{HardenAction, trail_name};
use crate::executor::GONE;

/// One change that reverses one of harden's recorded steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum HardenReversal {
    /// The retention Reflex set removed, provided it is still `days`.
    DeleteRetention { log_group: String, days: i32 },
    /// The key Reflex associated removed, provided it is still `kms_key_arn`.
    DisassociateKmsKey {
        log_group: String,
        kms_key_arn: String,
    },
    #[serde(untagged)]
    Containment(ContainmentReversal),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Retention {
    retention_in_days: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Key {
    kms_key_id: Option<Value>,
}

fn audit_gap(trail: &str, what: &str, command: &str) -> Irreversible {
    Irreversible::new(format!(
        "Reflex does not {what} of trail {}: that re-opens a gap in the audit trail, as the \
         event it answered did. If it is really wanted, a person does it deliberately: aws \
         cloudtrail {command}",
        trail_name(trail)
    ))
}

pub fn reversal(step: &ActionReport) -> Result<HardenReversal, Irreversible> {
    let recorded: HardenAction = action("harden", step)?;
    Ok(match recorded {
        HardenAction::StartLogging { trail } => {
            return Err(audit_gap(
                &trail,
                "stop the logging",
                "stop-logging --name ...",
            ));
        }
        HardenAction::EnableMultiRegion { trail } => {
            return Err(audit_gap(
                &trail,
                "narrow to one region the recording",
                "update-trail --name ... --no-is-multi-region-trail",
            ));
        }
        HardenAction::EnableLogFileValidation { trail } => {
            return Err(audit_gap(
                &trail,
                "turn off the log file validation",
                "update-trail --name ... --no-enable-log-file-validation",
            ));
        }
        HardenAction::PutRetention { log_group, days } => {
            let Retention { retention_in_days } = prior(step)?;
            if retention_in_days.is_some() {
                return Err(Irreversible::new(format!(
                    "step `{}` recorded a retention before Reflex's: harden never replaces one, \
                     so the record is not its own",
                    step.step
                )));
            }
            HardenReversal::DeleteRetention { log_group, days }
        }
        HardenAction::AssociateKmsKey {
            log_group,
            kms_key_arn,
        } => {
            let Key { kms_key_id } = prior(step)?;
            if kms_key_id.is_some() {
                return Err(Irreversible::new(format!(
                    "step `{}` recorded a key before Reflex's: harden never replaces one, so \
                     the record is not its own",
                    step.step
                )));
            }
            HardenReversal::DisassociateKmsKey {
                log_group,
                kms_key_arn,
            }
        }
        HardenAction::ContainActor { action } => {
            HardenReversal::Containment(containment::reversal(&action, step)?)
        }
    })
}

pub fn describe(reversal: &HardenReversal) -> String {
    match reversal {
        HardenReversal::DeleteRetention { log_group, days } => format!(
            "keep the events of log group {log_group} forever again (remove the {days}-day \
             retention)"
        ),
        HardenReversal::DisassociateKmsKey {
            log_group,
            kms_key_arn,
        } => format!("stop encrypting log group {log_group} with KMS key {kms_key_arn}"),
        HardenReversal::Containment(c) => containment::describe(c),
    }
}

pub async fn reverse(logs: &Logs, iam: &aws_sdk_iam::Client, reversal: &HardenReversal) -> Outcome {
    settle(match reversal {
        HardenReversal::DeleteRetention { log_group, days } => {
            delete_retention(logs, log_group, *days).await
        }
        HardenReversal::DisassociateKmsKey {
            log_group,
            kms_key_arn,
        } => disassociate(logs, log_group, kms_key_arn).await,
        HardenReversal::Containment(c) => Ok(containment::reverse(iam, c).await),
    })
}

fn group_gone(group: &str) -> Outcome {
    Outcome::failed(
        format!("log group {group} no longer exists"),
        Some("ResourceNotFoundException".into()),
    )
}

/// The log group named exactly `name` (the API filters only by prefix).
async fn log_group(logs: &Logs, name: &str) -> Step<aws_sdk_cloudwatchlogs::types::LogGroup> {
    let mut groups = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .into_paginator()
        .items()
        .send();
    while let Some(group) = groups.next().await {
        let group = group.map_err(|e| {
            aws::fault("logs:DescribeLogGroups", &e, GONE).or_gone(|| group_gone(name))
        })?;
        if group.log_group_name() == Some(name) {
            return Ok(group);
        }
    }
    Err(group_gone(name))
}

async fn delete_retention(logs: &Logs, group: &str, days: i32) -> Step {
    let current = log_group(logs, group).await?;
    match current.retention_in_days {
        None => {
            return Ok(Outcome::already_done(format!(
                "log group {group} keeps its events forever"
            )));
        }
        Some(kept) if kept != days => {
            return Err(Outcome::failed(
                format!(
                    "log group {group} keeps its events for {kept} days now, not the {days} \
                     Reflex set: someone chose that since, left as it is"
                ),
                None,
            ));
        }
        Some(_) => {}
    }
    logs.delete_retention_policy()
        .log_group_name(group)
        .send()
        .await
        .map_err(|e| {
            aws::fault("logs:DeleteRetentionPolicy", &e, GONE).or_gone(|| group_gone(group))
        })?;
    Ok(reversed(format!(
        "log group {group} keeps its events forever again"
    )))
}

async fn disassociate(logs: &Logs, group: &str, key: &str) -> Step {
    let current = log_group(logs, group).await?;
    match current.kms_key_id.as_deref() {
        None => {
            return Ok(Outcome::already_done(format!(
                "log group {group} has no KMS key"
            )));
        }
        Some(other) if other != key => {
            return Err(Outcome::failed(
                format!(
                    "log group {group} is encrypted with another key now, {other}: left as it is"
                ),
                None,
            ));
        }
        Some(_) => {}
    }
    logs.disassociate_kms_key()
        .log_group_name(group)
        .send()
        .await
        .map_err(|e| {
            aws::fault("logs:DisassociateKmsKey", &e, GONE).or_gone(|| group_gone(group))
        })?;
    Ok(reversed(format!(
        "log group {group} no longer encrypts new events with {key}"
    )))
}

pub fn recorded_action(step: &ActionReport) -> Result<HardenAction, Irreversible> {
    action("harden", step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex_shared::iam::Containment;
    use serde_json::json;

    fn step(action: &HardenAction, prior: Value) -> ActionReport {
        ActionReport {
            step: "s".into(),
            description: "d".into(),
            action: serde_json::to_value(action).unwrap(),
            outcome: Outcome::done("d", Some(prior), reflex_shared::Undo::none("test")),
        }
    }

    #[test]
    fn the_audit_trail_is_never_turned_off_again_and_says_how_to_by_hand() {
        for action in [
            HardenAction::StartLogging {
                trail: "arn:aws:cloudtrail:us-east-1:123456789012:trail/main".into(),
            },
            HardenAction::EnableMultiRegion {
                trail: "main".into(),
            },
            HardenAction::EnableLogFileValidation {
                trail: "main".into(),
            },
        ] {
            let why = reversal(&step(&action, json!({}))).unwrap_err();
            assert!(
                why.0.contains("trail main") && why.0.contains("aws cloudtrail"),
                "{why}"
            );
        }
    }

    #[test]
    fn log_group_changes_and_containment_are_reversed_and_round_trip() {
        let retention = HardenAction::PutRetention {
            log_group: "/app".into(),
            days: 365,
        };
        assert_eq!(
            reversal(&step(&retention, json!({"retention_in_days": null}))),
            Ok(HardenReversal::DeleteRetention {
                log_group: "/app".into(),
                days: 365
            })
        );
        assert!(reversal(&step(&retention, json!({"retention_in_days": 7}))).is_err());
        let contain = HardenAction::ContainActor {
            action: Containment::DeactivateUserAccessKeys {
                user: "mallory".into(),
            },
        };
        let s = step(
            &contain,
            json!({"active_access_keys": ["AKIAEXAMPLE12345678"]}),
        );
        assert!(matches!(
            reversal(&s),
            Ok(HardenReversal::Containment(
                ContainmentReversal::ReactivateAccessKeys { .. }
            ))
        ));
        assert_eq!(recorded_action(&s), Ok(contain));
    }
}
