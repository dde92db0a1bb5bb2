//! Revoke's settings: which managed policies count as privileged, which other accounts a role
//! may trust, whether to contain the caller who escalated, and the exemption tag whose writes
//! revoke refuses.

use reflex_shared::ConfigError;
use reflex_shared::config::{self, Env};
use reflex_shared::exemption::ExemptTag;
use reflex_shared::identity::is_account_id;

use crate::actions::policy_name;

/// Extra privileged managed policies (names or ARNs), comma-separated.
pub const PRIVILEGED_POLICIES: &str = "REFLEX_PRIVILEGED_POLICIES";
/// Accounts other than its own a role may trust (12-digit ids), comma-separated.
pub const TRUSTED_ACCOUNTS: &str = "REFLEX_TRUSTED_ACCOUNTS";
pub use reflex_shared::config::CONTAIN_ACTOR;

/// Managed policies that are privileged whatever the configuration adds.
pub const DEFAULT_PRIVILEGED_POLICIES: &[&str] = &["AdministratorAccess", "IAMFullAccess"];

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Policy names (`PowerUserAccess`) or full ARNs, in addition to the defaults.
    pub privileged_policies: Vec<String>,
    /// Accounts, besides the role's own, that a role's trust policy may name without a finding
    /// (a partner, the organization's security account).
    pub trusted_accounts: Vec<String>,
    /// Also contain the caller who escalated (off by default).
    pub contain_actor: bool,
    /// The core's exemption tag (`REFLEX_EXEMPT_TAG`): a write of it by a caller not exempt by
    /// ARN is refused.
    pub exempt_tag: ExemptTag,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            privileged_policies: DEFAULT_PRIVILEGED_POLICIES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            trusted_accounts: Vec::new(),
            contain_actor: false,
            exempt_tag: ExemptTag::default(),
        }
    }
}

impl Settings {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut settings = Settings::default();
        for p in config::list(env, PRIVILEGED_POLICIES) {
            if p.starts_with("arn:") && !p.contains(":policy/") {
                return Err(ConfigError::new(
                    PRIVILEGED_POLICIES,
                    format!("`{p}` is not a policy ARN"),
                ));
            }
            settings.privileged_policies.push(p);
        }
        for account in config::list(env, TRUSTED_ACCOUNTS) {
            if !is_account_id(&account) && !is_organization_id(&account) {
                return Err(ConfigError::new(
                    TRUSTED_ACCOUNTS,
                    format!(
                        "`{account}` is neither a 12-digit AWS account id nor an organization id \
                         (o-...)"
                    ),
                ));
            }
            settings.trusted_accounts.push(account);
        }
        settings.contain_actor = config::flag(env, CONTAIN_ACTOR, false)?;
        settings.exempt_tag = ExemptTag::from_env(env)?;
        Ok(settings)
    }

    /// Whether a managed policy is privileged: by ARN, or by name for names configured bare.
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

/// An AWS Organizations id as IAM conditions name it: `o-` and 10 to 32 lowercase letters or
/// digits.
pub fn is_organization_id(text: &str) -> bool {
    text.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex_shared::config::from_pairs;

    #[test]
    fn defaults_and_every_variable() {
        let s = Settings::from_env(&from_pairs::<&str, &str>(&[])).unwrap();
        assert_eq!(s, Settings::default());
        assert!(s.is_privileged("arn:aws:iam::aws:policy/AdministratorAccess"));
        assert!(!s.is_privileged("arn:aws:iam::aws:policy/ReadOnlyAccess"));
        let s = Settings::from_env(&from_pairs(&[
            (
                PRIVILEGED_POLICIES,
                "PowerUserAccess, arn:aws:iam::123456789012:policy/ops",
            ),
            (CONTAIN_ACTOR, "true"),
            (TRUSTED_ACCOUNTS, "210987654321, 111122223333"),
            (config::EXEMPT_TAG, "security:skip=Yes"),
        ]))
        .unwrap();
        assert!(s.exempt_tag.matches("security:skip", "yes"));
        assert!(s.is_privileged("arn:aws:iam::aws:policy/PowerUserAccess"));
        assert!(s.is_privileged("arn:aws:iam::123456789012:policy/ops"));
        assert!(!s.is_privileged("arn:aws:iam::999999999999:policy/ops"));
        assert!(s.contain_actor);
        assert_eq!(s.trusted_accounts, ["210987654321", "111122223333"]);
        let with_org =
            Settings::from_env(&from_pairs(&[(TRUSTED_ACCOUNTS, "o-a1b2c3d4e5")])).unwrap();
        assert_eq!(with_org.trusted_accounts, ["o-a1b2c3d4e5"]);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            (PRIVILEGED_POLICIES, "arn:aws:iam::aws:role/Admin"),
            (CONTAIN_ACTOR, "sometimes"),
            (TRUSTED_ACCOUNTS, "210987654321,partner"),
            (TRUSTED_ACCOUNTS, "arn:aws:iam::210987654321:root"),
            (TRUSTED_ACCOUNTS, "21098765432"),
        ] {
            let err = Settings::from_env(&from_pairs(&[(k, v)])).unwrap_err();
            assert_eq!(err.variable, k, "{v}");
        }
    }
}
