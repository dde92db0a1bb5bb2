//! AWS plumbing shared by every function: the SDK configuration, error codes, who we are.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::identity::SelfIdentity;

/// Load the SDK configuration once per cold start. `AWS_ENDPOINT_URL` points it at an emulator.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// The error code of an SDK error (`NoSuchEntity`, `AccessDenied`, ...), if the service sent one.
pub fn error_code<E: ProvideErrorMetadata>(err: &E) -> Option<String> {
    err.code().map(String::from)
}

/// A one-line description of an SDK error including its cause chain.
pub fn error_text<E: std::error::Error>(err: &E) -> String {
    DisplayErrorContext(err).to_string()
}

/// Reflex's own identity for the loop guard: configured, or asked of STS.
pub async fn resolve_self_identity(
    sdk: &SdkConfig,
    configured: Option<&str>,
) -> Result<SelfIdentity, String> {
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
                 set {} to this function's role ARN",
                error_text(&e),
                crate::config::SELF_ARN
            )
        })?;
    let arn = out.arn.ok_or("STS GetCallerIdentity returned no ARN")?;
    Ok(SelfIdentity::from_arn(&arn))
}
