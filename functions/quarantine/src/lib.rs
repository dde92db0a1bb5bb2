//! `quarantine`: close security groups opened to the world on sensitive ports, and quarantine
//! EC2 instances (EventBridge sources `aws.ec2`, `aws.guardduty`, `aws.cloudwatch`).
//!
//! - `settings`: sensitive ports, severity threshold, listed alarms, the operator's tag
//! - `rules`: the pure rules, one id each; `ingress`: reading what a CloudTrail call opened
//! - `facts`: read-only lookups the rules need; `executor`: the EC2 and Auto Scaling changes
//! - this file: the wiring into the shared pipeline

pub mod action;
pub mod executor;
pub mod facts;
pub mod ingress;
pub mod rules;
pub mod settings;

use aws_config::SdkConfig;
use reflex_revoke::IamExecutor;
use reflex_shared::config::{CoreConfig, ExemptTag};
use reflex_shared::event::Event;
use reflex_shared::pipeline::{Handler, Remediator};
use reflex_shared::target::Target;
use reflex_shared::{ConfigError, EventError, Finding, Outcome, Principal};

pub use action::QuarantineAction;
pub use executor::Ec2Executor;
pub use rules::{Facts, RULE_IDS};
pub use settings::Settings;

pub const NAME: &str = "quarantine";

/// The quarantine function: its settings, its EC2 and Auto Scaling executor, and IAM for the
/// exemption tag of the caller.
pub struct Quarantine {
    pub settings: Settings,
    pub executor: Ec2Executor,
    ec2: aws_sdk_ec2::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    /// Reads the exemption tag of the caller, as revoke does.
    iam: IamExecutor,
}

impl Quarantine {
    pub fn new(
        settings: Settings,
        ec2: aws_sdk_ec2::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        iam: aws_sdk_iam::Client,
    ) -> Self {
        Self {
            settings,
            executor: Ec2Executor::new(ec2.clone(), autoscaling.clone()),
            ec2,
            autoscaling,
            iam: IamExecutor::new(iam),
        }
    }
}

impl Remediator for Quarantine {
    type Action = QuarantineAction;
    type Facts = Facts;

    fn name(&self) -> &'static str {
        NAME
    }

    fn accepts(&self, event: &Event) -> Result<(), EventError> {
        let source = event.envelope().source.as_str();
        match event {
            Event::ApiCall { .. } if source == "aws.ec2" => Ok(()),
            Event::GuardDuty { .. } if source == "aws.guardduty" => Ok(()),
            Event::Alarm { .. } if source == "aws.cloudwatch" => Ok(()),
            other => Err(EventError::Unsupported {
                detail_type: other.envelope().detail_type.clone(),
                event_source: other.envelope().source.clone(),
            }),
        }
    }

    async fn gather(&self, event: &Event) -> (Facts, Vec<String>) {
        facts::gather(&self.ec2, &self.autoscaling, event, &self.settings).await
    }

    fn decide(
        &self,
        event: &Event,
        facts: &Facts,
    ) -> Result<Vec<Finding<QuarantineAction>>, EventError> {
        rules::evaluate(event, facts, &self.settings)
    }

    async fn has_exempt_tag(&self, principal: &Principal, tag: &ExemptTag) -> Result<bool, String> {
        self.iam.has_tag(principal, tag).await
    }

    async fn execute(&self, action: &QuarantineAction) -> Outcome {
        self.executor.execute(action).await
    }
}

/// Build the handler: configuration validated, clients created once, Reflex's identity known.
pub async fn handler_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    sdk: &SdkConfig,
) -> Result<Handler<Quarantine>, ConfigError> {
    let core = CoreConfig::from_env(env, RULE_IDS)?;
    let settings = Settings::from_env(env, core.exempt_tag.clone())?;
    let build = move |sdk: &SdkConfig, _: Option<&Target>| {
        Quarantine::new(
            settings.clone(),
            aws_sdk_ec2::Client::new(sdk),
            aws_sdk_autoscaling::Client::new(sdk),
            aws_sdk_iam::Client::new(sdk),
        )
    };
    Handler::from_config(build, &core, sdk).await
}
