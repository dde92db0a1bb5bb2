//! Carrying out revoke's plans through the IAM API. Every action first reads the current state,
//! so a repeated delivery reports "already done" and every change records how to undo it.

use aws_sdk_iam::Client;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{StatusType, Tag};
use reflex_shared::aws::{self, Fault, shell_arg};
use reflex_shared::config::ExemptTag;
use reflex_shared::{Outcome, Principal};
use serde_json::json;

use crate::action::{IamAction, Identity, REVOKE_SESSIONS_POLICY};
use crate::policy::{escalation, parse_document_str};

#[derive(Debug, Clone)]
pub struct IamExecutor {
    iam: Client,
}

/// IAM's answer when the user, role, group, policy or key is not there: the revoke is done.
fn iam_fault<E: ProvideErrorMetadata + std::error::Error + 'static>(
    call: &str,
    err: &SdkError<E, HttpResponse>,
) -> Fault {
    aws::fault(&format!("iam:{call}"), err, &["NoSuchEntity"])
}

/// Unwrap an IAM result; on `NoSuchEntity` return `$gone`, on any other fault its outcome.
macro_rules! attempt {
    ($call:literal, $fut:expr, $gone:expr) => {
        match $fut.await {
            Ok(v) => v,
            Err(e) => {
                return match iam_fault($call, &e) {
                    Fault::Gone => $gone,
                    Fault::Failed(outcome) => outcome,
                };
            }
        }
    };
}

impl IamExecutor {
    pub fn new(iam: Client) -> Self {
        Self { iam }
    }

    pub async fn execute(&self, action: &IamAction) -> Outcome {
        match action {
            IamAction::DetachManagedPolicy { from, policy_arn } => {
                self.detach(from, policy_arn).await
            }
            IamAction::DeleteInlinePolicy { from, policy_name } => {
                self.delete_inline(from, policy_name).await
            }
            IamAction::RestorePolicyVersion {
                policy_arn,
                escalating_version,
            } => self.restore_version(policy_arn, escalating_version).await,
            IamAction::DeactivateAccessKey {
                user,
                access_key_id,
            } => self.deactivate_keys(user, Some(access_key_id)).await,
            IamAction::DeleteLoginProfile { user } => self.delete_login_profile(user).await,
            IamAction::RemoveUserFromGroup { user, group } => {
                self.remove_from_group(user, group).await
            }
            IamAction::DeactivateUserAccessKeys { user } => self.deactivate_keys(user, None).await,
            IamAction::RevokeRoleSessions { role } => self.revoke_sessions(role).await,
        }
    }

    async fn detach(&self, from: &Identity, policy_arn: &str) -> Outcome {
        let gone = || Outcome::already_done(format!("{policy_arn} is not attached to {from}"));
        let name = from.name();
        match from {
            Identity::User(_) => {
                attempt!(
                    "DetachUserPolicy",
                    self.iam
                        .detach_user_policy()
                        .user_name(name)
                        .policy_arn(policy_arn)
                        .send(),
                    gone()
                );
            }
            Identity::Group(_) => {
                attempt!(
                    "DetachGroupPolicy",
                    self.iam
                        .detach_group_policy()
                        .group_name(name)
                        .policy_arn(policy_arn)
                        .send(),
                    gone()
                );
            }
            Identity::Role(_) => {
                attempt!(
                    "DetachRolePolicy",
                    self.iam
                        .detach_role_policy()
                        .role_name(name)
                        .policy_arn(policy_arn)
                        .send(),
                    gone()
                );
            }
        };
        Outcome::done(
            format!("detached {policy_arn} from {from}"),
            Some(json!({ "attached": [policy_arn] })),
            format!(
                "aws iam attach-{kind}-policy --{kind}-name {name} --policy-arn {policy_arn}",
                kind = from.kind()
            ),
        )
    }

    async fn delete_inline(&self, from: &Identity, policy_name: &str) -> Outcome {
        let gone = || Outcome::already_done(format!("{from} has no inline policy {policy_name}"));
        let name = from.name();
        let current = match from {
            Identity::User(_) => {
                attempt!(
                    "GetUserPolicy",
                    self.iam
                        .get_user_policy()
                        .user_name(name)
                        .policy_name(policy_name)
                        .send(),
                    gone()
                )
                .policy_document
            }
            Identity::Group(_) => {
                attempt!(
                    "GetGroupPolicy",
                    self.iam
                        .get_group_policy()
                        .group_name(name)
                        .policy_name(policy_name)
                        .send(),
                    gone()
                )
                .policy_document
            }
            Identity::Role(_) => {
                attempt!(
                    "GetRolePolicy",
                    self.iam
                        .get_role_policy()
                        .role_name(name)
                        .policy_name(policy_name)
                        .send(),
                    gone()
                )
                .policy_document
            }
        };
        let document = parse_document_str(&current);
        // Someone may have replaced it with a harmless document since the event: leave that be.
        if document.as_ref().is_some_and(|d| escalation(d).is_none()) {
            return Outcome::already_done(format!(
                "inline policy {policy_name} on {from} no longer escalates"
            ));
        }
        match from {
            Identity::User(_) => {
                attempt!(
                    "DeleteUserPolicy",
                    self.iam
                        .delete_user_policy()
                        .user_name(name)
                        .policy_name(policy_name)
                        .send(),
                    gone()
                );
            }
            Identity::Group(_) => {
                attempt!(
                    "DeleteGroupPolicy",
                    self.iam
                        .delete_group_policy()
                        .group_name(name)
                        .policy_name(policy_name)
                        .send(),
                    gone()
                );
            }
            Identity::Role(_) => {
                attempt!(
                    "DeleteRolePolicy",
                    self.iam
                        .delete_role_policy()
                        .role_name(name)
                        .policy_name(policy_name)
                        .send(),
                    gone()
                );
            }
        };
        let document_text = document
            .map(|d| d.to_string())
            .unwrap_or_else(|| current.clone());
        Outcome::done(
            format!("deleted inline policy {policy_name} from {from}"),
            Some(json!({ "policy_name": policy_name, "policy_document": document_text })),
            format!(
                "aws iam put-{kind}-policy --{kind}-name {name} --policy-name {policy_name} --policy-document {}",
                shell_arg(&document_text),
                kind = from.kind()
            ),
        )
    }

    async fn restore_version(&self, policy_arn: &str, escalating: &str) -> Outcome {
        let gone = || Outcome::already_done(format!("policy {policy_arn} no longer exists"));
        let versions = attempt!(
            "ListPolicyVersions",
            self.iam
                .list_policy_versions()
                .policy_arn(policy_arn)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
            gone()
        );
        let current = versions.iter().find(|v| v.is_default_version);
        let current_id = current.and_then(|v| v.version_id.as_deref()).unwrap_or("");
        if current_id != escalating {
            return Outcome::already_done(format!(
                "the default version of {policy_arn} is {current_id}, no longer {escalating}"
            ));
        }
        // The newest other version whose document does not escalate.
        let mut candidates: Vec<_> = versions
            .iter()
            .filter(|v| v.version_id.as_deref() != Some(escalating))
            .collect();
        candidates.sort_by_key(|v| {
            std::cmp::Reverse(v.create_date.map(|d| (d.secs(), d.subsec_nanos())))
        });
        let mut restore_to = None;
        for candidate in candidates {
            let Some(id) = candidate.version_id.as_deref() else {
                continue;
            };
            let out = attempt!(
                "GetPolicyVersion",
                self.iam
                    .get_policy_version()
                    .policy_arn(policy_arn)
                    .version_id(id)
                    .send(),
                gone()
            );
            let document = out
                .policy_version
                .and_then(|v| v.document)
                .and_then(|d| parse_document_str(&d));
            if document.as_ref().is_some_and(|d| escalation(d).is_none()) {
                restore_to = Some(id.to_string());
                break;
            }
        }
        let Some(safe) = restore_to else {
            return Outcome::failed(
                format!(
                    "{policy_arn} has no other version that does not escalate; a person must fix it"
                ),
                None,
            );
        };
        attempt!(
            "SetDefaultPolicyVersion",
            self.iam
                .set_default_policy_version()
                .policy_arn(policy_arn)
                .version_id(&safe)
                .send(),
            gone()
        );
        Outcome::done(
            format!("made {safe} the default version of {policy_arn} instead of {escalating}"),
            Some(json!({ "default_version": escalating })),
            format!(
                "aws iam set-default-policy-version --policy-arn {policy_arn} --version-id {escalating}"
            ),
        )
    }

    /// Deactivate one key (`only`) or every active key of the user.
    async fn deactivate_keys(&self, user: &str, only: Option<&str>) -> Outcome {
        let gone = || Outcome::already_done(format!("user {user} no longer exists"));
        let keys = attempt!(
            "ListAccessKeys",
            self.iam
                .list_access_keys()
                .user_name(user)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
            gone()
        );
        let wanted: Vec<&str> = keys
            .iter()
            .filter(|k| only.is_none_or(|id| k.access_key_id.as_deref() == Some(id)))
            .filter(|k| k.status == Some(StatusType::Active))
            .filter_map(|k| k.access_key_id.as_deref())
            .collect();
        if wanted.is_empty() {
            let what = only.map_or("no active access key".to_string(), |id| {
                format!("access key {id} is inactive or deleted")
            });
            return Outcome::already_done(format!("user {user}: {what}"));
        }
        let mut undo = Vec::new();
        for id in &wanted {
            attempt!(
                "UpdateAccessKey",
                self.iam
                    .update_access_key()
                    .user_name(user)
                    .access_key_id(*id)
                    .status(StatusType::Inactive)
                    .send(),
                gone()
            );
            undo.push(format!(
                "aws iam update-access-key --user-name {user} --access-key-id {id} --status Active"
            ));
        }
        Outcome::done(
            format!(
                "deactivated access key(s) {} of user {user}",
                wanted.join(", ")
            ),
            Some(json!({ "active_access_keys": wanted })),
            undo.join(" && "),
        )
    }

    async fn delete_login_profile(&self, user: &str) -> Outcome {
        let gone = || Outcome::already_done(format!("user {user} has no console login profile"));
        let profile = attempt!(
            "GetLoginProfile",
            self.iam.get_login_profile().user_name(user).send(),
            gone()
        );
        let reset_required = profile
            .login_profile
            .as_ref()
            .map(|p| p.password_reset_required);
        attempt!(
            "DeleteLoginProfile",
            self.iam.delete_login_profile().user_name(user).send(),
            gone()
        );
        Outcome::done(
            format!("deleted the console login profile of user {user}"),
            Some(json!({
                "login_profile": {
                    "created": profile.login_profile.as_ref().map(|p| p.create_date.to_string()),
                    "password_reset_required": reset_required,
                }
            })),
            format!(
                "aws iam create-login-profile --user-name {user} --password-reset-required --password <a new password> (the old password cannot be restored)"
            ),
        )
    }

    async fn remove_from_group(&self, user: &str, group: &str) -> Outcome {
        let gone = || Outcome::already_done(format!("user {user} is not in group {group}"));
        let groups = attempt!(
            "ListGroupsForUser",
            self.iam
                .list_groups_for_user()
                .user_name(user)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
            gone()
        );
        if !groups
            .iter()
            .any(|g| g.group_name.eq_ignore_ascii_case(group))
        {
            return gone();
        }
        attempt!(
            "RemoveUserFromGroup",
            self.iam
                .remove_user_from_group()
                .user_name(user)
                .group_name(group)
                .send(),
            gone()
        );
        Outcome::done(
            format!("removed user {user} from group {group}"),
            Some(json!({ "member_of": group })),
            format!("aws iam add-user-to-group --group-name {group} --user-name {user}"),
        )
    }

    async fn revoke_sessions(&self, role: &str) -> Outcome {
        let gone = || Outcome::already_done(format!("role {role} no longer exists"));
        match self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(REVOKE_SESSIONS_POLICY)
            .send()
            .await
        {
            // Already revoked once for this incident: moving the cut-off later could lock out
            // the responders who have assumed the role since.
            Ok(_) => {
                return Outcome::already_done(format!(
                    "role {role} already has {REVOKE_SESSIONS_POLICY}"
                ));
            }
            Err(e) => {
                if let Fault::Failed(outcome) = iam_fault("GetRolePolicy", &e) {
                    return outcome;
                }
            }
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let document = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "ReflexRevokeOlderSessions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": { "DateLessThan": { "aws:TokenIssueTime": now } }
            }]
        });
        attempt!(
            "PutRolePolicy",
            self.iam
                .put_role_policy()
                .role_name(role)
                .policy_name(REVOKE_SESSIONS_POLICY)
                .policy_document(document.to_string())
                .send(),
            gone()
        );
        Outcome::done(
            format!("denied every session of role {role} issued before {now}"),
            Some(json!({ "inline_policy": null })),
            format!(
                "aws iam delete-role-policy --role-name {role} --policy-name {REVOKE_SESSIONS_POLICY}"
            ),
        )
    }

    /// Whether the user or role carries the exemption tag. A principal that is gone is not exempt.
    pub async fn has_tag(&self, principal: &Principal, tag: &ExemptTag) -> Result<bool, String> {
        fn gone_or_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
            e: E,
        ) -> Result<Vec<Tag>, String> {
            match e.code() {
                Some("NoSuchEntity") => Ok(Vec::new()),
                _ => Err(reflex_shared::aws::error_text(&e)),
            }
        }
        let tags = match principal {
            Principal::User(name) => match self.iam.list_user_tags().user_name(name).send().await {
                Ok(o) => o.tags,
                Err(e) => gone_or_error(e)?,
            },
            Principal::Role(name) => match self.iam.list_role_tags().role_name(name).send().await {
                Ok(o) => o.tags,
                Err(e) => gone_or_error(e)?,
            },
        };
        Ok(tags.iter().any(|t| tag.matches(&t.key, &t.value)))
    }
}
