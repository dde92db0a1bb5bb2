//! `harden`: keep the audit trail on and the logs kept and encrypted (EventBridge sources
//! `aws.cloudtrail` and `aws.logs`, CloudTrail API calls).
//!
//! - `rules`: the pure rules, one id each
//! - `executor`: the CloudTrail and CloudWatch Logs changes; containment through revoke's
//!   IAM executor
//! - this file: configuration and the wiring into the shared pipeline
//!
//! The rules need nothing beyond the event, so there are no fact lookups: the executor reads
//! the current state itself before it changes anything.

pub mod action;
pub mod executor;
pub mod rules;

use aws_config::SdkConfig;
use reflex_shared::config::{self, CoreConfig, ExemptTag};
use reflex_shared::event::Event;
use reflex_shared::pipeline::{Handler, Remediator};
use reflex_shared::target::Target;
use reflex_shared::{ConfigError, EventError, Finding, Outcome, Principal};

pub use action::HardenAction;
pub use executor::HardenExecutor;
pub use rules::{RULE_IDS, RuleSettings};

pub const NAME: &str = "harden";
/// Days a log group without a retention policy gets; one CloudWatch Logs accepts.
pub const LOG_RETENTION_DAYS: &str = "REFLEX_LOG_RETENTION_DAYS";
/// The KMS key ARN a log group created without a key is encrypted with (optional).
pub const LOG_KMS_KEY_ARN: &str = "REFLEX_LOG_KMS_KEY_ARN";
/// `true` to also contain the caller who stopped or deleted a trail (the same variable as revoke's).
pub const CONTAIN_ACTOR: &str = reflex_revoke::CONTAIN_ACTOR;

/// The EventBridge sources harden handles.
pub const SOURCES: &[&str] = &["aws.cloudtrail", "aws.logs"];

/// The harden function: its rule settings and its executor.
pub struct Harden {
    pub settings: RuleSettings,
    pub executor: HardenExecutor,
}

impl Harden {
    pub fn new(
        settings: RuleSettings,
        cloudtrail: aws_sdk_cloudtrail::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        iam: aws_sdk_iam::Client,
    ) -> Self {
        Self {
            settings,
            executor: HardenExecutor::new(cloudtrail, logs, iam),
        }
    }
}

/// Harden's own settings from the environment.
pub fn settings_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RuleSettings, ConfigError> {
    let retention_days = match config::var(env, LOG_RETENTION_DAYS) {
        None => rules::DEFAULT_RETENTION_DAYS,
        Some(v) => v
            .parse::<i32>()
            .ok()
            .filter(|d| rules::ACCEPTED_RETENTION_DAYS.contains(d))
            .ok_or_else(|| {
                let accepted: Vec<String> = rules::ACCEPTED_RETENTION_DAYS
                    .iter()
                    .map(i32::to_string)
                    .collect();
                ConfigError::new(
                    LOG_RETENTION_DAYS,
                    format!(
                        "`{v}` is not a retention CloudWatch Logs accepts; use one of {}",
                        accepted.join(", ")
                    ),
                )
            })?,
    };
    let kms_key_arn = config::var(env, LOG_KMS_KEY_ARN);
    if let Some(arn) = kms_key_arn.as_deref().filter(|a| !is_kms_key_arn(a)) {
        return Err(ConfigError::new(
            LOG_KMS_KEY_ARN,
            format!(
                "`{arn}` is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; \
                 CloudWatch Logs takes neither a bare key id nor an alias)"
            ),
        ));
    }
    Ok(RuleSettings {
        retention_days,
        kms_key_arn,
        contain_actor: config::flag(env, CONTAIN_ACTOR, false)?,
    })
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID`, what `AssociateKmsKey` takes.
fn is_kms_key_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "kms", region, account, resource]
            if partition.starts_with("aws")
                && !region.is_empty()
                && reflex_shared::identity::is_account_id(account)
                && resource.strip_prefix("key/").is_some_and(|id| {
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
    )
}

impl Remediator for Harden {
    type Action = HardenAction;
    type Facts = ();

    fn name(&self) -> &'static str {
        NAME
    }

    fn accepts(&self, event: &Event) -> Result<(), EventError> {
        let envelope = event.envelope();
        if !SOURCES.contains(&envelope.source.as_str()) || !matches!(event, Event::ApiCall { .. }) {
            return Err(EventError::Unsupported {
                detail_type: envelope.detail_type.clone(),
                event_source: envelope.source.clone(),
            });
        }
        Ok(())
    }

    async fn gather(&self, _event: &Event) -> ((), Vec<String>) {
        ((), Vec::new())
    }

    fn decide(&self, event: &Event, _facts: &()) -> Result<Vec<Finding<HardenAction>>, EventError> {
        match event {
            Event::ApiCall { call, .. } => rules::evaluate(call, &self.settings),
            _ => Ok(Vec::new()),
        }
    }

    async fn has_exempt_tag(&self, principal: &Principal, tag: &ExemptTag) -> Result<bool, String> {
        self.executor.has_tag(principal, tag).await
    }

    async fn execute(&self, action: &HardenAction) -> Outcome {
        self.executor.execute(action).await
    }
}

/// Build the handler: configuration validated, clients created once, Reflex's identity known.
pub async fn handler_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    sdk: &SdkConfig,
) -> Result<Handler<Harden>, ConfigError> {
    let core = CoreConfig::from_env(env, RULE_IDS)?;
    let settings = settings_from_env(env)?;
    let build = move |sdk: &SdkConfig, _: Option<&Target>| {
        Harden::new(
            settings.clone(),
            aws_sdk_cloudtrail::Client::new(sdk),
            aws_sdk_cloudwatchlogs::Client::new(sdk),
            aws_sdk_iam::Client::new(sdk),
        )
    };
    Handler::from_config(build, &core, sdk).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex_shared::config::from_pairs;

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn defaults_keep_logs_90_days_with_no_key_and_no_containment() {
        let s = settings_from_env(&from_pairs::<&str, &str>(&[])).unwrap();
        assert_eq!(s, RuleSettings::default());
        assert_eq!(s.retention_days, 90);
        assert_eq!(s.kms_key_arn, None);
        assert!(!s.contain_actor);
    }

    #[test]
    fn reads_every_variable() {
        let s = settings_from_env(&from_pairs(&[
            (LOG_RETENTION_DAYS, "365"),
            (LOG_KMS_KEY_ARN, KEY),
            (CONTAIN_ACTOR, "true"),
        ]))
        .unwrap();
        assert_eq!(s.retention_days, 365);
        assert_eq!(s.kms_key_arn.as_deref(), Some(KEY));
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
            let err = settings_from_env(&from_pairs(&[(*key, *value)])).unwrap_err();
            assert_eq!(&err.variable, key, "{value}");
            assert!(err.to_string().contains(key), "{err}");
        }
        let err = settings_from_env(&from_pairs(&[(LOG_RETENTION_DAYS, "10")])).unwrap_err();
        assert!(err.reason.contains("1, 3, 5, 7, 14, 30"), "{err}");
    }

    #[test]
    fn every_retention_cloudwatch_logs_accepts_is_accepted() {
        for days in rules::ACCEPTED_RETENTION_DAYS {
            let s =
                settings_from_env(&from_pairs(&[(LOG_RETENTION_DAYS, days.to_string())])).unwrap();
            assert_eq!(s.retention_days, *days);
        }
        assert!(is_kms_key_arn(
            "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
        ));
    }

    #[test]
    fn unknown_rule_ids_in_rule_modes_are_refused() {
        let env = from_pairs(&[("REFLEX_RULE_MODES", "harden.trail-stoped=off")]);
        let err = CoreConfig::from_env(&env, RULE_IDS).unwrap_err();
        assert!(err.to_string().contains("harden.trail-stopped"), "{err}");
    }
}
