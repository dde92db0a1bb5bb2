//! The changes `harden` knows how to make. Each is reversible and recorded.

use reflex_revoke::IamAction;
use reflex_shared::{Principal, RemediationAction};
use serde::Serialize;

use crate::rules::trail_name;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum HardenAction {
    /// `trail` as the event named it: a name or a trail ARN (the API takes either).
    StartLogging {
        trail: String,
    },
    /// Also turns on global service events when they are off: a multi-region trail needs them.
    EnableMultiRegion {
        trail: String,
    },
    EnableLogFileValidation {
        trail: String,
    },
    /// Only when the group has no retention policy: an existing one is left as it is.
    PutRetention {
        log_group: String,
        days: i32,
    },
    /// Only when the group has no key: an existing one is left as it is.
    AssociateKmsKey {
        log_group: String,
        kms_key_arn: String,
    },
    /// Containment of the caller, carried out by revoke's IAM executor.
    ContainActor {
        action: IamAction,
    },
}

impl RemediationAction for HardenAction {
    fn describe(&self) -> String {
        match self {
            HardenAction::StartLogging { trail } => {
                format!("start logging on trail {} again", trail_name(trail))
            }
            HardenAction::EnableMultiRegion { trail } => {
                format!("make trail {} multi-region again", trail_name(trail))
            }
            HardenAction::EnableLogFileValidation { trail } => format!(
                "turn log file validation back on for trail {}",
                trail_name(trail)
            ),
            HardenAction::PutRetention { log_group, days } => {
                format!("keep the events of log group {log_group} for {days} days")
            }
            HardenAction::AssociateKmsKey {
                log_group,
                kms_key_arn,
            } => format!("encrypt log group {log_group} with KMS key {kms_key_arn}"),
            HardenAction::ContainActor { action } => action.describe(),
        }
    }

    fn target(&self) -> Option<Principal> {
        match self {
            HardenAction::ContainActor { action } => action.target(),
            _ => None,
        }
    }
}
