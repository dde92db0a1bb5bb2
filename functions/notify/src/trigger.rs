//! What notify reads in an event: its typed detail, taken as it is. Every alarm, Insight,
//! sign-in and GuardDuty finding goes to the rules, which decide what a person must read.

use reflex_shared::event::{AlarmStateChange, ApiCall, GuardDutyFinding, InsightEvent};
use reflex_shared::{Event, EventError, Interpreted};

/// An event notify's rules judge.
// One event per invocation: the variants' size difference costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A CloudWatch alarm state change.
    Alarm(AlarmStateChange),
    /// A CloudTrail Insight: an unusual API call or error rate, starting or ending.
    Insight(InsightEvent),
    /// A console sign-in, in CloudTrail's record shape.
    SignIn(ApiCall),
    /// A GuardDuty finding.
    GuardDuty(GuardDutyFinding),
}

/// The event's detail as notify's trigger; notify has no rule for API calls.
pub fn interpret(event: &Event) -> Result<Interpreted<Trigger>, EventError> {
    let trigger = match event {
        Event::Alarm { alarm, .. } => Trigger::Alarm(alarm.clone()),
        Event::Insight { insight, .. } => Trigger::Insight(insight.clone()),
        Event::SignIn { call, .. } => Trigger::SignIn(call.clone()),
        Event::GuardDuty { finding, .. } => Trigger::GuardDuty(finding.clone()),
        Event::ApiCall { .. } => {
            return Ok(Interpreted::Ignored(
                "notify has no rule for API calls".into(),
            ));
        }
    };
    Ok(Interpreted::Trigger(trigger))
}
