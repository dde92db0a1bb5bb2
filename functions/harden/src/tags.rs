//! The tags of the trails and log groups harden changes, for exemptions. A trail or log group
//! that no longer exists has no tags: the action on it then reports that it is gone.

use aws_sdk_cloudtrail::Client as CloudTrail;
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::Client as Logs;
use reflex_shared::aws::CallError;
use reflex_shared::exemption::Tags;

use crate::executor::GONE;

/// The tags of a trail, named as the event named it. `ListTags` takes only trail ARNs, so a
/// trail named by name is looked up first.
pub async fn trail(cloudtrail: &CloudTrail, trail: &str) -> Result<Tags, CallError> {
    let arn = if trail.starts_with("arn:") {
        trail.to_string()
    } else {
        match trail_arn(cloudtrail, trail).await? {
            Some(arn) => arn,
            None => return Ok(Tags::new()),
        }
    };
    let listed = cloudtrail.list_tags().resource_id_list(&arn).send().await;
    let listed = match listed {
        Ok(out) => out,
        Err(e) if is_gone(e.code()) => return Ok(Tags::new()),
        Err(e) => return Err(e.into()),
    };
    Ok(listed
        .resource_tag_list()
        .iter()
        .flat_map(|r| r.tags_list())
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// The ARN of the trail named `name`; `None` when there is no such trail.
async fn trail_arn(cloudtrail: &CloudTrail, name: &str) -> Result<Option<String>, CallError> {
    match cloudtrail.get_trail().name(name).send().await {
        Ok(out) => Ok(out.trail.and_then(|t| t.trail_arn)),
        Err(e) if is_gone(e.code()) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The tags of a log group.
// `ListTagsLogGroup` is deprecated for `ListTagsForResource`, which needs the group's ARN (its
// partition and account too); this one takes the name, as the event gives it.
#[allow(deprecated)]
pub async fn log_group(logs: &Logs, name: &str) -> Result<Tags, CallError> {
    let listed = logs.list_tags_log_group().log_group_name(name).send().await;
    match listed {
        Ok(out) => Ok(out.tags.unwrap_or_default().into_iter().collect()),
        Err(e) if is_gone(e.code()) => Ok(Tags::new()),
        Err(e) => Err(e.into()),
    }
}

fn is_gone(code: Option<&str>) -> bool {
    code.is_some_and(|c| GONE.contains(&c))
}
