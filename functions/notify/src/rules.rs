//! The notify rules: pure functions from a trigger to the findings a person must read. No AWS
//! call, no failure, no action: the pipeline publishes each finding as one SNS report.

use reflex_shared::event::alarm::AlarmStateValue;
use reflex_shared::event::{AlarmStateChange, GuardDutyFinding, InsightEvent};
use reflex_shared::report::one_line;
use reflex_shared::{ApiCall, Finding, Severity};

use crate::actions::NoAction;
use crate::facts::Facts;
use crate::settings::Settings;
use crate::trigger::Trigger;

pub const ALARM: &str = "notify.alarm";
pub const INSIGHT: &str = "notify.insight";
pub const SIGN_IN_FAILED: &str = "notify.sign-in-failed";
pub const ROOT_SIGN_IN: &str = "notify.root-sign-in";
pub const SIGN_IN_WITHOUT_MFA: &str = "notify.sign-in-without-mfa";
pub const GUARDDUTY: &str = "notify.guardduty-finding";

pub const RULE_IDS: &[&str] = &[
    ALARM,
    INSIGHT,
    SIGN_IN_FAILED,
    ROOT_SIGN_IN,
    SIGN_IN_WITHOUT_MFA,
    GUARDDUTY,
];

/// The rule for the trigger's kind of event.
pub fn decide(trigger: &Trigger, _facts: &Facts, settings: &Settings) -> Vec<Finding<NoAction>> {
    match trigger {
        Trigger::Alarm(a) => alarm(a, settings),
        Trigger::Insight(i) => insight(i, settings),
        Trigger::SignIn(call) => sign_in(call),
        Trigger::GuardDuty(gd) => guardduty(gd),
    }
}

/// One finding whose reason is `lines`, one line each. The lines quote text others choose (an
/// alarm's name, description or state reason, user agents, GuardDuty's descriptions): a line
/// break in it would start a line of the reason of its own, one that could pass for notify's.
/// Each line is therefore kept on its line (the core's `one_line`).
fn finding(
    rule_id: &'static str,
    severity: Severity,
    lines: Vec<String>,
) -> Vec<Finding<NoAction>> {
    let lines: Vec<_> = lines.iter().map(|line| one_line(line)).collect();
    vec![Finding {
        rule_id,
        severity,
        reason: lines.join("\n"),
        actions: Vec::new(),
    }]
}

/// Any alarm state change: the change, why, the value against the threshold.
fn alarm(alarm: &AlarmStateChange, settings: &Settings) -> Vec<Finding<NoAction>> {
    let severity = match alarm.state.value {
        AlarmStateValue::Alarm => Severity::Medium,
        AlarmStateValue::InsufficientData => Severity::Low,
        AlarmStateValue::Ok if settings.resolved => Severity::Low,
        AlarmStateValue::Ok => return Vec::new(),
    };
    let previous = alarm
        .previous_state
        .as_ref()
        .map(|p| p.value.to_string())
        .unwrap_or_else(|| "?".into());
    let mut lines = vec![
        format!(
            "alarm {}: {previous} -> {} at {}",
            alarm.alarm_name, alarm.state.value, alarm.state.timestamp
        ),
        format!("cause: {}", alarm.cause()),
        format!("reason: {}", alarm.state.reason),
    ];
    if let Some(d) = alarm
        .configuration
        .get("description")
        .and_then(|d| d.as_str())
    {
        lines.push(format!("description: {d}"));
    }
    finding(ALARM, severity, lines)
}

/// A CloudTrail Insight: which API, how far above its baseline, and who drove it.
fn insight(insight: &InsightEvent, settings: &Settings) -> Vec<Finding<NoAction>> {
    if !insight.is_start() && !settings.resolved {
        return Vec::new();
    }
    let d = &insight.insight_details;
    let (kind, unit) = if insight.is_error_rate() {
        ("error rate", "errors")
    } else {
        ("call rate", "calls")
    };
    let mut lines = vec![format!(
        "CloudTrail Insights: unusual API {kind} of {} ({}), {}",
        insight.api(),
        d.event_source,
        if insight.is_start() {
            "started"
        } else {
            "ended"
        }
    )];
    if let Some(code) = &d.error_code {
        lines.push(format!("error code: {code}"));
    }
    if let Some(stats) = &d.insight_context.statistics {
        let baseline = stats.baseline.map(|b| b.average).unwrap_or(0.0);
        let observed = stats.insight.map(|i| i.average).unwrap_or(0.0);
        let ratio = if baseline > 0.0 {
            format!(", {:.0}x the baseline", observed / baseline)
        } else {
            String::new()
        };
        lines.push(format!(
            "observed {observed} {unit}/min against a baseline of {baseline}{ratio}"
        ));
    }
    for (attribute, label) in [
        ("userIdentityArn", "top principals"),
        ("userAgent", "top user agents"),
        ("errorCode", "top error codes"),
    ] {
        let top: Vec<String> = insight
            .top(attribute, 3)
            .iter()
            .map(|c| format!("{} ({})", c.value, c.average))
            .collect();
        if !top.is_empty() {
            lines.push(format!("{label}: {}", top.join(", ")));
        }
    }
    let severity = match (insight.is_start(), insight.is_error_rate()) {
        (false, _) => Severity::Low,
        (true, true) => Severity::High,
        (true, false) => Severity::Medium,
    };
    finding(INSIGHT, severity, lines)
}

/// Console sign-ins that need a person: failures, the root user, no MFA.
fn sign_in(call: &ApiCall) -> Vec<Finding<NoAction>> {
    let who = call.user_identity.describe();
    let from = call
        .source_ip_address
        .as_deref()
        .unwrap_or("an unknown address");
    let root = call.user_identity.kind == "Root";
    let mfa = call
        .additional_event_data
        .as_ref()
        .and_then(|d| d.get("MFAUsed"))
        .and_then(|m| m.as_str())
        .map(|m| m.eq_ignore_ascii_case("yes"));
    match call.response_str("/ConsoleLogin") {
        Some("Failure") => {
            let why = call
                .error_message
                .as_deref()
                .unwrap_or("failed authentication");
            let severity = if root {
                Severity::High
            } else {
                Severity::Medium
            };
            finding(
                SIGN_IN_FAILED,
                severity,
                vec![format!(
                    "failed console sign-in as {who} from {from}: {why}"
                )],
            )
        }
        Some("Success") if root => finding(
            ROOT_SIGN_IN,
            Severity::Critical,
            vec![
                format!("the root user signed in to the console from {from}"),
                format!("MFA used: {}", if mfa == Some(true) { "yes" } else { "no" }),
            ],
        ),
        // Federated and SSO sessions do their MFA at the identity provider.
        Some("Success") if call.user_identity.kind == "IAMUser" && mfa == Some(false) => finding(
            SIGN_IN_WITHOUT_MFA,
            Severity::High,
            vec![format!(
                "{who} signed in to the console without MFA from {from}"
            )],
        ),
        _ => Vec::new(),
    }
}

/// A GuardDuty finding notify reports (the trigger has left out those below notify's floor and
/// the instance findings quarantine acts on): what, about which resource, the action GuardDuty
/// saw and how often.
fn guardduty(gd: &GuardDutyFinding) -> Vec<Finding<NoAction>> {
    let mut lines = vec![
        format!("GuardDuty: {}", gd.title),
        format!("type {} (severity {})", gd.finding_type, gd.severity),
        format!("resource: {}", gd.resource_summary()),
    ];
    let service = &gd.service;
    if let Some(api) = service.pointer("/action/awsApiCallAction") {
        let s = |k: &str| api.get(k).and_then(|v| v.as_str()).unwrap_or("?");
        let from = api
            .pointer("/remoteIpDetails/ipAddressV4")
            .and_then(|v| v.as_str())
            .map(|ip| format!(" from {ip}"))
            .unwrap_or_default();
        lines.push(format!(
            "seen: {} call to {}{from}",
            s("api"),
            s("serviceName")
        ));
    }
    if let (Some(count), Some(first), Some(last)) = (
        service.get("count").and_then(|v| v.as_u64()),
        service.get("eventFirstSeen").and_then(|v| v.as_str()),
        service.get("eventLastSeen").and_then(|v| v.as_str()),
    ) {
        lines.push(format!("{count} time(s), first {first}, last {last}"));
    }
    if !gd.description.is_empty() {
        lines.push(format!("description: {}", gd.description));
    }
    finding(GUARDDUTY, gd.band(), lines)
}
