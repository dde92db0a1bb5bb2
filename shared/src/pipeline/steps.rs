//! Running a finding's steps: each in turn, the guards' verdict applied, a step an earlier
//! delivery already finished kept as it recorded it (never redone blindly), progress recorded
//! after each step, and no step started without the time to finish it.

use super::deadline::Deadline;
use crate::function::Function;
use crate::guard::Disposition;
use crate::ledger::{ClaimKey, Ledger};
use crate::outcome::Outcome;
use crate::plan::Action;
use crate::report::ActionReport;

/// What running the steps needs besides the steps: where to record progress, what an earlier
/// delivery finished, and the deadline.
pub struct Run<'a> {
    pub ledger: Option<(&'a Ledger, &'a ClaimKey)>,
    pub progress: &'a [ActionReport],
    pub deadline: &'a Deadline,
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
        let outcome = match disposition {
            Disposition::Run if !run.deadline.has_time_for_a_step() => Outcome::failed_for_now(
                "not started: the invocation's deadline is near; the retry of the event \
                 resumes here",
                None,
            ),
            Disposition::Run => function.execute(action).await,
            Disposition::DryRun => Outcome::WouldDo,
            Disposition::Skip { why } => Outcome::skipped(why.clone()),
            Disposition::Exempt { why } => Outcome::Exempt { why: why.clone() },
        };
        let ran = matches!(disposition, Disposition::Run);
        done.push(ActionReport {
            step,
            description: action.describe(),
            action: serde_json::to_value(action).unwrap_or_default(),
            outcome,
        });
        if let (true, Some((ledger, key))) = (ran, run.ledger) {
            // A lost progress record costs only a re-check: the retry re-runs the step, which
            // reads the state first.
            if let Err(e) = ledger.progress(key, &done).await {
                let note = format!(
                    "could not record progress in ledger {}: {e}",
                    ledger.table()
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
    }
    done
}
