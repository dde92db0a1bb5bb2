//! The changes `harden` knows how to make, and the resource each touches. Each is reversible
//! and recorded.

use reflex_shared::iam::Containment;
use reflex_shared::{Action, Resource};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Containment of the caller (the core's, shared with revoke).
    ContainActor {
        action: Containment,
    },
}

impl Action for HardenAction {
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

    fn resource(&self) -> Resource {
        match self {
            HardenAction::StartLogging { trail }
            | HardenAction::EnableMultiRegion { trail }
            | HardenAction::EnableLogFileValidation { trail } => Resource::Trail(trail.clone()),
            HardenAction::PutRetention { log_group, .. }
            | HardenAction::AssociateKmsKey { log_group, .. } => {
                Resource::LogGroup(log_group.clone())
            }
            HardenAction::ContainActor { action } => action.resource(),
        }
    }
}

/// `main` from `arn:aws:cloudtrail:us-east-1:123456789012:trail/main`; a name stays a name.
/// The API calls take either, so actions keep what the event named.
pub fn trail_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":trail/") {
        Some((_, name)) if name_or_arn.starts_with("arn:") => name,
        _ => name_or_arn,
    }
}
