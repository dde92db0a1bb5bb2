//! The revoke rules: pure decisions from a trigger (plus looked-up facts) to findings. No AWS
//! call, no failure: what is unknown (a group whose policies could not be read) is no finding,
//! and the report's notes say what could not be read.

use reflex_shared::iam::Containment;
use reflex_shared::{Finding, Severity};

use crate::actions::{IamAction, policy_name};
use crate::facts::{Facts, GroupPolicies};
use crate::policy;
use crate::settings::Settings;
use crate::trigger::{Change, Trigger};

pub const PRIVILEGED_POLICY_ATTACHED: &str = "revoke.privileged-policy-attached";
pub const ESCALATING_INLINE_POLICY: &str = "revoke.escalating-inline-policy";
pub const ESCALATING_POLICY_VERSION: &str = "revoke.escalating-policy-version";
pub const ACCESS_KEY_FOR_ANOTHER_USER: &str = "revoke.access-key-for-another-user";
pub const LOGIN_PROFILE_FOR_ANOTHER_USER: &str = "revoke.login-profile-for-another-user";
pub const ADDED_TO_PRIVILEGED_GROUP: &str = "revoke.added-to-privileged-group";
pub const EXEMPTION_TAG: &str = "revoke.exemption-tag";
pub const CONTAIN_ACTOR: &str = "revoke.contain-actor";

pub const RULE_IDS: &[&str] = &[
    PRIVILEGED_POLICY_ATTACHED,
    ESCALATING_INLINE_POLICY,
    ESCALATING_POLICY_VERSION,
    ACCESS_KEY_FOR_ANOTHER_USER,
    LOGIN_PROFILE_FOR_ANOTHER_USER,
    ADDED_TO_PRIVILEGED_GROUP,
    EXEMPTION_TAG,
    CONTAIN_ACTOR,
];

/// Every rule over one trigger.
pub fn decide(trigger: &Trigger, facts: &Facts, settings: &Settings) -> Vec<Finding<IamAction>> {
    let finding = match &trigger.change {
        Change::PolicyAttached { to, policy_arn } => {
            privileged_policy_attached(to, policy_arn, settings)
        }
        Change::InlinePolicyPut {
            on,
            policy_name,
            document,
        } => escalating_inline_policy(on, policy_name, document),
        Change::DefaultVersionCreated {
            policy_arn,
            version,
            document,
        } => escalating_policy_version(policy_arn, version, Some(document)),
        Change::DefaultVersionSet {
            policy_arn,
            version,
        } => escalating_policy_version(policy_arn, version, facts.version_document.as_ref()),
        Change::AccessKeyCreated {
            user,
            access_key_id,
        } => Some(access_key_for_another_user(trigger, user, access_key_id)),
        Change::LoginProfileCreated { user } => Some(login_profile_for_another_user(trigger, user)),
        Change::UserAddedToGroup { user, group } => facts
            .group_policies
            .as_ref()
            .and_then(|p| added_to_privileged_group(user, group, p, settings)),
        Change::ExemptionTagSet { on, value } => {
            return vec![exemption_tag(trigger, on, value, settings)];
        }
    };
    let mut findings: Vec<_> = finding.into_iter().collect();
    if settings.contain_actor && !findings.is_empty() {
        findings.extend(contain_actor(trigger));
    }
    findings
}

fn privileged_policy_attached(
    to: &crate::actions::Identity,
    policy_arn: &str,
    settings: &Settings,
) -> Option<Finding<IamAction>> {
    settings.is_privileged(policy_arn).then(|| Finding {
        rule_id: PRIVILEGED_POLICY_ATTACHED,
        severity: Severity::High,
        reason: format!(
            "privileged managed policy {} was attached to {to}",
            policy_name(policy_arn)
        ),
        actions: vec![IamAction::DetachManagedPolicy {
            from: to.clone(),
            policy_arn: policy_arn.to_string(),
        }],
    })
}

fn escalating_inline_policy(
    on: &crate::actions::Identity,
    policy_name: &str,
    document: &serde_json::Value,
) -> Option<Finding<IamAction>> {
    policy::escalation(document).map(|why| Finding {
        rule_id: ESCALATING_INLINE_POLICY,
        severity: Severity::High,
        reason: format!("inline policy {policy_name} put on {on} {why}"),
        actions: vec![IamAction::DeleteInlinePolicy {
            from: on.clone(),
            policy_name: policy_name.to_string(),
        }],
    })
}

/// A version made default whose document escalates; an unknown document is no finding.
fn escalating_policy_version(
    policy_arn: &str,
    version: &str,
    document: Option<&serde_json::Value>,
) -> Option<Finding<IamAction>> {
    let why = policy::escalation(document?)?;
    Some(Finding {
        rule_id: ESCALATING_POLICY_VERSION,
        severity: Severity::High,
        reason: format!(
            "version {version} of managed policy {} became the default and {why}",
            policy_name(policy_arn)
        ),
        actions: vec![IamAction::RestorePolicyVersion {
            policy_arn: policy_arn.to_string(),
            escalating_version: version.to_string(),
        }],
    })
}

fn access_key_for_another_user(trigger: &Trigger, user: &str, key: &str) -> Finding<IamAction> {
    Finding {
        rule_id: ACCESS_KEY_FOR_ANOTHER_USER,
        severity: Severity::High,
        reason: format!(
            "{} created access key {key} for another user, {user}",
            trigger.actor.describe()
        ),
        actions: vec![IamAction::DeactivateAccessKey {
            user: user.to_string(),
            access_key_id: key.to_string(),
        }],
    }
}

fn login_profile_for_another_user(trigger: &Trigger, user: &str) -> Finding<IamAction> {
    Finding {
        rule_id: LOGIN_PROFILE_FOR_ANOTHER_USER,
        severity: Severity::High,
        reason: format!(
            "{} created a console password for another user, {user}",
            trigger.actor.describe()
        ),
        actions: vec![IamAction::DeleteLoginProfile {
            user: user.to_string(),
        }],
    }
}

fn added_to_privileged_group(
    user: &str,
    group: &str,
    policies: &GroupPolicies,
    settings: &Settings,
) -> Option<Finding<IamAction>> {
    let why = group_privilege(policies, settings)?;
    Some(Finding {
        rule_id: ADDED_TO_PRIVILEGED_GROUP,
        severity: Severity::High,
        reason: format!("user {user} was added to group {group}, which {why}"),
        actions: vec![IamAction::RemoveUserFromGroup {
            user: user.to_string(),
            group: group.to_string(),
        }],
    })
}

/// The exemption tag written by a caller not exempt by ARN (those never get this far): removed,
/// and a person told. Not an escalation, so the caller is not contained: a colleague who tagged
/// a role by mistake loses only the tag.
fn exemption_tag(
    trigger: &Trigger,
    on: &crate::actions::Principal,
    value: &str,
    settings: &Settings,
) -> Finding<IamAction> {
    let key = &settings.exempt_tag.key;
    Finding {
        rule_id: EXEMPTION_TAG,
        severity: Severity::High,
        reason: format!(
            "{} set the exemption tag {key}={value} on {on}, which would make Reflex leave it \
             alone; only a principal exempt by configuration (REFLEX_EXEMPT_PRINCIPALS) may grant \
             an exemption",
            trigger.actor.describe()
        ),
        actions: vec![IamAction::RemoveExemptionTag {
            from: on.clone(),
            key: key.clone(),
            value: value.to_string(),
        }],
    }
}

/// Why a group is privileged: a privileged managed policy, or a policy document that escalates.
pub fn group_privilege(policies: &GroupPolicies, settings: &Settings) -> Option<String> {
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
fn contain_actor(trigger: &Trigger) -> Option<Finding<IamAction>> {
    let containment = Containment::of(&trigger.actor, trigger.at)?;
    Some(Finding {
        rule_id: CONTAIN_ACTOR,
        severity: Severity::Critical,
        reason: format!(
            "{} escalated privileges; containing the caller",
            trigger.actor.describe()
        ),
        actions: vec![IamAction::Contain(containment)],
    })
}
