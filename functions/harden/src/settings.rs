//! Harden's settings: the retention a log group without one gets, the KMS keys a log group
//! created without one is encrypted with (one per region and account), and whether to contain
//! the caller who stopped or deleted a trail.

use reflex_shared::ConfigError;
use reflex_shared::config::{self, Env};
use reflex_shared::event::is_region_name;
use reflex_shared::identity::is_account_id;

/// Days a log group without a retention policy gets; one CloudWatch Logs accepts.
pub const LOG_RETENTION_DAYS: &str = "REFLEX_LOG_RETENTION_DAYS";
/// The KMS key ARNs, comma-separated, a log group created without a key is encrypted with: the
/// one in the group's region and account (optional).
pub const LOG_KMS_KEY_ARN: &str = "REFLEX_LOG_KMS_KEY_ARN";
/// `true` to also contain the caller who stopped or deleted a trail (the same variable as revoke's).
pub use reflex_shared::config::CONTAIN_ACTOR;

/// The retention periods CloudWatch Logs accepts (`PutRetentionPolicy`), in days.
pub const ACCEPTED_RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
pub const DEFAULT_RETENTION_DAYS: i32 = 90;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// What a log group without a retention policy gets; one of [`ACCEPTED_RETENTION_DAYS`].
    pub retention_days: i32,
    /// The KMS keys a log group created without one is encrypted with, at most one per region
    /// and account (see [`Settings::kms_key_for`]); empty: not enforced.
    pub kms_keys: Vec<LogKey>,
    /// Also contain the caller who stopped or deleted a trail (off by default).
    pub contain_actor: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            retention_days: DEFAULT_RETENTION_DAYS,
            kms_keys: Vec::new(),
            contain_actor: false,
        }
    }
}

impl Settings {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            retention_days: retention_days(env)?,
            kms_keys: kms_keys(env)?,
            contain_actor: config::flag(env, CONTAIN_ACTOR, false)?,
        })
    }

    /// The configured key for a log group in `account` and `region`: the one whose ARN names
    /// that region and that account. CloudWatch Logs takes only a key in the group's own region
    /// (and one whose key policy lets the group's account use it), so a key of another region or
    /// account is never a fallback: `None` leaves the group unencrypted.
    pub fn kms_key_for(&self, account: &str, region: &str) -> Option<&str> {
        self.kms_keys
            .iter()
            .find(|k| k.region == region && k.account == account)
            .map(|k| k.arn.as_str())
    }
}

/// A KMS key for log groups, read once at cold start: its ARN (the only form `AssociateKmsKey`
/// takes) and the region and account it names, which decide the log groups it may encrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    pub arn: String,
    pub region: String,
    pub account: String,
}

impl LogKey {
    /// `arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID`, or why it is not one. The region must be
    /// a region's name as AWS spells it: `US-EAST-1` or `us-east-1x` would pass here and then
    /// match no log group's region, leaving every group unencrypted unnoticed.
    pub fn parse(arn: &str) -> Result<Self, String> {
        let not_a_key = || {
            format!(
                "`{arn}` is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; CloudWatch \
                 Logs takes neither a bare key id nor an alias)"
            )
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", partition, "kms", region, account, resource] = parts.as_slice() else {
            return Err(not_a_key());
        };
        let key_id = resource.strip_prefix("key/").unwrap_or("");
        if !partition.starts_with("aws")
            || !is_account_id(account)
            || key_id.is_empty()
            || !key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(not_a_key());
        }
        // The shared check takes a blank for the home region; a key's ARN always names one.
        if region.trim().is_empty() || !is_region_name(region) {
            return Err(format!(
                "`{arn}` names `{}` as its region, which is not an AWS region name (such as \
                 us-east-1)",
                region.escape_default()
            ));
        }
        Ok(Self {
            arn: arn.to_string(),
            region: region.to_string(),
            account: account.to_string(),
        })
    }
}

/// `REFLEX_LOG_RETENTION_DAYS`: only a period CloudWatch Logs accepts, or every
/// `PutRetentionPolicy` would fail at the first event instead of the cold start.
fn retention_days(env: &Env<'_>) -> Result<i32, ConfigError> {
    let Some(v) = config::var(env, LOG_RETENTION_DAYS) else {
        return Ok(DEFAULT_RETENTION_DAYS);
    };
    v.parse::<i32>()
        .ok()
        .filter(|d| ACCEPTED_RETENTION_DAYS.contains(d))
        .ok_or_else(|| {
            let accepted: Vec<String> =
                ACCEPTED_RETENTION_DAYS.iter().map(i32::to_string).collect();
            ConfigError::new(
                LOG_RETENTION_DAYS,
                format!(
                    "`{v}` is not a retention CloudWatch Logs accepts; use one of {}",
                    accepted.join(", ")
                ),
            )
        })
}

/// `REFLEX_LOG_KMS_KEY_ARN`: key ARNs, comma-separated (blank items ignored), at most one per
/// region and account.
fn kms_keys(env: &Env<'_>) -> Result<Vec<LogKey>, ConfigError> {
    let mut keys: Vec<LogKey> = Vec::new();
    for arn in config::list(env, LOG_KMS_KEY_ARN) {
        let key = LogKey::parse(&arn).map_err(|why| ConfigError::new(LOG_KMS_KEY_ARN, why))?;
        if let Some(first) = keys
            .iter()
            .find(|k| k.region == key.region && k.account == key.account)
        {
            return Err(ConfigError::new(
                LOG_KMS_KEY_ARN,
                format!(
                    "`{}` and `{arn}` are both keys of one region and account: give one",
                    first.arn
                ),
            ));
        }
        keys.push(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RULE_IDS;
    use reflex_shared::config::{CoreConfig, from_pairs};

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    /// The same account's key in another region, and another account's in the same region.
    const EU_KEY: &str =
        "arn:aws:kms:eu-west-1:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab";
    const MEMBER_KEY: &str =
        "arn:aws:kms:us-east-1:222222222222:key/9012abcd-12ab-34cd-56ef-1234567890ab";

    /// The ARNs of the keys `value` configures, in order.
    fn keys(value: &str) -> Result<Vec<String>, ConfigError> {
        Settings::from_env(&from_pairs(&[(LOG_KMS_KEY_ARN, value)]))
            .map(|s| s.kms_keys.into_iter().map(|k| k.arn).collect())
    }

    fn key(arn: &str) -> LogKey {
        LogKey::parse(arn).unwrap()
    }

    #[test]
    fn defaults_keep_logs_90_days_with_no_key_and_no_containment() {
        let s = Settings::from_env(&from_pairs::<&str, &str>(&[])).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.retention_days, 90);
        assert!(s.kms_keys.is_empty());
        assert!(!s.contain_actor);
    }

    #[test]
    fn reads_every_variable() {
        let s = Settings::from_env(&from_pairs(&[
            (LOG_RETENTION_DAYS, "365"),
            (LOG_KMS_KEY_ARN, KEY),
            (CONTAIN_ACTOR, "true"),
        ]))
        .unwrap();
        assert_eq!(s.retention_days, 365);
        assert_eq!(
            s.kms_keys,
            [LogKey {
                arn: KEY.into(),
                region: "us-east-1".into(),
                account: "123456789012".into(),
            }]
        );
        assert!(s.contain_actor);
    }

    #[test]
    fn bad_values_fail_the_cold_start_naming_the_variable() {
        let cases: &[(&str, &str)] = &[
            (LOG_RETENTION_DAYS, "10"),
            (LOG_RETENTION_DAYS, "0"),
            (LOG_RETENTION_DAYS, "-90"),
            (LOG_RETENTION_DAYS, "ninety"),
            (LOG_RETENTION_DAYS, "3654"),
            (LOG_KMS_KEY_ARN, "1234abcd-12ab-34cd-56ef-1234567890ab"),
            (LOG_KMS_KEY_ARN, "alias/logs"),
            (
                LOG_KMS_KEY_ARN,
                "arn:aws:kms:us-east-1:123456789012:alias/logs",
            ),
            (LOG_KMS_KEY_ARN, "arn:aws:s3:::bucket"),
            (LOG_KMS_KEY_ARN, "arn:aws:kms:us-east-1:1234:key/abc"),
            (LOG_KMS_KEY_ARN, "arn:aws:kms:us-east-1:123456789012:key/"),
            (CONTAIN_ACTOR, "sometimes"),
        ];
        for (key, value) in cases {
            let err = Settings::from_env(&from_pairs(&[(*key, *value)])).unwrap_err();
            assert_eq!(&err.variable, key, "{value}");
            assert!(err.to_string().contains(key), "{err}");
        }
        let err = Settings::from_env(&from_pairs(&[(LOG_RETENTION_DAYS, "10")])).unwrap_err();
        assert!(err.reason.contains("1, 3, 5, 7, 14, 30"), "{err}");
    }

    #[test]
    fn the_key_variable_takes_one_key_or_several_comma_separated() {
        assert_eq!(keys(KEY).unwrap(), [KEY]);
        assert_eq!(
            keys(&format!(" {KEY} ,, {EU_KEY},\n{MEMBER_KEY}, ")).unwrap(),
            [KEY, EU_KEY, MEMBER_KEY],
            "items trimmed, blank ones ignored"
        );
        assert_eq!(
            keys(" , ").unwrap(),
            Vec::<String>::new(),
            "no key: not enforced"
        );
    }

    #[test]
    fn a_bad_item_in_the_key_list_fails_the_cold_start_naming_it() {
        let err = keys(&format!("{KEY}, alias/logs ,{EU_KEY}")).unwrap_err();
        assert_eq!(err.variable, LOG_KMS_KEY_ARN);
        assert!(
            err.reason.starts_with("`alias/logs` is not a KMS key ARN"),
            "{err}"
        );
        let err = keys(&format!("{KEY},{}", &KEY[..KEY.len() - 1])).unwrap_err();
        assert!(
            err.reason
                .contains("are both keys of one region and account"),
            "two keys for one place would leave the choice to their order: {err}"
        );
    }

    #[test]
    fn the_key_for_a_log_group_is_the_one_of_its_region_and_account() {
        let s = Settings {
            kms_keys: vec![key(EU_KEY), key(MEMBER_KEY), key(KEY)],
            ..Settings::default()
        };
        assert_eq!(s.kms_key_for("123456789012", "us-east-1"), Some(KEY));
        assert_eq!(s.kms_key_for("123456789012", "eu-west-1"), Some(EU_KEY));
        assert_eq!(s.kms_key_for("222222222222", "us-east-1"), Some(MEMBER_KEY));
        // Neither another region's key of the account nor another account's key of the region.
        assert_eq!(s.kms_key_for("222222222222", "eu-west-1"), None);
        assert_eq!(s.kms_key_for("123456789012", "us-west-2"), None);
        assert_eq!(s.kms_key_for("333333333333", "us-east-1"), None);
        assert_eq!(s.kms_key_for("", ""), None);
        assert_eq!(
            Settings::default().kms_key_for("123456789012", "us-east-1"),
            None
        );
    }

    #[test]
    fn every_retention_cloudwatch_logs_accepts_is_accepted() {
        for days in ACCEPTED_RETENTION_DAYS {
            let s =
                Settings::from_env(&from_pairs(&[(LOG_RETENTION_DAYS, days.to_string())])).unwrap();
            assert_eq!(s.retention_days, *days);
        }
        let gov = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab";
        assert_eq!(key(gov).region, "us-gov-west-1");
        assert_eq!(
            key("arn:aws-cn:kms:cn-north-1:123456789012:key/abc").region,
            "cn-north-1"
        );
    }

    /// A region AWS never spells so would pass a shape check, then match no log group: every
    /// group would stay unencrypted with nobody told. The cold start refuses it, naming it.
    #[test]
    fn a_key_whose_region_is_no_region_name_fails_the_cold_start() {
        for region in [
            "US-EAST-1",
            "us-east-1x",
            "us-east",
            "useast1",
            "us-east-001",
            "us_east_1",
            " ",
            "us-east-1 ",
        ] {
            let arn = format!("arn:aws:kms:{region}:123456789012:key/1234abcd");
            let err = keys(&format!("{KEY},{arn}")).unwrap_err();
            assert_eq!(err.variable, LOG_KMS_KEY_ARN, "{region:?}");
            assert!(
                err.reason.contains(&format!(
                    "names `{}` as its region, which is not an AWS region name",
                    region.escape_default()
                )),
                "{region:?}: {err}"
            );
        }
        // No region at all is no key ARN.
        let err = keys("arn:aws:kms::123456789012:key/1234abcd").unwrap_err();
        assert!(err.reason.contains("not an AWS region name"), "{err}");
    }

    #[test]
    fn unknown_rule_ids_in_rule_modes_are_refused() {
        let env = from_pairs(&[("REFLEX_RULE_MODES", "harden.trail-stoped=off")]);
        let err = CoreConfig::from_env(&env, RULE_IDS).unwrap_err();
        assert!(err.to_string().contains("harden.trail-stopped"), "{err}");
    }
}
