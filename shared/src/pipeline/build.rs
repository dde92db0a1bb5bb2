//! Wiring a function into the pipeline from the environment, once per cold start.

use aws_config::SdkConfig;

use super::{Handler, Places};
use crate::aws::error_text;
use crate::config::{CoreConfig, Env, SELF_ARN};
use crate::error::ConfigError;
use crate::function::Function;
use crate::identity::SelfIdentity;
use crate::publish::SnsPublisher;

/// The handler of function `F`: configuration read and validated (a bad value fails naming its
/// variable), clients created once, Reflex's own identity learned for the loop guard.
pub async fn handler_from_env<F: Function>(
    env: &Env<'_>,
    sdk: &SdkConfig,
) -> Result<Handler<F>, ConfigError> {
    let core = CoreConfig::from_env(env, F::RULE_IDS)?;
    let settings = F::settings(env)?;
    let me = self_identity(sdk, core.self_arn.as_deref())
        .await
        .map_err(|e| ConfigError::new(SELF_ARN, e))?;
    let home_account = me.account().map(String::from).ok_or_else(|| {
        ConfigError::new(
            SELF_ARN,
            "Reflex's own ARN names no account, so events from other accounts cannot be told apart",
        )
    })?;
    // The ledger and the topic are central: always Reflex's own account and region.
    let ledger = core.ledger(sdk);
    if ledger.is_none() {
        tracing::warn!(
            "no ledger table ({}): duplicate protection is off, and so is the rate limit of {} \
             enforced actions per hour ({})",
            crate::ledger::TABLE,
            core.rate_limit.max_per_hour,
            crate::config::MAX_ACTIONS_PER_HOUR
        );
    }
    Ok(Handler {
        places: Places::new(sdk, &home_account, core.member_role.clone(), ledger.clone()),
        settings,
        guards: core.guards(Some(me)),
        rate_limit: core.rate_limit,
        exempt_tag: core.exempt_tag.clone(),
        publisher: core
            .topic_arn
            .as_ref()
            .map(|arn| SnsPublisher::new(aws_sdk_sns::Client::new(sdk), arn)),
        ledger,
        emit_metrics: false,
    })
}

/// Reflex's own identity for the loop guard: configured, or asked of STS.
async fn self_identity(sdk: &SdkConfig, configured: Option<&str>) -> Result<SelfIdentity, String> {
    if let Some(arn) = configured {
        return Ok(SelfIdentity::from_arn(arn));
    }
    let out = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            format!(
                "could not learn Reflex's own identity from STS for the loop guard ({}); \
                 set {SELF_ARN} to this function's role ARN",
                error_text(&e),
            )
        })?;
    let arn = out.arn.ok_or("STS GetCallerIdentity returned no ARN")?;
    Ok(SelfIdentity::from_arn(&arn))
}
