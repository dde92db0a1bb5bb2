//! The harden rules: pure functions from a CloudTrail or CloudWatch Logs API call to findings.
//! No AWS calls here; `executor.rs` reads the current state and acts on the plans.

use reflex_shared::{ApiCall, EventError, Finding, Severity};

use crate::action::HardenAction;

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

const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";
const LOGS: &str = "logs.amazonaws.com";

/// The retention periods CloudWatch Logs accepts (`PutRetentionPolicy`), in days.
pub const ACCEPTED_RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
pub const DEFAULT_RETENTION_DAYS: i32 = 90;

/// The rules' settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// What a log group without a retention policy gets; one of [`ACCEPTED_RETENTION_DAYS`].
    pub retention_days: i32,
    /// The KMS key a log group created without one is encrypted with; `None`: not enforced.
    pub kms_key_arn: Option<String>,
    /// Also contain the caller who stopped or deleted a trail (off by default).
    pub contain_actor: bool,
}

impl Default for RuleSettings {
    fn default() -> Self {
        Self {
            retention_days: DEFAULT_RETENTION_DAYS,
            kms_key_arn: None,
            contain_actor: false,
        }
    }
}

/// Every rule over one call. Errors only for a call missing a field a rule needs.
pub fn evaluate(
    call: &ApiCall,
    settings: &RuleSettings,
) -> Result<Vec<Finding<HardenAction>>, EventError> {
    let mut findings = match (call.event_source.as_str(), call.event_name.as_str()) {
        (CLOUDTRAIL, "StopLogging") => vec![trail_stopped(call)?],
        (CLOUDTRAIL, "UpdateTrail") => trail_weakened(call)?.into_iter().collect(),
        (CLOUDTRAIL, "DeleteTrail") => vec![trail_deleted(call)?],
        (LOGS, "CreateLogGroup") => log_group_created(call, settings)?,
        (LOGS, "DeleteRetentionPolicy") => vec![retention_deleted(call, settings)?],
        _ => Vec::new(),
    };
    if settings.contain_actor {
        let why = findings.iter().find_map(|f| match f.rule_id {
            TRAIL_STOPPED => Some("stopped a CloudTrail trail"),
            TRAIL_DELETED => Some("deleted a CloudTrail trail"),
            _ => None,
        });
        if let Some(why) = why {
            findings.extend(contain_actor(call, why));
        }
    }
    Ok(findings)
}

/// `main` from `arn:aws:cloudtrail:us-east-1:123456789012:trail/main`; a name stays a name.
/// The API calls take either, so actions keep what the event named.
pub fn trail_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":trail/") {
        Some((_, name)) if name_or_arn.starts_with("arn:") => name,
        _ => name_or_arn,
    }
}

fn trail_stopped(call: &ApiCall) -> Result<Finding<HardenAction>, EventError> {
    let trail = call.require_request_str("name")?;
    Ok(Finding {
        rule_id: TRAIL_STOPPED,
        severity: Severity::High,
        reason: format!(
            "{} stopped logging on trail {}: API calls are no longer recorded",
            call.user_identity.describe(),
            trail_name(trail)
        ),
        actions: vec![HardenAction::StartLogging {
            trail: trail.to_string(),
        }],
    })
}

/// `UpdateTrail` changes only what its request names: an absent flag is left as it was.
fn trail_weakened(call: &ApiCall) -> Result<Option<Finding<HardenAction>>, EventError> {
    let trail = call.require_request_str("name")?;
    let mut actions = Vec::new();
    let mut what = Vec::new();
    if call.request_bool("isMultiRegionTrail") == Some(false) {
        what.push("multi-region logging (other regions are no longer recorded)");
        actions.push(HardenAction::EnableMultiRegion {
            trail: trail.to_string(),
        });
    }
    if call.request_bool("enableLogFileValidation") == Some(false) {
        what.push("log file validation (tampering with delivered logs goes unnoticed)");
        actions.push(HardenAction::EnableLogFileValidation {
            trail: trail.to_string(),
        });
    }
    if actions.is_empty() {
        return Ok(None);
    }
    Ok(Some(Finding {
        rule_id: TRAIL_WEAKENED,
        severity: Severity::High,
        reason: format!(
            "{} turned off {} on trail {}",
            call.user_identity.describe(),
            what.join(" and "),
            trail_name(trail)
        ),
        actions,
    }))
}

/// A deleted trail cannot be recreated automatically (its settings are gone): a person must act.
fn trail_deleted(call: &ApiCall) -> Result<Finding<HardenAction>, EventError> {
    let trail = call.require_request_str("name")?;
    Ok(Finding {
        rule_id: TRAIL_DELETED,
        severity: Severity::Critical,
        reason: format!(
            "{} deleted trail {}: its API calls are no longer recorded. This cannot be undone \
             automatically: recreate the trail (aws cloudtrail create-trail, then start-logging) \
             and find out why {} did it",
            call.user_identity.describe(),
            trail_name(trail),
            short_actor(call)
        ),
        actions: Vec::new(),
    })
}

/// A new log group: no retention policy yet (`CreateLogGroup` cannot set one), and maybe no key.
fn log_group_created(
    call: &ApiCall,
    settings: &RuleSettings,
) -> Result<Vec<Finding<HardenAction>>, EventError> {
    let group = call.require_request_str("logGroupName")?;
    let mut findings = vec![Finding {
        rule_id: LOG_RETENTION,
        severity: Severity::Low,
        reason: format!(
            "log group {group} was created without a retention policy: its events would be kept forever"
        ),
        actions: vec![HardenAction::PutRetention {
            log_group: group.to_string(),
            days: settings.retention_days,
        }],
    }];
    if let Some(key) = &settings.kms_key_arn
        && call.request_str("kmsKeyId").is_none_or(str::is_empty)
    {
        findings.push(Finding {
            rule_id: LOG_ENCRYPTION,
            severity: Severity::Medium,
            reason: format!(
                "log group {group} was created without a KMS key: its events are not \
                     encrypted with the configured key"
            ),
            actions: vec![HardenAction::AssociateKmsKey {
                log_group: group.to_string(),
                kms_key_arn: key.clone(),
            }],
        });
    }
    Ok(findings)
}

fn retention_deleted(
    call: &ApiCall,
    settings: &RuleSettings,
) -> Result<Finding<HardenAction>, EventError> {
    let group = call.require_request_str("logGroupName")?;
    Ok(Finding {
        rule_id: LOG_RETENTION,
        severity: Severity::Low,
        reason: format!(
            "{} deleted the retention policy of log group {group}: its events would be kept forever",
            call.user_identity.describe()
        ),
        actions: vec![HardenAction::PutRetention {
            log_group: group.to_string(),
            days: settings.retention_days,
        }],
    })
}

/// Containment of the caller, as revoke does it: a user's access keys go inactive, a role's
/// sessions issued before now are denied.
fn contain_actor(call: &ApiCall, why: &str) -> Option<Finding<HardenAction>> {
    let contained = reflex_revoke::rules::contain_actor(call)?;
    Some(Finding {
        rule_id: CONTAIN_ACTOR,
        severity: contained.severity,
        reason: format!(
            "{} {why}; containing the caller",
            call.user_identity.describe()
        ),
        actions: contained
            .actions
            .into_iter()
            .map(|action| HardenAction::ContainActor { action })
            .collect(),
    })
}

/// The caller for a sentence: user name, role session, or the ARN.
fn short_actor(call: &ApiCall) -> String {
    let who = &call.user_identity;
    who.principal()
        .map(|p| p.to_string())
        .unwrap_or_else(|| who.describe())
}
