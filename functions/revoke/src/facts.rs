//! Read-only IAM lookups the rules need before they can decide.

use aws_sdk_iam::Client;
use reflex_shared::ApiCall;
use reflex_shared::aws::error_text;

use crate::policy::parse_document_str;
use crate::rules::{Facts, GroupPolicies, ManagedPolicy};

/// Gather the facts for one call. A failed lookup leaves that fact unknown and adds a note.
pub async fn gather(iam: &Client, call: &ApiCall) -> (Facts, Vec<String>) {
    let mut facts = Facts::default();
    let mut notes = Vec::new();
    match call.event_name.as_str() {
        "AddUserToGroup" => {
            if let Some(group) = call.request_str("groupName") {
                match group_policies(iam, group).await {
                    Ok(p) => facts.group_policies = Some(p),
                    Err(e) => {
                        notes.push(format!("could not read the policies of group {group}: {e}"))
                    }
                }
            }
        }
        "SetDefaultPolicyVersion" => {
            if let (Some(arn), Some(version)) =
                (call.request_str("policyArn"), call.request_str("versionId"))
            {
                match version_document(iam, arn, version).await {
                    Ok(doc) => facts.version_document = doc,
                    Err(e) => notes.push(format!("could not read version {version} of {arn}: {e}")),
                }
            }
        }
        _ => {}
    }
    (facts, notes)
}

async fn group_policies(iam: &Client, group: &str) -> Result<GroupPolicies, String> {
    let attached = iam
        .list_attached_group_policies()
        .group_name(group)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| error_text(&e))?;
    let mut managed = Vec::new();
    for policy in attached {
        let Some(arn) = policy.policy_arn else {
            continue;
        };
        // AWS-managed privileged policies are judged by name; others by their document.
        let document = default_version_document(iam, &arn).await.ok().flatten();
        managed.push(ManagedPolicy { arn, document });
    }
    let names = iam
        .list_group_policies()
        .group_name(group)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| error_text(&e))?;
    let mut inline = Vec::new();
    for name in names {
        let out = iam
            .get_group_policy()
            .group_name(group)
            .policy_name(&name)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        if let Some(doc) = parse_document_str(&out.policy_document) {
            inline.push((name, doc));
        }
    }
    Ok(GroupPolicies { managed, inline })
}

async fn default_version_document(
    iam: &Client,
    arn: &str,
) -> Result<Option<serde_json::Value>, String> {
    let policy = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    match policy.policy.and_then(|p| p.default_version_id) {
        Some(version) => version_document(iam, arn, &version).await,
        None => Ok(None),
    }
}

pub async fn version_document(
    iam: &Client,
    arn: &str,
    version: &str,
) -> Result<Option<serde_json::Value>, String> {
    let out = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    Ok(out
        .policy_version
        .and_then(|v| v.document)
        .and_then(|d| parse_document_str(&d)))
}
