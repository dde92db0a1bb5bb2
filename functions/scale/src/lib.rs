//! `scale`: CloudWatch alarm state changes that scale Auto Scaling groups, exactly once.
//!
//! - `settings`: which alarm scales which group, steps, cooldown
//! - `rules`: the pure decision; `facts`: the group and Reflex's record of it
//! - `executor`: the ledger record and the capacity change
//! - this file: the wiring into the shared pipeline

pub mod action;
pub mod executor;
pub mod facts;
pub mod rules;
pub mod settings;

use aws_config::SdkConfig;
use reflex_shared::config::{CoreConfig, ExemptTag};
use reflex_shared::event::Event;
use reflex_shared::ledger::Ledger;
use reflex_shared::pipeline::{Handler, Remediator};
use reflex_shared::target::Target;
use reflex_shared::{ConfigError, EventError, Finding, Outcome, Principal};

pub use action::ScaleAction;
pub use executor::ScaleExecutor;
pub use rules::{Facts, RULE_IDS};
pub use settings::ScaleSettings;

pub const NAME: &str = "scale";

pub struct Scale {
    pub settings: ScaleSettings,
    autoscaling: aws_sdk_autoscaling::Client,
    ledger: Option<Ledger>,
    /// `None` at home; `account/region` elsewhere (see `facts::state_key`).
    scope: Option<String>,
    executor: ScaleExecutor,
}

impl Scale {
    pub fn new(
        settings: ScaleSettings,
        autoscaling: aws_sdk_autoscaling::Client,
        ledger: Option<Ledger>,
        scope: Option<String>,
    ) -> Self {
        Self {
            settings,
            executor: ScaleExecutor::new(autoscaling.clone(), ledger.clone(), scope.clone()),
            autoscaling,
            ledger,
            scope,
        }
    }
}

impl Remediator for Scale {
    type Action = ScaleAction;
    type Facts = Facts;

    fn name(&self) -> &'static str {
        NAME
    }

    fn accepts(&self, event: &Event) -> Result<(), EventError> {
        match event {
            Event::Alarm { envelope, .. } if envelope.source == "aws.cloudwatch" => Ok(()),
            other => Err(EventError::Unsupported {
                detail_type: other.envelope().detail_type.clone(),
                event_source: other.envelope().source.clone(),
            }),
        }
    }

    async fn gather(&self, event: &Event) -> (Facts, Vec<String>) {
        match event {
            Event::Alarm { alarm, .. } => {
                facts::gather(
                    &self.autoscaling,
                    self.ledger.as_ref(),
                    self.scope.as_deref(),
                    alarm,
                    &self.settings,
                )
                .await
            }
            _ => (Facts::default(), Vec::new()),
        }
    }

    fn decide(
        &self,
        event: &Event,
        facts: &Facts,
    ) -> Result<Vec<Finding<ScaleAction>>, EventError> {
        match event {
            Event::Alarm { alarm, .. } => Ok(rules::evaluate(alarm, facts, &self.settings)),
            _ => Ok(Vec::new()),
        }
    }

    async fn has_exempt_tag(
        &self,
        _principal: &Principal,
        _tag: &ExemptTag,
    ) -> Result<bool, String> {
        // Scaling actions change no IAM principal.
        Ok(false)
    }

    async fn execute(&self, action: &ScaleAction) -> Outcome {
        self.executor.execute(action).await
    }
}

/// Build the handler: configuration validated, clients created once.
pub async fn handler_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    sdk: &SdkConfig,
) -> Result<Handler<Scale>, ConfigError> {
    let core = CoreConfig::from_env(env, RULE_IDS)?;
    let settings = ScaleSettings::from_env(env)?;
    // The ledger is central: always Reflex's own account and region.
    let ledger = core.ledger(sdk);
    let build = move |sdk: &SdkConfig, target: Option<&Target>| {
        let scope = target.map(|t| format!("{}/{}", t.account, t.region));
        Scale::new(
            settings.clone(),
            aws_sdk_autoscaling::Client::new(sdk),
            ledger.clone(),
            scope,
        )
    };
    Handler::from_config(build, &core, sdk).await
}
