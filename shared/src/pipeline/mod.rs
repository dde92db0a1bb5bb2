//! The flow of one event, the same for every function:
//!
//! ```text
//! parse      raw JSON ─► Event (or a clear error)            event
//! accept     the function's event kinds and sources           Function::ACCEPTS
//! screen     loop guard · failed call · caller exempt by ARN  guard
//! interpret  Event ─► the function's trigger, or "ignored"    Function::interpret (pure)
//! target     the event's account and region                   places, target
//! screen     caller exempt by tag                             Function::tags
//! gather     read-only facts the trigger needs                Function::gather
//! decide     trigger + facts ─► findings (cannot fail)        Function::decide (pure)
//! guard      rule mode · exempt resources · blast radius      guard
//! claim      (event, rule) in the ledger                      claim
//! execute    each step ─► its outcome                         Function::execute
//! record     the outcomes and prior state in the ledger       claim
//! report     audit log · EMF metrics · one SNS report         audit, metrics, publish
//! ```

mod build;
pub mod claim;
pub mod places;

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::Value;

use crate::audit;
use crate::error::ReflexError;
use crate::event::{self, Event};
use crate::exemption::ExemptTag;
use crate::function::{Function, Interpreted};
use crate::guard::{Disposition, EventSkip, GuardedFinding, Guards};
use crate::ledger::Ledger;
use crate::outcome::Outcome;
use crate::plan::{Action, Finding};
use crate::publish::SnsPublisher;
use crate::report::{ActionReport, EventSummary, FindingReport, Report};
use crate::resource::Resource;
use crate::target::{Target, target_of};

pub use build::handler_from_env;
pub use claim::ClaimState;
pub use places::Places;

/// One function wired into the pipeline: its instances per place, its settings, the guards, the
/// ledger and the publisher.
pub struct Handler<F: Function> {
    pub places: Places<F>,
    pub settings: F::Settings,
    pub guards: Guards,
    pub exempt_tag: ExemptTag,
    pub publisher: Option<SnsPublisher>,
    /// Duplicate protection and audit trail; `None` for local runs without a table.
    pub ledger: Option<Ledger>,
    /// Print EMF metrics per event (set by the Lambda runtime loop; off in tests and the demo).
    pub emit_metrics: bool,
}

impl<F: Function> Handler<F> {
    /// Handle one raw EventBridge event and return its report.
    pub async fn handle(&self, raw: Value) -> Result<Report, ReflexError> {
        let event = event::parse(raw)?;
        if !event.is_one_of(F::ACCEPTS) {
            return Err(event.unsupported().into());
        }
        let mut report = Report::new(F::NAME, EventSummary::of(&event));
        // Event guards are about API calls: a failed sign-in is news, not noise.
        if let Some(skip) = event.api_call().and_then(|call| self.guards.screen(call)) {
            return Ok(self.finish(report, Some(skip)));
        }
        let trigger = match F::interpret(&event, &self.settings)? {
            Interpreted::Trigger(trigger) => trigger,
            Interpreted::Ignored(why) => {
                report.note(why);
                return Ok(self.finish(report, None));
            }
        };

        let target = self.target(&event);
        let function = self.places.at(&target).await?;
        if target != *self.places.home_target() {
            report.note(format!(
                "acting in {target}: the undo commands are for that account and region"
            ));
        }
        // Each resource's exemption tag is read once per event, caller and targets alike.
        let mut read = ExemptTags::new();
        if let Some(skip) = self
            .exempt_caller(&*function, &event, &mut read, &mut report)
            .await
        {
            return Ok(self.finish(report, Some(skip)));
        }

        let facts = function.gather(&trigger, &mut report.notes).await;
        let findings = F::decide(&trigger, &facts, &self.settings);
        if findings.is_empty() {
            return Ok(self.finish(report, None));
        }
        let exempt = self
            .exempt_resources(&*function, &findings, &mut read, &mut report)
            .await;

        let mut claimed = Vec::new();
        for guarded in self.guards.apply(findings, &exempt) {
            let claim = claim::claim(
                self.ledger.as_ref(),
                event.id(),
                &guarded,
                F::ALERT_SEVERITY,
                F::NAME,
                &report.event.what,
            )
            .await;
            if let Some(note) = claim.note(self.ledger_table()) {
                report.note(note);
            }
            let actions = match claim.handled_earlier(&guarded.steps) {
                Some(earlier) => earlier,
                None => execute(&*function, &guarded.steps).await,
            };
            if let ClaimState::Acquired { key } = &claim {
                self.record(event.id(), key, &actions, &mut report).await;
                claimed.push(key.clone());
            }
            report
                .findings
                .push(finding_report(guarded, &claim, actions));
        }
        report.settle(F::ALERT_SEVERITY);
        self.log(&report);
        if let Err(e) = self.publish(&mut report).await {
            self.release(event.id(), &claimed).await;
            return Err(e);
        }
        Ok(report)
    }

    /// Where to act: where the event happened (its account through the member role, its
    /// region), or at home for a function that only reports.
    fn target(&self, event: &Event) -> Target {
        let home = self.places.home_target();
        if F::ACTS_WHERE_THE_EVENT_HAPPENED {
            target_of(event.envelope(), home)
        } else {
            home.clone()
        }
    }

    /// A caller carrying the exemption tag: the event is skipped before any fact is gathered.
    async fn exempt_caller(
        &self,
        function: &F,
        event: &Event,
        read: &mut ExemptTags,
        report: &mut Report,
    ) -> Option<EventSkip> {
        let call = event.api_call()?;
        let caller = call.user_identity.principal()?;
        let tag = self.exempt_tag_on(function, &caller, read, report).await?;
        Some(EventSkip::ExemptActor {
            actor: call.user_identity.describe(),
            because: format!("{caller} carries the exemption tag {tag}"),
        })
    }

    /// Every resource the findings' actions touch that carries the exemption tag, and why.
    async fn exempt_resources(
        &self,
        function: &F,
        findings: &[Finding<F::Action>],
        read: &mut ExemptTags,
        report: &mut Report,
    ) -> BTreeMap<Resource, String> {
        let mut touched: Vec<Resource> = findings
            .iter()
            .flat_map(|f| f.actions.iter().map(Action::resource))
            .collect();
        touched.sort();
        touched.dedup();
        let mut exempt = BTreeMap::new();
        for resource in touched {
            if let Some(tag) = self.exempt_tag_on(function, &resource, read, report).await {
                let why = format!("{resource} carries the exemption tag {tag}");
                exempt.insert(resource, why);
            }
        }
        exempt
    }

    /// The exemption tag on `resource`, as `key=value`, if it carries it. An unreadable tag is
    /// not an exemption: fail toward remediation, and say so.
    async fn exempt_tag_on(
        &self,
        function: &F,
        resource: &Resource,
        read: &mut ExemptTags,
        report: &mut Report,
    ) -> Option<String> {
        if let Some(known) = read.get(resource) {
            return known.clone();
        }
        let tag = match function.tags(resource).await {
            Ok(tags) => tags.and_then(|t| self.exempt_tag.found_in(&t)),
            Err(e) => {
                report.note(format!(
                    "could not read the tags of {resource}, treated as not exempt: {e}"
                ));
                None
            }
        };
        read.insert(resource.clone(), tag.clone());
        tag
    }

    fn ledger_table(&self) -> &str {
        self.ledger.as_ref().map_or("", Ledger::table)
    }

    /// Record what this delivery did for a claimed finding.
    async fn record(
        &self,
        event_id: &str,
        key: &str,
        actions: &[ActionReport],
        report: &mut Report,
    ) {
        let Some(ledger) = &self.ledger else { return };
        if let Err(e) = ledger.record(event_id, key, actions, Utc::now()).await {
            report.note(format!(
                "could not record the outcome in ledger {}: {e}",
                ledger.table()
            ));
        }
    }

    /// Give the claims back: the report could not be sent, and Lambda's retry must act
    /// (idempotently, "already done") and report, instead of finding the event handled.
    async fn release(&self, event_id: &str, keys: &[String]) {
        let Some(ledger) = &self.ledger else { return };
        for key in keys {
            if let Err(e) = ledger.release(event_id, key).await {
                tracing::error!(claim = %key, error = %e, "could not release the claim");
            }
        }
    }

    fn finish(&self, mut report: Report, skip: Option<EventSkip>) -> Report {
        report.skipped = skip;
        report.settle(F::ALERT_SEVERITY);
        self.log(&report);
        report
    }

    /// The audit lines and, in Lambda, the metrics of a settled report.
    fn log(&self, report: &Report) {
        audit::log_actions(report);
        if self.emit_metrics {
            crate::metrics::emit(report);
        }
    }

    async fn publish(&self, report: &mut Report) -> Result<(), ReflexError> {
        if !report.is_notifiable() {
            return Ok(());
        }
        match &self.publisher {
            Some(publisher) => {
                let id = publisher.publish(report).await?;
                tracing::info!(message_id = %id, "report published to SNS");
            }
            None => report.note(format!(
                "no SNS topic configured ({}): report logged only",
                crate::config::TOPIC_ARN
            )),
        }
        Ok(())
    }
}

/// The exemption tag found on each resource read so far (`None`: not exempt).
type ExemptTags = BTreeMap<Resource, Option<String>>;

/// Run each step the guards let through; the others get their outcome without an AWS call.
async fn execute<F: Function>(
    function: &F,
    steps: &[(F::Action, Disposition)],
) -> Vec<ActionReport> {
    let mut actions = Vec::with_capacity(steps.len());
    for (action, disposition) in steps {
        let outcome = match disposition {
            Disposition::Run => function.execute(action).await,
            Disposition::DryRun => Outcome::WouldDo,
            Disposition::Skip { why } => Outcome::skipped(why.clone()),
            Disposition::Exempt { why } => Outcome::Exempt { why: why.clone() },
        };
        actions.push(ActionReport {
            description: action.describe(),
            action: serde_json::to_value(action).unwrap_or_default(),
            outcome,
        });
    }
    actions
}

fn finding_report<A>(
    guarded: GuardedFinding<A>,
    claim: &ClaimState,
    actions: Vec<ActionReport>,
) -> FindingReport {
    FindingReport {
        rule_id: guarded.finding.rule_id.to_string(),
        severity: guarded.finding.severity,
        reason: guarded.finding.reason,
        mode: guarded.mode,
        already_handled: matches!(claim, ClaimState::HeldByAnother { .. }),
        actions,
    }
}
