//! The report of one event, one type for every function: what happened, what Reflex did (or
//! would do) about it, and how to undo it. It round-trips through JSON, so the ledger's record
//! and a delivered report read back as this type.
//!
//! - this file: the model and the status derived from the outcomes
//! - `summary`: the event behind the report, with its console link
//! - `render`: what people read: the subject, the text body, the Chatbot document

pub(crate) mod render;
pub mod summary;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::guard::{EventSkip, Mode};
use crate::outcome::Outcome;
use crate::plan::Severity;

pub use render::one_line;
pub use summary::EventSummary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Findings, but every action was skipped (rule off, blast radius).
    NoAction,
    /// Findings whose actions were all held back because what they touch is exempt: reported,
    /// so an exemption is never silent.
    Exempt,
    /// A serious finding with nothing to do automatically (a deleted trail): a person must act.
    NeedsAttention,
    /// No rule found anything to remediate.
    NothingToDo,
    /// An event-level guard stopped it (loop guard, failed call, exempt caller).
    Skipped,
    /// A redelivery: the ledger shows an earlier delivery handled every finding.
    AlreadyHandled,
    /// A finding reported earlier that its source republished changed enough to tell people
    /// again (a GuardDuty finding grown more severe or seen twice as often); nothing is redone.
    Updated,
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
            Status::Exempt => "exempt",
            Status::NeedsAttention => "needs-attention",
            Status::NothingToDo => "nothing-to-do",
            Status::Skipped => "skipped",
            Status::AlreadyHandled => "already-handled",
            Status::Updated => "updated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionReport {
    /// The step's stable name within its finding (see `Action::step`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
    pub description: String,
    /// The function's action as JSON (its type is the function's own).
    pub action: Value,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingReport {
    pub rule_id: String,
    pub severity: Severity,
    pub reason: String,
    pub mode: Mode,
    /// An earlier delivery of the same event already handled this finding (ledger claim).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already_handled: bool,
    /// Why a person must look although nothing failed: the rate limit held the finding's
    /// actions back, the first time in its window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    pub actions: Vec<ActionReport>,
}

impl FindingReport {
    /// Nothing to do automatically, serious enough (at or above `threshold`), rule not off; or
    /// held back in a way a person must hear about (`attention`).
    pub fn needs_a_person(&self, threshold: Severity) -> bool {
        let nothing_to_do =
            self.actions.is_empty() && self.severity >= threshold && self.mode != Mode::Off;
        nothing_to_do || self.attention.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub function: String,
    pub status: Status,
    pub event: EventSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<EventSkip>,
    pub findings: Vec<FindingReport>,
    pub notes: Vec<String>,
    /// For a republished finding reported before: what changed since people were told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<String>,
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
            update: None,
        }
    }

    /// Add a note once (the same note from two findings is said once).
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Derive the status from the outcomes; call once the findings are final. Findings without
    /// actions at or above `alert` need a person (see [`FindingReport::needs_a_person`]).
    pub fn settle(&mut self, alert: Severity) {
        let outcomes: Vec<&Outcome> = self.actions().map(|a| &a.outcome).collect();
        let any = |f: fn(&Outcome) -> bool| outcomes.iter().any(|o| f(o));
        let acted = any(Outcome::is_done);
        let failed = any(Outcome::is_failed);
        let needs_a_person = self.findings.iter().any(|f| f.needs_a_person(alert));
        // Most urgent first: something broke, then something a person must do themselves.
        self.status = if self.skipped.is_some() {
            Status::Skipped
        } else if self.findings.is_empty() {
            Status::NothingToDo
        } else if self.findings.iter().all(|f| f.already_handled) {
            match self.update {
                Some(_) => Status::Updated,
                None => Status::AlreadyHandled,
            }
        } else if failed && acted {
            Status::PartiallyFailed
        } else if failed {
            Status::Failed
        } else if needs_a_person {
            Status::NeedsAttention
        } else if acted {
            Status::Remediated
        } else if any(|o| matches!(o, Outcome::WouldDo)) {
            Status::DryRun
        } else if any(|o| matches!(o, Outcome::Exempt { .. })) {
            Status::Exempt
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

    /// Worth a person's attention: something was done, would be done, went wrong, or was held
    /// back by an exemption.
    pub fn is_notifiable(&self) -> bool {
        matches!(
            self.status,
            Status::Remediated
                | Status::DryRun
                | Status::PartiallyFailed
                | Status::Failed
                | Status::NeedsAttention
                | Status::Exempt
                | Status::Updated
        )
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a report always serializes")
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
            Exempt,
            NeedsAttention,
            NothingToDo,
            Skipped,
            AlreadyHandled,
            Updated,
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

    /// The undo of detaching a policy from `user`, built as the executors build theirs.
    pub(super) fn attach_again(user: &str) -> crate::undo::Undo {
        crate::undo::Undo::run(
            crate::undo::AwsCli::new("iam", "attach-user-policy").arg("--user-name", user),
        )
    }

    pub(super) fn with_outcomes(outcomes: Vec<Outcome>) -> Report {
        let mut r = Report::new("revoke", summary());
        r.findings.push(FindingReport {
            rule_id: "revoke.x".into(),
            severity: Severity::High,
            reason: "because".into(),
            mode: Mode::Enforce,
            already_handled: false,
            attention: None,
            actions: outcomes
                .into_iter()
                .map(|outcome| ActionReport {
                    step: String::new(),
                    description: "detach it".into(),
                    action: json!({}),
                    outcome,
                })
                .collect(),
        });
        r.settle(Severity::High);
        r
    }

    #[test]
    fn status_follows_outcomes() {
        let done = || Outcome::done("detached", None, attach_again("alice"));
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
        let exempt = || Outcome::Exempt {
            why: "user alice carries the exemption tag".into(),
        };
        assert_eq!(with_outcomes(vec![exempt()]).status, Status::Exempt);
        assert!(
            with_outcomes(vec![exempt()]).is_notifiable(),
            "never silent"
        );
        assert_eq!(
            with_outcomes(vec![exempt(), Outcome::WouldDo]).status,
            Status::DryRun
        );
        let mut alert = with_outcomes(vec![]);
        assert_eq!(alert.status, Status::NeedsAttention);
        assert!(alert.is_notifiable());
        alert.findings[0].severity = Severity::Medium;
        alert.settle(Severity::High);
        assert_eq!(alert.status, Status::NoAction);
        let mut empty = Report::new("revoke", summary());
        empty.settle(Severity::High);
        assert_eq!(empty.status, Status::NothingToDo);
    }

    #[test]
    fn actions_held_back_by_the_rate_limit_page_only_when_a_person_must_look() {
        let held = || Outcome::skipped("rate limit: at most 30 enforced actions per hour");
        let quiet = with_outcomes(vec![held()]);
        assert_eq!(quiet.status, Status::NoAction);
        assert!(!quiet.is_notifiable(), "later refusals page no one");
        let mut first = with_outcomes(vec![held()]);
        first.findings[0].attention = Some("the hour's first refusal".into());
        first.settle(Severity::High);
        assert_eq!(first.status, Status::NeedsAttention);
        assert!(first.is_notifiable());
        // Recorded in the ledger and read back (a report sent by the retry), it still pages.
        let back: Report = serde_json::from_str(&first.to_json().to_string()).unwrap();
        assert_eq!(back.findings[0].attention, first.findings[0].attention);
    }

    #[test]
    fn a_report_round_trips_through_json() {
        let r = with_outcomes(vec![Outcome::done("detached", None, attach_again("alice"))]);
        let back: Report = serde_json::from_str(&r.to_json().to_string()).unwrap();
        assert_eq!(back, r);
    }
}
