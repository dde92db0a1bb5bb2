//! The revoke rules: pure functions from a CloudTrail IAM call (plus looked-up facts) to findings.
//! No AWS calls here; `facts.rs` reads what the rules need, `executor.rs` acts on their plans.

use reflex_shared::{ApiCall, EventError, Finding, Severity};
use serde_json::Value;

use crate::action::{IamAction, Identity, policy_name};
use crate::policy;

pub const PRIVILEGED_POLICY_ATTACHED: &str = "revoke.privileged-policy-attached";
pub const ESCALATING_INLINE_POLICY: &str = "revoke.escalating-inline-policy";
pub const ESCALATING_POLICY_VERSION: &str = "revoke.escalating-policy-version";
pub const ACCESS_KEY_FOR_ANOTHER_USER: &str = "revoke.access-key-for-another-user";
pub const LOGIN_PROFILE_FOR_ANOTHER_USER: &str = "revoke.login-profile-for-another-user";
pub const ADDED_TO_PRIVILEGED_GROUP: &str = "revoke.added-to-privileged-group";
pub const CONTAIN_ACTOR: &str = "revoke.contain-actor";

pub const RULE_IDS: &[&str] = &[
    PRIVILEGED_POLICY_ATTACHED,
    ESCALATING_INLINE_POLICY,
    ESCALATING_POLICY_VERSION,
    ACCESS_KEY_FOR_ANOTHER_USER,
    LOGIN_PROFILE_FOR_ANOTHER_USER,
    ADDED_TO_PRIVILEGED_GROUP,
    CONTAIN_ACTOR,
];

/// Managed policies that are privileged whatever the configuration adds.
pub const DEFAULT_PRIVILEGED_POLICIES: &[&str] = &["AdministratorAccess", "IAMFullAccess"];

/// The rules' settings.
#[derive(Debug, Clone)]
pub struct RuleSettings {
    /// Policy names (`PowerUserAccess`) or full ARNs, in addition to the defaults.
    pub privileged_policies: Vec<String>,
    /// Also contain the caller who escalated (off by default).
    pub contain_actor: bool,
}

impl Default for RuleSettings {
    fn default() -> Self {
        Self {
            privileged_policies: DEFAULT_PRIVILEGED_POLICIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            contain_actor: false,
        }
    }
}

impl RuleSettings {
    pub fn is_privileged(&self, policy_arn: &str) -> bool {
        self.privileged_policies.iter().any(|p| {
            if p.starts_with("arn:") {
                p == policy_arn
            } else {
                p.eq_ignore_ascii_case(policy_name(policy_arn))
            }
        })
    }
}

/// Facts the rules need beyond the event, read from IAM before deciding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// For `AddUserToGroup`: the group's policies.
    pub group_policies: Option<GroupPolicies>,
    /// For `SetDefaultPolicyVersion`: the document of the version made default.
    pub version_document: Option<Value>,
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

/// Every rule over one call. Errors only for a call missing a field a rule needs.
pub fn evaluate(
    call: &ApiCall,
    facts: &Facts,
    settings: &RuleSettings,
) -> Result<Vec<Finding<IamAction>>, EventError> {
    let finding = match call.event_name.as_str() {
        "AttachUserPolicy" | "AttachGroupPolicy" | "AttachRolePolicy" => {
            privileged_policy_attached(call, settings)?
        }
        "PutUserPolicy" | "PutGroupPolicy" | "PutRolePolicy" => escalating_inline_policy(call)?,
        "CreatePolicyVersion" | "SetDefaultPolicyVersion" => {
            escalating_policy_version(call, facts)?
        }
        "CreateAccessKey" => access_key_for_another_user(call)?,
        "CreateLoginProfile" => login_profile_for_another_user(call)?,
        "AddUserToGroup" => added_to_privileged_group(call, facts, settings)?,
        _ => None,
    };
    let mut findings: Vec<_> = finding.into_iter().collect();
    if settings.contain_actor && !findings.is_empty() {
        findings.extend(contain_actor(call));
    }
    Ok(findings)
}

/// The user, group or role an `Attach*Policy` / `Put*Policy` call names.
fn identity(call: &ApiCall) -> Result<Identity, EventError> {
    let name = &call.event_name;
    if name.contains("User") {
        Ok(Identity::User(
            call.require_request_str("userName")?.to_string(),
        ))
    } else if name.contains("Group") {
        Ok(Identity::Group(
            call.require_request_str("groupName")?.to_string(),
        ))
    } else {
        Ok(Identity::Role(
            call.require_request_str("roleName")?.to_string(),
        ))
    }
}

fn privileged_policy_attached(
    call: &ApiCall,
    settings: &RuleSettings,
) -> Result<Option<Finding<IamAction>>, EventError> {
    let from = identity(call)?;
    let policy_arn = call.require_request_str("policyArn")?;
    if !settings.is_privileged(policy_arn) {
        return Ok(None);
    }
    Ok(Some(Finding {
        rule_id: PRIVILEGED_POLICY_ATTACHED,
        severity: Severity::High,
        reason: format!(
            "privileged managed policy {} was attached to {from}",
            policy_name(policy_arn)
        ),
        actions: vec![IamAction::DetachManagedPolicy {
            from,
            policy_arn: policy_arn.to_string(),
        }],
    }))
}

/// The policy document in the request, or a clear error if it is absent or unreadable.
fn request_document(call: &ApiCall) -> Result<Value, EventError> {
    let raw = call
        .request_parameters
        .as_ref()
        .and_then(|p| p.get("policyDocument"))
        .ok_or_else(|| EventError::MissingField {
            field: format!(
                "detail.requestParameters.policyDocument (in {})",
                call.event_name
            ),
        })?;
    policy::parse_document(raw).ok_or_else(|| EventError::InvalidField {
        field: "detail.requestParameters.policyDocument".into(),
        reason: "not a JSON policy document".into(),
    })
}

fn escalating_inline_policy(call: &ApiCall) -> Result<Option<Finding<IamAction>>, EventError> {
    let from = identity(call)?;
    let policy_name = call.require_request_str("policyName")?.to_string();
    let document = request_document(call)?;
    Ok(policy::escalation(&document).map(|why| Finding {
        rule_id: ESCALATING_INLINE_POLICY,
        severity: Severity::High,
        reason: format!("inline policy {policy_name} put on {from} {why}"),
        actions: vec![IamAction::DeleteInlinePolicy { from, policy_name }],
    }))
}

fn escalating_policy_version(
    call: &ApiCall,
    facts: &Facts,
) -> Result<Option<Finding<IamAction>>, EventError> {
    let policy_arn = call.require_request_str("policyArn")?.to_string();
    let (version, document) = if call.event_name == "CreatePolicyVersion" {
        let document = request_document(call)?;
        // A new version that is not the default grants nothing yet.
        if call.request_bool("setAsDefault") != Some(true) {
            return Ok(None);
        }
        let version = call
            .response_str("/policyVersion/versionId")
            .ok_or_else(|| EventError::MissingField {
                field: "detail.responseElements.policyVersion.versionId (in CreatePolicyVersion)"
                    .into(),
            })?;
        (version.to_string(), Some(document))
    } else {
        let version = call.require_request_str("versionId")?.to_string();
        (version, facts.version_document.clone())
    };
    let Some(why) = document.as_ref().and_then(policy::escalation) else {
        return Ok(None);
    };
    Ok(Some(Finding {
        rule_id: ESCALATING_POLICY_VERSION,
        severity: Severity::High,
        reason: format!(
            "version {version} of managed policy {} became the default and {why}",
            policy_name(&policy_arn)
        ),
        actions: vec![IamAction::RestorePolicyVersion {
            policy_arn,
            escalating_version: version,
        }],
    }))
}

/// The user a credential was created for, when that is not the caller itself.
fn another_user(call: &ApiCall) -> Option<&str> {
    // Without `userName` the call acts on the caller's own user.
    let target = call.request_str("userName")?;
    let caller = call.user_identity.iam_user_name();
    (!caller.is_some_and(|c| c.eq_ignore_ascii_case(target))).then_some(target)
}

fn access_key_for_another_user(call: &ApiCall) -> Result<Option<Finding<IamAction>>, EventError> {
    let Some(user) = another_user(call) else {
        return Ok(None);
    };
    let key =
        call.response_str("/accessKey/accessKeyId")
            .ok_or_else(|| EventError::MissingField {
                field: "detail.responseElements.accessKey.accessKeyId (in CreateAccessKey)".into(),
            })?;
    Ok(Some(Finding {
        rule_id: ACCESS_KEY_FOR_ANOTHER_USER,
        severity: Severity::High,
        reason: format!(
            "{} created access key {key} for another user, {user}",
            call.user_identity.describe()
        ),
        actions: vec![IamAction::DeactivateAccessKey {
            user: user.to_string(),
            access_key_id: key.to_string(),
        }],
    }))
}

fn login_profile_for_another_user(
    call: &ApiCall,
) -> Result<Option<Finding<IamAction>>, EventError> {
    call.require_request_str("userName")?;
    let Some(user) = another_user(call) else {
        return Ok(None);
    };
    Ok(Some(Finding {
        rule_id: LOGIN_PROFILE_FOR_ANOTHER_USER,
        severity: Severity::High,
        reason: format!(
            "{} created a console password for another user, {user}",
            call.user_identity.describe()
        ),
        actions: vec![IamAction::DeleteLoginProfile {
            user: user.to_string(),
        }],
    }))
}

fn added_to_privileged_group(
    call: &ApiCall,
    facts: &Facts,
    settings: &RuleSettings,
) -> Result<Option<Finding<IamAction>>, EventError> {
    let group = call.require_request_str("groupName")?;
    let user = call.require_request_str("userName")?;
    let Some(policies) = &facts.group_policies else {
        return Ok(None);
    };
    let Some(why) = group_privilege(policies, settings) else {
        return Ok(None);
    };
    Ok(Some(Finding {
        rule_id: ADDED_TO_PRIVILEGED_GROUP,
        severity: Severity::High,
        reason: format!("user {user} was added to group {group}, which {why}"),
        actions: vec![IamAction::RemoveUserFromGroup {
            user: user.to_string(),
            group: group.to_string(),
        }],
    }))
}

/// Why a group is privileged: a privileged managed policy, or a policy document that escalates.
pub fn group_privilege(policies: &GroupPolicies, settings: &RuleSettings) -> Option<String> {
    for managed in &policies.managed {
        if settings.is_privileged(&managed.arn) {
            return Some(format!("holds {}", policy_name(&managed.arn)));
        }
        if let Some(why) = managed.document.as_ref().and_then(policy::escalation) {
            return Some(format!("holds {}, which {why}", policy_name(&managed.arn)));
        }
    }
    policies.inline.iter().find_map(|(name, doc)| {
        policy::escalation(doc).map(|why| format!("has inline policy {name}, which {why}"))
    })
}

/// Containment of the caller who escalated, when enabled.
pub fn contain_actor(call: &ApiCall) -> Option<Finding<IamAction>> {
    let actor = &call.user_identity;
    let action = if let Some(user) = actor.iam_user_name() {
        IamAction::DeactivateUserAccessKeys {
            user: user.to_string(),
        }
    } else {
        IamAction::RevokeRoleSessions {
            role: actor.role_name()?.to_string(),
        }
    };
    Some(Finding {
        rule_id: CONTAIN_ACTOR,
        severity: Severity::Critical,
        reason: format!(
            "{} escalated privileges; containing the caller",
            actor.describe()
        ),
        actions: vec![action],
    })
}
