//! The revoke rules: pure decisions from a trigger (plus looked-up facts) to findings. No AWS
//! call, no failure: what is unknown (a group whose policies could not be read) is no finding,
//! and the report's notes say what could not be read.

use reflex_shared::iam::contain_caller;
use reflex_shared::{Finding, Severity};

use crate::actions::{IamAction, Principal, is_aws_managed, policy_name};
use crate::facts::{Facts, GroupPolicies};
use crate::policy;
use crate::settings::Settings;
use crate::trigger::{Change, RoleTrust, Trigger};
use crate::trust::{self, Trusted};

pub const PRIVILEGED_POLICY_ATTACHED: &str = "revoke.privileged-policy-attached";
pub const ESCALATING_CUSTOMER_POLICY_ATTACHED: &str = "revoke.escalating-customer-policy-attached";
pub const ESCALATING_INLINE_POLICY: &str = "revoke.escalating-inline-policy";
pub const ESCALATING_POLICY_VERSION: &str = "revoke.escalating-policy-version";
pub const ACCESS_KEY_FOR_ANOTHER_USER: &str = "revoke.access-key-for-another-user";
pub const LOGIN_PROFILE_FOR_ANOTHER_USER: &str = "revoke.login-profile-for-another-user";
pub const PASSWORD_RESET_FOR_ANOTHER_USER: &str = "revoke.password-reset-for-another-user";
pub const ROLE_TRUST_OPENED: &str = "revoke.role-trust-opened";
pub const ADDED_TO_PRIVILEGED_GROUP: &str = "revoke.added-to-privileged-group";
pub const EXEMPTION_TAG: &str = "revoke.exemption-tag";
pub const CONTAIN_ACTOR: &str = "revoke.contain-actor";

pub const RULE_IDS: &[&str] = &[
    PRIVILEGED_POLICY_ATTACHED,
    ESCALATING_CUSTOMER_POLICY_ATTACHED,
    ESCALATING_INLINE_POLICY,
    ESCALATING_POLICY_VERSION,
    ACCESS_KEY_FOR_ANOTHER_USER,
    LOGIN_PROFILE_FOR_ANOTHER_USER,
    PASSWORD_RESET_FOR_ANOTHER_USER,
    ROLE_TRUST_OPENED,
    ADDED_TO_PRIVILEGED_GROUP,
    EXEMPTION_TAG,
    CONTAIN_ACTOR,
];

/// Every rule over one trigger.
pub fn decide(trigger: &Trigger, facts: &Facts, settings: &Settings) -> Vec<Finding<IamAction>> {
    let finding = match &trigger.change {
        Change::PolicyAttached { to, policy_arn } => {
            privileged_policy_attached(to, policy_arn, settings).or_else(|| {
                escalating_customer_policy_attached(
                    to,
                    policy_arn,
                    facts.attached_document.as_ref(),
                )
            })
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
        Change::PasswordReset { user } => Some(password_reset_for_another_user(trigger, user)),
        Change::TrustUpdated(trust) => role_trust_opened(trigger, trust, false, settings),
        // A role created with the exemption tag: the tag is refused; its trust is judged too
        // (the caller is contained only for an opened trust: the tag alone is no escalation).
        Change::RoleCreated { trust, exemption } => {
            let opened = role_trust_opened(trigger, trust, true, settings);
            let Some(value) = exemption else {
                return with_containment(trigger, opened.into_iter().collect(), settings);
            };
            let on = Principal::Role(trust.role.clone());
            let mut findings = vec![exemption_tag(trigger, &on, value, settings)];
            if let Some(opened) = opened {
                findings.push(opened);
                if settings.contain_actor {
                    findings.push(contain_actor(trigger));
                }
            }
            return findings;
        }
        Change::UserAddedToGroup { user, group } => facts
            .group_policies
            .as_ref()
            .and_then(|p| added_to_privileged_group(user, group, p, settings)),
        Change::ExemptionTagSet { on, value } => {
            return vec![exemption_tag(trigger, on, value, settings)];
        }
    };
    with_containment(trigger, finding.into_iter().collect(), settings)
}

/// The escalation findings, and the caller's containment after them when enabled.
fn with_containment(
    trigger: &Trigger,
    mut findings: Vec<Finding<IamAction>>,
    settings: &Settings,
) -> Vec<Finding<IamAction>> {
    if settings.contain_actor && !findings.is_empty() {
        findings.push(contain_actor(trigger));
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

/// A customer-managed policy whose default document escalates, attached. AWS's own policies
/// are judged by name (above); an unknown document is no finding (the notes say why).
fn escalating_customer_policy_attached(
    to: &crate::actions::Identity,
    policy_arn: &str,
    document: Option<&serde_json::Value>,
) -> Option<Finding<IamAction>> {
    if is_aws_managed(policy_arn) {
        return None;
    }
    let why = policy::escalation(document?)?;
    Some(Finding {
        rule_id: ESCALATING_CUSTOMER_POLICY_ATTACHED,
        severity: Severity::High,
        reason: format!(
            "customer-managed policy {} was attached to {to}, and its default version {why}",
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

/// Another user's console password reset: the caller knows it now. The login profile goes (a
/// password cannot be set back to one nobody knows); an administrator issues a new one.
fn password_reset_for_another_user(trigger: &Trigger, user: &str) -> Finding<IamAction> {
    Finding {
        rule_id: PASSWORD_RESET_FOR_ANOTHER_USER,
        severity: Severity::High,
        reason: format!(
            "{} reset the console password of another user, {user}, and knows the new one; \
             the login profile is deleted: an administrator must issue {user} a new password",
            trigger.actor.describe()
        ),
        actions: vec![IamAction::DeleteLoginProfile {
            user: user.to_string(),
        }],
    }
}

/// A role's trust opened to everyone, a foreign account or an identity provider without a
/// condition (see [`crate::trust`]). A role IAM Identity Center or a service owns cannot be
/// changed: reported, with no action.
fn role_trust_opened(
    trigger: &Trigger,
    trust: &RoleTrust,
    created: bool,
    settings: &Settings,
) -> Option<Finding<IamAction>> {
    let trusted = Trusted {
        own_account: &trust.account,
        accounts: &settings.trusted_accounts,
    };
    let judged = trust::judge(&trust.document, trusted);
    if !judged.is_open() {
        return None;
    }
    let role = &trust.role;
    let did = if created {
        format!("created role {role} with a trust policy open")
    } else {
        format!("opened the trust policy of role {role}")
    };
    // Always planned, whatever the role's name or path says: a role IAM protects (IAM Identity
    // Center's, a service's) is known only by IAM refusing the change, and then reported.
    Some(Finding {
        rule_id: ROLE_TRUST_OPENED,
        severity: Severity::High,
        reason: format!("{} {did} {}", trigger.actor.describe(), judged.describe()),
        actions: vec![IamAction::RestrictRoleTrust {
            role: role.clone(),
            own_account: trust.account.clone(),
            trusted_accounts: settings.trusted_accounts.clone(),
        }],
    })
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
    on: &Principal,
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

/// Containment of the caller who escalated, when enabled (or what a person must do for a caller
/// out of Reflex's reach).
fn contain_actor(trigger: &Trigger) -> Finding<IamAction> {
    contain_caller(
        CONTAIN_ACTOR,
        &trigger.actor,
        trigger.at,
        "escalated privileges",
        IamAction::Contain,
    )
}
