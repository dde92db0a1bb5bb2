//! The flow of one event, the same for every function:
//! parse → screen (event guards) → validate (pure) → gather facts (read-only AWS) → decide (pure)
//! → step guards → claim in the ledger → act → record → audit → notify.

use aws_config::SdkConfig;
use chrono::Utc;
use serde_json::Value;
use std::collections::BTreeSet;
use std::future::Future;

use crate::audit;
use crate::config::{CoreConfig, ExemptTag};
use crate::error::{ConfigError, EventError, ReflexError};
use crate::event::{self, Event};
use crate::guard::{Disposition, EventSkip, GuardedFinding, Guards, Mode};
use crate::identity::Principal;
use crate::ledger::{Claim, Ledger};
use crate::notify::Notifier;
use crate::outcome::Outcome;
use crate::plan::{Finding, RemediationAction, Severity};
use crate::report::{ActionReport, EventSummary, FindingReport, Report};
use crate::target::{Remediators, Target, target_of};

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

    /// Whether gathering facts and acting happen in the event's account and region (through
    /// the member role for another account). `false` for a function that makes no AWS call.
    fn acts_where_the_event_happened(&self) -> bool {
        true
    }

    /// Findings with no action at or above this severity are reported to people (a deleted
    /// trail); `notify` lowers it to report everything it finds.
    fn alert_severity(&self) -> Severity {
        Severity::High
    }

    /// Carry out one action. Never panics; every fault is an outcome.
    fn execute(&self, action: &Self::Action) -> impl Future<Output = Outcome> + Send;
}

pub struct Handler<R> {
    /// The function's remediator for each account and region it acts in.
    pub remediators: Remediators<R>,
    pub guards: Guards,
    pub exempt_tag: ExemptTag,
    pub notifier: Option<Notifier>,
    /// Duplicate protection and audit trail; `None` for local runs without a table.
    pub ledger: Option<Ledger>,
    /// Print EMF metrics per event (set by the Lambda runtime loop; off in tests and the demo).
    pub emit_metrics: bool,
}

impl<R: Remediator> Handler<R> {
    /// Wire a function into the pipeline from validated configuration: clients created once
    /// per account and region (`build` makes the remediator from SDK configuration aimed at
    /// one), Reflex's own identity learned for the loop guard.
    pub async fn from_config(
        build: impl Fn(&SdkConfig, Option<&Target>) -> R + Send + Sync + 'static,
        core: &CoreConfig,
        sdk: &SdkConfig,
    ) -> Result<Self, ConfigError> {
        let me = crate::aws::resolve_self_identity(sdk, core.self_arn.as_deref())
            .await
            .map_err(|e| ConfigError::new(crate::config::SELF_ARN, e))?;
        let home_account = me.account().map(String::from).ok_or_else(|| {
            ConfigError::new(
                crate::config::SELF_ARN,
                "Reflex's own ARN names no account, so events from other accounts cannot be told apart",
            )
        })?;
        let remediators = Remediators::new(sdk, &home_account, core.member_role.clone(), build);
        let notifier = core
            .topic_arn
            .as_ref()
            .map(|arn| Notifier::new(aws_sdk_sns::Client::new(sdk), arn));
        let ledger = core.ledger(sdk);
        Ok(Self {
            remediators,
            guards: core.guards(Some(me)),
            exempt_tag: core.exempt_tag.clone(),
            notifier,
            ledger,
            emit_metrics: false,
        })
    }

    /// Handle one raw EventBridge event and return its report.
    pub async fn handle(&self, raw: Value) -> Result<Report, ReflexError> {
        let event = event::parse(raw)?;
        let home = self.remediators.home();
        home.accepts(&event)?;
        let mut report = Report::new(home.name(), EventSummary::of(&event));
        report.alert_severity = home.alert_severity();
        // Event guards are about API calls: a failed sign-in is news, not noise.
        let call = match &event {
            Event::ApiCall { call, .. } => Some(call),
            _ => None,
        };

        if let Some(skip) = call.and_then(|c| self.guards.screen(c)) {
            return Ok(self.finish_without_action(report, Some(skip)));
        }
        // Running the rules once without facts validates the event before any AWS call.
        home.decide(&event, &R::Facts::default())?;

        // Act where the event happened: its account (through the member role) and region.
        let target = if home.acts_where_the_event_happened() {
            target_of(event.envelope(), self.remediators.home_target())
        } else {
            self.remediators.home_target().clone()
        };
        let remediator = self.remediators.for_target(&target).await?;
        let remediator = remediator.as_ref();
        if target != *self.remediators.home_target() {
            report.notes.push(format!(
                "acting in {target}: the undo commands are for that account and region"
            ));
        }

        let (facts, notes) = remediator.gather(&event).await;
        report.notes.extend(notes);
        let findings = remediator.decide(&event, &facts)?;
        if findings.is_empty() {
            return Ok(self.finish_without_action(report, None));
        }

        let actor = call.and_then(|c| c.user_identity.principal());
        let tagged = self
            .tag_exempt(
                remediator,
                actor.iter().chain(targets(&findings).iter()),
                &mut report.notes,
            )
            .await;
        if let (Some(actor), Some(call)) = (actor.filter(|a| tagged.contains(a)), call) {
            let skip = EventSkip::ExemptActor {
                actor: call.user_identity.describe(),
                because: format!("{actor} carries the exemption tag {}", self.exempt_tag.key),
            };
            return Ok(self.finish_without_action(report, Some(skip)));
        }

        let mut claimed = Vec::new();
        for guarded in self.guards.apply(findings, &tagged) {
            let (finding, claim) = self
                .act(
                    remediator,
                    &event,
                    &report.event.what,
                    guarded,
                    &mut report.notes,
                )
                .await;
            claimed.extend(claim);
            report.findings.push(finding);
        }
        report.settle();
        self.record(&report);
        if let Err(e) = self.notify(&mut report).await {
            // Lambda retries the event: release the claims so the retry acts (idempotently,
            // "already done") and publishes the report, instead of finding it handled.
            if let Some(ledger) = &self.ledger {
                for claim_id in &claimed {
                    if let Err(release) = ledger.release(event.id(), claim_id).await {
                        tracing::error!(claim_id, error = %release, "could not release the claim");
                    }
                }
            }
            return Err(e);
        }
        Ok(report)
    }

    /// Claim the finding in the ledger, run its steps, record the outcomes. Also says whether
    /// this invocation holds the claim.
    async fn act(
        &self,
        remediator: &R,
        event: &Event,
        what: &str,
        guarded: GuardedFinding<R::Action>,
        notes: &mut Vec<String>,
    ) -> (FindingReport, Option<String>) {
        let rule_id = guarded.finding.rule_id;
        // A dry-run claims apart from enforcement, so enforcing an event later still acts.
        let claim_id = match guarded.mode {
            Mode::DryRun => format!("{rule_id}#dry-run"),
            _ => rule_id.to_string(),
        };
        // Claim whatever will act or page someone, so a redelivery does neither twice.
        let acts = guarded
            .steps
            .iter()
            .any(|(_, d)| matches!(d, Disposition::Run | Disposition::DryRun))
            || (guarded.steps.is_empty()
                && guarded.mode != Mode::Off
                && guarded.finding.severity >= remediator.alert_severity());

        let mut held = None;
        let mut claimed = false;
        match (&self.ledger, acts) {
            (Some(ledger), true) => {
                match ledger
                    .claim(event.id(), &claim_id, remediator.name(), what, Utc::now())
                    .await
                {
                    Ok(Claim::Acquired) => claimed = true,
                    Ok(Claim::Held {
                        state,
                        claimed_at,
                        recorded,
                    }) => {
                        held = Some((
                            format!(
                                "already handled: an earlier delivery of this event claimed it at {claimed_at} ({state})"
                            ),
                            recorded,
                        ))
                    }
                    // Acting twice is safe (actions are idempotent); not acting is not.
                    Err(e) => notes.push(format!(
                        "ledger {} unavailable, acting without duplicate protection: {e}",
                        ledger.table()
                    )),
                }
            }
            (None, true) => {
                let note = format!(
                    "no ledger table ({}): duplicate protection is off",
                    crate::ledger::TABLE
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            _ => {}
        }

        let actions = match &held {
            // Report what the earlier delivery did, not a plan recomputed from today's state.
            Some((why, Some(recorded))) => already_handled(why, recorded),
            Some((why, None)) => guarded
                .steps
                .iter()
                .map(|(action, _)| ActionReport {
                    description: action.describe(),
                    action: serde_json::to_value(action).unwrap_or(Value::Null),
                    outcome: Outcome::Skipped { why: why.clone() },
                })
                .collect(),
            None => {
                let mut actions = Vec::with_capacity(guarded.steps.len());
                for (action, disposition) in guarded.steps {
                    let outcome = match disposition {
                        Disposition::Run => remediator.execute(&action).await,
                        Disposition::DryRun => Outcome::WouldDo,
                        Disposition::Skip { why } => Outcome::Skipped { why },
                    };
                    actions.push(ActionReport {
                        description: action.describe(),
                        action: serde_json::to_value(&action).unwrap_or(Value::Null),
                        outcome,
                    });
                }
                actions
            }
        };
        let report = FindingReport {
            rule_id: rule_id.to_string(),
            severity: guarded.finding.severity,
            reason: guarded.finding.reason,
            mode: guarded.mode,
            already_handled: held.is_some(),
            actions,
        };
        if let (Some(ledger), true) = (&self.ledger, claimed) {
            let outcomes = serde_json::to_value(&report.actions).unwrap_or(Value::Null);
            if let Err(e) = ledger
                .record(event.id(), &claim_id, &outcomes, Utc::now())
                .await
            {
                notes.push(format!(
                    "could not record the outcome in ledger {}: {e}",
                    ledger.table()
                ));
            }
        }
        (report, claimed.then_some(claim_id))
    }

    fn finish_without_action(&self, mut report: Report, skip: Option<EventSkip>) -> Report {
        report.skipped = skip;
        report.settle();
        self.record(&report);
        report
    }

    /// The audit lines and, in Lambda, the metrics of a settled report.
    fn record(&self, report: &Report) {
        audit::log_actions(report);
        if self.emit_metrics {
            crate::metrics::emit(report);
        }
    }

    async fn tag_exempt<'a>(
        &self,
        remediator: &R,
        principals: impl Iterator<Item = &'a Principal>,
        notes: &mut Vec<String>,
    ) -> BTreeSet<Principal> {
        let mut tagged = BTreeSet::new();
        let unique: BTreeSet<&Principal> = principals.collect();
        for p in unique {
            match remediator.has_exempt_tag(p, &self.exempt_tag).await {
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

/// The recorded actions of an earlier delivery, each reported as skipped with what it was.
fn already_handled(why: &str, recorded: &Value) -> Vec<ActionReport> {
    recorded
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let was = a
                .pointer("/outcome/status")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            ActionReport {
                description: a
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                action: a.get("action").cloned().unwrap_or(Value::Null),
                outcome: Outcome::Skipped {
                    why: format!("{why}; the earlier outcome was {was}"),
                },
            }
        })
        .collect()
}

fn targets<A: RemediationAction>(findings: &[Finding<A>]) -> Vec<Principal> {
    findings
        .iter()
        .flat_map(|f| f.actions.iter().filter_map(|a| a.target()))
        .collect()
}
