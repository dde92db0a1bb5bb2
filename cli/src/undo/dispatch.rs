//! The per-function part of an undo, through each function's own [`Reverse`]: planning (pure)
//! and carrying out, in the account and region the remediation acted in.
//!
//! One `match` over the functions' names: a function is listed here once it implements
//! `Reverse`.

use aws_config::SdkConfig;
use reflex_harden::Harden;
use reflex_notify::Notify;
use reflex_privatize::Privatize;
use reflex_quarantine::Quarantine;
use reflex_revoke::Revoke;
use reflex_scale::Scale;
use reflex_shared::pipeline::places::Places;
use reflex_shared::report::ActionReport;
use reflex_shared::reverse::Reverse;
use reflex_shared::target::{MemberRole, Target};
use reflex_shared::{Action, Function, Outcome};
use serde::Serialize;
use serde_json::Value;

/// Taking back a remediation, or carrying it out again (the undo of an undo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Undo,
    Redo,
}

/// One recorded step, planned.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// The recorded step's name.
    pub step: String,
    /// What the step did, as recorded.
    pub recorded: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "plan", rename_all = "kebab-case")]
pub enum Verdict {
    /// The change that takes the step back (undo) or makes it again (redo).
    Change { change: String, detail: Value },
    /// Why the step is not taken back.
    Refused { why: String },
}

impl Planned {
    pub fn is_change(&self) -> bool {
        matches!(self.verdict, Verdict::Change { .. })
    }
}

/// Where to act and with which settings.
pub struct Place<'a> {
    pub sdk: &'a SdkConfig,
    pub home_account: &'a str,
    pub member_role: Option<MemberRole>,
    pub target: &'a Target,
}

/// The steps an operation goes through, in order: an undo takes the steps that changed
/// something back, last first (a later step may rest on an earlier one); a redo makes them
/// again in their order.
pub fn in_order(op: Op, steps: &[ActionReport]) -> Vec<&ActionReport> {
    let done = steps.iter().filter(|s| s.outcome.status() == "done");
    match op {
        Op::Undo => done.rev().collect(),
        Op::Redo => done.collect(),
    }
}

/// The plan of `op` over `steps` (see [`in_order`]): pure.
pub fn plan(function: &str, op: Op, steps: &[ActionReport]) -> Result<Vec<Planned>, String> {
    match function {
        Revoke::NAME => Ok(plan_with::<Revoke>(op, steps)),
        Harden::NAME => Ok(plan_with::<Harden>(op, steps)),
        Notify::NAME => Ok(plan_with::<Notify>(op, steps)),
        Scale::NAME => Ok(plan_with::<Scale>(op, steps)),
        Quarantine::NAME => Ok(plan_with::<Quarantine>(op, steps)),
        Privatize::NAME => Ok(plan_with::<Privatize>(op, steps)),
        other => Err(unknown(other)),
    }
}

/// Carry out `op` over `steps`: the steps to record for it, one per planned change (a
/// refused step is recorded as skipped, with why).
pub async fn carry_out(
    function: &str,
    op: Op,
    steps: &[ActionReport],
    place: Place<'_>,
) -> Result<Vec<ActionReport>, String> {
    match function {
        Revoke::NAME => carry_out_with::<Revoke>(op, steps, place).await,
        Harden::NAME => carry_out_with::<Harden>(op, steps, place).await,
        Notify::NAME => carry_out_with::<Notify>(op, steps, place).await,
        Scale::NAME => carry_out_with::<Scale>(op, steps, place).await,
        Quarantine::NAME => carry_out_with::<Quarantine>(op, steps, place).await,
        Privatize::NAME => carry_out_with::<Privatize>(op, steps, place).await,
        other => Err(unknown(other)),
    }
}

fn unknown(function: &str) -> String {
    format!("the entry names `{function}`, which is not a Reflex function")
}

fn plan_with<F: Reverse>(op: Op, steps: &[ActionReport]) -> Vec<Planned> {
    in_order(op, steps)
        .into_iter()
        .map(|step| Planned {
            step: step.step.clone(),
            recorded: step.description.clone(),
            verdict: verdict::<F>(op, step),
        })
        .collect()
}

fn verdict<F: Reverse>(op: Op, step: &ActionReport) -> Verdict {
    let planned = match op {
        Op::Undo => F::reversal(step).map(|r| {
            (
                F::describe_reversal(&r),
                serde_json::to_value(&r).unwrap_or(Value::Null),
            )
        }),
        Op::Redo => F::recorded_action(step).map(|a| {
            (
                a.describe(),
                serde_json::to_value(&a).unwrap_or(Value::Null),
            )
        }),
    };
    match planned {
        Ok((change, detail)) => Verdict::Change { change, detail },
        Err(why) => Verdict::Refused { why: why.0 },
    }
}

async fn carry_out_with<F: Reverse>(
    op: Op,
    steps: &[ActionReport],
    place: Place<'_>,
) -> Result<Vec<ActionReport>, String> {
    // Assuming a member role is checked before anything is done. The function's own ledger
    // stays out: an undo is recorded by the command line, once.
    let places = Places::<F>::new(place.sdk, place.home_account, place.member_role, None);
    let function = places
        .at(place.target)
        .await
        .map_err(|e| format!("cannot act in {}: {e}", place.target))?;
    let mut done = Vec::new();
    for step in in_order(op, steps) {
        let recorded = match op {
            Op::Undo => match F::reversal(step) {
                Ok(reversal) => ActionReport {
                    step: step.step.clone(),
                    description: F::describe_reversal(&reversal),
                    action: serde_json::to_value(&reversal).unwrap_or(Value::Null),
                    outcome: function.reverse(&reversal).await,
                },
                Err(why) => refused(step, why.0),
            },
            Op::Redo => match F::recorded_action(step) {
                Ok(action) => ActionReport {
                    step: action.step(),
                    description: action.describe(),
                    action: serde_json::to_value(&action).unwrap_or(Value::Null),
                    outcome: function
                        .execute(&action)
                        .await
                        .in_region(&place.target.region),
                },
                Err(why) => refused(step, why.0),
            },
        };
        done.push(recorded);
    }
    Ok(done)
}

fn refused(step: &ActionReport, why: String) -> ActionReport {
    ActionReport {
        step: step.step.clone(),
        description: step.description.clone(),
        action: step.action.clone(),
        outcome: Outcome::skipped(format!("not taken back: {why}")),
    }
}
