//! Configuration shared by every function, read from the environment once at cold start.
//!
//! Values are read through a lookup function so tests can pass a map instead of mutating the
//! process environment. Every error names the variable.

use std::collections::BTreeMap;

use crate::error::ConfigError;
use crate::guard::{ExemptPrincipals, Guards, Mode};
use crate::identity::SelfIdentity;
use crate::ledger;
use crate::target::MemberRole;

pub const MODE: &str = "REFLEX_MODE";
pub const RULE_MODES: &str = "REFLEX_RULE_MODES";
pub const MAX_ACTIONS: &str = "REFLEX_MAX_ACTIONS";
pub const EXEMPT_PRINCIPALS: &str = "REFLEX_EXEMPT_PRINCIPALS";
pub const EXEMPT_TAG: &str = "REFLEX_EXEMPT_TAG";
pub const TOPIC_ARN: &str = "REFLEX_TOPIC_ARN";
pub const SELF_ARN: &str = "REFLEX_SELF_ARN";
/// The role to assume in a member account, `{account}` standing for its id (cross-account).
pub const MEMBER_ROLE_ARN: &str = "REFLEX_MEMBER_ROLE_ARN";

pub const DEFAULT_MAX_ACTIONS: usize = 10;
pub const DEFAULT_EXEMPT_TAG_KEY: &str = "reflex:exempt";

/// A tag that exempts the IAM user or role carrying it (value compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemptTag {
    pub key: String,
    pub value: String,
}

impl Default for ExemptTag {
    /// `reflex:exempt=true`.
    fn default() -> Self {
        Self {
            key: DEFAULT_EXEMPT_TAG_KEY.into(),
            value: "true".into(),
        }
    }
}

impl ExemptTag {
    pub fn matches(&self, key: &str, value: &str) -> bool {
        key == self.key && value.eq_ignore_ascii_case(&self.value)
    }
}

#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub default_mode: Mode,
    pub rule_modes: BTreeMap<String, Mode>,
    pub max_actions: usize,
    pub exempt_principals: ExemptPrincipals,
    pub exempt_tag: ExemptTag,
    pub topic_arn: Option<String>,
    /// When unset, Reflex asks STS who it is at cold start.
    pub self_arn: Option<String>,
    /// Events from other accounts are refused when unset.
    pub member_role: Option<MemberRole>,
    /// The ledger table; `None` turns duplicate protection off (local runs).
    pub ledger_table: Option<String>,
    pub ledger_ttl_days: i64,
    pub claim_timeout_seconds: i64,
}

/// A lookup over fixed pairs instead of the process environment (tests, local runs).
pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
    pairs: &[(K, V)],
) -> impl Fn(&str) -> Option<String> + use<K, V> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
        .collect();
    move |key: &str| map.get(key).cloned()
}

/// Reads one variable; blank counts as unset.
pub fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A comma-separated list; blank entries dropped.
pub fn list(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Vec<String> {
    var(env, name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// A whole number of at least 1, or the default when unset.
pub fn positive(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: i64,
) -> Result<i64, ConfigError> {
    match var(env, name) {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::new(
                name,
                format!("`{v}` is not a whole number of at least 1"),
            )),
        },
    }
}

/// A GuardDuty severity (0 to 10), or the default when unset.
pub fn guardduty_severity(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: f64,
) -> Result<f64, ConfigError> {
    match var(env, name) {
        None => Ok(default),
        Some(v) => match v.parse::<f64>() {
            Ok(s) if (0.0..=10.0).contains(&s) => Ok(s),
            _ => Err(ConfigError::new(
                name,
                format!("`{v}` is not a GuardDuty severity between 0 and 10"),
            )),
        },
    }
}

/// `true`/`false` (also 1/0, yes/no), or the default when unset.
pub fn flag(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match var(env, name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["false", "0", "no"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(ConfigError::new(
            name,
            format!("`{v}` is not true or false"),
        )),
    }
}

impl CoreConfig {
    /// `known_rules` are the function's rule ids; a mode for any other id is a typo, refused.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        known_rules: &[&str],
    ) -> Result<Self, ConfigError> {
        // Safe by default: a deployment acts only once someone has chosen `enforce`.
        let default_mode = match var(env, MODE) {
            None => Mode::DryRun,
            Some(v) => v.parse().map_err(|e: String| ConfigError::new(MODE, e))?,
        };

        let mut rule_modes = BTreeMap::new();
        for entry in list(env, RULE_MODES) {
            let (rule, mode) = entry.split_once('=').ok_or_else(|| {
                ConfigError::new(RULE_MODES, format!("`{entry}` is not rule-id=mode"))
            })?;
            let rule = rule.trim();
            if !known_rules.contains(&rule) {
                return Err(ConfigError::new(
                    RULE_MODES,
                    format!(
                        "unknown rule `{rule}`; known rules: {}",
                        known_rules.join(", ")
                    ),
                ));
            }
            let mode = mode
                .parse()
                .map_err(|e: String| ConfigError::new(RULE_MODES, format!("{rule}: {e}")))?;
            rule_modes.insert(rule.to_string(), mode);
        }

        let max_actions = match var(env, MAX_ACTIONS) {
            None => DEFAULT_MAX_ACTIONS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(ConfigError::new(
                        MAX_ACTIONS,
                        format!("`{v}` is not a whole number of at least 1"),
                    ));
                }
            },
        };

        let exempt_principals =
            ExemptPrincipals::new(EXEMPT_PRINCIPALS, &list(env, EXEMPT_PRINCIPALS))?;

        let exempt_tag = match var(env, EXEMPT_TAG) {
            None => ExemptTag::default(),
            Some(v) => {
                let (key, value) = v.split_once('=').unwrap_or((&v, "true"));
                if key.trim().is_empty() {
                    return Err(ConfigError::new(EXEMPT_TAG, "the tag key is empty"));
                }
                ExemptTag {
                    key: key.trim().into(),
                    value: value.trim().into(),
                }
            }
        };

        let topic_arn = var(env, TOPIC_ARN);
        if let Some(arn) = topic_arn
            .as_ref()
            .filter(|a| !a.starts_with("arn:") || !a.contains(":sns:"))
        {
            return Err(ConfigError::new(
                TOPIC_ARN,
                format!("`{arn}` is not an SNS topic ARN"),
            ));
        }

        let self_arn = var(env, SELF_ARN);
        if let Some(arn) = self_arn.as_ref().filter(|a| !a.starts_with("arn:")) {
            return Err(ConfigError::new(SELF_ARN, format!("`{arn}` is not an ARN")));
        }

        let member_role = var(env, MEMBER_ROLE_ARN)
            .map(|arn| MemberRole::parse(&arn).map_err(|e| ConfigError::new(MEMBER_ROLE_ARN, e)))
            .transpose()?;

        let ledger_table = var(env, ledger::TABLE);
        let ledger_ttl_days = positive(env, ledger::TTL_DAYS, ledger::DEFAULT_TTL_DAYS)?;
        let claim_timeout_seconds = positive(
            env,
            ledger::CLAIM_TIMEOUT,
            ledger::DEFAULT_CLAIM_TIMEOUT_SECONDS,
        )?;

        Ok(Self {
            ledger_table,
            ledger_ttl_days,
            claim_timeout_seconds,
            default_mode,
            rule_modes,
            max_actions,
            exempt_principals,
            exempt_tag,
            topic_arn,
            self_arn,
            member_role,
        })
    }

    /// The ledger client, when a table is configured.
    pub fn ledger(&self, sdk: &aws_config::SdkConfig) -> Option<ledger::Ledger> {
        self.ledger_table.as_ref().map(|table| {
            ledger::Ledger::new(
                aws_sdk_dynamodb::Client::new(sdk),
                table,
                self.ledger_ttl_days,
                self.claim_timeout_seconds,
            )
        })
    }

    pub fn guards(&self, self_identity: Option<SelfIdentity>) -> Guards {
        Guards {
            self_identity,
            member_role: self.member_role.as_ref().map(|r| r.name().to_string()),
            exempt: self.exempt_principals.clone(),
            default_mode: self.default_mode,
            rule_modes: self.rule_modes.clone(),
            max_actions: self.max_actions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        from_pairs(pairs)
    }

    const RULES: &[&str] = &["revoke.a", "revoke.b"];

    #[test]
    fn defaults_are_safe() {
        let c = CoreConfig::from_env(&env(&[]), RULES).unwrap();
        assert_eq!(c.default_mode, Mode::DryRun);
        assert_eq!(c.max_actions, DEFAULT_MAX_ACTIONS);
        assert_eq!(c.exempt_tag.key, "reflex:exempt");
        assert!(c.topic_arn.is_none());
    }

    #[test]
    fn reads_every_variable() {
        let c = CoreConfig::from_env(
            &env(&[
                (MODE, "enforce"),
                (RULE_MODES, "revoke.a=off, revoke.b=dry-run"),
                (MAX_ACTIONS, "3"),
                (
                    EXEMPT_PRINCIPALS,
                    "arn:aws:iam::*:role/break-glass, arn:aws:sts::*:assumed-role/admin/*",
                ),
                (EXEMPT_TAG, "security:exempt=yes"),
                (TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:reflex"),
            ]),
            RULES,
        )
        .unwrap();
        let g = c.guards(None);
        assert_eq!(g.mode_for("revoke.a"), Mode::Off);
        assert_eq!(g.mode_for("revoke.b"), Mode::DryRun);
        assert_eq!(g.mode_for("revoke.c"), Mode::Enforce);
        assert_eq!(c.max_actions, 3);
        assert!(c.exempt_tag.matches("security:exempt", "YES"));
        assert_eq!(
            c.exempt_principals
                .matching(&["arn:aws:sts::123456789012:assumed-role/admin/jane"]),
            Some("arn:aws:sts::*:assumed-role/admin/*")
        );
        assert_eq!(
            c.exempt_principals.matching(&["arn:aws:iam::1:role/other"]),
            None
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            (MODE, "sometimes"),
            (RULE_MODES, "revoke.zzz=off"),
            (RULE_MODES, "revoke.a"),
            (RULE_MODES, "revoke.a=maybe"),
            (MAX_ACTIONS, "0"),
            (MAX_ACTIONS, "ten"),
            (EXEMPT_PRINCIPALS, "arn:aws:iam::[:role/x"),
            (EXEMPT_TAG, "=true"),
            (TOPIC_ARN, "reflex-topic"),
            (SELF_ARN, "reflex"),
            (ledger::TTL_DAYS, "-1"),
            (ledger::CLAIM_TIMEOUT, "soon"),
        ];
        for (key, value) in cases {
            let err = CoreConfig::from_env(&env(&[(key, value)]), RULES).unwrap_err();
            assert_eq!(&err.variable, key, "{value}");
            assert!(err.to_string().contains(key), "{err}");
        }
        assert!(flag(&env(&[("X", "maybe")]), "X", false).is_err());
        assert!(flag(&env(&[("X", "TRUE")]), "X", false).unwrap());
    }
}
