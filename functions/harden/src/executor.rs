//! Carrying out harden's plans through the CloudTrail and CloudWatch Logs APIs; containment goes
//! through revoke's IAM executor. Every action first reads the current state, so a repeated
//! delivery reports "already done" and every change records its prior state and how to undo it.

use aws_sdk_cloudtrail::types::Trail;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use reflex_revoke::IamExecutor;
use reflex_shared::aws::{self, Fault, shell_arg};
use reflex_shared::config::ExemptTag;
use reflex_shared::{Outcome, Principal};
use serde_json::json;

use crate::action::HardenAction;
use crate::rules::trail_name;

#[derive(Debug, Clone)]
pub struct HardenExecutor {
    cloudtrail: aws_sdk_cloudtrail::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    iam: IamExecutor,
}

/// Error codes that mean the trail or log group no longer exists.
const GONE: &[&str] = &["TrailNotFoundException", "ResourceNotFoundException"];

/// Unwrap a result; when the resource is gone return `$gone`, on any other fault its outcome.
macro_rules! attempt {
    ($call:literal, $fut:expr, $gone:expr) => {
        match $fut.await {
            Ok(v) => v,
            Err(e) => {
                return match aws::fault($call, &e, GONE) {
                    Fault::Gone => $gone,
                    Fault::Failed(outcome) => outcome,
                };
            }
        }
    };
}

/// A trail that no longer exists cannot be repaired: that is a failure a person must see (its
/// deletion is reported by `harden.trail-deleted` when the `DeleteTrail` event arrives).
fn trail_gone(trail: &str, what: &str) -> Outcome {
    Outcome::failed(
        format!(
            "trail {} no longer exists, so {what} cannot be restored; a person must recreate the trail",
            trail_name(trail)
        ),
        Some("TrailNotFoundException".into()),
    )
}

/// A log group that no longer exists keeps no events: nothing is left to protect.
fn log_group_gone(group: &str) -> Outcome {
    Outcome::already_done(format!(
        "log group {group} no longer exists: nothing to protect"
    ))
}

impl HardenExecutor {
    pub fn new(
        cloudtrail: aws_sdk_cloudtrail::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        iam: aws_sdk_iam::Client,
    ) -> Self {
        Self {
            cloudtrail,
            logs,
            iam: IamExecutor::new(iam),
        }
    }

    pub async fn execute(&self, action: &HardenAction) -> Outcome {
        match action {
            HardenAction::StartLogging { trail } => self.start_logging(trail).await,
            HardenAction::EnableMultiRegion { trail } => self.enable_multi_region(trail).await,
            HardenAction::EnableLogFileValidation { trail } => {
                self.enable_log_file_validation(trail).await
            }
            HardenAction::PutRetention { log_group, days } => {
                self.put_retention(log_group, *days).await
            }
            HardenAction::AssociateKmsKey {
                log_group,
                kms_key_arn,
            } => self.associate_kms_key(log_group, kms_key_arn).await,
            HardenAction::ContainActor { action } => self.iam.execute(action).await,
        }
    }

    async fn start_logging(&self, trail: &str) -> Outcome {
        let gone = || trail_gone(trail, "logging");
        let name = trail_name(trail);
        let status = attempt!(
            "cloudtrail:GetTrailStatus",
            self.cloudtrail.get_trail_status().name(trail).send(),
            gone()
        );
        if status.is_logging == Some(true) {
            return Outcome::already_done(format!("trail {name} is logging"));
        }
        attempt!(
            "cloudtrail:StartLogging",
            self.cloudtrail.start_logging().name(trail).send(),
            gone()
        );
        Outcome::done(
            format!("trail {name} is logging again"),
            Some(json!({
                "is_logging": false,
                "stop_logging_time": status.stop_logging_time.map(|t| t.to_string()),
            })),
            format!("aws cloudtrail stop-logging --name {}", shell_arg(trail)),
        )
    }

    /// The trail's current settings.
    async fn trail(&self, trail: &str, what: &str) -> Result<Trail, Outcome> {
        match self.cloudtrail.get_trail().name(trail).send().await {
            Ok(out) => out.trail.ok_or_else(|| trail_gone(trail, what)),
            Err(e) => Err(match aws::fault("cloudtrail:GetTrail", &e, GONE) {
                Fault::Gone => trail_gone(trail, what),
                Fault::Failed(outcome) => outcome,
            }),
        }
    }

    async fn enable_multi_region(&self, trail: &str) -> Outcome {
        let what = "multi-region logging";
        let gone = || trail_gone(trail, what);
        let name = trail_name(trail);
        let current = match self.trail(trail, what).await {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        if current.is_multi_region_trail == Some(true) {
            return Outcome::already_done(format!("trail {name} is multi-region"));
        }
        // AWS refuses a multi-region trail without global service events
        // (InvalidParameterCombinationException): turn them back on too when they are off.
        let global_off = current.include_global_service_events == Some(false);
        let mut request = self
            .cloudtrail
            .update_trail()
            .name(trail)
            .is_multi_region_trail(true);
        if global_off {
            request = request.include_global_service_events(true);
        }
        attempt!("cloudtrail:UpdateTrail", request.send(), gone());
        let mut undo = format!(
            "aws cloudtrail update-trail --name {} --no-is-multi-region-trail",
            shell_arg(trail)
        );
        let mut detail = format!("trail {name} records every region again");
        if global_off {
            undo += " --no-include-global-service-events";
            detail += " (and global service events, which a multi-region trail needs)";
        }
        Outcome::done(
            detail,
            Some(json!({
                "is_multi_region_trail": false,
                "include_global_service_events": current.include_global_service_events,
            })),
            undo,
        )
    }

    async fn enable_log_file_validation(&self, trail: &str) -> Outcome {
        let what = "log file validation";
        let gone = || trail_gone(trail, what);
        let name = trail_name(trail);
        let current = match self.trail(trail, what).await {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        if current.log_file_validation_enabled == Some(true) {
            return Outcome::already_done(format!("trail {name} validates its log files"));
        }
        attempt!(
            "cloudtrail:UpdateTrail",
            self.cloudtrail
                .update_trail()
                .name(trail)
                .enable_log_file_validation(true)
                .send(),
            gone()
        );
        Outcome::done(
            format!("trail {name} validates its log files again (digest files resume from now)"),
            Some(json!({ "log_file_validation_enabled": false })),
            format!(
                "aws cloudtrail update-trail --name {} --no-enable-log-file-validation",
                shell_arg(trail)
            ),
        )
    }

    /// The log group named exactly `name`, or `None` when it does not exist.
    async fn log_group(&self, name: &str) -> Result<Option<LogGroup>, Fault> {
        let mut groups = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .into_paginator()
            .items()
            .send();
        while let Some(group) = groups.next().await {
            let group = group.map_err(|e| aws::fault("logs:DescribeLogGroups", &e, GONE))?;
            if group.log_group_name() == Some(name) {
                return Ok(Some(group));
            }
        }
        Ok(None)
    }

    /// The log group, or the outcome to report when it cannot be read or is gone.
    async fn existing_log_group(&self, name: &str) -> Result<LogGroup, Outcome> {
        match self.log_group(name).await {
            Ok(Some(group)) => Ok(group),
            Ok(None) | Err(Fault::Gone) => Err(log_group_gone(name)),
            Err(Fault::Failed(outcome)) => Err(outcome),
        }
    }

    async fn put_retention(&self, group: &str, days: i32) -> Outcome {
        let current = match self.existing_log_group(group).await {
            Ok(g) => g,
            Err(outcome) => return outcome,
        };
        // Someone (or the tool that created it) set a retention since the event: theirs stands.
        if let Some(kept) = current.retention_in_days {
            return Outcome::already_done(format!(
                "log group {group} already keeps its events for {kept} days"
            ));
        }
        attempt!(
            "logs:PutRetentionPolicy",
            self.logs
                .put_retention_policy()
                .log_group_name(group)
                .retention_in_days(days)
                .send(),
            log_group_gone(group)
        );
        Outcome::done(
            format!("log group {group} keeps its events for {days} days (it kept them forever)"),
            Some(json!({ "retention_in_days": null })),
            format!(
                "aws logs delete-retention-policy --log-group-name {}",
                shell_arg(group)
            ),
        )
    }

    async fn associate_kms_key(&self, group: &str, key: &str) -> Outcome {
        let current = match self.existing_log_group(group).await {
            Ok(g) => g,
            Err(outcome) => return outcome,
        };
        match current.kms_key_id.as_deref() {
            Some(k) if k == key => {
                return Outcome::already_done(format!("log group {group} is encrypted with {key}"));
            }
            // Someone chose another key since the event: re-keying is a person's decision.
            Some(other) => {
                return Outcome::already_done(format!(
                    "log group {group} is encrypted with another key, {other}: left as it is"
                ));
            }
            None => {}
        }
        attempt!(
            "logs:AssociateKmsKey",
            self.logs
                .associate_kms_key()
                .log_group_name(group)
                .kms_key_id(key)
                .send(),
            log_group_gone(group)
        );
        Outcome::done(
            format!("log group {group} encrypts new events with {key}"),
            Some(json!({ "kms_key_id": null })),
            format!(
                "aws logs disassociate-kms-key --log-group-name {}",
                shell_arg(group)
            ),
        )
    }

    /// Whether the user or role carries the exemption tag (revoke's IAM lookup).
    pub async fn has_tag(&self, principal: &Principal, tag: &ExemptTag) -> Result<bool, String> {
        self.iam.has_tag(principal, tag).await
    }
}
