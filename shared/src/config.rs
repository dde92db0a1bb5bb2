//! Configuration, read from the environment once at cold start: the settings every function
//! shares ([`CoreConfig`]) and the parsers each function's own settings use, so a number, a
//! tag or a name pattern is read (and refused) the same way everywhere. Every error names the
//! variable.
//!
//! Values are read through a lookup function ([`Env`]) so tests can pass a map instead of
//! mutating the process environment.

use std::collections::BTreeMap;

use crate::error::ConfigError;
use crate::exemption::{ExemptPrincipals, ExemptTag};
use crate::guard::{Guards, Mode};
use crate::identity::{SelfIdentity, is_account_id};
use crate::ledger;
use crate::pipeline::rate::{self, RateLimit};
use crate::target::{self, MemberRole};

/// How configuration is looked up: the process environment in Lambda, a map in tests.
pub type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

pub const MODE: &str = "REFLEX_MODE";
pub const RULE_MODES: &str = "REFLEX_RULE_MODES";
pub const MAX_ACTIONS: &str = "REFLEX_MAX_ACTIONS";
/// The rate limit: enforced actions per function and account in each clock hour.
pub const MAX_ACTIONS_PER_HOUR: &str = rate::MAX_ACTIONS_PER_HOUR;
pub const EXEMPT_PRINCIPALS: &str = "REFLEX_EXEMPT_PRINCIPALS";
pub const EXEMPT_TAG: &str = "REFLEX_EXEMPT_TAG";
pub const TOPIC_ARN: &str = "REFLEX_TOPIC_ARN";
pub const SELF_ARN: &str = "REFLEX_SELF_ARN";
/// `true` to also contain the caller who escalated (revoke) or stopped a trail (harden).
pub const CONTAIN_ACTOR: &str = "REFLEX_CONTAIN_ACTOR";
/// The role to assume in a member account, `{account}` standing for its id (cross-account).
pub const MEMBER_ROLE_ARN: &str = target::MEMBER_ROLE_ARN;

pub const DEFAULT_MAX_ACTIONS: usize = 10;

/// GuardDuty findings about an instance at or above this severity are quarantine's to act on;
/// notify reads it too and reports those below, so one finding reaches one of them.
pub const QUARANTINE_MIN_SEVERITY: &str = "REFLEX_QUARANTINE_MIN_SEVERITY";
/// GuardDuty's high band.
pub const DEFAULT_QUARANTINE_MIN_SEVERITY: f64 = 7.0;

/// The settings every function shares.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub default_mode: Mode,
    pub rule_modes: BTreeMap<String, Mode>,
    pub max_actions: usize,
    pub rate_limit: RateLimit,
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
}

impl CoreConfig {
    /// `known_rules` are the function's rule ids; a mode for any other id is a typo, refused.
    pub fn from_env(env: &Env<'_>, known_rules: &[&str]) -> Result<Self, ConfigError> {
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
            // Twice is a typo or a merge gone wrong: which one was meant is not ours to guess.
            if rule_modes.insert(rule.to_string(), mode).is_some() {
                return Err(ConfigError::new(
                    RULE_MODES,
                    format!("rule `{rule}` is given twice"),
                ));
            }
        }

        let max_actions = positive(env, MAX_ACTIONS, DEFAULT_MAX_ACTIONS as i64)? as usize;
        let rate_limit = RateLimit {
            max_per_hour: at_most(
                MAX_ACTIONS_PER_HOUR,
                positive(
                    env,
                    MAX_ACTIONS_PER_HOUR,
                    rate::DEFAULT_MAX_ACTIONS_PER_HOUR.into(),
                )?,
                rate::MOST_ACTIONS_PER_HOUR.into(),
            )? as u32,
        };
        let exempt_principals =
            ExemptPrincipals::new(EXEMPT_PRINCIPALS, &list(env, EXEMPT_PRINCIPALS))?;
        let exempt_tag = ExemptTag::from_env(env)?;

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

        // The loop guard knows Reflex by this exact ARN in Reflex's account: it must name the
        // account, and a pattern is no identity.
        let self_arn = var(env, SELF_ARN);
        if let Some(arn) = self_arn.as_ref().filter(|a| {
            !a.starts_with("arn:")
                || a.contains(['*', '?'])
                || !SelfIdentity::from_arn(a)
                    .account()
                    .is_some_and(is_account_id)
        }) {
            return Err(ConfigError::new(
                SELF_ARN,
                format!("`{arn}` is not an exact ARN with an account id"),
            ));
        }

        let member_role = var(env, MEMBER_ROLE_ARN)
            .map(|arn| MemberRole::parse(&arn).map_err(|e| ConfigError::new(MEMBER_ROLE_ARN, e)))
            .transpose()?;

        Ok(Self {
            default_mode,
            rule_modes,
            max_actions,
            rate_limit,
            exempt_principals,
            exempt_tag,
            topic_arn,
            self_arn,
            member_role,
            ledger_table: var(env, ledger::TABLE),
            ledger_ttl_days: positive(env, ledger::TTL_DAYS, ledger::DEFAULT_TTL_DAYS)?,
        })
    }

    /// The ledger client, when a table is configured.
    pub fn ledger(&self, sdk: &aws_config::SdkConfig) -> Option<ledger::Ledger> {
        self.ledger_table.as_ref().map(|table| {
            ledger::Ledger::new(
                aws_sdk_dynamodb::Client::new(sdk),
                table,
                self.ledger_ttl_days,
            )
        })
    }

    /// The guards, with Reflex's own identity acting through the member role elsewhere.
    pub fn guards(&self, self_identity: Option<SelfIdentity>) -> Guards {
        Guards {
            self_identity: self_identity.map(|me| me.with_member_role(self.member_role.clone())),
            exempt: self.exempt_principals.clone(),
            default_mode: self.default_mode,
            rule_modes: self.rule_modes.clone(),
            max_actions: self.max_actions,
        }
    }
}

// ---- the parsers every function's settings use ----

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
pub fn var(env: &Env<'_>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A comma-separated list; blank entries dropped.
pub fn list(env: &Env<'_>, name: &str) -> Vec<String> {
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

/// A whole number of at least `min`, or the default when unset.
pub fn whole_number(env: &Env<'_>, name: &str, default: i64, min: i64) -> Result<i64, ConfigError> {
    match var(env, name) {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(ConfigError::new(
                name,
                format!("`{v}` is not a whole number of at least {min}"),
            )),
        },
    }
}

/// `value`, refused if above `max`.
pub fn at_most(name: &str, value: i64, max: i64) -> Result<i64, ConfigError> {
    if value > max {
        return Err(ConfigError::new(
            name,
            format!("`{value}` is more than {max}"),
        ));
    }
    Ok(value)
}

/// A whole number of at least 1, or the default when unset.
pub fn positive(env: &Env<'_>, name: &str, default: i64) -> Result<i64, ConfigError> {
    whole_number(env, name, default, 1)
}

/// A GuardDuty severity (0 to 10), or the default when unset.
pub fn guardduty_severity(env: &Env<'_>, name: &str, default: f64) -> Result<f64, ConfigError> {
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
pub fn flag(env: &Env<'_>, name: &str, default: bool) -> Result<bool, ConfigError> {
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

/// A tag as configured: `key` or `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSpec {
    pub key: String,
    /// `None` when only the key was given (or the value is blank).
    pub value: Option<String>,
}

/// A `key` or `key=value` tag, or `None` when unset. The key may not be blank, nor start with
/// `aws:` (reserved by AWS: no one can set such a tag).
pub fn tag(env: &Env<'_>, name: &str) -> Result<Option<TagSpec>, ConfigError> {
    let Some(text) = var(env, name) else {
        return Ok(None);
    };
    let (key, value) = match text.split_once('=') {
        Some((k, v)) => (k.trim(), Some(v.trim().to_string())),
        None => (text.as_str(), None),
    };
    if key.is_empty() {
        return Err(ConfigError::new(name, "the tag key is empty"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(ConfigError::new(
            name,
            format!("`{key}`: keys starting with aws: are reserved by AWS"),
        ));
    }
    Ok(Some(TagSpec {
        key: key.to_string(),
        value: value.filter(|v| !v.is_empty()),
    }))
}

/// An alarm name given in configuration (`REFLEX_SCALE_TARGETS`, `REFLEX_QUARANTINE_ALARMS`),
/// exact: a pattern (`*`, `?`) is refused, because anyone allowed `cloudwatch:PutMetricAlarm`
/// can create an alarm whose name matches one. Read (and refused) the same way everywhere.
pub fn exact_name<'a>(variable: &str, name: &'a str) -> Result<&'a str, ConfigError> {
    if name.contains(['*', '?']) {
        return Err(ConfigError::new(
            variable,
            format!(
                "`{name}`: exact alarm names only; anyone allowed cloudwatch:PutMetricAlarm can \
                 create an alarm whose name matches a pattern"
            ),
        ));
    }
    Ok(name)
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
        assert_eq!(c.rate_limit.max_per_hour, 30);
        assert_eq!(c.exempt_tag, ExemptTag::default());
        assert!(c.topic_arn.is_none());
        assert!(c.ledger_table.is_none());
    }

    #[test]
    fn reads_every_variable() {
        let c = CoreConfig::from_env(
            &env(&[
                (MODE, "enforce"),
                (RULE_MODES, "revoke.a=off, revoke.b=dry-run"),
                (MAX_ACTIONS, "3"),
                (MAX_ACTIONS_PER_HOUR, "120"),
                (
                    EXEMPT_PRINCIPALS,
                    "arn:aws:iam::*:role/break-glass, arn:aws:sts::*:assumed-role/admin/*",
                ),
                (EXEMPT_TAG, "security:exempt=yes"),
                (TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:reflex"),
                (ledger::TABLE, "reflex-ledger"),
            ]),
            RULES,
        )
        .unwrap();
        let g = c.guards(None);
        assert_eq!(g.mode_for("revoke.a"), Mode::Off);
        assert_eq!(g.mode_for("revoke.b"), Mode::DryRun);
        assert_eq!(g.mode_for("revoke.c"), Mode::Enforce);
        assert_eq!(c.max_actions, 3);
        assert_eq!(c.rate_limit.max_per_hour, 120);
        assert!(c.exempt_tag.matches("security:exempt", "YES"));
        assert_eq!(
            c.exempt_principals
                .matching(&["arn:aws:sts::123456789012:assumed-role/admin/jane"]),
            Some("arn:aws:sts::*:assumed-role/admin/*")
        );
        assert_eq!(c.ledger_table.as_deref(), Some("reflex-ledger"));
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
            (MAX_ACTIONS_PER_HOUR, "0"),
            (MAX_ACTIONS_PER_HOUR, "100001"),
            (MAX_ACTIONS_PER_HOUR, "lots"),
            (EXEMPT_PRINCIPALS, "arn:aws:iam::[:role/x"),
            (EXEMPT_TAG, "=true"),
            (EXEMPT_TAG, "aws:exempt=true"),
            (TOPIC_ARN, "reflex-topic"),
            (SELF_ARN, "reflex"),
            (SELF_ARN, "arn:aws:iam:::role/reflex-revoke"),
            (SELF_ARN, "arn:aws:iam::123456789012:role/reflex/*"),
            (MEMBER_ROLE_ARN, "arn:aws:iam::{account}:role/reflex/*"),
            (RULE_MODES, "revoke.a=off, revoke.b=off, revoke.a=enforce"),
            (MEMBER_ROLE_ARN, "arn:aws:iam::222222222222:role/reflex"),
            (ledger::TTL_DAYS, "-1"),
        ];
        for (key, value) in cases {
            let err = CoreConfig::from_env(&env(&[(key, value)]), RULES).unwrap_err();
            assert_eq!(&err.variable, key, "{value}");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn the_shared_parsers_read_and_refuse_alike() {
        let e = env(&[
            ("FLAG", "TRUE"),
            ("BAD_FLAG", "maybe"),
            ("ZERO", "0"),
            ("TAG", " security:isolate = yes "),
            ("KEY", "reflex:quarantine"),
            ("SEVERITY", "11"),
        ]);
        assert!(flag(&e, "FLAG", false).unwrap());
        assert!(flag(&e, "BAD_FLAG", false).is_err());
        assert_eq!(whole_number(&e, "ZERO", 5, 0), Ok(0));
        assert_eq!(positive(&e, "ZERO", 5).unwrap_err().variable, "ZERO");
        assert_eq!(positive(&e, "UNSET", 5), Ok(5));
        assert_eq!(
            tag(&e, "TAG").unwrap(),
            Some(TagSpec {
                key: "security:isolate".into(),
                value: Some("yes".into())
            })
        );
        assert_eq!(tag(&e, "KEY").unwrap().unwrap().value, None);
        assert_eq!(tag(&e, "UNSET").unwrap(), None);
        assert!(guardduty_severity(&e, "SEVERITY", 7.0).is_err());
    }

    #[test]
    fn alarm_names_are_exact_wherever_they_are_configured() {
        assert_eq!(exact_name("X", "web-cpu-high"), Ok("web-cpu-high"));
        for pattern in ["api-*", "*", "api-?-p99", "a*b"] {
            let err = exact_name("X", pattern).unwrap_err();
            assert!(err.to_string().contains("exact alarm names"), "{err}");
        }
    }
}
