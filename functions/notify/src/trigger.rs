//! What notify reads in an event: its typed detail, taken as it is. Every alarm, Insight,
//! sign-in and GuardDuty finding goes to the rules, which decide what a person must read.

use reflex_shared::event::{AlarmStateChange, ApiCall, GuardDutyFinding, InsightEvent};
use reflex_shared::{Event, EventError, Interpreted};

use crate::settings::Settings;

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
pub fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
    let trigger = match event {
        Event::Alarm { alarm, .. } => Trigger::Alarm(alarm.clone()),
        Event::Insight { insight, .. } => Trigger::Insight(insight.clone()),
        Event::SignIn { call, .. } => Trigger::SignIn(call.clone()),
        Event::GuardDuty { finding, .. } => match whose_finding(finding, settings) {
            Some(why) => return Ok(Interpreted::Ignored(why)),
            None => Trigger::GuardDuty(finding.clone()),
        },
        Event::ApiCall { .. } => {
            return Ok(Interpreted::Ignored(
                "notify has no rule for API calls".into(),
            ));
        }
    };
    Ok(Interpreted::Trigger(trigger))
}

/// Why a GuardDuty finding is not notify's to report, said in full (every finding reaches
/// quarantine's action or a person, or the logs say which floor it fell under).
///
/// Every finding reaches notify. One about an instance at or above quarantine's threshold is
/// quarantine's: it acts and reports (dry run, exemption and a rule turned off included), so a
/// second report would page twice. Below that threshold quarantine does nothing, so notify
/// reports it from its own floor up (SSH brute force, port probes, Tor clients: medium).
fn whose_finding(finding: &GuardDutyFinding, settings: &Settings) -> Option<String> {
    let severity = finding.severity;
    if let Some(instance) = finding.instance_id()
        && severity >= settings.quarantine_min_severity
    {
        return Some(format!(
            "GuardDuty finding {} on instance {instance} has severity {severity}, at or above \
             quarantine's {} (REFLEX_QUARANTINE_MIN_SEVERITY): quarantine acts on it and reports",
            finding.finding_type, settings.quarantine_min_severity
        ));
    }
    (severity < settings.guardduty_min_severity).then(|| {
        format!(
            "GuardDuty finding {} about {} has severity {severity}, below notify's floor {} \
             (REFLEX_NOTIFY_GUARDDUTY_MIN_SEVERITY): not reported, and no automatic response",
            finding.finding_type,
            finding.resource_summary(),
            settings.guardduty_min_severity
        )
    })
}
