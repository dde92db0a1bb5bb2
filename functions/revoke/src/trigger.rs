//! What revoke reads in a CloudTrail IAM call: the change it made, typed and validated once.
//! Pure: a missing or malformed field is an `EventError` here, before any AWS call, and
//! nothing after this parses the event again.

use chrono::{DateTime, Utc};
use reflex_shared::event::ApiCall;
use reflex_shared::exemption::ExemptTag;
use reflex_shared::identity::UserIdentity;
use reflex_shared::{Event, EventError, Interpreted};
use serde_json::Value;

use crate::actions::{Identity, Principal};
use crate::policy;

/// An IAM change revoke's rules judge, and who made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The caller: named in every reason, and what containment acts on.
    pub actor: UserIdentity,
    pub change: Change,
    /// When the call was made: containment cuts off the caller's sessions issued before it.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `Attach{User,Group,Role}Policy`.
    PolicyAttached { to: Identity, policy_arn: String },
    /// `Put{User,Group,Role}Policy`, with the document it put.
    InlinePolicyPut {
        on: Identity,
        policy_name: String,
        document: Value,
    },
    /// `CreatePolicyVersion` with set-as-default: the document is in the request.
    DefaultVersionCreated {
        policy_arn: String,
        version: String,
        document: Value,
    },
    /// `SetDefaultPolicyVersion`: the version's document is a fact to look up.
    DefaultVersionSet { policy_arn: String, version: String },
    /// `CreateAccessKey` for a user other than the caller.
    AccessKeyCreated { user: String, access_key_id: String },
    /// `CreateLoginProfile` for a user other than the caller.
    LoginProfileCreated { user: String },
    /// `UpdateLoginProfile` for a user other than the caller: their console password reset,
    /// and the caller knows the new one.
    PasswordReset { user: String },
    /// `UpdateAssumeRolePolicy`: a role's trust policy replaced.
    TrustUpdated(RoleTrust),
    /// `CreateRole`: a role and its trust policy, and the exemption tag's value when the call
    /// writes one that exempts (as written).
    RoleCreated {
        trust: RoleTrust,
        exemption: Option<String>,
    },
    /// `AddUserToGroup`: the group's policies are a fact to look up.
    UserAddedToGroup { user: String, group: String },
    /// `TagUser`, `TagRole`, `CreateUser` writing the exemption tag with a value
    /// that exempts (`value`, as written).
    ExemptionTagSet { on: Principal, value: String },
}

/// A role's trust policy as a call wrote it, and the account the role is in.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleTrust {
    pub role: String,
    pub document: Value,
    /// The event's account: the role's own, which its trust may always name.
    pub account: String,
}

/// The call as revoke's trigger, or why revoke has nothing to judge in it.
pub fn interpret(
    event: &Event,
    exempt_tag: &ExemptTag,
) -> Result<Interpreted<Trigger>, EventError> {
    let Some(call) = event.api_call() else {
        return Ok(Interpreted::Ignored("not an IAM API call".into()));
    };
    let change = match call.event_name.as_str() {
        "AttachUserPolicy" | "AttachGroupPolicy" | "AttachRolePolicy" => Change::PolicyAttached {
            to: identity(call)?,
            policy_arn: call.require_request_str("policyArn")?.to_string(),
        },
        "PutUserPolicy" | "PutGroupPolicy" | "PutRolePolicy" => Change::InlinePolicyPut {
            on: identity(call)?,
            policy_name: call.require_request_str("policyName")?.to_string(),
            document: request_document(call)?,
        },
        "CreatePolicyVersion" => {
            let policy_arn = call.require_request_str("policyArn")?.to_string();
            let document = request_document(call)?;
            if call.request_bool("setAsDefault") != Some(true) {
                return Ok(Interpreted::Ignored(format!(
                    "the new version of {policy_arn} is not the default: it grants nothing yet"
                )));
            }
            Change::DefaultVersionCreated {
                policy_arn,
                version: call
                    .require_response_str("/policyVersion/versionId")?
                    .to_string(),
                document,
            }
        }
        "SetDefaultPolicyVersion" => Change::DefaultVersionSet {
            policy_arn: call.require_request_str("policyArn")?.to_string(),
            version: call.require_request_str("versionId")?.to_string(),
        },
        "CreateAccessKey" => match another_user(call) {
            None => return Ok(Interpreted::Ignored(for_themselves(call, "an access key"))),
            Some(user) => Change::AccessKeyCreated {
                user: user.to_string(),
                access_key_id: call
                    .require_response_str("/accessKey/accessKeyId")?
                    .to_string(),
            },
        },
        // Without `userName` the caller gives itself a password: a valid call, not an
        // escalation over another user.
        "CreateLoginProfile" => match another_user(call) {
            None => {
                return Ok(Interpreted::Ignored(for_themselves(
                    call,
                    "a console password",
                )));
            }
            Some(user) => Change::LoginProfileCreated {
                user: user.to_string(),
            },
        },
        // Without `userName` the caller changes its own password.
        "UpdateLoginProfile" => match another_user(call) {
            None => {
                return Ok(Interpreted::Ignored(format!(
                    "{} changed their own console password, not another user's",
                    call.user_identity.describe()
                )));
            }
            Some(user) => Change::PasswordReset {
                user: user.to_string(),
            },
        },
        "UpdateAssumeRolePolicy" => {
            Change::TrustUpdated(role_trust(call, event, "policyDocument")?)
        }
        "CreateRole" => Change::RoleCreated {
            trust: role_trust(call, event, "assumeRolePolicyDocument")?,
            exemption: exempt_tag.written_in(call.request_parameters.as_ref()),
        },
        "TagUser" | "TagRole" | "CreateUser" => match exemption_tag_set(call, exempt_tag)? {
            Ok(change) => change,
            Err(why) => return Ok(Interpreted::Ignored(why)),
        },
        "AddUserToGroup" => Change::UserAddedToGroup {
            group: call.require_request_str("groupName")?.to_string(),
            user: call.require_request_str("userName")?.to_string(),
        },
        other => {
            return Ok(Interpreted::Ignored(format!(
                "revoke has no rule for iam:{other}"
            )));
        }
    };
    Ok(Interpreted::Trigger(Trigger {
        actor: call.user_identity.clone(),
        change,
        at: reflex_shared::iam::incident_time(event),
    }))
}

/// The user, group or role an `Attach*Policy` / `Put*Policy` call names.
fn identity(call: &ApiCall) -> Result<Identity, EventError> {
    if call.event_name.contains("Group") {
        let group = call.require_request_str("groupName")?;
        return Ok(Identity::Group(group.to_string()));
    }
    principal(call).map(Identity::from)
}

/// The user or role a `*User*` / `*Role*` call names (`AttachRolePolicy`, `TagUser`,
/// `CreateRole`, ...): the one place that tells them apart by the call's name.
fn principal(call: &ApiCall) -> Result<Principal, EventError> {
    let named = |key| call.require_request_str(key).map(String::from);
    if call.event_name.contains("User") {
        Ok(Principal::User(named("userName")?))
    } else {
        Ok(Principal::Role(named("roleName")?))
    }
}

/// The exemption tag written on a user or role, or why the call writes none. `Tag*` must name
/// its tags (a record without them is malformed); `Create*` may have none. Every call must name
/// its user or role.
fn exemption_tag_set(
    call: &ApiCall,
    exempt_tag: &ExemptTag,
) -> Result<Result<Change, String>, EventError> {
    let name = call.event_name.as_str();
    let on = principal(call)?;
    let tags = call.request_parameters.as_ref().and_then(|p| p.get("tags"));
    if name.starts_with("Tag") && !tags.is_some_and(serde_json::Value::is_array) {
        return Err(match tags {
            None => EventError::missing(format!("detail.requestParameters.tags (in {name})")),
            Some(_) => EventError::invalid("detail.requestParameters.tags", "not a list of tags"),
        });
    }
    Ok(
        match exempt_tag.written_in(call.request_parameters.as_ref()) {
            Some(value) => Ok(Change::ExemptionTagSet { on, value }),
            // The key only: the value that exempts is what a tagger would need to know, and this
            // note goes to logs and reports.
            None => Err(format!(
                "iam:{name} on {on} sets no exemption tag ({})",
                exempt_tag.key
            )),
        },
    )
}

/// The policy document in the request, or a clear error if it is absent or unreadable.
fn request_document(call: &ApiCall) -> Result<Value, EventError> {
    document_at(call, "policyDocument")
}

/// The policy document in request parameter `key`, or a clear error.
fn document_at(call: &ApiCall, key: &str) -> Result<Value, EventError> {
    let raw = call
        .request_parameters
        .as_ref()
        .and_then(|p| p.get(key))
        .ok_or_else(|| {
            EventError::missing(format!(
                "detail.requestParameters.{key} (in {})",
                call.event_name
            ))
        })?;
    policy::parse_document(raw).ok_or_else(|| {
        EventError::invalid(
            format!("detail.requestParameters.{key}"),
            "not a JSON policy document",
        )
    })
}

/// The role and trust policy an `UpdateAssumeRolePolicy` or `CreateRole` call wrote.
fn role_trust(call: &ApiCall, event: &Event, key: &str) -> Result<RoleTrust, EventError> {
    Ok(RoleTrust {
        role: call.require_request_str("roleName")?.to_string(),
        document: document_at(call, key)?,
        account: event.place().0.to_string(),
    })
}

/// The user a credential was created for, when that is not the caller itself.
fn another_user(call: &ApiCall) -> Option<&str> {
    // Without `userName` the call acts on the caller's own user.
    let target = call.request_str("userName")?;
    let caller = call.user_identity.iam_user_name();
    (!caller.is_some_and(|c| c.eq_ignore_ascii_case(target))).then_some(target)
}

fn for_themselves(call: &ApiCall, what: &str) -> String {
    format!(
        "{} created {what} for themselves, not for another user",
        call.user_identity.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex_testkit::sample;
    use serde_json::json;

    fn interpret_raw(raw: Value) -> Result<Interpreted<Trigger>, EventError> {
        let event = reflex_shared::event::parse(raw).unwrap();
        interpret(&event, &ExemptTag::default())
    }

    fn change(file: &str) -> Change {
        match interpret_raw(sample(file)) {
            Ok(Interpreted::Trigger(t)) => t.change,
            other => panic!("{file}: {other:?}"),
        }
    }

    fn ignored(raw: Value) -> String {
        match interpret_raw(raw) {
            Ok(Interpreted::Ignored(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    /// Both shapes of a credential for oneself: without `userName` (as CloudTrail records a
    /// call on the caller's own user) and with the caller's own name. Ignored, never an error.
    #[test]
    fn a_login_profile_for_oneself_is_ignored_in_both_shapes() {
        let nameless = sample("revoke/create-login-profile-for-self.json");
        assert_eq!(
            nameless["detail"]["requestParameters"].get("userName"),
            None,
            "the sample is recorded as CloudTrail records a call on oneself"
        );
        let mut own_name = nameless.clone();
        own_name["detail"]["requestParameters"]["userName"] = json!("Mallory");
        for raw in [nameless, own_name] {
            assert!(ignored(raw).contains("for themselves"));
        }
        assert_eq!(
            change("revoke/create-login-profile-for-another-user.json"),
            Change::LoginProfileCreated {
                user: "alice".into()
            }
        );
    }

    #[test]
    fn a_password_reset_is_judged_only_for_another_user() {
        assert_eq!(
            change("revoke/update-login-profile-for-another-user.json"),
            Change::PasswordReset {
                user: "alice".into()
            }
        );
        let own = sample("revoke/update-login-profile-for-self.json");
        assert_eq!(own["detail"]["requestParameters"].get("userName"), None);
        assert!(ignored(own.clone()).contains("their own console password"));
        let mut named = own;
        named["detail"]["requestParameters"]["userName"] = json!("mallory");
        assert!(ignored(named).contains("their own console password"));
    }

    #[test]
    fn trust_policies_are_read_with_the_role_and_the_events_account() {
        let Change::TrustUpdated(trust) =
            change("revoke/update-assume-role-policy-to-everyone.json")
        else {
            panic!("a trust update");
        };
        assert_eq!(trust.role, "app-role");
        assert_eq!(trust.account, "123456789012");
        assert_eq!(trust.document["Statement"][1]["Principal"]["AWS"], "*");
        let Change::RoleCreated { trust, exemption } =
            change("revoke/create-role-open-to-everyone.json")
        else {
            panic!("a role created");
        };
        assert_eq!(trust.role, "partner-access");
        assert_eq!(exemption, None);
        assert!(matches!(
            change("revoke/create-role-with-exempt-tag.json"),
            Change::RoleCreated { exemption: Some(v), .. } if v == "true"
        ));
        // Missing or unreadable: a clear error, before anything happens.
        for (key, value, says) in [
            ("policyDocument", None, "MissingField"),
            ("policyDocument", Some(json!("{not json")), "InvalidField"),
            ("roleName", None, "MissingField"),
        ] {
            let mut raw = sample("revoke/update-assume-role-policy-to-everyone.json");
            let params = raw["detail"]["requestParameters"].as_object_mut().unwrap();
            match value {
                Some(v) => drop(params.insert(key.into(), v)),
                None => drop(params.remove(key)),
            }
            let err = interpret_raw(raw).unwrap_err();
            assert_eq!(err.error_type(), says, "{key}: {err}");
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
