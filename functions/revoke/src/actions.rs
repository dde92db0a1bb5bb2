//! The IAM changes `revoke` knows how to make. Each is reversible and recorded.

use reflex_shared::iam::Containment;
use reflex_shared::{Action, Resource};
use serde::{Deserialize, Serialize};

/// An IAM identity a policy can be attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Identity {
    User(String),
    Group(String),
    Role(String),
}

impl Identity {
    pub fn name(&self) -> &str {
        match self {
            Identity::User(n) | Identity::Group(n) | Identity::Role(n) => n,
        }
    }

    /// `user`, `group` or `role`, as in the IAM API and CLI names.
    pub fn kind(&self) -> &'static str {
        match self {
            Identity::User(_) => "user",
            Identity::Group(_) => "group",
            Identity::Role(_) => "role",
        }
    }

    pub fn resource(&self) -> Resource {
        match self {
            Identity::User(n) => Resource::User(n.clone()),
            Identity::Group(n) => Resource::Group(n.clone()),
            Identity::Role(n) => Resource::Role(n.clone()),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind(), self.name())
    }
}

/// An IAM user or role: the identities that carry tags (an IAM group carries none), so the only
/// ones an exemption tag can be written on. Serialized as an [`Identity`] is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Principal {
    User(String),
    Role(String),
}

impl Principal {
    pub fn name(&self) -> &str {
        match self {
            Principal::User(n) | Principal::Role(n) => n,
        }
    }

    /// `user` or `role`, as in the IAM API and CLI names.
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::Role(_) => "role",
        }
    }

    pub fn resource(&self) -> Resource {
        match self {
            Principal::User(n) => Resource::User(n.clone()),
            Principal::Role(n) => Resource::Role(n.clone()),
        }
    }
}

impl From<Principal> for Identity {
    fn from(principal: Principal) -> Self {
        match principal {
            Principal::User(n) => Identity::User(n),
            Principal::Role(n) => Identity::Role(n),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind(), self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum IamAction {
    DetachManagedPolicy {
        from: Identity,
        policy_arn: String,
    },
    DeleteInlinePolicy {
        from: Identity,
        policy_name: String,
    },
    /// Make the newest non-escalating version the default again.
    RestorePolicyVersion {
        policy_arn: String,
        escalating_version: String,
    },
    DeactivateAccessKey {
        user: String,
        access_key_id: String,
    },
    DeleteLoginProfile {
        user: String,
    },
    RemoveUserFromGroup {
        user: String,
        group: String,
    },
    /// Remove the exemption tag `key` a caller not allowed to grant it set (to `value`).
    RemoveExemptionTag {
        from: Principal,
        key: String,
        value: String,
    },
    /// Remove from the role's current trust policy exactly what lets in principals outside
    /// `own_account` and `trusted_accounts` (see [`crate::trust`]).
    RestrictRoleTrust {
        role: String,
        own_account: String,
        trusted_accounts: Vec<String>,
    },
    /// Containment of the caller who escalated (the core's, shared with harden).
    #[serde(untagged)]
    Contain(Containment),
}

impl Action for IamAction {
    fn describe(&self) -> String {
        match self {
            IamAction::DetachManagedPolicy { from, policy_arn } => {
                format!("detach {} from {from}", policy_name(policy_arn))
            }
            IamAction::DeleteInlinePolicy { from, policy_name } => {
                format!("delete inline policy {policy_name} from {from}")
            }
            IamAction::RestorePolicyVersion {
                policy_arn,
                escalating_version,
            } => format!(
                "replace default version {escalating_version} of {} with the previous safe version",
                policy_name(policy_arn)
            ),
            IamAction::DeactivateAccessKey {
                user,
                access_key_id,
            } => format!("deactivate access key {access_key_id} of user {user}"),
            IamAction::DeleteLoginProfile { user } => {
                format!("delete the console login profile of user {user}")
            }
            IamAction::RemoveUserFromGroup { user, group } => {
                format!("remove user {user} from group {group}")
            }
            IamAction::RemoveExemptionTag { from, key, .. } => {
                format!("remove the exemption tag {key} from {from}")
            }
            IamAction::RestrictRoleTrust { role, .. } => format!(
                "remove from the trust policy of role {role} what lets in principals outside \
                 this account and the trusted ones"
            ),
            IamAction::Contain(containment) => containment.describe(),
        }
    }

    fn resource(&self) -> Resource {
        match self {
            IamAction::DetachManagedPolicy { from, .. }
            | IamAction::DeleteInlinePolicy { from, .. } => from.resource(),
            IamAction::RemoveExemptionTag { from, .. } => from.resource(),
            IamAction::RestorePolicyVersion { policy_arn, .. } => {
                Resource::Policy(policy_arn.clone())
            }
            IamAction::DeactivateAccessKey { user, .. }
            | IamAction::DeleteLoginProfile { user }
            | IamAction::RemoveUserFromGroup { user, .. } => Resource::User(user.clone()),
            IamAction::RestrictRoleTrust { role, .. } => Resource::Role(role.clone()),
            IamAction::Contain(containment) => containment.resource(),
        }
    }

    /// The resource carries the tag this action removes: see [`Action::lifts_exemption`].
    fn lifts_exemption(&self) -> bool {
        matches!(self, IamAction::RemoveExemptionTag { .. })
    }
}

/// Whether a managed policy is AWS's own (`arn:aws:iam::aws:policy/...`), not the account's.
pub fn is_aws_managed(policy_arn: &str) -> bool {
    policy_arn.split(':').nth(4) == Some("aws")
}

/// `AdministratorAccess` from `arn:aws:iam::aws:policy/AdministratorAccess`.
pub fn policy_name(policy_arn: &str) -> &str {
    policy_arn.rsplit('/').next().unwrap_or(policy_arn)
}
