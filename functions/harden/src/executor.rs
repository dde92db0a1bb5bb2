//! Carrying out harden's plans through the CloudTrail and CloudWatch Logs APIs; containment is
//! the core's (`reflex_shared::iam::Containment`). Every action first reads the current state,
//! so a repeated delivery reports "already done", and every change records its prior state and
//! how to undo it.
//!
//! Each step returns a `Step`: `?` on a failed call stops it with that call's outcome (a trail
//! that is gone is a failure a person must see; a log group that is gone needs nothing).

use aws_sdk_cloudtrail::Client as CloudTrail;
use aws_sdk_cloudtrail::types::Trail;
use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use reflex_shared::aws;
use reflex_shared::outcome::settle;
use reflex_shared::{Outcome, Step};
use serde_json::json;

use crate::actions::HardenAction;
use crate::actions::trail_name;
use crate::undo;

/// Error codes that mean the trail or log group no longer exists.
pub const GONE: &[&str] = &["TrailNotFoundException", "ResourceNotFoundException"];

pub async fn execute(
    cloudtrail: &CloudTrail,
    logs: &Logs,
    iam: &aws_sdk_iam::Client,
    action: &HardenAction,
) -> Outcome {
    settle(match action {
        HardenAction::StartLogging { trail } => start_logging(cloudtrail, trail).await,
        HardenAction::EnableMultiRegion { trail } => enable_multi_region(cloudtrail, trail).await,
        HardenAction::EnableLogFileValidation { trail } => {
            enable_log_file_validation(cloudtrail, trail).await
        }
        HardenAction::PutRetention { log_group, days } => {
            put_retention(logs, log_group, *days).await
        }
        HardenAction::AssociateKmsKey {
            log_group,
            kms_key_arn,
        } => associate_kms_key(logs, log_group, kms_key_arn).await,
        HardenAction::ContainActor { action } => Ok(action.execute(iam).await),
    })
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

async fn start_logging(cloudtrail: &CloudTrail, trail: &str) -> Step {
    let gone = || trail_gone(trail, "logging");
    let name = trail_name(trail);
    let status = cloudtrail
        .get_trail_status()
        .name(trail)
        .send()
        .await
        .map_err(|e| aws::fault("cloudtrail:GetTrailStatus", &e, GONE).or_gone(gone))?;
    if status.is_logging == Some(true) {
        return Ok(Outcome::already_done(format!("trail {name} is logging")));
    }
    cloudtrail
        .start_logging()
        .name(trail)
        .send()
        .await
        .map_err(|e| aws::fault("cloudtrail:StartLogging", &e, GONE).or_gone(gone))?;
    Ok(Outcome::done(
        format!("trail {name} is logging again"),
        Some(json!({
            "is_logging": false,
            "stop_logging_time": status.stop_logging_time.map(|t| t.to_string()),
        })),
        undo::stop_logging(trail),
    ))
}

/// The trail's current settings; `what` names the protection being restored, for the failure
/// when the trail is gone.
async fn current_trail(cloudtrail: &CloudTrail, trail: &str, what: &str) -> Step<Trail> {
    let gone = || trail_gone(trail, what);
    let out = cloudtrail
        .get_trail()
        .name(trail)
        .send()
        .await
        .map_err(|e| aws::fault("cloudtrail:GetTrail", &e, GONE).or_gone(gone))?;
    out.trail.ok_or_else(gone)
}

async fn enable_multi_region(cloudtrail: &CloudTrail, trail: &str) -> Step {
    let what = "multi-region logging";
    let gone = || trail_gone(trail, what);
    let name = trail_name(trail);
    let current = current_trail(cloudtrail, trail, what).await?;
    if current.is_multi_region_trail == Some(true) {
        return Ok(Outcome::already_done(format!(
            "trail {name} is multi-region"
        )));
    }
    // AWS refuses a multi-region trail without global service events
    // (InvalidParameterCombinationException): turn them back on too when they are off.
    let global_off = current.include_global_service_events == Some(false);
    let mut request = cloudtrail
        .update_trail()
        .name(trail)
        .is_multi_region_trail(true);
    if global_off {
        request = request.include_global_service_events(true);
    }
    request
        .send()
        .await
        .map_err(|e| aws::fault("cloudtrail:UpdateTrail", &e, GONE).or_gone(gone))?;
    let mut detail = format!("trail {name} records every region again");
    if global_off {
        detail += " (and global service events, which a multi-region trail needs)";
    }
    Ok(Outcome::done(
        detail,
        Some(json!({
            "is_multi_region_trail": false,
            "include_global_service_events": current.include_global_service_events,
        })),
        undo::single_region(trail, global_off),
    ))
}

async fn enable_log_file_validation(cloudtrail: &CloudTrail, trail: &str) -> Step {
    let what = "log file validation";
    let gone = || trail_gone(trail, what);
    let name = trail_name(trail);
    let current = current_trail(cloudtrail, trail, what).await?;
    if current.log_file_validation_enabled == Some(true) {
        return Ok(Outcome::already_done(format!(
            "trail {name} validates its log files"
        )));
    }
    cloudtrail
        .update_trail()
        .name(trail)
        .enable_log_file_validation(true)
        .send()
        .await
        .map_err(|e| aws::fault("cloudtrail:UpdateTrail", &e, GONE).or_gone(gone))?;
    Ok(Outcome::done(
        format!("trail {name} validates its log files again (digest files resume from now)"),
        Some(json!({ "log_file_validation_enabled": false })),
        undo::no_log_file_validation(trail),
    ))
}

/// The log group named exactly `name` (the API only filters by prefix). A group that does not
/// exist stops the step: nothing is left to protect.
async fn current_log_group(logs: &Logs, name: &str) -> Step<LogGroup> {
    let gone = || log_group_gone(name);
    let mut groups = logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .into_paginator()
        .items()
        .send();
    while let Some(group) = groups.next().await {
        let group =
            group.map_err(|e| aws::fault("logs:DescribeLogGroups", &e, GONE).or_gone(gone))?;
        if group.log_group_name() == Some(name) {
            return Ok(group);
        }
    }
    Err(gone())
}

async fn put_retention(logs: &Logs, group: &str, days: i32) -> Step {
    let gone = || log_group_gone(group);
    let current = current_log_group(logs, group).await?;
    // Someone (or the tool that created it) set a retention since the event: theirs stands.
    if let Some(kept) = current.retention_in_days {
        return Ok(Outcome::already_done(format!(
            "log group {group} already keeps its events for {kept} days"
        )));
    }
    logs.put_retention_policy()
        .log_group_name(group)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|e| aws::fault("logs:PutRetentionPolicy", &e, GONE).or_gone(gone))?;
    Ok(Outcome::done(
        format!("log group {group} keeps its events for {days} days (it kept them forever)"),
        Some(json!({ "retention_in_days": null })),
        undo::keep_forever(group),
    ))
}

async fn associate_kms_key(logs: &Logs, group: &str, key: &str) -> Step {
    let gone = || log_group_gone(group);
    let current = current_log_group(logs, group).await?;
    match current.kms_key_id.as_deref() {
        Some(k) if k == key => {
            return Ok(Outcome::already_done(format!(
                "log group {group} is encrypted with {key}"
            )));
        }
        // Someone chose another key since the event: re-keying is a person's decision.
        Some(other) => {
            return Ok(Outcome::already_done(format!(
                "log group {group} is encrypted with another key, {other}: left as it is"
            )));
        }
        None => {}
    }
    logs.associate_kms_key()
        .log_group_name(group)
        .kms_key_id(key)
        .send()
        .await
        .map_err(|e| aws::fault("logs:AssociateKmsKey", &e, GONE).or_gone(gone))?;
    Ok(Outcome::done(
        format!("log group {group} encrypts new events with {key}"),
        Some(json!({ "kms_key_id": null })),
        undo::disassociate_key(group),
    ))
}
