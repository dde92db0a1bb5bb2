//! `notify`: one clear report for each event that needs a person: CloudWatch alarm state
//! changes, CloudTrail Insights, console sign-ins (failures, root, no MFA) and GuardDuty findings
//! not about an instance (quarantine handles those).
//!
//! It plans no actions; the shared pipeline claims each event in the ledger (one message per
//! event, however often it is delivered) and publishes the report with a body per protocol.

pub mod rules;

use aws_config::SdkConfig;
use reflex_shared::config::{self, CoreConfig, ExemptTag};
use reflex_shared::event::Event;
use reflex_shared::pipeline::{Handler, Remediator};
use reflex_shared::target::Target;
use reflex_shared::{ConfigError, EventError, Finding, Outcome, Principal, Severity};

pub use rules::{NoAction, NotifySettings, RULE_IDS};

pub const NAME: &str = "notify";
/// `true` to also report alarms returning to OK and the end of an Insight.
pub const NOTIFY_RESOLVED: &str = "REFLEX_NOTIFY_RESOLVED";
/// GuardDuty findings below this severity (0-10) are not reported.
pub const GUARDDUTY_MIN_SEVERITY: &str = "REFLEX_NOTIFY_GUARDDUTY_MIN_SEVERITY";

pub struct Notify {
    pub settings: NotifySettings,
}

impl Remediator for Notify {
    type Action = NoAction;
    type Facts = ();

    fn name(&self) -> &'static str {
        NAME
    }

    fn accepts(&self, event: &Event) -> Result<(), EventError> {
        match event {
            Event::Alarm { .. }
            | Event::Insight { .. }
            | Event::SignIn { .. }
            | Event::GuardDuty { .. } => Ok(()),
            other => Err(EventError::Unsupported {
                detail_type: other.envelope().detail_type.clone(),
                event_source: other.envelope().source.clone(),
            }),
        }
    }

    async fn gather(&self, _event: &Event) -> ((), Vec<String>) {
        ((), Vec::new())
    }

    fn decide(&self, event: &Event, _facts: &()) -> Result<Vec<Finding<NoAction>>, EventError> {
        Ok(match event {
            Event::Alarm { alarm, .. } => rules::alarm(alarm, &self.settings),
            Event::Insight { insight, .. } => rules::insight(insight, &self.settings),
            Event::SignIn { call, .. } => rules::sign_in(call),
            Event::GuardDuty { finding, .. } => rules::guardduty(finding, &self.settings),
            Event::ApiCall { .. } => Vec::new(),
        })
    }

    /// Everything notify finds is for a person.
    fn alert_severity(&self) -> Severity {
        Severity::Low
    }

    /// Notify only reports: an event from a member account needs no role there.
    fn acts_where_the_event_happened(&self) -> bool {
        false
    }

    async fn has_exempt_tag(
        &self,
        _principal: &Principal,
        _tag: &ExemptTag,
    ) -> Result<bool, String> {
        Ok(false)
    }

    async fn execute(&self, action: &NoAction) -> Outcome {
        match *action {}
    }
}

pub async fn handler_from_env(
    env: &dyn Fn(&str) -> Option<String>,
    sdk: &SdkConfig,
) -> Result<Handler<Notify>, ConfigError> {
    let core = CoreConfig::from_env(env, RULE_IDS)?;
    let settings = NotifySettings {
        resolved: config::flag(env, NOTIFY_RESOLVED, false)?,
        guardduty_min_severity: config::guardduty_severity(
            env,
            GUARDDUTY_MIN_SEVERITY,
            rules::DEFAULT_GUARDDUTY_MIN_SEVERITY,
        )?,
    };
    let build = move |_: &SdkConfig, _: Option<&Target>| Notify {
        settings: settings.clone(),
    };
    Handler::from_config(build, &core, sdk).await
}
