//! Carrying out revoke's plans through the IAM API. Every action first reads the current state,
//! so a repeated delivery reports "already done", and every change records how to undo it.
//!
//! Each step returns a `Step`: `?` on a failed call stops it with that call's outcome
//! (`NoSuchEntity` means the revoke is already done; anything else is a failure).

use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use reflex_shared::iam::{self, deactivate_access_keys};
use reflex_shared::outcome::settle;
use reflex_shared::{Outcome, Step};
use serde_json::json;

use crate::actions::{IamAction, Identity, Principal};
use crate::policy::{escalation, parse_document_str};
use crate::trust::{self, Trusted};
use crate::undo::{self, Document};

pub async fn execute(iam: &Client, action: &IamAction) -> Outcome {
    settle(match action {
        IamAction::DetachManagedPolicy { from, policy_arn } => detach(iam, from, policy_arn).await,
        IamAction::DeleteInlinePolicy { from, policy_name } => {
            delete_inline(iam, from, policy_name).await
        }
        IamAction::RestorePolicyVersion {
            policy_arn,
            escalating_version,
        } => restore_version(iam, policy_arn, escalating_version).await,
        IamAction::DeactivateAccessKey {
            user,
            access_key_id,
        } => deactivate_access_keys(iam, user, Some(access_key_id)).await,
        IamAction::DeleteLoginProfile { user } => delete_login_profile(iam, user).await,
        IamAction::RemoveUserFromGroup { user, group } => remove_from_group(iam, user, group).await,
        IamAction::RemoveExemptionTag { from, key, value } => {
            remove_exemption_tag(iam, from, key, value).await
        }
        IamAction::RestrictRoleTrust {
            role,
            own_account,
            trusted_accounts,
        } => {
            let trusted = Trusted {
                own_account,
                accounts: trusted_accounts,
            };
            restrict_trust(iam, role, trusted).await
        }
        IamAction::Contain(containment) => Ok(containment.execute(iam).await),
    })
}

async fn detach(iam: &Client, from: &Identity, policy_arn: &str) -> Step {
    let gone = || Outcome::already_done(format!("{policy_arn} is not attached to {from}"));
    let name = from.name();
    let detached = match from {
        Identity::User(_) => iam
            .detach_user_policy()
            .user_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam::fault("DetachUserPolicy", &e)),
        Identity::Group(_) => iam
            .detach_group_policy()
            .group_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam::fault("DetachGroupPolicy", &e)),
        Identity::Role(_) => iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam::fault("DetachRolePolicy", &e)),
    };
    detached.map_err(|f| f.or_gone(gone))?;
    Ok(Outcome::done(
        format!("detached {policy_arn} from {from}"),
        Some(json!({ "attached": [policy_arn] })),
        undo::attach_again(from, policy_arn),
    ))
}

async fn delete_inline(iam: &Client, from: &Identity, policy_name: &str) -> Step {
    let gone = || Outcome::already_done(format!("{from} has no inline policy {policy_name}"));
    let name = from.name();
    let current = match from {
        Identity::User(_) => iam
            .get_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|o| o.policy_document)
            .map_err(|e| iam::fault("GetUserPolicy", &e)),
        Identity::Group(_) => iam
            .get_group_policy()
            .group_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|o| o.policy_document)
            .map_err(|e| iam::fault("GetGroupPolicy", &e)),
        Identity::Role(_) => iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|o| o.policy_document)
            .map_err(|e| iam::fault("GetRolePolicy", &e)),
    }
    .map_err(|f| f.or_gone(gone))?;
    let document = parse_document_str(&current);
    // Someone may have replaced it with a harmless document since the event: leave that be.
    if document.as_ref().is_some_and(|d| escalation(d).is_none()) {
        return Ok(Outcome::already_done(format!(
            "inline policy {policy_name} on {from} no longer escalates"
        )));
    }
    match from {
        Identity::User(_) => iam
            .delete_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam::fault("DeleteUserPolicy", &e)),
        Identity::Group(_) => iam
            .delete_group_policy()
            .group_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam::fault("DeleteGroupPolicy", &e)),
        Identity::Role(_) => iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam::fault("DeleteRolePolicy", &e)),
    }
    .map_err(|f| f.or_gone(gone))?;
    let document_text = document
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_else(|| current.clone());
    let kept = match document {
        Some(parsed) => Document::Parsed(parsed),
        None => Document::Text(current),
    };
    Ok(Outcome::done(
        format!("deleted inline policy {policy_name} from {from}"),
        Some(json!({ "policy_name": policy_name, "policy_document": document_text })),
        undo::put_back(from, policy_name, &kept),
    ))
}

async fn restore_version(iam: &Client, policy_arn: &str, escalating: &str) -> Step {
    let gone = || Outcome::already_done(format!("policy {policy_arn} no longer exists"));
    // After the listing, `NoSuchEntity` may mean only that a version vanished (deleted since),
    // while the escalating one is still the default: not "done". The retry lists again, and
    // finds the policy gone (done) or its versions as they are now.
    let vanished = || {
        Outcome::failed_for_now(
            format!("a version of {policy_arn} vanished while it was being restored"),
            Some(iam::NO_SUCH_ENTITY.to_string()),
        )
    };
    let versions = iam
        .list_policy_versions()
        .policy_arn(policy_arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| iam::fault("ListPolicyVersions", &e).or_gone(gone))?;
    let current = versions.iter().find(|v| v.is_default_version);
    let current_id = current.and_then(|v| v.version_id.as_deref()).unwrap_or("");
    if current_id != escalating {
        return Ok(Outcome::already_done(format!(
            "the default version of {policy_arn} is {current_id}, no longer {escalating}"
        )));
    }
    // The newest other version whose document does not escalate.
    let mut candidates: Vec<_> = versions
        .iter()
        .filter(|v| v.version_id.as_deref() != Some(escalating))
        .collect();
    candidates
        .sort_by_key(|v| std::cmp::Reverse(v.create_date.map(|d| (d.secs(), d.subsec_nanos()))));
    let mut restore_to = None;
    for candidate in candidates {
        let Some(id) = candidate.version_id.as_deref() else {
            continue;
        };
        let out = iam
            .get_policy_version()
            .policy_arn(policy_arn)
            .version_id(id)
            .send()
            .await
            .map_err(|e| iam::fault("GetPolicyVersion", &e).or_gone(vanished))?;
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
        return Err(Outcome::failed(
            format!(
                "{policy_arn} has no other version that does not escalate; a person must fix it"
            ),
            None,
        ));
    };
    iam.set_default_policy_version()
        .policy_arn(policy_arn)
        .version_id(&safe)
        .send()
        .await
        .map_err(|e| iam::fault("SetDefaultPolicyVersion", &e).or_gone(vanished))?;
    Ok(Outcome::done(
        format!("made {safe} the default version of {policy_arn} instead of {escalating}"),
        Some(json!({ "default_version": escalating })),
        undo::make_default_again(policy_arn, escalating),
    ))
}

async fn delete_login_profile(iam: &Client, user: &str) -> Step {
    let gone = || Outcome::already_done(format!("user {user} has no console login profile"));
    let profile = iam
        .get_login_profile()
        .user_name(user)
        .send()
        .await
        .map_err(|e| iam::fault("GetLoginProfile", &e).or_gone(gone))?;
    let reset_required = profile
        .login_profile
        .as_ref()
        .map(|p| p.password_reset_required);
    iam.delete_login_profile()
        .user_name(user)
        .send()
        .await
        .map_err(|e| iam::fault("DeleteLoginProfile", &e).or_gone(gone))?;
    Ok(Outcome::done(
        format!(
            "deleted the console login profile of user {user} (its password cannot be restored: \
             to undo, set {} to a new one)",
            undo::NEW_PASSWORD_VARIABLE
        ),
        Some(json!({
            "login_profile": {
                "created": profile.login_profile.as_ref().map(|p| p.create_date.to_string()),
                "password_reset_required": reset_required,
            }
        })),
        undo::new_login_profile(user),
    ))
}

async fn remove_from_group(iam: &Client, user: &str, group: &str) -> Step {
    let gone = || Outcome::already_done(format!("user {user} is not in group {group}"));
    let groups = iam
        .list_groups_for_user()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| iam::fault("ListGroupsForUser", &e).or_gone(gone))?;
    if !groups
        .iter()
        .any(|g| g.group_name.eq_ignore_ascii_case(group))
    {
        return Ok(gone());
    }
    iam.remove_user_from_group()
        .user_name(user)
        .group_name(group)
        .send()
        .await
        .map_err(|e| iam::fault("RemoveUserFromGroup", &e).or_gone(gone))?;
    Ok(Outcome::done(
        format!("removed user {user} from group {group}"),
        Some(json!({ "member_of": group })),
        undo::add_to_group_again(user, group),
    ))
}

/// Remove the exemption tag, unless it no longer exempts (removed, or set to another value
/// since the event: someone fixed it already). A user or role that is gone carries no tag.
async fn remove_exemption_tag(iam: &Client, from: &Principal, key: &str, value: &str) -> Step {
    let gone =
        || Outcome::already_done(format!("{from} no longer carries the exemption tag {key}"));
    let list = match from {
        Principal::User(_) => "iam:ListUserTags",
        Principal::Role(_) => "iam:ListRoleTags",
    };
    let tags = iam::tags(iam, &from.resource())
        .await
        .map_err(|e| e.outcome(list))?
        .unwrap_or_default();
    // The value compared as the exemption compares it: `TRUE` exempts as `true` does.
    let Some(current) = tags
        .get(key)
        .filter(|v| v.eq_ignore_ascii_case(value))
        .cloned()
    else {
        return Ok(gone());
    };
    match from {
        Principal::User(name) => iam
            .untag_user()
            .user_name(name)
            .tag_keys(key)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam::fault("UntagUser", &e)),
        Principal::Role(name) => iam
            .untag_role()
            .role_name(name)
            .tag_keys(key)
            .send()
            .await
            .map(drop)
            .map_err(|e| iam::fault("UntagRole", &e)),
    }
    .map_err(|f| f.or_gone(gone))?;
    Ok(Outcome::done(
        format!("removed the exemption tag {key}={current} from {from}"),
        Some(json!({ "tags": { key: current } })),
        undo::tag_again(from, key, &current),
    ))
}

/// Remove from the role's trust policy as it is now exactly what opens it, by the rules' own
/// judge: a trust fixed (or replaced) since the event is left as it is.
async fn restrict_trust(iam: &Client, role: &str, trusted: Trusted<'_>) -> Step {
    let gone = || Outcome::already_done(format!("role {role} no longer exists"));
    let current = iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .map_err(|e| iam::fault("GetRole", &e).or_gone(gone))?
        .role
        .ok_or_else(gone)?;
    // IAM hands the document URL-encoded.
    let text = current.assume_role_policy_document.unwrap_or_default();
    let Some(document) = parse_document_str(&text) else {
        return Err(Outcome::failed(
            format!(
                "the trust policy of role {role} is not readable JSON: a person must review it"
            ),
            None,
        ));
    };
    let judged = trust::judge(&document, trusted);
    if !judged.is_open() {
        return Ok(Outcome::already_done(format!(
            "the trust policy of role {role} no longer lets in anyone outside this account and \
             the trusted ones"
        )));
    }
    iam.update_assume_role_policy()
        .role_name(role)
        .policy_document(judged.restricted.to_string())
        .send()
        .await
        .map_err(|e| {
            // IAM Identity Center's and service-linked roles: IAM itself refuses, whatever the
            // role's name or path claims; the trust stays open, so a person must see it.
            if e.code() == Some("UnmodifiableEntity") {
                return Outcome::failed(
                    format!(
                        "IAM refuses changes to role {role} (UnmodifiableEntity): it is owned by \
                         IAM Identity Center or an AWS service; a person must review its trust"
                    ),
                    Some("UnmodifiableEntity".into()),
                );
            }
            iam::fault("UpdateAssumeRolePolicy", &e).or_gone(gone)
        })?;
    Ok(Outcome::done(
        format!(
            "removed from the trust policy of role {role} what let it be assumed {}",
            judged.describe()
        ),
        Some(json!({ "assume_role_policy_document": document.to_string() })),
        undo::trust_again(role, &document),
    ))
}
