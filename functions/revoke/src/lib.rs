//! `revoke`: undo IAM privilege escalation seen in CloudTrail (EventBridge source `aws.iam`,
//! delivered only in us-east-1).
//!
//! The same files as every function, each for one job:
//!
//! - `settings`: the function's variables, read once at cold start
//! - `trigger`: an IAM call as revoke's trigger, validated once (pure); `policy` reads policy
//!   documents against `escalation`'s table of privilege-escalation methods; `trust` judges
//!   who a role's trust policy lets in (pure)
//! - `facts`: read-only IAM lookups a trigger needs
//! - `rules`: the rules, one id each (pure, cannot fail)
//! - `actions`: the IAM changes revoke makes; `executor`: making them; `undo`: the commands
//!   that reverse them (pure); `reverse`: taking them back from the ledger (`reflex undo`)
//! - this file: the wiring into the core's pipeline ([`Function`])

pub mod actions;
pub mod escalation;
pub mod executor;
pub mod facts;
pub mod policy;
pub mod reverse;
pub mod rules;
pub mod settings;
pub mod trigger;
pub mod trust;
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

pub use actions::IamAction;
pub use facts::Facts;
pub use rules::RULE_IDS;
pub use settings::Settings;
pub use trigger::Trigger;

/// The revoke function in one account and region: its IAM client.
pub struct Revoke {
    iam: aws_sdk_iam::Client,
}

impl Revoke {
    pub fn new(iam: aws_sdk_iam::Client) -> Self {
        Self { iam }
    }
}

impl Function for Revoke {
    const NAME: &'static str = "revoke";
    const RULE_IDS: &'static [&'static str] = RULE_IDS;
    const ACCEPTS: &'static [Accepts] = &[Accepts::api_calls("aws.iam")];

    type Settings = Settings;
    type Trigger = Trigger;
    type Facts = Facts;
    type Action = IamAction;

    fn settings(env: &Env<'_>) -> Result<Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn connect(sdk: &SdkConfig, _place: &Place) -> Self {
        Self::new(aws_sdk_iam::Client::new(sdk))
    }

    fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
        trigger::interpret(event, &settings.exempt_tag)
    }

    fn decide(trigger: &Trigger, facts: &Facts, settings: &Settings) -> Vec<Finding<IamAction>> {
        rules::decide(trigger, facts, settings)
    }

    async fn gather(&self, trigger: &Trigger, notes: &mut Notes) -> Facts {
        facts::gather(&self.iam, trigger, notes).await
    }

    async fn tags(&self, resource: &Resource) -> Result<Option<Tags>, CallError> {
        reflex_shared::iam::tags(&self.iam, resource).await
    }

    async fn execute(&self, action: &IamAction) -> Outcome {
        executor::execute(&self.iam, action).await
    }
}

impl Reverse for Revoke {
    type Reversal = reverse::RevokeReversal;

    fn reversal(step: &ActionReport) -> Result<Self::Reversal, Irreversible> {
        reverse::reversal(step)
    }

    fn describe_reversal(reversal: &Self::Reversal) -> String {
        reverse::describe(reversal)
    }

    async fn reverse(&self, reversal: &Self::Reversal) -> Outcome {
        reverse::reverse(&self.iam, reversal).await
    }

    fn recorded_action(step: &ActionReport) -> Result<IamAction, Irreversible> {
        reverse::recorded_action(step)
    }
}
