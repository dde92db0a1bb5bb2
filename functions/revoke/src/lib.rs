//! `revoke`: undo IAM privilege escalation seen in CloudTrail (EventBridge source `aws.iam`,
//! delivered only in us-east-1).
//!
//! - `rules`: the pure rules, one id each; `policy`: reading policy documents
//! - `facts`: read-only lookups the rules need; `executor`: the IAM changes
//! - this file: configuration and the wiring into the shared pipeline

pub mod action;
pub mod executor;
pub mod facts;
pub mod policy;
pub mod rules;

use aws_config::SdkConfig;
use reflex_shared::config::{self, CoreConfig, ExemptTag};
use reflex_shared::event::Event;
use reflex_shared::pipeline::{Handler, Remediator};
use reflex_shared::target::Target;
use reflex_shared::{ConfigError, EventError, Finding, Outcome, Principal};

pub use action::IamAction;
pub use executor::IamExecutor;
pub use rules::{Facts, RULE_IDS, RuleSettings};

pub const NAME: &str = "revoke";
/// Extra privileged managed policies (names or ARNs), comma-separated.
pub const PRIVILEGED_POLICIES: &str = "REFLEX_PRIVILEGED_POLICIES";
/// `true` to also contain the caller who escalated.
pub const CONTAIN_ACTOR: &str = "REFLEX_CONTAIN_ACTOR";

/// The revoke function: its rule settings and its IAM executor.
pub struct Revoke {
    pub settings: RuleSettings,
    pub executor: IamExecutor,
    iam: aws_sdk_iam::Client,
}

impl Revoke {
    pub fn new(settings: RuleSettings, iam: aws_sdk_iam::Client) -> Self {
        Self {
            settings,
            executor: IamExecutor::new(iam.clone()),
            iam,
        }
    }
}

/// Revoke's own settings from the environment.
pub fn settings_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RuleSettings, ConfigError> {
    let mut settings = RuleSettings::default();
    for p in config::list(env, PRIVILEGED_POLICIES) {
        if p.starts_with("arn:") && !p.contains(":policy/") {
            return Err(ConfigError::new(
                PRIVILEGED_POLICIES,
                format!("`{p}` is not a policy ARN"),
            ));
        }
        settings.privileged_policies.push(p);
    }
    settings.contain_actor = config::flag(env, CONTAIN_ACTOR, false)?;
    Ok(settings)
}

impl Remediator for Revoke {
    type Action = IamAction;
    type Facts = Facts;

    fn name(&self) -> &'static str {
        NAME
    }

    fn accepts(&self, event: &Event) -> Result<(), EventError> {
        let envelope = event.envelope();
        if envelope.source != "aws.iam" || !matches!(event, Event::ApiCall { .. }) {
            return Err(EventError::Unsupported {
                detail_type: envelope.detail_type.clone(),
                event_source: envelope.source.clone(),
            });
        }
        Ok(())
    }

    async fn gather(&self, event: &Event) -> (Facts, Vec<String>) {
        match event {
            Event::ApiCall { call, .. } => facts::gather(&self.iam, call).await,
            _ => (Facts::default(), Vec::new()),
        }
    }

    fn decide(&self, event: &Event, facts: &Facts) -> Result<Vec<Finding<IamAction>>, EventError> {
        match event {
            Event::ApiCall { call, .. } => rules::evaluate(call, facts, &self.settings),
            _ => Ok(Vec::new()),
        }
    }

    async fn has_exempt_tag(&self, principal: &Principal, tag: &ExemptTag) -> Result<bool, String> {
        self.executor.has_tag(principal, tag).await
    }

    async fn execute(&self, action: &IamAction) -> Outcome {
        self.executor.execute(action).await
    }
}

/// Build the handler: configuration validated, clients created once, Reflex's identity known.
pub async fn handler_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    sdk: &SdkConfig,
) -> Result<Handler<Revoke>, ConfigError> {
    let core = CoreConfig::from_env(env, RULE_IDS)?;
    let settings = settings_from_env(env)?;
    let build = move |sdk: &SdkConfig, _: Option<&Target>| {
        Revoke::new(settings.clone(), aws_sdk_iam::Client::new(sdk))
    };
    Handler::from_config(build, &core, sdk).await
}
