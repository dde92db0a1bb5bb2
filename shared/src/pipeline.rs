//! The flow of one event, the same for every function:
//! parse → screen (event guards) → validate (pure) → gather facts (read-only AWS) → decide (pure)
//! → step guards → act → audit → notify.

use serde_json::Value;
use std::collections::BTreeSet;
use std::future::Future;

use crate::audit;
use crate::config::ExemptTag;
use crate::error::{EventError, ReflexError};
use crate::event::{self, Event};
use crate::guard::{Disposition, EventSkip, Guards};
use crate::identity::Principal;
use crate::notify::Notifier;
use crate::outcome::Outcome;
use crate::plan::{Finding, RemediationAction};
use crate::report::{ActionReport, EventSummary, FindingReport, Report};

/// What a function plugs into the pipeline: its rules and its executor.
pub trait Remediator: Send + Sync {
    type Action: RemediationAction;
    /// What the rules need to know beyond the event (e.g. a group's policies), read from AWS.
    type Facts: Default + Send + Sync;

    fn name(&self) -> &'static str;

    /// Refuse events this function does not handle (wrong source or detail-type).
    fn accepts(&self, event: &Event) -> Result<(), EventError>;

    /// Read-only lookups the rules need. Lookup failures become notes in the report.
    fn gather(&self, event: &Event) -> impl Future<Output = (Self::Facts, Vec<String>)> + Send;

    /// The rules: pure, no I/O. An event missing a field a rule needs is an error.
    fn decide(
        &self,
        event: &Event,
        facts: &Self::Facts,
    ) -> Result<Vec<Finding<Self::Action>>, EventError>;

    /// Whether the principal carries the exemption tag.
    fn has_exempt_tag(
        &self,
        principal: &Principal,
        tag: &ExemptTag,
    ) -> impl Future<Output = Result<bool, String>> + Send;

    /// Carry out one action. Never panics; every fault is an outcome.
    fn execute(&self, action: &Self::Action) -> impl Future<Output = Outcome> + Send;
}

pub struct Handler<R> {
    pub remediator: R,
    pub guards: Guards,
    pub exempt_tag: ExemptTag,
    pub notifier: Option<Notifier>,
}

impl<R: Remediator> Handler<R> {
    /// Handle one raw EventBridge event and return its report.
    pub async fn handle(&self, raw: Value) -> Result<Report, ReflexError> {
        let event = event::parse(raw)?;
        self.remediator.accepts(&event)?;
        let Event::ApiCall { envelope, call } = &event;
        let mut report = Report::new(
            self.remediator.name(),
            EventSummary::of_api_call(envelope, call),
        );

        if let Some(skip) = self.guards.screen(call) {
            return Ok(self.finish_without_action(report, Some(skip)));
        }
        // Running the rules once without facts validates the event before any AWS call.
        self.remediator.decide(&event, &R::Facts::default())?;

        let (facts, notes) = self.remediator.gather(&event).await;
        report.notes.extend(notes);
        let findings = self.remediator.decide(&event, &facts)?;
        if findings.is_empty() {
            return Ok(self.finish_without_action(report, None));
        }

        let actor = call.user_identity.principal();
        let tagged = self
            .tag_exempt(
                actor.iter().chain(targets(&findings).iter()),
                &mut report.notes,
            )
            .await;
        if let Some(actor) = actor.filter(|a| tagged.contains(a)) {
            let skip = EventSkip::ExemptActor {
                actor: call.user_identity.describe(),
                because: format!("{actor} carries the exemption tag {}", self.exempt_tag.key),
            };
            return Ok(self.finish_without_action(report, Some(skip)));
        }

        for guarded in self.guards.apply(findings, &tagged) {
            let mut actions = Vec::with_capacity(guarded.steps.len());
            for (action, disposition) in guarded.steps {
                let outcome = match disposition {
                    Disposition::Run => self.remediator.execute(&action).await,
                    Disposition::DryRun => Outcome::WouldDo,
                    Disposition::Skip { why } => Outcome::Skipped { why },
                };
                actions.push(ActionReport {
                    description: action.describe(),
                    action: serde_json::to_value(&action).unwrap_or(Value::Null),
                    outcome,
                });
            }
            report.findings.push(FindingReport {
                rule_id: guarded.finding.rule_id.to_string(),
                severity: guarded.finding.severity,
                reason: guarded.finding.reason,
                mode: guarded.mode,
                actions,
            });
        }
        report.settle();
        audit::log_actions(&report);
        self.notify(&mut report).await?;
        Ok(report)
    }

    fn finish_without_action(&self, mut report: Report, skip: Option<EventSkip>) -> Report {
        report.skipped = skip;
        report.settle();
        audit::log_actions(&report);
        report
    }

    async fn tag_exempt<'a>(
        &self,
        principals: impl Iterator<Item = &'a Principal>,
        notes: &mut Vec<String>,
    ) -> BTreeSet<Principal> {
        let mut tagged = BTreeSet::new();
        let unique: BTreeSet<&Principal> = principals.collect();
        for p in unique {
            match self.remediator.has_exempt_tag(p, &self.exempt_tag).await {
                Ok(true) => {
                    tagged.insert(p.clone());
                }
                Ok(false) => {}
                // Fail toward remediation: an unreadable tag is not an exemption.
                Err(e) => notes.push(format!(
                    "could not read the tags of {p}, treated as not exempt: {e}"
                )),
            }
        }
        tagged
    }

    async fn notify(&self, report: &mut Report) -> Result<(), ReflexError> {
        if !report.is_notifiable() {
            return Ok(());
        }
        match &self.notifier {
            Some(n) => {
                let id = n.publish(report).await?;
                tracing::info!(message_id = %id, "report published to SNS");
            }
            None => report
                .notes
                .push("no SNS topic configured (REFLEX_TOPIC_ARN): report logged only".into()),
        }
        Ok(())
    }
}

fn targets<A: RemediationAction>(findings: &[Finding<A>]) -> Vec<Principal> {
    findings
        .iter()
        .flat_map(|f| f.actions.iter().filter_map(|a| a.target()))
        .collect()
}
