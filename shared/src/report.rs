//! The report of one event: what happened, who did it, what Reflex did (or would do), how to undo.
//! One type for every function, rendered for people (subject, text) and machines (JSON).

use serde::Serialize;
use serde_json::Value;

use crate::alarm::AlarmStateChange;
use crate::event::{ApiCall, Envelope, Event};
use crate::finding::GuardDutyFinding;
use crate::guard::{EventSkip, Mode};
use crate::insight::InsightEvent;
use crate::outcome::Outcome;
use crate::plan::Severity;

/// SNS refuses subjects over 100 characters.
const MAX_SUBJECT: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every attempted action is done or already done.
    Remediated,
    /// Dry-run: the report lists what would have been done.
    DryRun,
    /// Some actions failed, others succeeded.
    PartiallyFailed,
    /// Every attempted action failed.
    Failed,
    /// Findings, but every action was skipped (rule off, exempt target).
    NoAction,
    /// A serious finding with nothing to do automatically (a deleted trail): a person must act.
    NeedsAttention,
    /// No rule found anything to remediate.
    NothingToDo,
    /// An event-level guard stopped it (loop guard, failed call, exempt caller).
    Skipped,
    /// A redelivery: the ledger shows an earlier delivery handled every finding.
    AlreadyHandled,
}

impl Status {
    /// As in the JSON report: `remediated`, `dry-run`, ... (SNS attributes, metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Remediated => "remediated",
            Status::DryRun => "dry-run",
            Status::PartiallyFailed => "partially-failed",
            Status::Failed => "failed",
            Status::NoAction => "no-action",
            Status::NeedsAttention => "needs-attention",
            Status::NothingToDo => "nothing-to-do",
            Status::Skipped => "skipped",
            Status::AlreadyHandled => "already-handled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
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

    pub fn of_guardduty(envelope: &Envelope, finding: &GuardDutyFinding) -> Self {
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
            console_url: Some(format!(
                "https://{region}.console.aws.amazon.com/guardduty/home?region={region}#/findings?search=id%3D{}",
                finding.id
            )),
            region,
            time: envelope.time.clone(),
            actor: "GuardDuty".into(),
            actor_type: "Finding".into(),
            source_ip: None,
            user_agent: None,
        }
    }

    pub fn of_insight(envelope: &Envelope, insight: &InsightEvent) -> Self {
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
            console_url: Some(format!(
                "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/insights"
            )),
            region,
            time: insight.event_time.clone().or_else(|| envelope.time.clone()),
            actor: "CloudTrail Insights".into(),
            actor_type: "Insight".into(),
            source_ip: None,
            user_agent: None,
        }
    }

    pub fn of_alarm(envelope: &Envelope, alarm: &AlarmStateChange) -> Self {
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
            console_url: Some(format!(
                "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{name}",
                region = envelope.region,
                name = url_path_segment(&alarm.alarm_name)
            )),
        }
    }

    pub fn of_api_call(envelope: &Envelope, call: &ApiCall) -> Self {
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
            console_url: call.event_id.as_ref().map(|id| {
                format!(
                    "https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events/{id}",
                    region = call.aws_region
                )
            }),
        }
    }
}

/// Percent-encode everything but unreserved characters (alarm names may hold spaces, slashes).
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionReport {
    pub description: String,
    pub action: Value,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingReport {
    pub rule_id: String,
    pub severity: Severity,
    pub reason: String,
    pub mode: Mode,
    /// An earlier delivery of the same event already handled this finding (ledger claim).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_handled: bool,
    pub actions: Vec<ActionReport>,
}

impl FindingReport {
    /// Nothing to do automatically, serious enough (at or above `threshold`), rule not off.
    pub fn needs_a_person(&self, threshold: Severity) -> bool {
        self.actions.is_empty() && self.severity >= threshold && self.mode != Mode::Off
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub function: String,
    pub status: Status,
    pub event: EventSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<EventSkip>,
    pub findings: Vec<FindingReport>,
    pub notes: Vec<String>,
    /// Findings without actions at or above this severity go to a person (see `needs_a_person`).
    #[serde(skip)]
    pub alert_severity: Severity,
}

impl Report {
    pub fn new(function: &str, event: EventSummary) -> Self {
        Self {
            function: function.to_string(),
            status: Status::NothingToDo,
            event,
            skipped: None,
            findings: Vec::new(),
            notes: Vec::new(),
            alert_severity: Severity::High,
        }
    }

    /// Derive the status from the outcomes; call once the findings are final.
    pub fn settle(&mut self) {
        let outcomes: Vec<&Outcome> = self.actions().map(|a| &a.outcome).collect();
        let acted = outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Done { .. } | Outcome::AlreadyDone { .. }));
        let failed = outcomes.iter().any(|o| o.is_failed());
        let alert = self
            .findings
            .iter()
            .any(|f| f.needs_a_person(self.alert_severity));
        // Most urgent first: something broke, then something a person must do themselves.
        self.status = if self.skipped.is_some() {
            Status::Skipped
        } else if self.findings.is_empty() {
            Status::NothingToDo
        } else if self.findings.iter().all(|f| f.already_handled) {
            Status::AlreadyHandled
        } else if failed && acted {
            Status::PartiallyFailed
        } else if failed {
            Status::Failed
        } else if alert {
            Status::NeedsAttention
        } else if acted {
            Status::Remediated
        } else if outcomes.iter().any(|o| matches!(o, Outcome::WouldDo)) {
            Status::DryRun
        } else {
            Status::NoAction
        };
    }

    pub fn actions(&self) -> impl Iterator<Item = &ActionReport> {
        self.findings.iter().flat_map(|f| f.actions.iter())
    }

    pub fn severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// Worth a person's attention: something was done, would be done, or went wrong.
    pub fn is_notifiable(&self) -> bool {
        matches!(
            self.status,
            Status::Remediated
                | Status::DryRun
                | Status::PartiallyFailed
                | Status::Failed
                | Status::NeedsAttention
        )
    }

    fn status_words(&self) -> &'static str {
        match self.status {
            Status::Remediated => "Remediated",
            Status::DryRun => "Dry-run (would remediate)",
            Status::PartiallyFailed => "PARTIALLY FAILED",
            Status::Failed => "FAILED to remediate",
            Status::NoAction => "Found, not acted on",
            Status::NeedsAttention => "Needs attention",
            Status::NothingToDo => "Nothing to do",
            Status::Skipped => "Skipped",
            Status::AlreadyHandled => "Already handled",
        }
    }

    /// A subject a person can scan in an inbox: severity, verdict, API, actor, account.
    pub fn subject(&self) -> String {
        let severity = self.severity().map(|s| format!(" {s}")).unwrap_or_default();
        let raw = format!(
            "[Reflex{severity}] {}: {} in {}",
            self.status_words(),
            self.event.what,
            self.event.account
        );
        // SNS subjects: printable ASCII, no line breaks, at most 100 characters.
        let ascii: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if ascii.len() <= MAX_SUBJECT {
            ascii
        } else {
            format!("{}...", &ascii[..MAX_SUBJECT - 3])
        }
    }

    /// The human-readable body.
    pub fn text(&self) -> String {
        let e = &self.event;
        let mut out = format!("Reflex {}: {}\n\n", self.function, self.status_words());
        out += "WHAT HAPPENED\n";
        if matches!(e.actor_type.as_str(), "Alarm" | "Insight" | "Finding") {
            out += &format!("  {}\n", e.what);
        } else {
            let service = e.source.strip_prefix("aws.").unwrap_or(&e.source);
            out += &format!("  {} called {service}:{}\n", e.actor, e.name);
        }
        out += &format!(
            "  account {}, region {}, at {}\n",
            e.account,
            e.region,
            e.time.as_deref().unwrap_or("an unknown time")
        );
        if let Some(ip) = &e.source_ip {
            out += &format!("  from {ip}");
            if let Some(ua) = &e.user_agent {
                out += &format!(" using {ua}");
            }
            out += "\n";
        }
        out += &format!("  event id {}\n", e.id);
        if let Some(url) = &e.console_url {
            out += &format!("  console: {url}\n");
        }
        if let Some(skip) = &self.skipped {
            out += &format!("\nNOT ACTED ON: {}\n", skip.describe());
        }
        for f in &self.findings {
            out += &format!(
                "\nFINDING {} [{}] (mode: {})\n  {}\n",
                f.rule_id,
                f.severity,
                mode_word(f.mode),
                f.reason.replace('\n', "\n  ")
            );
            for a in &f.actions {
                out += &format!("  - {}: {}\n", a.description, a.outcome.label());
                match &a.outcome {
                    Outcome::Done { detail, undo, .. } => {
                        out += &format!("      {detail}\n");
                        if let Some(undo) = undo {
                            out += &format!("      to undo: {undo}\n");
                        }
                    }
                    Outcome::AlreadyDone { detail } => out += &format!("      {detail}\n"),
                    Outcome::Skipped { why } => out += &format!("      why: {why}\n"),
                    Outcome::Failed { why, .. } => out += &format!("      why: {why}\n"),
                    Outcome::WouldDo => {}
                }
            }
        }
        for n in &self.notes {
            out += &format!("\nNOTE: {n}\n");
        }
        out += "\nThe same report as JSON goes to queue, function and HTTP subscribers.\n";
        out
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a report always serializes")
    }
}

fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "enforce",
        Mode::DryRun => "dry-run",
        Mode::Off => "off",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_names_are_the_json_ones() {
        use super::Status::*;
        for s in [
            Remediated,
            DryRun,
            PartiallyFailed,
            Failed,
            NoAction,
            NeedsAttention,
            NothingToDo,
            Skipped,
            AlreadyHandled,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    use super::*;
    use serde_json::json;

    fn summary() -> EventSummary {
        EventSummary {
            id: "e-1".into(),
            what: "iam:AttachUserPolicy by mallory".into(),
            detail_type: "AWS API Call via CloudTrail".into(),
            source: "aws.iam".into(),
            name: "AttachUserPolicy".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            time: Some("2026-11-20T10:00:00Z".into()),
            actor: "arn:aws:iam::123456789012:user/mallory".into(),
            actor_type: "IAMUser".into(),
            source_ip: Some("203.0.113.7".into()),
            user_agent: Some("aws-cli/2.15".into()),
            console_url: None,
        }
    }

    fn with_outcomes(outcomes: Vec<Outcome>) -> Report {
        let mut r = Report::new("revoke", summary());
        r.findings.push(FindingReport {
            rule_id: "revoke.x".into(),
            severity: Severity::High,
            reason: "because".into(),
            mode: Mode::Enforce,
            already_handled: false,
            actions: outcomes
                .into_iter()
                .map(|outcome| ActionReport {
                    description: "detach it".into(),
                    action: json!({}),
                    outcome,
                })
                .collect(),
        });
        r.settle();
        r
    }

    #[test]
    fn status_follows_outcomes() {
        let done = || Outcome::done("detached", None, "attach it again");
        let failed = || Outcome::failed("AccessDenied", Some("AccessDenied".into()));
        assert_eq!(with_outcomes(vec![done()]).status, Status::Remediated);
        assert_eq!(
            with_outcomes(vec![done(), failed()]).status,
            Status::PartiallyFailed
        );
        assert_eq!(with_outcomes(vec![failed()]).status, Status::Failed);
        assert_eq!(with_outcomes(vec![Outcome::WouldDo]).status, Status::DryRun);
        assert_eq!(
            with_outcomes(vec![Outcome::Skipped { why: "off".into() }]).status,
            Status::NoAction
        );
        assert!(!with_outcomes(vec![Outcome::Skipped { why: "off".into() }]).is_notifiable());
        let mut alert = with_outcomes(vec![]);
        assert_eq!(alert.status, Status::NeedsAttention);
        assert!(alert.is_notifiable());
        alert.findings[0].severity = Severity::Medium;
        alert.settle();
        assert_eq!(alert.status, Status::NoAction);
        let mut empty = Report::new("revoke", summary());
        empty.settle();
        assert_eq!(empty.status, Status::NothingToDo);
    }

    #[test]
    fn subject_is_scannable_and_within_sns_limits() {
        let r = with_outcomes(vec![Outcome::done("detached", None, "attach it again")]);
        assert_eq!(
            r.subject(),
            "[Reflex HIGH] Remediated: iam:AttachUserPolicy by mallory in 123456789012"
        );
        let mut long = r.clone();
        long.event.what = format!("iam:X by {}/é", "r".repeat(200));
        let s = long.subject();
        assert!(s.len() <= 100 && s.is_ascii() && s.ends_with("..."), "{s}");
    }

    #[test]
    fn text_says_who_what_and_how_to_undo() {
        let r = with_outcomes(vec![Outcome::done(
            "detached",
            None,
            "aws iam attach-user-policy",
        )]);
        let t = r.text();
        assert!(t.contains("arn:aws:iam::123456789012:user/mallory called iam:AttachUserPolicy"));
        assert!(t.contains("FINDING revoke.x [HIGH] (mode: enforce)"));
        assert!(t.contains("to undo: aws iam attach-user-policy"));
        assert_eq!(
            r.to_json()["findings"][0]["actions"][0]["outcome"]["status"],
            "done"
        );
    }
}
