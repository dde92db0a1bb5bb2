//! IAM in the core, for every function that needs it: the tags of users, roles and managed
//! policies (exemptions), and containment of a caller (revoke and harden both contain actors).

use aws_sdk_iam::Client;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::StatusType;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::aws::{self, CallError, Fault};
use crate::event::Event;
use crate::event::alarm::parse_time;
use crate::exemption::Tags;
use crate::identity::UserIdentity;
use crate::outcome::{Outcome, Step, settle};
use crate::plan::{Finding, Severity};
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

/// The finding that contains a caller who `did` something (an escalation, blinding the trail):
/// Critical, with the containment as its one action (`wrap`ped in the function's action type),
/// or, for a caller out of Reflex's reach, with no action and what a person must do instead.
pub fn contain_caller<A>(
    rule_id: &'static str,
    actor: &UserIdentity,
    at: Option<DateTime<Utc>>,
    did: &str,
    wrap: impl FnOnce(Containment) -> A,
) -> Finding<A> {
    let (reason, actions) = match Containment::of(actor, at) {
        Some(containment) => (
            format!("{} {did}; containing the caller", actor.describe()),
            vec![wrap(containment)],
        ),
        None => (
            format!(
                "{} {did}; Reflex cannot contain the caller, {}",
                actor.describe(),
                Containment::out_of_reach(actor)
            ),
            Vec::new(),
        ),
    };
    Finding {
        rule_id,
        severity: Severity::Critical,
        reason,
        actions,
    }
}

/// A session of an IAM Identity Center role: its issuer lives under the path AWS reserves for
/// Identity Center (`role/aws-reserved/sso.amazonaws.com/...`), which no one else can create a
/// role under, so a name chosen to look like one (`AWSReservedSSO_...` elsewhere) is not one.
fn is_identity_center_role(actor: &UserIdentity) -> bool {
    actor
        .issuer_role()
        .is_some_and(|issuer| issuer.arn.contains(":role/aws-reserved/sso.amazonaws.com/"))
}

/// When an incident happened: the CloudTrail call's `eventTime`, else the event's `time`.
pub fn incident_time(event: &Event) -> Option<DateTime<Utc>> {
    event
        .api_call()
        .and_then(|call| call.event_time.as_deref())
        .or(event.envelope().time.as_deref())
        .and_then(parse_time)
}

/// Containment of a caller: a user's access keys go inactive; a role's sessions issued before
/// the incident are denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Containment {
    /// Every active access key of the user goes inactive.
    DeactivateUserAccessKeys { user: String },
    /// Deny everything to the role's sessions issued before `issued_before` (RFC 3339): the
    /// second after the incident's call, so the session that made it is cut off. Fixed by the
    /// event, so every delivery and retry of one incident sets the same cut-off, and a later
    /// incident moves it forward. `None` (an event without a time): the time it is carried out.
    RevokeRoleSessions {
        role: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issued_before: Option<String>,
    },
}

impl Containment {
    /// How to contain this caller, for an incident at `at`; `None` for one that is neither an
    /// IAM user nor a role session (the root user, an AWS service).
    /// An IAM Identity Center role is left out too: AWS refuses every change to it, so a
    /// person acts in Identity Center instead ([`Containment::out_of_reach`] says how).
    pub fn of(actor: &UserIdentity, at: Option<DateTime<Utc>>) -> Option<Self> {
        if let Some(user) = actor.iam_user_name() {
            return Some(Containment::DeactivateUserAccessKeys {
                user: user.to_string(),
            });
        }
        if is_identity_center_role(actor) {
            return None;
        }
        actor
            .role_name()
            .map(|role| Containment::RevokeRoleSessions {
                role: role.to_string(),
                issued_before: at.map(cut_off_after),
            })
    }

    /// Why a caller [`Containment::of`] has no containment for is out of Reflex's reach, and
    /// what a person does instead: the report says it, so a caller Reflex cannot contain is
    /// never left alone in silence.
    pub fn out_of_reach(actor: &UserIdentity) -> String {
        let todo = match actor.kind.as_str() {
            "Root" => {
                "the account's root user, which IAM cannot restrict: change its password, delete \
                 its access keys and check its MFA device now"
            }
            "AssumedRole" if is_identity_center_role(actor) => {
                "an IAM Identity Center role, which AWS allows no one to change: revoke the \
                 user's active sessions and permission set assignment in IAM Identity Center"
            }
            "FederatedUser" => {
                let issuer = actor
                    .session_context
                    .as_ref()
                    .and_then(|c| c.session_issuer.as_ref())
                    .and_then(|i| i.user_name.as_deref())
                    .unwrap_or("unknown");
                return format!(
                    "a federated user (GetFederationToken) whose session IAM cannot revoke: \
                     deactivate the access keys of the IAM user that issued it ({issuer}) and \
                     restrict that user's policies, which bound the session's"
                );
            }
            "AWSService" => {
                "an AWS service acting on someone's behalf: find who configured it (the stack, \
                 pipeline or rule) and contain them"
            }
            _ => {
                "neither an IAM user nor a role session of this account that Reflex can name: \
                 contain it by hand"
            }
        };
        todo.to_string()
    }

    pub fn describe(&self) -> String {
        match self {
            Containment::DeactivateUserAccessKeys { user } => {
                format!("contain the actor: deactivate every access key of user {user}")
            }
            Containment::RevokeRoleSessions {
                role,
                issued_before,
            } => format!(
                "contain the actor: revoke every session of role {role} issued before {}",
                issued_before.as_deref().unwrap_or("now")
            ),
        }
    }

    pub fn resource(&self) -> Resource {
        match self {
            Containment::DeactivateUserAccessKeys { user } => Resource::User(user.clone()),
            Containment::RevokeRoleSessions { role, .. } => Resource::Role(role.clone()),
        }
    }

    /// Carry it out.
    pub async fn execute(&self, iam: &Client) -> Outcome {
        settle(match self {
            Containment::DeactivateUserAccessKeys { user } => {
                deactivate_access_keys(iam, user, None).await
            }
            Containment::RevokeRoleSessions {
                role,
                issued_before,
            } => revoke_sessions(iam, role, issued_before.as_deref()).await,
        })
    }
}

/// The cut-off for an incident at `at`: the next whole second, so that a session issued in the
/// same second as the call, before it, is cut off too (CloudTrail's times are to the second).
fn cut_off_after(at: DateTime<Utc>) -> String {
    let next = at.trunc_subsecs(0) + chrono::Duration::seconds(1);
    next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The deny-older-sessions policy with cut-off `issued_before`.
pub fn revoke_sessions_document(issued_before: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReflexRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": { "DateLessThan": { "aws:TokenIssueTime": issued_before } }
        }]
    })
}

/// A role policy document as IAM returns it (URL-encoded) or as it was put (JSON).
pub fn policy_json(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| {
        let decoded = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .ok()?;
        serde_json::from_str(&decoded).ok()
    })
}

/// The cut-off a document enforces, if it is exactly a deny-older-sessions policy: one
/// statement denying every action on every resource to sessions issued before a time, and
/// nothing else. Anything else under the policy's name (anyone who can put a role policy can
/// plant one) enforces no cut-off Reflex can count on.
pub fn cut_off_in_force(document: &Value) -> Option<DateTime<Utc>> {
    let statements = match &document["Statement"] {
        Value::Array(items) => items.as_slice(),
        one @ Value::Object(_) => std::slice::from_ref(one),
        _ => return None,
    };
    let [statement] = statements else {
        return None;
    };
    let object = statement.as_object()?;
    let known = ["Sid", "Effect", "Action", "Resource", "Condition"];
    let everything = |v: &Value| v == "*" || *v == json!(["*"]);
    let condition = statement["Condition"].as_object()?;
    let less_than = condition.get("DateLessThan")?.as_object()?;
    let time = less_than.get("aws:TokenIssueTime")?;
    let only_that = object.keys().all(|k| known.contains(&k.as_str()))
        && statement["Effect"] == "Deny"
        && everything(&statement["Action"])
        && everything(&statement["Resource"])
        && condition.len() == 1
        && less_than.len() == 1;
    let time = match time {
        Value::String(t) => t.as_str(),
        Value::Array(items) if items.len() == 1 => items[0].as_str()?,
        _ => return None,
    };
    only_that.then(|| parse_time(time)).flatten()
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

/// Deny the role's sessions issued before the cut-off (`None`: now). A cut-off already in force
/// that is as late or later stays: a replayed or retried event never moves it backwards, and
/// the same incident sets the same one. An earlier one, from an earlier incident, moves forward.
async fn revoke_sessions(iam: &Client, role: &str, issued_before: Option<&str>) -> Step {
    let gone = || Outcome::already_done(format!("role {role} no longer exists"));
    let cut_off_text = issued_before
        .map(String::from)
        .unwrap_or_else(|| Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let Some(cut_off) = parse_time(&cut_off_text) else {
        return Err(Outcome::failed(
            format!("`{cut_off_text}` is not a time to cut sessions off at"),
            None,
        ));
    };
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
    let previous_json = previous
        .as_deref()
        .map(|p| policy_json(p).unwrap_or(json!(p)));
    let in_force = previous_json.as_ref().and_then(cut_off_in_force);
    if let Some(in_force) = in_force.filter(|t| *t >= cut_off) {
        return Ok(Outcome::already_done(format!(
            "role {role} already denies every session issued before {} (this incident's \
             cut-off: {cut_off_text})",
            in_force.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    iam.put_role_policy()
        .role_name(role)
        .policy_name(REVOKE_SESSIONS_POLICY)
        .policy_document(revoke_sessions_document(&cut_off_text).to_string())
        .send()
        .await
        .map_err(|e| fault("PutRolePolicy", &e).or_gone(gone))?;
    let changed = match (&previous_json, in_force) {
        (_, Some(earlier)) => format!(
            " (moved forward from {})",
            earlier.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        (Some(_), None) => {
            format!(" (replacing a {REVOKE_SESSIONS_POLICY} that was no deny of older sessions)")
        }
        (None, None) => String::new(),
    };
    // An earlier incident's cut-off stays in force: the undo puts it back as Reflex writes it.
    // Anything else that was under the name (anyone able to put a role policy could plant an
    // `Allow *`) is in the prior state, never put back by a pasted command.
    let undo = match in_force {
        Some(earlier) => restore_session_cutoff(role, earlier),
        None => lift_session_cutoff(role),
    };
    Ok(Outcome::done(
        format!("denied every session of role {role} issued before {cut_off_text}{changed}"),
        Some(json!({ "inline_policy": previous })),
        undo,
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

/// Undo of moving a role's cut-off forward: the earlier cut-off, as Reflex writes it.
pub fn restore_session_cutoff(role: &str, earlier: DateTime<Utc>) -> Undo {
    let earlier = earlier.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Undo::run(
        AwsCli::new("iam", "put-role-policy")
            .arg("--role-name", role)
            .arg("--policy-name", REVOKE_SESSIONS_POLICY)
            .json("--policy-document", &revoke_sessions_document(&earlier)),
    )
}

/// Undo of a first containment: the cut-off policy removed.
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
            Containment::of(&user, None),
            Some(Containment::DeactivateUserAccessKeys {
                user: "mallory".into()
            })
        );
        let role = caller(serde_json::json!({
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/ci-deployer/build-17"
        }));
        let at = parse_time("2026-11-20T10:00:00Z");
        let contained = Containment::of(&role, at).unwrap();
        assert_eq!(contained.resource(), Resource::Role("ci-deployer".into()));
        assert_eq!(
            serde_json::to_value(&contained).unwrap(),
            serde_json::json!({"type": "revoke-role-sessions", "role": "ci-deployer",
                "issued_before": "2026-11-20T10:00:01Z"})
        );
        let root = caller(serde_json::json!({
            "type": "Root", "arn": "arn:aws:iam::123456789012:root"
        }));
        assert_eq!(Containment::of(&root, at), None);
        assert!(Containment::out_of_reach(&root).contains("root user"));
    }

    #[test]
    fn an_identity_center_role_is_reported_not_contained_and_a_namesake_is_contained() {
        let session = |issuer: &str| {
            caller(serde_json::json!({
                "type": "AssumedRole", "accountId": "123456789012",
                "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b/jane",
                "sessionContext": {"sessionIssuer": {"type": "Role", "accountId": "123456789012",
                    "arn": issuer, "userName": "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b"}}
            }))
        };
        let sso = session(
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
        );
        assert_eq!(Containment::of(&sso, None), None);
        let why = Containment::out_of_reach(&sso);
        assert!(why.contains("IAM Identity Center"), "{why}");
        // The same name anywhere else is an ordinary role anyone could have named so.
        let namesake =
            session("arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b");
        assert!(matches!(
            Containment::of(&namesake, None),
            Some(Containment::RevokeRoleSessions { .. })
        ));
    }

    #[test]
    fn federated_users_and_aws_services_are_reported_with_what_to_do() {
        let federated = caller(serde_json::json!({
            "type": "FederatedUser", "accountId": "123456789012",
            "arn": "arn:aws:sts::123456789012:federated-user/contractor",
            "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "broker",
                "arn": "arn:aws:iam::123456789012:user/broker", "accountId": "123456789012"}}
        }));
        assert_eq!(Containment::of(&federated, None), None);
        let why = Containment::out_of_reach(&federated);
        assert!(
            why.contains("federated user") && why.contains("(broker)"),
            "{why}"
        );
        let service = caller(serde_json::json!({
            "type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"
        }));
        assert_eq!(Containment::of(&service, None), None);
        assert!(Containment::out_of_reach(&service).contains("AWS service"));
    }

    #[test]
    fn the_cut_off_is_the_second_after_the_call_whatever_its_fraction() {
        for at in ["2026-11-20T10:00:00Z", "2026-11-20T10:00:00.999Z"] {
            assert_eq!(
                cut_off_after(parse_time(at).unwrap()),
                "2026-11-20T10:00:01Z"
            );
        }
    }

    #[test]
    fn only_reflexs_exact_deny_counts_as_a_cut_off_in_force() {
        let ours = revoke_sessions_document("2026-11-20T10:00:01Z");
        assert_eq!(cut_off_in_force(&ours), parse_time("2026-11-20T10:00:01Z"));
        // As IAM returns it: URL-encoded.
        let encoded: String = percent_encoding::utf8_percent_encode(
            &ours.to_string(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        assert_eq!(policy_json(&encoded), Some(ours.clone()));
        let planted = |edit: fn(&mut Value)| {
            let mut doc = ours.clone();
            edit(&mut doc);
            cut_off_in_force(&doc)
        };
        // Planted under the name, harmless: none of them is a cut-off.
        assert_eq!(
            planted(|d| d["Statement"][0]["Effect"] = json!("Allow")),
            None
        );
        assert_eq!(
            planted(|d| d["Statement"][0]["Action"] = json!("s3:GetObject")),
            None
        );
        assert_eq!(
            planted(|d| d["Statement"][0]["Resource"] = json!("arn:aws:s3:::x")),
            None
        );
        assert_eq!(
            planted(|d| d["Statement"][0]["Condition"]["StringEquals"] =
                json!({"aws:username": "nobody"})),
            None
        );
        assert_eq!(
            planted(|d| d["Statement"][0]["NotAction"] = json!("iam:*")),
            None
        );
        assert_eq!(
            planted(|d| {
                let extra = d["Statement"][0].clone();
                d["Statement"].as_array_mut().unwrap().push(extra)
            }),
            None
        );
        assert_eq!(planted(|d| d["Statement"] = json!([])), None);
        // One statement given as an object is the same policy.
        assert!(planted(|d| d["Statement"] = d["Statement"][0].clone()).is_some());
    }
}
