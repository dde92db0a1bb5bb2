//! Taking back a containment (the core's, shared by revoke and harden): the access keys it
//! deactivated active again; the sessions cut-off it set lifted, or the earlier one it moved
//! forward put back. Only what the containment itself did is taken back: a key deleted since,
//! or a cut-off a later incident moved, is left as it is and said.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::StatusType;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Irreversible, prior, reversed};
use crate::aws::Fault;
use crate::event::alarm::parse_time;
use crate::iam::{
    Containment, REVOKE_SESSIONS_POLICY, cut_off_in_force, fault, policy_json,
    revoke_sessions_document,
};
use crate::outcome::{Outcome, Step, settle};
use crate::report::ActionReport;

/// The reversal of a containment, or of deactivating one access key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ContainmentReversal {
    /// The keys the containment deactivated, active again.
    ReactivateAccessKeys {
        user: String,
        access_key_ids: Vec<String>,
    },
    /// The cut-off policy the containment put on the role removed. `cut_off`: the one it set
    /// (`None`: set at the time it ran, unrecorded: any cut-off of Reflex's shape is lifted).
    LiftSessionCutOff {
        role: String,
        cut_off: Option<String>,
    },
    /// The earlier incident's cut-off, which the containment moved forward, put back.
    RestoreSessionCutOff {
        role: String,
        earlier: String,
        cut_off: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeactivatedKeys {
    active_access_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorCutOff {
    inline_policy: Option<String>,
}

/// An access key id as IAM issues them (`AKIA...`): upper-case letters and digits.
fn is_access_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The reversal of deactivating access keys of `user`, from the keys the step recorded.
pub fn reactivation(user: &str, step: &ActionReport) -> Result<ContainmentReversal, Irreversible> {
    let recorded: DeactivatedKeys = prior(step)?;
    if recorded.active_access_keys.is_empty() {
        return Err(Irreversible::new(format!(
            "step `{}` recorded no access key it deactivated",
            step.step
        )));
    }
    if let Some(bad) = recorded
        .active_access_keys
        .iter()
        .find(|id| !is_access_key_id(id))
    {
        return Err(Irreversible::new(format!(
            "step `{}` recorded `{bad}`, which is not an access key id",
            step.step
        )));
    }
    Ok(ContainmentReversal::ReactivateAccessKeys {
        user: user.to_string(),
        access_key_ids: recorded.active_access_keys,
    })
}

/// The reversal of a containment step.
pub fn reversal(
    containment: &Containment,
    step: &ActionReport,
) -> Result<ContainmentReversal, Irreversible> {
    match containment {
        Containment::DeactivateUserAccessKeys { user } => reactivation(user, step),
        Containment::RevokeRoleSessions {
            role,
            issued_before,
        } => {
            let recorded: PriorCutOff = prior(step)?;
            if let Some(t) = issued_before
                && parse_time(t).is_none()
            {
                return Err(Irreversible::new(format!(
                    "step `{}` recorded `{t}`, which is not a time",
                    step.step
                )));
            }
            let cut_off = issued_before.clone();
            // Only an earlier cut-off of Reflex's exact shape is put back; anything else that
            // was under the policy's name (anyone able to put a role policy could plant an
            // `Allow *` there) is not.
            let earlier = recorded
                .inline_policy
                .as_deref()
                .and_then(policy_json)
                .as_ref()
                .and_then(cut_off_in_force);
            Ok(match earlier {
                Some(earlier) => ContainmentReversal::RestoreSessionCutOff {
                    role: role.clone(),
                    earlier: seconds(earlier),
                    cut_off,
                },
                None => ContainmentReversal::LiftSessionCutOff {
                    role: role.clone(),
                    cut_off,
                },
            })
        }
    }
}

fn seconds(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn describe(reversal: &ContainmentReversal) -> String {
    match reversal {
        ContainmentReversal::ReactivateAccessKeys {
            user,
            access_key_ids,
        } => format!(
            "make access key(s) {} of user {user} active again",
            access_key_ids.join(", ")
        ),
        ContainmentReversal::LiftSessionCutOff { role, .. } => format!(
            "lift the cut-off on the sessions of role {role} (delete its inline policy \
             {REVOKE_SESSIONS_POLICY})"
        ),
        ContainmentReversal::RestoreSessionCutOff { role, earlier, .. } => format!(
            "put back the earlier cut-off on the sessions of role {role}: sessions issued before \
             {earlier} denied"
        ),
    }
}

pub async fn reverse(iam: &Client, reversal: &ContainmentReversal) -> Outcome {
    settle(match reversal {
        ContainmentReversal::ReactivateAccessKeys {
            user,
            access_key_ids,
        } => reactivate(iam, user, access_key_ids).await,
        ContainmentReversal::LiftSessionCutOff { role, cut_off } => {
            back_to(iam, role, cut_off.as_deref(), None).await
        }
        ContainmentReversal::RestoreSessionCutOff {
            role,
            earlier,
            cut_off,
        } => back_to(iam, role, cut_off.as_deref(), Some(earlier)).await,
    })
}

async fn reactivate(iam: &Client, user: &str, ids: &[String]) -> Step {
    let gone = || {
        Outcome::failed(
            format!("user {user} no longer exists: its keys cannot be reactivated"),
            Some(crate::iam::NO_SUCH_ENTITY.into()),
        )
    };
    let keys = iam
        .list_access_keys()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| fault("ListAccessKeys", &e).or_gone(gone))?;
    let status = |id: &str| {
        keys.iter()
            .find(|k| k.access_key_id.as_deref() == Some(id))
            .and_then(|k| k.status.clone())
    };
    let mut activated = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        match status(id) {
            None => missing.push(id.as_str()),
            Some(StatusType::Active) => {}
            Some(_) => {
                iam.update_access_key()
                    .user_name(user)
                    .access_key_id(id)
                    .status(StatusType::Active)
                    .send()
                    .await
                    .map_err(|e| fault("UpdateAccessKey", &e).or_gone(gone))?;
                activated.push(id.as_str());
            }
        }
    }
    let missing_note = match missing.as_slice() {
        [] => String::new(),
        ids => format!(" (deleted since, so not reactivated: {})", ids.join(", ")),
    };
    if activated.is_empty() {
        if missing.len() == ids.len() {
            return Err(Outcome::failed(
                format!(
                    "user {user}: access key(s) {} no longer exist",
                    missing.join(", ")
                ),
                None,
            ));
        }
        return Ok(Outcome::already_done(format!(
            "user {user}: the access key(s) are active{missing_note}"
        )));
    }
    Ok(reversed(format!(
        "made access key(s) {} of user {user} active again{missing_note}",
        activated.join(", ")
    )))
}

/// The role's cut-off back to `earlier` (`None`: no cut-off), provided the one in force is
/// still the containment's own (`cut_off`): a later incident's is not taken back with it.
async fn back_to(
    iam: &Client,
    role: &str,
    cut_off: Option<&str>,
    earlier: Option<&String>,
) -> Step {
    let gone = || {
        Outcome::failed(
            format!("role {role} no longer exists"),
            Some(crate::iam::NO_SUCH_ENTITY.into()),
        )
    };
    let current = match iam
        .get_role_policy()
        .role_name(role)
        .policy_name(REVOKE_SESSIONS_POLICY)
        .send()
        .await
    {
        Ok(found) => Some(found.policy_document),
        Err(e) => match fault("GetRolePolicy", &e) {
            // The role's policy is gone (or the role, which the write below finds out).
            Fault::Gone => None,
            Fault::Failed(outcome) => return Err(outcome),
        },
    };
    let in_force = current
        .as_deref()
        .map(|text| policy_json(text).unwrap_or(Value::Null))
        .map(|doc| cut_off_in_force(&doc));
    let wanted = earlier.and_then(|t| parse_time(t));
    match in_force {
        None if earlier.is_none() => {
            return Ok(Outcome::already_done(format!(
                "role {role} has no cut-off on its sessions"
            )));
        }
        Some(None) => {
            return Err(Outcome::failed(
                format!(
                    "role {role} has an inline policy {REVOKE_SESSIONS_POLICY} that is not \
                     Reflex's cut-off: left as it is, a person must review it"
                ),
                None,
            ));
        }
        Some(Some(now)) if Some(now) == wanted => {
            return Ok(Outcome::already_done(format!(
                "role {role} denies sessions issued before {}, as before the containment",
                seconds(now)
            )));
        }
        Some(Some(now)) => {
            let ours = cut_off.and_then(parse_time);
            if cut_off.is_some() && Some(now) != ours {
                return Err(Outcome::failed(
                    format!(
                        "the cut-off on the sessions of role {role} is now {}, not the {} this \
                         containment set: a later containment moved it, left as it is",
                        seconds(now),
                        cut_off.unwrap_or_default()
                    ),
                    None,
                ));
            }
        }
        None => {}
    }
    match earlier {
        None => {
            iam.delete_role_policy()
                .role_name(role)
                .policy_name(REVOKE_SESSIONS_POLICY)
                .send()
                .await
                .map_err(|e| fault("DeleteRolePolicy", &e).or_gone(gone))?;
            Ok(reversed(format!(
                "lifted the cut-off on the sessions of role {role}"
            )))
        }
        Some(earlier) => {
            iam.put_role_policy()
                .role_name(role)
                .policy_name(REVOKE_SESSIONS_POLICY)
                .policy_document(revoke_sessions_document(earlier).to_string())
                .send()
                .await
                .map_err(|e| fault("PutRolePolicy", &e).or_gone(gone))?;
            Ok(reversed(format!(
                "put back the earlier cut-off on the sessions of role {role}: sessions issued \
                 before {earlier} denied"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::undo::Undo;
    use serde_json::json;

    fn step(prior: Value) -> ActionReport {
        ActionReport {
            step: "contain".into(),
            description: "contain".into(),
            action: json!({}),
            outcome: Outcome::done("d", Some(prior), Undo::none("test")),
        }
    }

    #[test]
    fn keys_are_reactivated_only_when_the_record_holds_access_key_ids() {
        let user = Containment::DeactivateUserAccessKeys {
            user: "mallory".into(),
        };
        assert_eq!(
            reversal(
                &user,
                &step(json!({"active_access_keys": ["AKIAEXAMPLE12345678"]}))
            ),
            Ok(ContainmentReversal::ReactivateAccessKeys {
                user: "mallory".into(),
                access_key_ids: vec!["AKIAEXAMPLE12345678".into()]
            })
        );
        for bad in [
            json!({"active_access_keys": ["AKIA; rm -rf /"]}),
            json!({"active_access_keys": []}),
            json!({"keys": ["AKIAEXAMPLE12345678"]}),
        ] {
            assert!(reversal(&user, &step(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_earlier_cut_off_is_put_back_and_anything_planted_is_not() {
        let role = Containment::RevokeRoleSessions {
            role: "ci".into(),
            issued_before: Some("2026-11-20T10:00:01Z".into()),
        };
        let first = reversal(&role, &step(json!({"inline_policy": null}))).unwrap();
        assert!(matches!(
            first,
            ContainmentReversal::LiftSessionCutOff { .. }
        ));
        let earlier = revoke_sessions_document("2026-11-01T00:00:00Z").to_string();
        let moved = reversal(&role, &step(json!({ "inline_policy": earlier }))).unwrap();
        assert_eq!(
            moved,
            ContainmentReversal::RestoreSessionCutOff {
                role: "ci".into(),
                earlier: "2026-11-01T00:00:00Z".into(),
                cut_off: Some("2026-11-20T10:00:01Z".into())
            }
        );
        let planted = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let lifted = reversal(
            &role,
            &step(json!({ "inline_policy": planted.to_string() })),
        );
        assert!(matches!(
            lifted,
            Ok(ContainmentReversal::LiftSessionCutOff { .. })
        ));
    }
}
