//! Running a finding's steps: each in turn, the guards' verdict applied, a step an earlier
//! delivery already finished kept as it recorded it (never redone blindly), and no step started
//! without the time to finish it.
//!
//! Progress is written ahead: a step is recorded as started before it runs and with its outcome
//! after, so a delivery killed at any line leaves the ledger saying which steps were done and
//! which one was under way. The retry re-plans from the state as it is then; a step the earlier
//! delivery did (or started) that the new plan no longer has, because the state no longer calls
//! for it, still appears in the report, at its place.

use super::deadline::Deadline;
use crate::function::Function;
use crate::guard::Disposition;
use crate::ledger::{ClaimKey, Ledger};
use crate::outcome::Outcome;
use crate::plan::Action;
use crate::report::ActionReport;

/// What a step records while it runs: its outcome is not known yet.
const STARTED: &str = "started; the delivery running it stopped before it finished";

/// What running the steps needs besides the steps: where to record progress, what an earlier
/// delivery did, the deadline, and the region the steps act in (their undo names it).
pub struct Run<'a> {
    pub ledger: Option<(&'a Ledger, &'a ClaimKey)>,
    pub progress: &'a [ActionReport],
    pub deadline: &'a Deadline,
    pub region: &'a str,
}

/// Run each step the guards let through; the others get their outcome without an AWS call.
pub async fn run<F: Function>(
    function: &F,
    steps: &[(F::Action, Disposition)],
    run: &Run<'_>,
    notes: &mut Vec<String>,
) -> Vec<ActionReport> {
    let mut done: Vec<ActionReport> = Vec::with_capacity(steps.len());
    for (action, disposition) in steps {
        let step = action.step();
        if let Some(earlier) = run
            .progress
            .iter()
            .find(|a| a.step == step && a.outcome.is_done())
        {
            done.push(earlier.clone());
            continue;
        }
        let report = |outcome| ActionReport {
            step: step.clone(),
            description: action.describe(),
            action: serde_json::to_value(action).unwrap_or_default(),
            outcome,
        };
        let outcome = match disposition {
            Disposition::Run if !run.deadline.has_time_for_a_step() => Outcome::failed_for_now(
                "not started: the invocation's deadline is near; the retry of the event \
                 resumes here",
                None,
            ),
            Disposition::Run => {
                let started = [done.as_slice(), &[report(Outcome::skipped(STARTED))]].concat();
                record(run, &started, notes).await;
                function.execute(action).await.in_region(run.region)
            }
            Disposition::DryRun => Outcome::WouldDo,
            Disposition::Skip { why } => Outcome::skipped(why.clone()),
            Disposition::Exempt { why } => Outcome::Exempt { why: why.clone() },
        };
        done.push(report(outcome));
        if matches!(disposition, Disposition::Run) {
            record(run, &done, notes).await;
        }
    }
    keep_earlier_work(run.progress, &mut done);
    done
}

/// Steps the earlier delivery finished or started that this plan no longer has: the state no
/// longer calls for them, most likely because that delivery did them. Each keeps its place.
fn keep_earlier_work(progress: &[ActionReport], done: &mut Vec<ActionReport>) {
    for (at, earlier) in progress.iter().enumerate() {
        if done.iter().any(|a| a.step == earlier.step) {
            continue;
        }
        let kept = if earlier.outcome.is_done() {
            earlier.clone()
        } else if earlier.outcome == Outcome::skipped(STARTED) {
            ActionReport {
                outcome: Outcome::already_done(
                    "an earlier delivery of this event started this step and was stopped; the \
                     state no longer calls for it",
                ),
                ..earlier.clone()
            }
        } else {
            continue;
        };
        done.insert(at.min(done.len()), kept);
    }
}

/// Record the progress of a claim this delivery holds. A lost record costs only a re-check: the
/// retry re-runs the step, which reads the state first.
async fn record(run: &Run<'_>, steps: &[ActionReport], notes: &mut Vec<String>) {
    let Some((ledger, key)) = run.ledger else {
        return;
    };
    if let Err(e) = ledger.progress(key, steps).await {
        let note = format!(
            "could not record progress in ledger {}: {e}",
            ledger.table()
        );
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change made, with an undo command (its content does not matter here).
    fn done(detail: &str) -> Outcome {
        let undo = crate::undo::Undo::run(
            crate::undo::AwsCli::new("ec2", "delete-tags").arg("--resources", "i-1"),
        );
        Outcome::done(detail, None, undo)
    }

    fn step(name: &str, outcome: Outcome) -> ActionReport {
        ActionReport {
            step: name.into(),
            description: name.into(),
            action: serde_json::Value::Null,
            outcome,
        }
    }

    #[test]
    fn work_an_earlier_delivery_did_keeps_its_place_when_the_new_plan_no_longer_has_it() {
        let progress = vec![
            step("record", done("recorded")),
            step("detach", Outcome::skipped(STARTED)),
            step("protect", Outcome::failed("denied", None)),
        ];
        let mut done = vec![
            step("record", done("recorded")),
            step("protect", done("protected")),
        ];
        keep_earlier_work(&progress, &mut done);
        let names: Vec<&str> = done.iter().map(|a| a.step.as_str()).collect();
        assert_eq!(names, ["record", "detach", "protect"]);
        assert_eq!(done[1].outcome.status(), "already-done");
        assert!(
            done[1]
                .outcome
                .explanation()
                .unwrap()
                .contains("started this step")
        );
    }
}
