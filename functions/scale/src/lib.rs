//! `scale`: CloudWatch alarm state changes (EventBridge source `aws.cloudwatch`) that scale Auto
//! Scaling groups, exactly once, in order, with a cooldown.
//!
//! The same files as every function, each for one job:
//!
//! - `settings`: which alarm scales which group, steps, cooldown
//! - `trigger`: an alarm as scale's trigger: direction, step and group, resolved once (pure)
//! - `facts`: the group's capacity and Reflex's record of it in the ledger
//! - `rules`: the scaling decision, one id per direction (pure, cannot fail)
//! - `actions`: the capacity change; `executor`: the ledger record, then the change; `undo`:
//!   the command that reverses it (pure)
//! - this file: the wiring into the core's pipeline ([`Function`])

pub mod actions;
pub mod executor;
pub mod facts;
pub mod reverse;
pub mod rules;
pub mod settings;
pub mod trigger;
pub mod undo;

use aws_config::SdkConfig;
use reflex_shared::aws::CallError;
use reflex_shared::config::Env;
use reflex_shared::event::{Accepts, Event, EventKind};
use reflex_shared::exemption::Tags;
use reflex_shared::ledger::Ledger;
use reflex_shared::{
    ConfigError, EventError, Finding, Function, Interpreted, Notes, Outcome, Place, Resource,
};

pub use actions::ScaleAction;
pub use facts::Facts;
pub use rules::RULE_IDS;
pub use settings::Settings;
pub use trigger::Trigger;

/// The scale function in one account and region: its Auto Scaling client, and the central
/// ledger that keeps its record of each group.
pub struct Scale {
    autoscaling: aws_sdk_autoscaling::Client,
    ledger: Option<Ledger>,
    /// `None` at home, `account/region` elsewhere (see `facts::state_key`).
    scope: Option<String>,
}

impl Scale {
    pub fn new(
        autoscaling: aws_sdk_autoscaling::Client,
        ledger: Option<Ledger>,
        scope: Option<String>,
    ) -> Self {
        Self {
            autoscaling,
            ledger,
            scope,
        }
    }
}

impl Function for Scale {
    const NAME: &'static str = "scale";
    const RULE_IDS: &'static [&'static str] = RULE_IDS;
    const ACCEPTS: &'static [Accepts] = &[Accepts::from(EventKind::Alarm, "aws.cloudwatch")];

    type Settings = Settings;
    type Trigger = Trigger;
    type Facts = Facts;
    type Action = ScaleAction;

    fn settings(env: &Env<'_>) -> Result<Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn connect(sdk: &SdkConfig, place: &Place) -> Self {
        Self::new(
            aws_sdk_autoscaling::Client::new(sdk),
            place.ledger.clone(),
            place.scope(),
        )
    }

    fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
        trigger::interpret(event, settings)
    }

    fn decide(trigger: &Trigger, facts: &Facts, settings: &Settings) -> Vec<Finding<ScaleAction>> {
        rules::decide(trigger, facts, settings)
    }

    async fn gather(&self, trigger: &Trigger, notes: &mut Notes) -> Facts {
        facts::gather(
            &self.autoscaling,
            self.ledger.as_ref(),
            self.scope.as_deref(),
            trigger,
            notes,
        )
        .await
    }

    async fn tags(&self, resource: &Resource) -> Result<Option<Tags>, CallError> {
        facts::tags(&self.autoscaling, resource).await
    }

    async fn execute(&self, action: &ScaleAction) -> Outcome {
        executor::execute(
            &self.autoscaling,
            self.ledger.as_ref(),
            self.scope.as_deref(),
            action,
        )
        .await
    }
}
