//! Read-only IAM lookups the trigger needs before the rules can decide: a group's policies
//! (`AddUserToGroup`), the document of a version made default (`SetDefaultPolicyVersion`) and
//! the default document of a customer-managed policy attached (`Attach*Policy`).

use aws_sdk_iam::Client;
use reflex_shared::Notes;
use reflex_shared::aws::CallError;
use serde_json::Value;

use crate::actions::is_aws_managed;
use crate::policy::parse_document_str;
use crate::trigger::{Change, Trigger};

/// What the rules need beyond the event. `None`: not needed, or it could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// For `AddUserToGroup`: the group's policies.
    pub group_policies: Option<GroupPolicies>,
    /// For `SetDefaultPolicyVersion`: the document of the version made default.
    pub version_document: Option<Value>,
    /// For `Attach*Policy` of a customer-managed policy: its default version's document.
    pub attached_document: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPolicies {
    pub managed: Vec<ManagedPolicy>,
    /// Inline policy name and document.
    pub inline: Vec<(String, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ManagedPolicy {
    pub arn: String,
    /// The default version's document, when it could be read.
    pub document: Option<Value>,
}

/// Gather the facts for one trigger. A failed lookup leaves that fact unknown and adds a note.
pub async fn gather(iam: &Client, trigger: &Trigger, notes: &mut Notes) -> Facts {
    let mut facts = Facts::default();
    match &trigger.change {
        Change::UserAddedToGroup { group, .. } => match group_policies(iam, group, notes).await {
            Ok(p) => facts.group_policies = Some(p),
            Err(e) => notes.failed(
                format!("could not read the policies of group {group}: {e}"),
                e.transient,
            ),
        },
        Change::DefaultVersionSet {
            policy_arn,
            version,
        } => match version_document(iam, policy_arn, version).await {
            Ok(doc) => facts.version_document = doc,
            Err(e) => notes.failed(
                format!("could not read version {version} of {policy_arn}: {e}"),
                e.transient,
            ),
        },
        // AWS's own policies are judged by name; the account's own by what they grant. Unread,
        // the policy would look harmless and stay attached: a fault that may pass retries the
        // event, a final one (the policy deleted since, access denied) is a note.
        Change::PolicyAttached { policy_arn, .. } if !is_aws_managed(policy_arn) => {
            match default_version_document(iam, policy_arn).await {
                Ok(doc) => facts.attached_document = doc,
                Err(e) => notes.failed(
                    format!("could not read the default version of {policy_arn}: {e}"),
                    e.transient,
                ),
            }
        }
        _ => {}
    }
    facts
}

async fn group_policies(
    iam: &Client,
    group: &str,
    notes: &mut Notes,
) -> Result<GroupPolicies, CallError> {
    let attached = iam
        .list_attached_group_policies()
        .group_name(group)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await?;
    let mut managed = Vec::new();
    for policy in attached {
        let Some(arn) = policy.policy_arn else {
            continue;
        };
        // AWS-managed privileged policies are judged by name; others by their document.
        let document = match default_version_document(iam, &arn).await {
            Ok(document) => document,
            // Unread, the policy would look harmless and the user stay in the group: a fault
            // that may pass fails the lookup, so the event is retried.
            Err(e) if e.transient => return Err(e),
            Err(e) => {
                notes.push(format!(
                    "could not read the document of {arn} (group {group}), judged by name only: {e}"
                ));
                None
            }
        };
        managed.push(ManagedPolicy { arn, document });
    }
    let names = iam
        .list_group_policies()
        .group_name(group)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await?;
    let mut inline = Vec::new();
    for name in names {
        let out = iam
            .get_group_policy()
            .group_name(group)
            .policy_name(&name)
            .send()
            .await?;
        if let Some(doc) = parse_document_str(&out.policy_document) {
            inline.push((name, doc));
        }
    }
    Ok(GroupPolicies { managed, inline })
}

async fn default_version_document(iam: &Client, arn: &str) -> Result<Option<Value>, CallError> {
    let policy = iam.get_policy().policy_arn(arn).send().await?;
    match policy.policy.and_then(|p| p.default_version_id) {
        Some(version) => version_document(iam, arn, &version).await,
        None => Ok(None),
    }
}

async fn version_document(
    iam: &Client,
    arn: &str,
    version: &str,
) -> Result<Option<Value>, CallError> {
    let out = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await?;
    Ok(out
        .policy_version
        .and_then(|v| v.document)
        .and_then(|d| parse_document_str(&d)))
}
