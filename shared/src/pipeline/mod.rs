//! The flow of one event, the same for every function:
//!
//! ```text
//! parse      raw JSON ─► Event (or a clear error)            event
//! accept     the function's event kinds and sources           Function::ACCEPTS
//! screen     loop guard · failed call · caller exempt by ARN  guard
//! interpret  Event ─► the function's trigger, or "ignored"    Function::interpret (pure)
//! target     the event's account and region                   places, target
//! screen     caller exempt by tag                             Function::tags
//! gather     read-only facts the trigger needs (bounded)      Function::gather
//! decide     trigger + facts ─► findings (cannot fail)        Function::decide (pure)
//! guard      rule mode · exempt resources · blast radius      guard
//! claim      (event, rule) in the ledger, or resume it        claim
//! limit      enforced actions per function, account and hour  rate
//! execute    each step ─► its outcome, progress recorded      steps, Function::execute
//! finish     the finding and its outcomes in the ledger       claim
//! report     audit log · EMF metrics · one SNS report         audit, metrics, publish
//! ```
//!
//! Calls that do not depend on each other run at once; what they decide does not change. The
//! caller's tag is read while the facts are gathered and decided, and the touched resources'
//! tags together; the report's notes keep the order of the rows above whatever answers first.
//! The findings' ends are written in the ledger while the report is published (the crash
//! windows: [`Handler::conclude`]).
//!
//! What is guaranteed when something fails (the README's promises say the same):
//!
//! - Nothing is done twice: a finding is claimed before it acts; a redelivery of a finished
//!   event does nothing again and sends no second report.
//! - Nothing is lost: a delivery that cannot finish *fails*, so Lambda retries the event (and
//!   finally dead-letters it). That is the case when another delivery holds the claim now, when
//!   a step or a lookup fails in a way that may pass (throttling, a 5xx, a timeout), when the
//!   deadline comes near, and when the report cannot be published. A crashed or timed-out
//!   delivery leaves a claim whose lease ends just after its deadline: the retry takes it over.
//! - A retry resumes: steps an earlier delivery finished are kept as it recorded them (with
//!   their prior state and undo), the others run; each reads the current state first.
//! - The audit record is never deleted; a report that could not be sent is kept in the ledger
//!   and sent by the retry, with the original outcomes.

mod build;
pub mod claim;
pub mod deadline;
pub mod places;
pub mod rate;
pub mod steps;

use std::collections::BTreeMap;

use chrono::Utc;
use futures_util::future::join_all;
use serde_json::Value;

use crate::audit;
use crate::error::ReflexError;
use crate::event::{self, Event, EventKey, key};
use crate::exemption::ExemptTag;
use crate::function::{Function, Interpreted, Notes};
use crate::guard::{Disposition, EventSkip, GuardedFinding, Guards};
use crate::ledger::{ClaimKey, Ledger};
use crate::outcome::Outcome;
use crate::plan::{Action, Finding};
use crate::publish::SnsPublisher;
use crate::report::{ActionReport, EventSummary, FindingReport, Report};
use crate::resource::Resource;
use crate::target::{Target, target_of};

pub use build::handler_from_env;
pub use claim::ClaimState;
pub use deadline::Deadline;
pub use places::Places;
pub use rate::RateLimit;

use claim::Earlier;

/// One function wired into the pipeline: its instances per place, its settings, the guards, the
/// ledger and the publisher.
pub struct Handler<F: Function> {
    pub places: Places<F>,
    pub settings: F::Settings,
    pub guards: Guards,
    /// Enforced actions per function, account and clock hour; counted in the ledger (none
    /// without one).
    pub rate_limit: RateLimit,
    pub exempt_tag: ExemptTag,
    pub publisher: Option<SnsPublisher>,
    /// Duplicate protection, progress and audit trail; `None` for local runs without a table.
    pub ledger: Option<Ledger>,
    /// Print EMF metrics per event (set by the Lambda runtime loop; off in tests and the demo).
    pub emit_metrics: bool,
}

/// The claims earlier deliveries finished that this one settles once the report is out (or
/// needs no sending).
#[derive(Default)]
struct ToMarkReported {
    claims: Vec<ClaimKey>,
    /// Where a republished finding was told about again: the revision told.
    revision: Option<event::Revision>,
}

/// The end of a claim this delivery held, written in the ledger once every finding is final.
struct End {
    key: ClaimKey,
    finding: FindingReport,
}

impl End {
    /// A step failed for now: the claim is given up to the retry rather than finished.
    fn is_interrupted(&self) -> bool {
        self.finding
            .actions
            .iter()
            .any(|a| a.outcome.is_retryable())
    }
}

/// A caller whose exemption tag is read: the principal, and who it is in words.
struct Caller {
    resource: Resource,
    who: String,
}

/// One exemption tag read: the tag found (`None`: not exempt) and, when the tags could not be
/// read, the note saying so.
struct TagRead {
    tag: Option<String>,
    note: Option<String>,
}

/// The findings, with the notes of gathering their facts and the tags of every resource they
/// touch (`None`: the caller's, read alongside).
struct Judged<A> {
    findings: Vec<Finding<A>>,
    facts_notes: Vec<String>,
    tags: Vec<(Resource, Option<TagRead>)>,
}

impl<F: Function> Handler<F> {
    /// Handle one raw EventBridge event outside Lambda, with [`deadline::LOCAL_BUDGET`].
    pub async fn handle(&self, raw: Value) -> Result<Report, ReflexError> {
        self.handle_by(raw, Deadline::after(deadline::LOCAL_BUDGET))
            .await
    }

    /// Handle one raw EventBridge event by `deadline` and return its report.
    pub async fn handle_by(&self, raw: Value, deadline: Deadline) -> Result<Report, ReflexError> {
        let digest = key::digest_unless_named(&raw);
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
        let screened = self
            .screen(&*function, &event, &trigger, &deadline, &mut report)
            .await?;
        let Some((findings, exempt)) = screened else {
            return Ok(self.finish(report, None));
        };

        let key = event.key(digest.as_deref().unwrap_or_default());
        let mut settle = ToMarkReported::default();
        let mut ends = Vec::new();
        let mut held_elsewhere = Vec::new();
        let mut for_now = Vec::new();
        for guarded in self.guards.apply(findings, &exempt) {
            let claim = match claim::claim(
                self.ledger.as_ref(),
                &key,
                &guarded,
                F::ALERT_SEVERITY,
                (F::NAME, &report.event.what, &target),
                &deadline,
            )
            .await
            {
                Ok(claim) => claim,
                Err(e) => {
                    // Findings finished before this one wait, unreported, for the retry.
                    self.give_up(&settle, &ends, key.revision).await;
                    return Err(ReflexError::Ledger(e.why));
                }
            };
            if let Some(note) = claim.note(self.ledger_table()) {
                report.note(note);
            }
            let finding = match claim {
                ClaimState::InProgress { claimed_at } => {
                    held_elsewhere.push(format!(
                        "{} (claimed at {claimed_at})",
                        guarded.finding.rule_id
                    ));
                    held_by_another(guarded, &claimed_at)
                }
                ClaimState::Finished {
                    key: claimed,
                    finished,
                } => {
                    self.finished_earlier(
                        guarded,
                        claimed,
                        finished,
                        &key,
                        &mut settle,
                        &mut report,
                    )
                    .await
                }
                claim => {
                    let (finding, end) = self
                        .act(
                            &*function,
                            guarded,
                            (&claim, &target),
                            &deadline,
                            &mut report,
                        )
                        .await;
                    if let Some(step) = finding.actions.iter().find(|a| a.outcome.is_retryable()) {
                        for_now.push(format!(
                            "{}: {}",
                            step.description,
                            step.outcome.explanation().unwrap_or("failed for now")
                        ));
                    }
                    ends.extend(end);
                    finding
                }
            };
            report.findings.push(finding);
        }
        report.settle(F::ALERT_SEVERITY);
        self.log(&report);
        let unfinished = if !held_elsewhere.is_empty() {
            Some(ReflexError::InProgress(held_elsewhere.join(", ")))
        } else if !for_now.is_empty() {
            Some(ReflexError::Interrupted(for_now.join("; ")))
        } else {
            None
        };
        if let Some(e) = unfinished {
            self.give_up(&settle, &ends, key.revision).await;
            return Err(e);
        }
        self.conclude(report, &settle, &ends, key.revision).await
    }

    /// Write the ends of the claims this delivery held and send the report, then mark the
    /// claims reported.
    ///
    /// The ends are written while the report is published (`reported` only once both calls
    /// returned and the publish succeeded). A crash (or a timeout) in between leaves:
    /// - neither: the claim is taken over once its lease runs out; its steps are kept as the
    ///   progress recorded them and the report is sent. Nothing done twice, nothing lost.
    /// - the end, no report: `done`, not `reported`; the retry sends the recorded report.
    /// - the report, no end: the retry resumes the claim from its recorded progress (no step
    ///   redone) and reports again. A second report, never a lost one: the same window as a
    ///   crash between the publish and `reported`, which sequential calls have too.
    ///
    /// An end that could not be written is a note in the returned report, not in the published
    /// one (it went out meanwhile). Its claim is marked reported all the same: on a claim still
    /// `claimed` that means nothing (a redelivery reads `reported` only on a `done` claim, and
    /// finishing sets it again); on one whose write landed after all (a timeout), it keeps a
    /// redelivery from sending the report again.
    ///
    /// A report that needs no sending is not published: each claim ends reported in one write.
    async fn conclude(
        &self,
        mut report: Report,
        settle: &ToMarkReported,
        ends: &[End],
        revision: Option<event::Revision>,
    ) -> Result<Report, ReflexError> {
        if !report.is_notifiable() {
            for note in self.record_ends(ends, revision, true).await {
                report.note(note);
            }
            self.mark_reported(&settle.claims, settle.revision, &mut report)
                .await;
            return Ok(report);
        }
        let (unrecorded, published) = tokio::join!(
            self.record_ends(ends, revision, false),
            self.publish(&mut report)
        );
        for note in unrecorded {
            report.note(note);
        }
        if let Err(e) = published {
            self.let_go(settle, ends).await;
            return Err(e);
        }
        let finished = ends.iter().filter(|end| !end.is_interrupted());
        let claims: Vec<ClaimKey> = (settle.claims.iter().cloned())
            .chain(finished.map(|end| end.key.clone()))
            .collect();
        self.mark_reported(&claims, settle.revision, &mut report)
            .await;
        Ok(report)
    }

    /// This delivery fails on purpose: the ends of its claims are written first, then the
    /// findings it finished wait, unreported, for the retry.
    async fn give_up(
        &self,
        settle: &ToMarkReported,
        ends: &[End],
        revision: Option<event::Revision>,
    ) {
        for note in self.record_ends(ends, revision, false).await {
            tracing::warn!("{note}");
        }
        self.let_go(settle, ends).await;
    }

    /// The findings this delivery finished, unreported, wait for the retry, which need not wait
    /// for their leases to run out.
    async fn let_go(&self, settle: &ToMarkReported, ends: &[End]) {
        let Some(ledger) = &self.ledger else { return };
        let finished = ends.iter().filter(|end| !end.is_interrupted());
        let claims = settle.claims.iter().chain(finished.map(|end| &end.key));
        for key in claims {
            if let Err(e) = ledger.let_go(key).await {
                tracing::warn!(claim = ?key, error = %e, "could not end the lease; the retry waits for it");
            }
        }
    }

    /// Write the end of each claim this delivery held: `done` (`reported`: its report needs no
    /// sending), or `interrupted` when a step failed for now (the retry resumes). Each claim is
    /// its own item: all are written at once. The notes of the writes that failed.
    async fn record_ends(
        &self,
        ends: &[End],
        revision: Option<event::Revision>,
        reported: bool,
    ) -> Vec<String> {
        let Some(ledger) = &self.ledger else {
            return Vec::new();
        };
        let written = join_all(ends.iter().map(|end| async move {
            if end.is_interrupted() {
                ledger.interrupt(&end.key, &end.finding.actions).await
            } else {
                let now = Utc::now();
                (ledger.finish(&end.key, &end.finding, revision, reported, now)).await
            }
        }))
        .await;
        written
            .into_iter()
            .filter_map(Result::err)
            .map(|e| {
                format!(
                    "could not record the outcome in ledger {}: {e}",
                    ledger.table()
                )
            })
            .collect()
    }

    /// Claim held (or no ledger): within the rate limit, run the finding's steps, resuming
    /// after what an earlier delivery finished. The claim's end, to write in the ledger once
    /// every finding is final (see [`Handler::record_ends`]).
    async fn act(
        &self,
        function: &F,
        mut guarded: GuardedFinding<F::Action>,
        (claim, target): (&ClaimState, &Target),
        deadline: &Deadline,
        report: &mut Report,
    ) -> (FindingReport, Option<End>) {
        let held = claim.held().zip(self.ledger.as_ref());
        let mut attention = None;
        let mut counting_failed = None;
        // Counted once per claim (the ledger marks it), so a resumed claim asks again: a
        // delivery that could not count recorded its steps as failed for now, and its retry
        // must count them before running them.
        if let Some((key, ledger)) = held {
            let counted = rate::admit(
                ledger,
                key,
                self.rate_limit,
                (F::NAME, &target.account),
                &guarded.steps,
            )
            .await;
            match counted {
                Ok(Some(verdict)) => {
                    if let Some(why) = &verdict.refused {
                        report.note(why.clone());
                        guarded.steps = rate::hold_back(guarded.steps, why);
                    }
                    // A refused finding a person must hear about pages every time; the
                    // window's first refusal pages whatever its severity (a flood begins).
                    attention = verdict.attention.or_else(|| {
                        verdict
                            .refused
                            .filter(|_| guarded.finding.severity >= F::ALERT_SEVERITY)
                    });
                }
                Ok(None) => report.note(format!(
                    "the rate limit ({}) could not be checked in ledger {}: acting without it",
                    rate::MAX_ACTIONS_PER_HOUR,
                    ledger.table()
                )),
                // Not known to be within the limit: nothing runs now; the retry counts again.
                Err(e) => counting_failed = Some(e),
            }
        }
        let actions = match counting_failed {
            Some(e) => rate_unknown(&guarded, &e),
            None => {
                let run = steps::Run {
                    ledger: held.map(|(key, ledger)| (ledger, key)),
                    progress: claim.progress(),
                    deadline,
                    region: &target.region,
                };
                steps::run(function, &guarded.steps, &run, &mut report.notes).await
            }
        };
        let mut finding = finding_report(guarded, actions, false);
        finding.attention = attention;
        let end = held.map(|(key, _)| End {
            key: key.clone(),
            finding: finding.clone(),
        });
        (finding, end)
    }

    /// A finding an earlier delivery finished: nothing is done again. Its recorded report is
    /// sent if it never went out; a republished finding changed enough is reported as an update.
    async fn finished_earlier(
        &self,
        guarded: GuardedFinding<F::Action>,
        claimed: ClaimKey,
        finished: crate::ledger::Finished,
        event: &EventKey,
        settle: &mut ToMarkReported,
        report: &mut Report,
    ) -> FindingReport {
        let when = finished.claimed_at.clone();
        match claim::earlier(&finished, event.revision) {
            Earlier::Unreported => {
                report.note(format!(
                    "an earlier delivery of this event did this at {when}; its report could not \
                     be sent then and goes out now"
                ));
                settle.claims.push(claimed);
                match finished.finding {
                    Some(recorded) => recorded,
                    None => handled_earlier(guarded, &finished),
                }
            }
            Earlier::Updated { told, now } => {
                let severity = if now.severity == told.severity {
                    format!("its severity is still {}", now.severity)
                } else {
                    format!(
                        "its severity went from {} to {}",
                        told.severity, now.severity
                    )
                };
                report.update = Some(format!(
                    "first reported at {when}; since then {severity} and it was seen {} times \
                     (then {}). Nothing was done again.",
                    now.count, told.count
                ));
                settle.claims.push(claimed);
                settle.revision = Some(now);
                handled_earlier(guarded, &finished)
            }
            Earlier::Seen { now } => {
                if let Some(ledger) = &self.ledger
                    && let Err(e) = ledger.seen(&claimed, now).await
                {
                    report.note(format!("could not record the update in the ledger: {e}"));
                }
                handled_earlier(guarded, &finished)
            }
            Earlier::Handled => handled_earlier(guarded, &finished),
        }
    }

    /// The report went out (or had nothing to send): say so on each claim it covered, all at
    /// once.
    async fn mark_reported(
        &self,
        claims: &[ClaimKey],
        revision: Option<event::Revision>,
        report: &mut Report,
    ) {
        let Some(ledger) = &self.ledger else { return };
        let marked = join_all(claims.iter().map(|key| ledger.reported(key, revision))).await;
        for e in marked.into_iter().filter_map(Result::err) {
            report.note(format!(
                "could not mark the report as sent in ledger {}: {e}",
                ledger.table()
            ));
        }
    }

    /// Where to act: where the event happened (its account through the member role, its
    /// region), or at home for a function that only reports.
    fn target(&self, event: &Event) -> Target {
        let home = self.places.home_target();
        if F::ACTS_WHERE_THE_EVENT_HAPPENED {
            target_of(event.place(), home)
        } else {
            home.clone()
        }
    }

    /// The findings and the resources exempt from them, or `None` when there is nothing to do.
    ///
    /// Each resource's exemption tag is read once per event, caller and targets alike. The
    /// caller's depends on nothing the facts say: it is read while they are gathered and
    /// decided; the touched resources' tags are read together. A read that fails for now fails
    /// the event before anything is done, the caller's reported first; the notes keep the
    /// order of the sequential reads (the caller's, the facts', the resources') whatever
    /// answers first.
    async fn screen(
        &self,
        function: &F,
        event: &Event,
        trigger: &F::Trigger,
        deadline: &Deadline,
        report: &mut Report,
    ) -> Result<Option<(Vec<Finding<F::Action>>, BTreeMap<Resource, String>)>, ReflexError> {
        let caller = self.caller_to_screen(event);
        let caller_resource = caller.as_ref().map(|c| &c.resource);
        let read_caller = async {
            match caller_resource {
                Some(resource) => Some(self.exempt_tag_on(function, resource).await),
                None => None,
            }
        };
        let (caller_read, judged) = tokio::join!(
            read_caller,
            self.judge(function, trigger, deadline, caller_resource)
        );
        let caller_read = caller_read.transpose()?;
        let judged = judged?;
        let caller_tag = caller_read.and_then(|read| {
            if let Some(note) = read.note {
                report.note(note);
            }
            read.tag
        });
        report.notes.extend(judged.facts_notes);
        if judged.findings.is_empty() {
            return Ok(None);
        }
        let mut exempt = BTreeMap::new();
        for (resource, read) in judged.tags {
            let tag = match read {
                Some(read) => {
                    if let Some(note) = read.note {
                        report.note(note);
                    }
                    read.tag
                }
                None => caller_tag.clone(),
            };
            if let Some(tag) = tag {
                let why = format!("{resource} carries the exemption tag {tag}");
                exempt.insert(resource, why);
            }
        }
        // A caller exempt by its tag holds back every step, reported as `exempt`: a tag is
        // written in the account, by someone, so using it is never silent (an ARN pattern,
        // configuration, skips the event above).
        if let Some((caller, tag)) = caller.zip(caller_tag) {
            let why = format!(
                "the caller {} ({}) carries the exemption tag {tag}",
                caller.who, caller.resource
            );
            for resource in touched(&judged.findings) {
                exempt.entry(resource).or_insert_with(|| why.clone());
            }
        }
        Ok(Some((judged.findings, exempt)))
    }

    /// Gather the facts, decide, and read the exemption tags of every resource the findings
    /// touch, at once; the `caller`'s, read alongside, is not read again.
    async fn judge(
        &self,
        function: &F,
        trigger: &F::Trigger,
        deadline: &Deadline,
        caller: Option<&Resource>,
    ) -> Result<Judged<F::Action>, ReflexError> {
        let (facts, facts_notes) = self.gather(function, trigger, deadline).await?;
        let findings = F::decide(trigger, &facts, &self.settings);
        let touched = touched(&findings);
        let reads = join_all(touched.iter().map(|resource| async move {
            match Some(resource) == caller {
                true => Ok(None),
                false => self.exempt_tag_on(function, resource).await.map(Some),
            }
        }))
        .await;
        // The first failure in the resources' order, as one after another would have met it.
        let tags = (touched.into_iter().zip(reads))
            .map(|(resource, read)| read.map(|read| (resource, read)))
            .collect::<Result<_, _>>()?;
        Ok(Judged {
            findings,
            facts_notes,
            tags,
        })
    }

    /// The facts the trigger needs, within the time the invocation has for them, and the notes
    /// of gathering them. A lookup that failed for now (or ran out of time) fails the event
    /// before anything is done.
    async fn gather(
        &self,
        function: &F,
        trigger: &F::Trigger,
        deadline: &Deadline,
    ) -> Result<(F::Facts, Vec<String>), ReflexError> {
        let budget = deadline.remaining().saturating_sub(deadline::STEP_RESERVE);
        let mut notes = Notes::default();
        let gathered = tokio::time::timeout(budget, function.gather(trigger, &mut notes)).await;
        let facts = gathered.map_err(|_| {
            ReflexError::Lookup(format!(
                "the lookups did not finish within {}s",
                budget.as_secs()
            ))
        })?;
        match notes.failed_for_now() {
            Some(why) => Err(ReflexError::Lookup(why)),
            None => Ok((facts, notes.lines().to_vec())),
        }
    }

    /// The caller whose exemption tag is read, if the event is an API call by a principal
    /// that can carry tags.
    fn caller_to_screen(&self, event: &Event) -> Option<Caller> {
        let call = event.api_call()?;
        let resource = call.user_identity.principal()?;
        // A write of the exemption tag is judged whatever tag its caller carries: a caller who
        // tagged itself would otherwise be exempt from the very event that says so. Only an ARN
        // pattern (configuration, screened earlier) exempts the writer.
        if self
            .exempt_tag
            .written_in(call.request_parameters.as_ref())
            .is_some()
        {
            return None;
        }
        Some(Caller {
            resource,
            who: call.user_identity.describe(),
        })
    }

    /// The exemption tag on `resource`, as `key=value`, if it carries it. A tag unreadable by
    /// configuration (AccessDenied) is not an exemption: fail toward remediation, and say so. One
    /// unreadable for now (throttled) fails the event, to be retried: deciding without it could
    /// act on an exempt resource.
    async fn exempt_tag_on(
        &self,
        function: &F,
        resource: &Resource,
    ) -> Result<TagRead, ReflexError> {
        match function.tags(resource).await {
            Ok(tags) => Ok(TagRead {
                tag: tags.and_then(|t| self.exempt_tag.found_in(&t)),
                note: None,
            }),
            Err(e) if e.transient => Err(ReflexError::Lookup(format!(
                "could not read the tags of {resource}: {e}"
            ))),
            Err(e) => Ok(TagRead {
                tag: None,
                note: Some(format!(
                    "could not read the tags of {resource}, treated as not exempt: {e}"
                )),
            }),
        }
    }

    fn ledger_table(&self) -> &str {
        self.ledger.as_ref().map_or("", Ledger::table)
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

    /// Publish the report if a person should see it. A failure fails the event: the ledger keeps
    /// the outcomes as done but not reported, and the retry sends this report.
    async fn publish(&self, report: &mut Report) -> Result<(), ReflexError> {
        if !report.is_notifiable() {
            return Ok(());
        }
        match &self.publisher {
            Some(publisher) => {
                let id = publisher.publish(report).await?;
                tracing::info!(message_id = %id, "report published to SNS");
            }
            None => {
                report.note(format!(
                    "no SNS topic configured ({}): report logged only",
                    crate::config::TOPIC_ARN
                ));
                audit::log_report(report, "no SNS topic configured");
            }
        }
        Ok(())
    }
}

/// Every resource the findings' actions touch, once each.
fn touched<A: Action>(findings: &[Finding<A>]) -> Vec<Resource> {
    let mut touched: Vec<Resource> = findings
        .iter()
        .flat_map(|f| f.actions.iter().map(Action::resource))
        .collect();
    touched.sort();
    touched.dedup();
    touched
}

/// The rate limit could not be counted for now: the steps that would run wait for the retry
/// (failed for now), the others keep their verdict.
fn rate_unknown<A: Action>(
    guarded: &GuardedFinding<A>,
    e: &crate::ledger::LedgerError,
) -> Vec<ActionReport> {
    let why = format!("not started: the rate limit could not be counted in the ledger: {e}");
    guarded
        .steps
        .iter()
        .map(|(action, disposition)| ActionReport {
            step: action.step(),
            description: action.describe(),
            action: serde_json::to_value(action).unwrap_or_default(),
            outcome: match disposition {
                Disposition::Run => Outcome::failed_for_now(why.clone(), None),
                Disposition::DryRun => Outcome::WouldDo,
                Disposition::Skip { why } => Outcome::skipped(why.clone()),
                Disposition::Exempt { why } => Outcome::Exempt { why: why.clone() },
            },
        })
        .collect()
}

/// A finding another delivery is handling now: each step said to be theirs.
fn held_by_another<A: Action>(guarded: GuardedFinding<A>, claimed_at: &str) -> FindingReport {
    let why =
        format!("another delivery of this event claimed it at {claimed_at} and is handling it now");
    let actions = skipped_steps(&guarded, &why);
    finding_report(guarded, actions, false)
}

/// A finding an earlier delivery finished and reported: each step reported as skipped, with what
/// that delivery recorded (not a plan recomputed from today's state).
fn handled_earlier<A: Action>(
    guarded: GuardedFinding<A>,
    finished: &crate::ledger::Finished,
) -> FindingReport {
    let why = format!(
        "already handled: an earlier delivery of this event claimed it at {}",
        finished.claimed_at
    );
    let actions = match &finished.finding {
        Some(recorded) => recorded
            .actions
            .iter()
            .map(|earlier| ActionReport {
                outcome: Outcome::skipped(format!(
                    "{why}; the earlier outcome was {}",
                    earlier.outcome.status()
                )),
                ..earlier.clone()
            })
            .collect(),
        None => skipped_steps(&guarded, &why),
    };
    finding_report(guarded, actions, true)
}

fn skipped_steps<A: Action>(guarded: &GuardedFinding<A>, why: &str) -> Vec<ActionReport> {
    guarded
        .steps
        .iter()
        .map(|(action, _)| ActionReport {
            step: action.step(),
            description: action.describe(),
            action: serde_json::to_value(action).unwrap_or_default(),
            outcome: Outcome::skipped(why),
        })
        .collect()
}

fn finding_report<A>(
    guarded: GuardedFinding<A>,
    actions: Vec<ActionReport>,
    already_handled: bool,
) -> FindingReport {
    FindingReport {
        rule_id: guarded.finding.rule_id.to_string(),
        severity: guarded.finding.severity,
        reason: guarded.finding.reason,
        mode: guarded.mode,
        already_handled,
        attention: None,
        actions,
    }
}
