//! One line and the facts a person needs about the event behind a report: what happened, who
//! did it, where, and a link to it in the AWS console. One summary for every kind of event.

use serde::{Deserialize, Serialize};

use crate::event::alarm::AlarmStateChange;
use crate::event::guardduty::GuardDutyFinding;
use crate::event::insight::InsightEvent;
use crate::event::{ApiCall, Envelope, Event};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    pub id: String,
    /// One line for people: "iam:AttachUserPolicy by mallory", "alarm web-cpu-high OK -> ALARM".
    pub what: String,
    pub detail_type: String,
    pub source: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub time: Option<String>,
    pub actor: String,
    pub actor_type: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Where a person looks at it in the AWS console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
}

impl EventSummary {
    pub fn of(event: &Event) -> Self {
        match event {
            Event::ApiCall { envelope, call } => Self::of_api_call(envelope, call),
            Event::Alarm { envelope, alarm } => Self::of_alarm(envelope, alarm),
            Event::Insight { envelope, insight } => Self::of_insight(envelope, insight),
            Event::GuardDuty { envelope, finding } => Self::of_guardduty(envelope, finding),
            Event::SignIn { envelope, call } => {
                let mut summary = Self::of_api_call(envelope, call);
                let result = call.response_str("/ConsoleLogin").unwrap_or("attempt");
                summary.what = format!(
                    "console sign-in {} by {}",
                    result.to_ascii_lowercase(),
                    short_actor(&summary.actor)
                );
                summary
            }
        }
    }

    fn of_guardduty(envelope: &Envelope, finding: &GuardDutyFinding) -> Self {
        let region = finding
            .region
            .clone()
            .unwrap_or_else(|| envelope.region.clone());
        Self {
            id: envelope.id.clone(),
            what: format!(
                "GuardDuty {} (severity {})",
                finding.finding_type, finding.severity
            ),
            detail_type: envelope.detail_type.clone(),
            source: envelope.source.clone(),
            name: finding.finding_type.clone(),
            account: finding
                .account_id
                .clone()
                .unwrap_or_else(|| envelope.account.clone()),
            console_url: console_region(&region).map(|region| {
                format!(
                    "https://{region}.console.aws.amazon.com/guardduty/home?region={region}#/findings?search=id%3D{}",
                    url_path_segment(&finding.id)
                )
            }),
            region,
            time: envelope.time.clone(),
            actor: "GuardDuty".into(),
            actor_type: "Finding".into(),
            source_ip: None,
            user_agent: None,
        }
    }

    fn of_insight(envelope: &Envelope, insight: &InsightEvent) -> Self {
        let d = &insight.insight_details;
        let kind = if insight.is_error_rate() {
            "error rate"
        } else {
            "call rate"
        };
        let region = insight
            .aws_region
            .clone()
            .unwrap_or_else(|| envelope.region.clone());
        Self {
            id: envelope.id.clone(),
            what: format!(
                "unusual {kind} of {} ({})",
                insight.api(),
                d.state.to_ascii_lowercase()
            ),
            detail_type: envelope.detail_type.clone(),
            source: envelope.source.clone(),
            name: d.event_name.clone(),
            account: envelope.account.clone(),
            console_url: console_region(&region).map(|region| {
                format!(
                    "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/insights"
                )
            }),
            region,
            time: insight.event_time.clone().or_else(|| envelope.time.clone()),
            actor: "CloudTrail Insights".into(),
            actor_type: "Insight".into(),
            source_ip: None,
            user_agent: None,
        }
    }

    fn of_alarm(envelope: &Envelope, alarm: &AlarmStateChange) -> Self {
        let previous = alarm
            .previous_state
            .as_ref()
            .map(|p| format!("{} -> ", p.value))
            .unwrap_or_default();
        Self {
            id: envelope.id.clone(),
            what: format!("alarm {} {previous}{}", alarm.alarm_name, alarm.state.value),
            detail_type: envelope.detail_type.clone(),
            source: envelope.source.clone(),
            name: alarm.state.value.to_string(),
            account: envelope.account.clone(),
            region: envelope.region.clone(),
            time: Some(alarm.state.timestamp.clone()).or_else(|| envelope.time.clone()),
            actor: format!("CloudWatch alarm {}", alarm.alarm_name),
            actor_type: "Alarm".into(),
            source_ip: None,
            user_agent: None,
            console_url: console_region(&envelope.region).map(|region| {
                format!(
                    "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}",
                    name = url_path_segment(&alarm.alarm_name)
                )
            }),
        }
    }

    fn of_api_call(envelope: &Envelope, call: &ApiCall) -> Self {
        let service = envelope
            .source
            .strip_prefix("aws.")
            .unwrap_or(&envelope.source);
        Self {
            id: envelope.id.clone(),
            what: format!(
                "{service}:{} by {}",
                call.event_name,
                short_actor(&call.user_identity.describe())
            ),
            detail_type: envelope.detail_type.clone(),
            source: envelope.source.clone(),
            name: call.event_name.clone(),
            account: call
                .recipient_account_id
                .clone()
                .unwrap_or_else(|| envelope.account.clone()),
            region: call.aws_region.clone(),
            time: call.event_time.clone().or_else(|| envelope.time.clone()),
            actor: call.user_identity.describe(),
            actor_type: call.user_identity.kind.clone(),
            source_ip: call.source_ip_address.clone(),
            user_agent: call.user_agent.clone(),
            console_url: call
                .event_id
                .as_ref()
                .zip(console_region(&call.aws_region))
                .map(|(id, region)| {
                    format!(
                        "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events/{}",
                        url_path_segment(id)
                    )
                }),
        }
    }
}

/// A region as it may stand in a console link's host name, or none: a link is built only
/// around a value that cannot change where it points.
fn console_region(region: &str) -> Option<&str> {
    let shaped = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    shaped.then_some(region)
}

/// Percent-encode everything but unreserved characters (alarm names may hold spaces, slashes;
/// ids in links are encoded too, whatever their source promises).
fn url_path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The last path segment of an actor ARN: `mallory`, `break-glass/jane`.
fn short_actor(actor: &str) -> &str {
    match actor.split_once(":assumed-role/") {
        Some((_, rest)) => rest,
        None => actor.rsplit(['/', ':']).next().unwrap_or(actor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_built_only_from_encoded_values_and_region_shaped_hosts() {
        assert_eq!(console_region("us-gov-west-1"), Some("us-gov-west-1"));
        for bad in ["", "evil.example/x?", "us-east-1#", "US-EAST-1", "a b"] {
            assert_eq!(console_region(bad), None, "{bad}");
        }
        assert_eq!(
            url_path_segment("web <!here> a/b|c`d"),
            "web%20%3C%21here%3E%20a%2Fb%7Cc%60d"
        );
    }
}
