//! `harden`: keep the audit trail on and the logs kept and encrypted (EventBridge sources
//! `aws.cloudtrail` and `aws.logs`, CloudTrail API calls).
//!
//! The same files as every function, each for one job:
//!
//! - `settings`: the function's variables, read once at cold start
//! - `trigger`: a CloudTrail or CloudWatch Logs call as harden's trigger, validated once (pure)
//! - `facts`: none: the rules judge the event alone
//! - `rules`: the rules, one id each (pure, cannot fail)
//! - `actions`: the trail, log group and containment changes harden makes; `executor`: making
//!   them; `undo`: the commands that reverse them (pure); `reverse`: taking them back from the
//!   ledger (`reflex undo`); `tags`: the tags of trails and log groups, for exemptions
//! - this file: the wiring into the core's pipeline ([`Function`])

pub mod actions;
pub mod executor;
pub mod facts;
pub mod reverse;
pub mod rules;
pub mod settings;
pub mod tags;
pub mod trigger;
pub mod undo;

use aws_config::SdkConfig;
use reflex_shared::aws::CallError;
use reflex_shared::config::Env;
use reflex_shared::event::{Accepts, Event};
use reflex_shared::exemption::Tags;
use reflex_shared::report::ActionReport;
use reflex_shared::reverse::{Irreversible, Reverse};
use reflex_shared::{
    ConfigError, EventError, Finding, Function, Interpreted, Notes, Outcome, Place, Resource,
};

pub use actions::HardenAction;
pub use facts::Facts;
pub use rules::RULE_IDS;
pub use settings::Settings;
pub use trigger::Trigger;

/// The harden function in one account and region: its CloudTrail, CloudWatch Logs and IAM
/// (containment, callers' tags) clients.
pub struct Harden {
    cloudtrail: aws_sdk_cloudtrail::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    iam: aws_sdk_iam::Client,
}

impl Harden {
    pub fn new(
        cloudtrail: aws_sdk_cloudtrail::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        iam: aws_sdk_iam::Client,
    ) -> Self {
        Self {
            cloudtrail,
            logs,
            iam,
        }
    }
}

impl Function for Harden {
    const NAME: &'static str = "harden";
    const RULE_IDS: &'static [&'static str] = RULE_IDS;
    const ACCEPTS: &'static [Accepts] = &[
        Accepts::api_calls("aws.cloudtrail"),
        Accepts::api_calls("aws.logs"),
    ];

    type Settings = Settings;
    type Trigger = Trigger;
    type Facts = Facts;
    type Action = HardenAction;

    fn settings(env: &Env<'_>) -> Result<Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn connect(sdk: &SdkConfig, _place: &Place) -> Self {
        Self::new(
            aws_sdk_cloudtrail::Client::new(sdk),
            aws_sdk_cloudwatchlogs::Client::new(sdk),
            aws_sdk_iam::Client::new(sdk),
        )
    }

    fn interpret(event: &Event, _settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
        trigger::interpret(event)
    }

    fn decide(trigger: &Trigger, facts: &Facts, settings: &Settings) -> Vec<Finding<HardenAction>> {
        rules::decide(trigger, facts, settings)
    }

    async fn gather(&self, trigger: &Trigger, notes: &mut Notes) -> Facts {
        facts::gather(trigger, notes).await
    }

    async fn tags(&self, resource: &Resource) -> Result<Option<Tags>, CallError> {
        match resource {
            Resource::Trail(trail) => tags::trail(&self.cloudtrail, trail).await.map(Some),
            Resource::LogGroup(name) => tags::log_group(&self.logs, name).await.map(Some),
            // Users, roles and policies; `None` for anything else.
            _ => reflex_shared::iam::tags(&self.iam, resource).await,
        }
    }

    async fn execute(&self, action: &HardenAction) -> Outcome {
        executor::execute(&self.cloudtrail, &self.logs, &self.iam, action).await
    }
}

impl Reverse for Harden {
    type Reversal = reverse::HardenReversal;

    fn reversal(step: &ActionReport) -> Result<Self::Reversal, Irreversible> {
        reverse::reversal(step)
    }

    fn describe_reversal(reversal: &Self::Reversal) -> String {
        reverse::describe(reversal)
    }

    async fn reverse(&self, reversal: &Self::Reversal) -> Outcome {
        reverse::reverse(&self.logs, &self.iam, reversal).await
    }

    fn recorded_action(step: &ActionReport) -> Result<HardenAction, Irreversible> {
        reverse::recorded_action(step)
    }
}
