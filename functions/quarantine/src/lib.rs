//! `quarantine`: close security groups opened to the world on sensitive ports, and quarantine
//! EC2 instances (EventBridge sources `aws.ec2`, `aws.guardduty`, `aws.cloudwatch`).
//!
//! The same files as every function, each for one job:
//!
//! - `settings`: sensitive ports, severity threshold, listed alarms, the operator's tag
//! - `trigger`: an event as quarantine's trigger, validated once (pure); `ingress` reads what a
//!   CloudTrail `AuthorizeSecurityGroupIngress` call opened (either of its shapes) or which rules
//!   a `ModifySecurityGroupRules` call changed, `world_open` judges whether the group's rules let
//!   the internet in on a sensitive port (`exposure`: how much of it a set of CIDRs covers; a
//!   prefix list's entries are read as facts), `alarm` whether a listed alarm's change is
//!   CloudWatch's own
//! - `facts`: read-only EC2, Auto Scaling and CloudWatch lookups (the instances a trigger
//!   names, the alarm and EC2's metric behind it, a group's rules and the prefix lists they name,
//!   the tags of what an action touches)
//! - `rules`: the rules, one id each (pure, cannot fail)
//! - `actions`: the EC2 and Auto Scaling changes quarantine makes; `executor`: making them;
//!   `undo`: the commands that reverse them (pure)
//! - this file: the wiring into the core's pipeline ([`Function`])

pub mod actions;
pub mod alarm;
pub mod executor;
pub mod exposure;
pub mod facts;
pub mod ingress;
pub mod reverse;
pub mod rules;
pub mod settings;
pub mod trigger;
pub mod undo;
pub mod world_open;

use aws_config::SdkConfig;
use reflex_shared::aws::CallError;
use reflex_shared::config::Env;
use reflex_shared::event::{Accepts, Event, EventKind};
use reflex_shared::exemption::Tags;
use reflex_shared::{
    ConfigError, EventError, Finding, Function, Interpreted, Notes, Outcome, Place, Resource,
};

pub use actions::QuarantineAction;
pub use facts::Facts;
pub use rules::RULE_IDS;
pub use settings::Settings;
pub use trigger::Trigger;

/// The quarantine function in one account and region: EC2 and Auto Scaling to look and act,
/// CloudWatch to verify an alarm, IAM for the exemption tag of the caller.
pub struct Quarantine {
    ec2: aws_sdk_ec2::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    iam: aws_sdk_iam::Client,
}

impl Quarantine {
    pub fn new(
        ec2: aws_sdk_ec2::Client,
        autoscaling: aws_sdk_autoscaling::Client,
        cloudwatch: aws_sdk_cloudwatch::Client,
        iam: aws_sdk_iam::Client,
    ) -> Self {
        Self {
            ec2,
            autoscaling,
            cloudwatch,
            iam,
        }
    }
}

impl Function for Quarantine {
    const NAME: &'static str = "quarantine";
    const RULE_IDS: &'static [&'static str] = RULE_IDS;
    const ACCEPTS: &'static [Accepts] = &[
        Accepts::api_calls("aws.ec2"),
        Accepts::from(EventKind::GuardDuty, "aws.guardduty"),
        Accepts::from(EventKind::Alarm, "aws.cloudwatch"),
    ];

    type Settings = Settings;
    type Trigger = Trigger;
    type Facts = Facts;
    type Action = QuarantineAction;

    fn settings(env: &Env<'_>) -> Result<Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn connect(sdk: &SdkConfig, _place: &Place) -> Self {
        Self::new(
            aws_sdk_ec2::Client::new(sdk),
            aws_sdk_autoscaling::Client::new(sdk),
            aws_sdk_cloudwatch::Client::new(sdk),
            aws_sdk_iam::Client::new(sdk),
        )
    }

    fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
        trigger::interpret(event, settings)
    }

    fn decide(
        trigger: &Trigger,
        facts: &Facts,
        settings: &Settings,
    ) -> Vec<Finding<QuarantineAction>> {
        rules::decide(trigger, facts, settings)
    }

    async fn gather(&self, trigger: &Trigger, notes: &mut Notes) -> Facts {
        facts::gather(
            &self.ec2,
            &self.autoscaling,
            &self.cloudwatch,
            trigger,
            notes,
        )
        .await
    }

    /// Instances and security groups carry EC2 tags; the caller, an IAM user or role, IAM tags.
    async fn tags(&self, resource: &Resource) -> Result<Option<Tags>, CallError> {
        match resource {
            Resource::Instance(id) | Resource::SecurityGroup(id) => {
                facts::resource_tags(&self.ec2, id).await.map(Some)
            }
            Resource::User(_) | Resource::Role(_) => {
                reflex_shared::iam::tags(&self.iam, resource).await
            }
            _ => Ok(None),
        }
    }

    async fn execute(&self, action: &QuarantineAction) -> Outcome {
        executor::execute(&self.ec2, &self.autoscaling, action).await
    }
}
