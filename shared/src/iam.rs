//! IAM in the core, for every function that needs it: the tags of users, roles and managed
//! policies (exemptions), and containment of a caller (revoke and harden both contain actors).

use aws_sdk_iam::Client;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::StatusType;
use serde::Serialize;
use serde_json::json;

use crate::aws::{self, CallError, Fault};
use crate::exemption::Tags;
use crate::identity::UserIdentity;
use crate::outcome::{Outcome, Step, settle};
use crate::resource::Resource;
use crate::undo::{AwsCli, Undo};

/// The inline policy `RevokeRoleSessions` puts on a role (the console's "revoke sessions" does
/// the same).
pub const REVOKE_SESSIONS_POLICY: &str = "reflex-revoke-older-sessions";

/// IAM's answer when the user, role, group, policy or key is not there.
pub const NO_SUCH_ENTITY: &str = "NoSuchEntity";

/// A failed IAM call, sorted: `NoSuchEntity` is `Gone`.
pub fn fault<E: ProvideErrorMetadata + std::error::Error + 'static>(
    call: &str,
    err: &SdkError<E, HttpResponse>,
) -> Fault {
    aws::fault(&format!("iam:{call}"), err, &[NO_SUCH_ENTITY])
}

/// The tags of an IAM user, role or managed policy; `Ok(None)` for anything else (IAM groups
/// carry no tags). A principal or policy that is gone has no tags.
pub async fn tags(iam: &Client, resource: &Resource) -> Result<Option<Tags>, CallError> {
    fn gone_or<E: ProvideErrorMetadata + std::error::Error + 'static>(
        e: SdkError<E, HttpResponse>,
    ) -> Result<Vec<aws_sdk_iam::types::Tag>, CallError> {
        match e.code() {
            Some(NO_SUCH_ENTITY) => Ok(Vec::new()),
            _ => Err(e.into()),
        }
    }
    let tags = match resource {
        Resource::User(name) => match iam.list_user_tags().user_name(name).send().await {
            Ok(o) => o.tags,
            Err(e) => gone_or(e)?,
        },
        Resource::Role(name) => match iam.list_role_tags().role_name(name).send().await {
            Ok(o) => o.tags,
            Err(e) => gone_or(e)?,
        },
        Resource::Policy(arn) => match iam.list_policy_tags().policy_arn(arn).send().await {
            Ok(o) => o.tags,
            Err(e) => gone_or(e)?,
        },
        _ => return Ok(None),
    };
    Ok(Some(tags.into_iter().map(|t| (t.key, t.value)).collect()))
}

/// Containment of a caller: a user's access keys go inactive; a role's sessions issued before
/// now are denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Containment {
    /// Every active access key of the user goes inactive.
    DeactivateUserAccessKeys { user: String },
    /// Deny everything to the role's sessions issued before now.
    RevokeRoleSessions { role: String },
}

impl Containment {
    /// How to contain this caller; `None` for one that is neither an IAM user nor a role
    /// session (the root user, an AWS service).
    pub fn of(actor: &UserIdentity) -> Option<Self> {
        if let Some(user) = actor.iam_user_name() {
            return Some(Containment::DeactivateUserAccessKeys {
                user: user.to_string(),
            });
        }
        actor
            .role_name()
            .map(|role| Containment::RevokeRoleSessions {
                role: role.to_string(),
            })
    }

    pub fn describe(&self) -> String {
        match self {
            Containment::DeactivateUserAccessKeys { user } => {
                format!("contain the actor: deactivate every access key of user {user}")
            }
            Containment::RevokeRoleSessions { role } => {
                format!("contain the actor: revoke every session of role {role} issued before now")
            }
        }
    }

    pub fn resource(&self) -> Resource {
        match self {
            Containment::DeactivateUserAccessKeys { user } => Resource::User(user.clone()),
            Containment::RevokeRoleSessions { role } => Resource::Role(role.clone()),
        }
    }

    /// Carry it out.
    pub async fn execute(&self, iam: &Client) -> Outcome {
        settle(match self {
            Containment::DeactivateUserAccessKeys { user } => {
                deactivate_access_keys(iam, user, None).await
            }
            Containment::RevokeRoleSessions { role } => revoke_sessions(iam, role).await,
        })
    }
}

/// Deactivate one access key of a user (`only`) or every active one.
pub async fn deactivate_access_keys(iam: &Client, user: &str, only: Option<&str>) -> Step {
    let gone = || Outcome::already_done(format!("user {user} no longer exists"));
    let keys = iam
        .list_access_keys()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| fault("ListAccessKeys", &e).or_gone(gone))?;
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
        return Ok(Outcome::already_done(format!("user {user}: {what}")));
    }
    let mut deactivated = Vec::new();
    for &id in &wanted {
        let updated = iam
            .update_access_key()
            .user_name(user)
            .access_key_id(id)
            .status(StatusType::Inactive)
            .send()
            .await;
        match updated.map_err(|e| fault("UpdateAccessKey", &e)) {
            Ok(_) => deactivated.push(id),
            // This key was deleted since the listing (or the user with it): revoked all the
            // same, and the other keys must still go.
            Err(Fault::Gone) => {}
            Err(Fault::Failed(outcome)) => return Err(outcome),
        }
    }
    if deactivated.is_empty() {
        return Ok(Outcome::already_done(format!(
            "user {user}: access key(s) {} no longer exist",
            wanted.join(", ")
        )));
    }
    Ok(Outcome::done(
        format!(
            "deactivated access key(s) {} of user {user}",
            deactivated.join(", ")
        ),
        Some(json!({ "active_access_keys": deactivated })),
        reactivate_access_keys(user, &deactivated),
    ))
}

async fn revoke_sessions(iam: &Client, role: &str) -> Step {
    let gone = || Outcome::already_done(format!("role {role} no longer exists"));
    // A policy of this name already there is no proof of containment: anyone who can put a
    // role policy can plant a harmless one under it, and one left from an earlier incident
    // cuts off before this caller's session. So the cut-off always moves to now (a responder's
    // session issued since an earlier cut-off must assume the role again); what was there is
    // kept in the prior state.
    let previous = match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(REVOKE_SESSIONS_POLICY)
        .send()
        .await
    {
        Ok(found) => Some(found.policy_document),
        Err(e) => match fault("GetRolePolicy", &e) {
            Fault::Gone => None,
            Fault::Failed(outcome) => return Err(outcome),
        },
    };
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
    iam.put_role_policy()
        .role_name(role)
        .policy_name(REVOKE_SESSIONS_POLICY)
        .policy_document(document.to_string())
        .send()
        .await
        .map_err(|e| fault("PutRolePolicy", &e).or_gone(gone))?;
    let replaced = match previous {
        Some(_) => format!(" (replacing the {REVOKE_SESSIONS_POLICY} that was there)"),
        None => String::new(),
    };
    Ok(Outcome::done(
        format!("denied every session of role {role} issued before {now}{replaced}"),
        Some(json!({ "inline_policy": previous })),
        lift_session_cutoff(role),
    ))
}

/// Undo of [`deactivate_access_keys`]: each key active again.
pub fn reactivate_access_keys(user: &str, keys: &[&str]) -> Undo {
    Undo::all(keys.iter().map(|key| {
        AwsCli::new("iam", "update-access-key")
            .arg("--user-name", user)
            .arg("--access-key-id", key)
            .arg("--status", "Active")
    }))
}

/// Undo of revoking a role's sessions: the cut-off policy deleted.
pub fn lift_session_cutoff(role: &str) -> Undo {
    Undo::run(
        AwsCli::new("iam", "delete-role-policy")
            .arg("--role-name", role)
            .arg("--policy-name", REVOKE_SESSIONS_POLICY),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(json: serde_json::Value) -> UserIdentity {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_user_loses_its_keys_and_a_role_its_older_sessions() {
        let user = caller(serde_json::json!({
            "type": "IAMUser", "userName": "mallory",
            "arn": "arn:aws:iam::123456789012:user/mallory"
        }));
        assert_eq!(
            Containment::of(&user),
            Some(Containment::DeactivateUserAccessKeys {
                user: "mallory".into()
            })
        );
        let role = caller(serde_json::json!({
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/ci-deployer/build-17"
        }));
        let contained = Containment::of(&role).unwrap();
        assert_eq!(contained.resource(), Resource::Role("ci-deployer".into()));
        assert_eq!(
            serde_json::to_value(&contained).unwrap(),
            serde_json::json!({"type": "revoke-role-sessions", "role": "ci-deployer"})
        );
        let root = caller(serde_json::json!({
            "type": "Root", "arn": "arn:aws:iam::123456789012:root"
        }));
        assert_eq!(Containment::of(&root), None);
    }
}
