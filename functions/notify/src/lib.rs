//! `notify`: one clear report for each event that needs a person: CloudWatch alarm state
//! changes, CloudTrail Insights, console sign-ins (failures, root, no MFA) and GuardDuty findings
//! not about an instance (quarantine handles those).
//!
//! It plans no actions; the core's pipeline claims each event in the ledger (one message per
//! event, however often it is delivered) and publishes the report with a body per protocol.
//!
//! The same files as every function, each for one job:
//!
//! - `settings`: the function's variables, read once at cold start
//! - `trigger`: the event's typed detail, as notify's trigger (pure)
//! - `facts`: none, everything is in the event
//! - `rules`: the rules, one id each (pure, cannot fail)
//! - `actions`: none (`NoAction`); `executor`: nothing to carry out
//! - this file: the wiring into the core's pipeline ([`Function`])

pub mod actions;
pub mod executor;
pub mod facts;
pub mod rules;
pub mod settings;
pub mod trigger;

use aws_config::SdkConfig;
use reflex_shared::aws::CallError;
use reflex_shared::config::Env;
use reflex_shared::event::{Accepts, Event, EventKind};
use reflex_shared::exemption::Tags;
use reflex_shared::{
    ConfigError, EventError, Finding, Function, Interpreted, Notes, Outcome, Place, Resource,
    Severity,
};

pub use actions::NoAction;
pub use facts::Facts;
pub use rules::RULE_IDS;
pub use settings::Settings;
pub use trigger::Trigger;

/// The notify function: it calls no AWS service of its own (the pipeline publishes).
pub struct Notify;

impl Function for Notify {
    const NAME: &'static str = "notify";
    const RULE_IDS: &'static [&'static str] = RULE_IDS;
    const ACCEPTS: &'static [Accepts] = &[
        Accepts::any(EventKind::Alarm),
        Accepts::any(EventKind::Insight),
        Accepts::any(EventKind::SignIn),
        Accepts::any(EventKind::GuardDuty),
    ];
    /// Notify only reports: an event from a member account needs no role there.
    const ACTS_WHERE_THE_EVENT_HAPPENED: bool = false;
    /// Everything notify finds is for a person.
    const ALERT_SEVERITY: Severity = Severity::Low;

    type Settings = Settings;
    type Trigger = Trigger;
    type Facts = Facts;
    type Action = NoAction;

    fn settings(env: &Env<'_>) -> Result<Settings, ConfigError> {
        Settings::from_env(env)
    }

    fn connect(_sdk: &SdkConfig, _place: &Place) -> Self {
        Notify
    }

    fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
        trigger::interpret(event, settings)
    }

    fn decide(trigger: &Trigger, facts: &Facts, settings: &Settings) -> Vec<Finding<NoAction>> {
        rules::decide(trigger, facts, settings)
    }

    async fn gather(&self, _trigger: &Trigger, _notes: &mut Notes) -> Facts {}

    /// Notify touches nothing, so nothing it touches can be exempt.
    async fn tags(&self, _resource: &Resource) -> Result<Option<Tags>, CallError> {
        Ok(None)
    }

    async fn execute(&self, action: &NoAction) -> Outcome {
        executor::execute(action).await
    }
}

/// Notify changes nothing in an account (it only reports), so nothing of its can be taken back.
impl reflex_shared::reverse::Reverse for Notify {
    type Reversal = ();

    fn reversal(
        step: &reflex_shared::report::ActionReport,
    ) -> Result<(), reflex_shared::reverse::Irreversible> {
        Err(reflex_shared::reverse::Irreversible::new(format!(
            "step `{}`: notify changes nothing, it only reports",
            step.step
        )))
    }

    fn describe_reversal(_: &()) -> String {
        "nothing: notify changes nothing".into()
    }

    async fn reverse(&self, _: &()) -> Outcome {
        Outcome::already_done("notify changes nothing")
    }

    fn recorded_action(
        step: &reflex_shared::report::ActionReport,
    ) -> Result<NoAction, reflex_shared::reverse::Irreversible> {
        reflex_shared::reverse::action("notify", step)
    }
}
