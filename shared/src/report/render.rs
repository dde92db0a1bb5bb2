//! A report as people read it: an inbox subject and a plain-text body.

use super::{Report, Status};
use crate::outcome::Outcome;

/// SNS refuses subjects over 100 characters.
const MAX_SUBJECT: usize = 100;

impl Report {
    pub fn status_words(&self) -> &'static str {
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
            Status::Exempt => "Exempt, not acted on",
            Status::Updated => "Updated",
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
        if let Some(update) = &self.update {
            out += &format!("\nUPDATE: {update}\n");
        }
        if let Some(skip) = &self.skipped {
            out += &format!("\nNOT ACTED ON: {}\n", skip.describe());
        }
        for f in &self.findings {
            out += &format!(
                "\nFINDING {} [{}] (mode: {})\n  {}\n",
                f.rule_id,
                f.severity,
                f.mode.as_str(),
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
                    Outcome::Skipped { why } | Outcome::Exempt { why } => {
                        out += &format!("      why: {why}\n")
                    }
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::with_outcomes;
    use crate::outcome::Outcome;

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
