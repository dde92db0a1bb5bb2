//! Taking back revoke's changes from what the ledger recorded (`reflex undo`): the pure reading
//! of a recorded step into its reversal (or why there is none), and carrying it out through
//! the IAM API. Every reversal reads the current state first: one already back is
//! `already-done`, and one changed since by someone else is left as it is and said.

use aws_sdk_iam::Client;
use reflex_shared::iam::fault;
use reflex_shared::outcome::settle;
use reflex_shared::report::ActionReport;
use reflex_shared::reverse::containment::{self, ContainmentReversal};
use reflex_shared::reverse::{Irreversible, action, prior, reversed};
use reflex_shared::{Outcome, Step};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actions::{IamAction, Identity, Principal, policy_name};
use crate::policy::parse_document_str;
use crate::trust::{self, Trusted};

/// One change that reverses one of revoke's recorded steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RevokeReversal {
    AttachManagedPolicy {
        to: Identity,
        policy_arn: String,
    },
    /// The deleted inline policy's document put back.
    PutInlinePolicy {
        on: Identity,
        policy_name: String,
        document: Value,
    },
    /// The version Reflex replaced made the default again.
    MakeDefaultVersion {
        policy_arn: String,
        version_id: String,
    },
    AddUserToGroup {
        user: String,
        group: String,
    },
    /// The exemption tag Reflex removed written again.
    TagAgain {
        on: Principal,
        key: String,
        value: String,
    },
    /// The role's whole prior trust policy written back, provided the trust is still the one
    /// Reflex left (`restricted`).
    RestoreTrust {
        role: String,
        document: Value,
        restricted: Value,
    },
    #[serde(untagged)]
    Containment(ContainmentReversal),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Attached {
    attached: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Inline {
    policy_name: String,
    policy_document: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultVersion {
    default_version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberOf {
    member_of: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Tags {
    tags: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Trust {
    assume_role_policy_document: String,
}

/// A record that does not match its own action: refused, never half-believed.
fn mismatch(step: &ActionReport, what: &str) -> Irreversible {
    Irreversible::new(format!(
        "the prior state recorded for step `{}` names another {what} than its action: refusing \
         to guess",
        step.step
    ))
}

/// `v1`, `v12`: a managed policy's version id.
fn is_version_id(id: &str) -> bool {
    id.strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.len() <= 10 && n.chars().all(|c| c.is_ascii_digit()))
}

pub fn reversal(step: &ActionReport) -> Result<RevokeReversal, Irreversible> {
    let recorded: IamAction = action("revoke", step)?;
    Ok(match recorded {
        IamAction::DetachManagedPolicy { from, policy_arn } => {
            let Attached { attached } = prior(step)?;
            if attached != [policy_arn.as_str()] {
                return Err(mismatch(step, "policy"));
            }
            RevokeReversal::AttachManagedPolicy {
                to: from,
                policy_arn,
            }
        }
        IamAction::DeleteInlinePolicy { from, policy_name } => {
            let recorded: Inline = prior(step)?;
            if recorded.policy_name != policy_name {
                return Err(mismatch(step, "inline policy"));
            }
            let Some(document) =
                parse_document_str(&recorded.policy_document).filter(Value::is_object)
            else {
                return Err(Irreversible::new(format!(
                    "the inline policy {policy_name} deleted from {from} was recorded as a \
                     document that is not a JSON policy: IAM would refuse it, restore it by hand \
                     from the function's audit log"
                )));
            };
            RevokeReversal::PutInlinePolicy {
                on: from,
                policy_name,
                document,
            }
        }
        IamAction::RestorePolicyVersion {
            policy_arn,
            escalating_version,
        } => {
            let DefaultVersion { default_version } = prior(step)?;
            if default_version != escalating_version {
                return Err(mismatch(step, "policy version"));
            }
            if !is_version_id(&default_version) {
                return Err(Irreversible::new(format!(
                    "step `{}` recorded `{default_version}`, which is not a policy version id",
                    step.step
                )));
            }
            RevokeReversal::MakeDefaultVersion {
                policy_arn,
                version_id: default_version,
            }
        }
        IamAction::DeactivateAccessKey {
            user,
            access_key_id,
        } => {
            let reversal = containment::reactivation(&user, step)?;
            if !matches!(&reversal, ContainmentReversal::ReactivateAccessKeys { access_key_ids, .. }
                if access_key_ids == std::slice::from_ref(&access_key_id))
            {
                return Err(mismatch(step, "access key"));
            }
            RevokeReversal::Containment(reversal)
        }
        IamAction::DeleteLoginProfile { user } => {
            return Err(Irreversible::new(format!(
                "the console password of user {user} cannot be restored: IAM never returns a \
                 password and Reflex keeps none. If the user should sign in again, create a new \
                 login profile with a password they must reset (aws iam create-login-profile \
                 --user-name ... --password-reset-required)"
            )));
        }
        IamAction::RemoveUserFromGroup { user, group } => {
            let MemberOf { member_of } = prior(step)?;
            if member_of != group {
                return Err(mismatch(step, "group"));
            }
            RevokeReversal::AddUserToGroup { user, group }
        }
        IamAction::RemoveExemptionTag { from, key, .. } => {
            let Tags { tags } = prior(step)?;
            let value = match (tags.len(), tags.get(&key)) {
                (1, Some(Value::String(value))) => value.clone(),
                _ => return Err(mismatch(step, "tag")),
            };
            RevokeReversal::TagAgain {
                on: from,
                key,
                value,
            }
        }
        IamAction::RestrictRoleTrust {
            role,
            own_account,
            trusted_accounts,
        } => {
            let Trust {
                assume_role_policy_document,
            } = prior(step)?;
            let Some(document) =
                parse_document_str(&assume_role_policy_document).filter(Value::is_object)
            else {
                return Err(Irreversible::new(format!(
                    "the prior trust policy of role {role} was recorded as something that is \
                     not a JSON policy: restore it by hand from the function's audit log"
                )));
            };
            let trusted = Trusted {
                own_account: &own_account,
                accounts: &trusted_accounts,
            };
            let restricted = trust::judge(&document, trusted).restricted;
            RevokeReversal::RestoreTrust {
                role,
                document,
                restricted,
            }
        }
        IamAction::Contain(contained) => {
            RevokeReversal::Containment(containment::reversal(&contained, step)?)
        }
    })
}

pub fn describe(reversal: &RevokeReversal) -> String {
    match reversal {
        RevokeReversal::AttachManagedPolicy { to, policy_arn } => {
            format!("attach {} to {to} again", policy_name(policy_arn))
        }
        RevokeReversal::PutInlinePolicy {
            on, policy_name, ..
        } => format!("put inline policy {policy_name} back on {on}, with its recorded document"),
        RevokeReversal::MakeDefaultVersion {
            policy_arn,
            version_id,
        } => format!(
            "make {version_id} the default version of {} again",
            policy_name(policy_arn)
        ),
        RevokeReversal::AddUserToGroup { user, group } => {
            format!("add user {user} to group {group} again")
        }
        RevokeReversal::TagAgain { on, key, value } => {
            format!("tag {on} with the exemption tag {key}={value} again")
        }
        RevokeReversal::RestoreTrust { role, .. } => {
            format!("write the recorded trust policy of role {role} back")
        }
        RevokeReversal::Containment(c) => containment::describe(c),
    }
}

pub async fn reverse(iam: &Client, reversal: &RevokeReversal) -> Outcome {
    settle(match reversal {
        RevokeReversal::AttachManagedPolicy { to, policy_arn } => attach(iam, to, policy_arn).await,
        RevokeReversal::PutInlinePolicy {
            on,
            policy_name,
            document,
        } => put_inline(iam, on, policy_name, document).await,
        RevokeReversal::MakeDefaultVersion {
            policy_arn,
            version_id,
        } => make_default(iam, policy_arn, version_id).await,
        RevokeReversal::AddUserToGroup { user, group } => add_to_group(iam, user, group).await,
        RevokeReversal::TagAgain { on, key, value } => tag_again(iam, on, key, value).await,
        RevokeReversal::RestoreTrust {
            role,
            document,
            restricted,
        } => restore_trust(iam, role, document, restricted).await,
        RevokeReversal::Containment(c) => Ok(containment::reverse(iam, c).await),
    })
}

/// A reversal whose resource is gone: nothing to put back on.
fn gone(what: String) -> impl FnOnce() -> Outcome {
    move || Outcome::failed(what, Some(reflex_shared::iam::NO_SUCH_ENTITY.into()))
}

async fn attach(iam: &Client, to: &Identity, policy_arn: &str) -> Step {
    let name = to.name();
    let missing = || format!("{to} or policy {policy_arn} no longer exists");
    let attached: Vec<String> = match to {
        Identity::User(_) => iam
            .list_attached_user_policies()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| fault("ListAttachedUserPolicies", &e).or_gone(gone(missing())))?,
        Identity::Group(_) => iam
            .list_attached_group_policies()
            .group_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| fault("ListAttachedGroupPolicies", &e).or_gone(gone(missing())))?,
        Identity::Role(_) => iam
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| fault("ListAttachedRolePolicies", &e).or_gone(gone(missing())))?,
    }
    .into_iter()
    .filter_map(|p| p.policy_arn)
    .collect();
    if attached.iter().any(|a| a == policy_arn) {
        return Ok(Outcome::already_done(format!(
            "{policy_arn} is attached to {to}"
        )));
    }
    match to {
        Identity::User(_) => iam
            .attach_user_policy()
            .user_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| fault("AttachUserPolicy", &e)),
        Identity::Group(_) => iam
            .attach_group_policy()
            .group_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| fault("AttachGroupPolicy", &e)),
        Identity::Role(_) => iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| fault("AttachRolePolicy", &e)),
    }
    .map_err(|f| f.or_gone(gone(missing())))?;
    Ok(reversed(format!("attached {policy_arn} to {to} again")))
}

async fn put_inline(iam: &Client, on: &Identity, policy_name: &str, document: &Value) -> Step {
    let name = on.name();
    let missing = || format!("{on} no longer exists");
    // `None`: no inline policy of that name now.
    let current = match on {
        Identity::User(_) => iam
            .get_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|o| o.policy_document)
            .map_err(|e| fault("GetUserPolicy", &e)),
        Identity::Group(_) => iam
            .get_group_policy()
            .group_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|o| o.policy_document)
            .map_err(|e| fault("GetGroupPolicy", &e)),
        Identity::Role(_) => iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map(|o| o.policy_document)
            .map_err(|e| fault("GetRolePolicy", &e)),
    };
    match current {
        Ok(text) => {
            return if parse_document_str(&text).as_ref() == Some(document) {
                Ok(Outcome::already_done(format!(
                    "{on} has inline policy {policy_name} with the recorded document"
                )))
            } else {
                Err(Outcome::failed(
                    format!(
                        "{on} has an inline policy {policy_name} again, with another document: \
                         not overwritten, a person must compare them"
                    ),
                    None,
                ))
            };
        }
        // No such policy (or no such identity, which the write below finds out).
        Err(reflex_shared::aws::Fault::Gone) => {}
        Err(reflex_shared::aws::Fault::Failed(outcome)) => return Err(outcome),
    }
    let text = document.to_string();
    match on {
        Identity::User(_) => iam
            .put_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .policy_document(text)
            .send()
            .await
            .map(drop)
            .map_err(|e| fault("PutUserPolicy", &e)),
        Identity::Group(_) => iam
            .put_group_policy()
            .group_name(name)
            .policy_name(policy_name)
            .policy_document(text)
            .send()
            .await
            .map(drop)
            .map_err(|e| fault("PutGroupPolicy", &e)),
        Identity::Role(_) => iam
            .put_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .policy_document(text)
            .send()
            .await
            .map(drop)
            .map_err(|e| fault("PutRolePolicy", &e)),
    }
    .map_err(|f| f.or_gone(gone(missing())))?;
    Ok(reversed(format!(
        "put inline policy {policy_name} back on {on}"
    )))
}

async fn make_default(iam: &Client, policy_arn: &str, version: &str) -> Step {
    let missing = || format!("policy {policy_arn} no longer exists");
    let versions = iam
        .list_policy_versions()
        .policy_arn(policy_arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| fault("ListPolicyVersions", &e).or_gone(gone(missing())))?;
    let Some(wanted) = versions
        .iter()
        .find(|v| v.version_id.as_deref() == Some(version))
    else {
        return Err(Outcome::failed(
            format!("version {version} of {policy_arn} no longer exists"),
            Some(reflex_shared::iam::NO_SUCH_ENTITY.into()),
        ));
    };
    if wanted.is_default_version {
        return Ok(Outcome::already_done(format!(
            "{version} is the default version of {policy_arn}"
        )));
    }
    iam.set_default_policy_version()
        .policy_arn(policy_arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| fault("SetDefaultPolicyVersion", &e).or_gone(gone(missing())))?;
    Ok(reversed(format!(
        "made {version} the default version of {policy_arn} again"
    )))
}

async fn add_to_group(iam: &Client, user: &str, group: &str) -> Step {
    let missing = || format!("user {user} or group {group} no longer exists");
    let groups = iam
        .list_groups_for_user()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| fault("ListGroupsForUser", &e).or_gone(gone(missing())))?;
    if groups
        .iter()
        .any(|g| g.group_name.eq_ignore_ascii_case(group))
    {
        return Ok(Outcome::already_done(format!(
            "user {user} is in group {group}"
        )));
    }
    iam.add_user_to_group()
        .user_name(user)
        .group_name(group)
        .send()
        .await
        .map_err(|e| fault("AddUserToGroup", &e).or_gone(gone(missing())))?;
    Ok(reversed(format!(
        "added user {user} to group {group} again"
    )))
}

async fn tag_again(iam: &Client, on: &Principal, key: &str, value: &str) -> Step {
    let missing = || format!("{on} no longer exists");
    let tags = reflex_shared::iam::tags(iam, &on.resource())
        .await
        .map_err(|e| e.outcome("iam:ListTags"))?
        .unwrap_or_default();
    match tags.get(key) {
        Some(v) if v == value => {
            return Ok(Outcome::already_done(format!(
                "{on} carries the tag {key}={value}"
            )));
        }
        Some(other) => {
            return Err(Outcome::failed(
                format!("{on} carries the tag {key}={other} now: not overwritten"),
                None,
            ));
        }
        None => {}
    }
    let tag = aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| Outcome::failed(format!("the tag {key} cannot be built: {e}"), None))?;
    match on {
        Principal::User(name) => iam
            .tag_user()
            .user_name(name)
            .tags(tag)
            .send()
            .await
            .map(drop)
            .map_err(|e| fault("TagUser", &e)),
        Principal::Role(name) => iam
            .tag_role()
            .role_name(name)
            .tags(tag)
            .send()
            .await
            .map(drop)
            .map_err(|e| fault("TagRole", &e)),
    }
    .map_err(|f| f.or_gone(gone(missing())))?;
    Ok(reversed(format!("tagged {on} with {key}={value} again")))
}

async fn restore_trust(iam: &Client, role: &str, document: &Value, restricted: &Value) -> Step {
    let missing = || format!("role {role} no longer exists");
    let current = iam
        .get_role()
        .role_name(role)
        .send()
        .await
        .map_err(|e| fault("GetRole", &e).or_gone(gone(missing())))?
        .role
        .and_then(|r| r.assume_role_policy_document)
        .and_then(|text| parse_document_str(&text));
    if current.as_ref() == Some(document) {
        return Ok(Outcome::already_done(format!(
            "role {role} has its recorded trust policy"
        )));
    }
    if current.as_ref() != Some(restricted) {
        return Err(Outcome::failed(
            format!(
                "the trust policy of role {role} changed since Reflex restricted it: not \
                 overwritten, a person must compare it with the recorded one"
            ),
            None,
        ));
    }
    iam.update_assume_role_policy()
        .role_name(role)
        .policy_document(document.to_string())
        .send()
        .await
        .map_err(|e| fault("UpdateAssumeRolePolicy", &e).or_gone(gone(missing())))?;
    Ok(reversed(format!(
        "wrote the recorded trust policy of role {role} back"
    )))
}

pub fn recorded_action(step: &ActionReport) -> Result<IamAction, Irreversible> {
    action("revoke", step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex_shared::iam::Containment;
    use serde_json::json;

    fn step(action: &IamAction, prior: Value) -> ActionReport {
        ActionReport {
            step: "s".into(),
            description: "d".into(),
            action: serde_json::to_value(action).unwrap(),
            outcome: Outcome::done("d", Some(prior), reflex_shared::Undo::none("test")),
        }
    }

    #[test]
    fn every_action_round_trips_through_the_ledger_json() {
        let actions = [
            IamAction::DetachManagedPolicy {
                from: Identity::Group("devs".into()),
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            },
            IamAction::RemoveExemptionTag {
                from: Principal::Role("ci".into()),
                key: "reflex:exempt".into(),
                value: "true".into(),
            },
            IamAction::Contain(Containment::RevokeRoleSessions {
                role: "ci".into(),
                issued_before: None,
            }),
            IamAction::Contain(Containment::DeactivateUserAccessKeys {
                user: "mallory".into(),
            }),
            IamAction::DeleteLoginProfile {
                user: "mallory".into(),
            },
        ];
        for a in actions {
            let s = step(&a, json!({}));
            assert_eq!(recorded_action(&s), Ok(a));
        }
    }

    #[test]
    fn a_record_that_contradicts_its_action_is_refused() {
        let detach = IamAction::DetachManagedPolicy {
            from: Identity::User("alice".into()),
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
        };
        let good = step(
            &detach,
            json!({"attached": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
        );
        assert!(matches!(
            reversal(&good),
            Ok(RevokeReversal::AttachManagedPolicy { .. })
        ));
        let other = step(
            &detach,
            json!({"attached": ["arn:aws:iam::aws:policy/Other"]}),
        );
        assert!(reversal(&other).unwrap_err().0.contains("another policy"));
        let version = IamAction::RestorePolicyVersion {
            policy_arn: "arn:aws:iam::123456789012:policy/p".into(),
            escalating_version: "v2; x".into(),
        };
        let bad = step(&version, json!({"default_version": "v2; x"}));
        assert!(
            reversal(&bad)
                .unwrap_err()
                .0
                .contains("not a policy version id")
        );
        let inline = IamAction::DeleteInlinePolicy {
            from: Identity::Role("r".into()),
            policy_name: "big".into(),
        };
        let not_json = step(
            &inline,
            json!({"policy_name": "big", "policy_document": "%%%"}),
        );
        assert!(reversal(&not_json).is_err());
    }

    #[test]
    fn a_deleted_password_is_never_restored() {
        let login = IamAction::DeleteLoginProfile {
            user: "mallory".into(),
        };
        let why = reversal(&step(&login, json!({"login_profile": {}}))).unwrap_err();
        assert!(why.0.contains("cannot be restored"), "{why}");
    }
}
