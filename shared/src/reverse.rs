//! Taking back a remediation from what the ledger recorded: each function says, purely, how a
//! recorded step of its own is reversed (from the step's action and the prior state its outcome
//! kept) or why it cannot be, and carries the reversal out with its own clients. The `reflex
//! undo` command line finds the ledger entry, shows the plan, runs the reversals and records the
//! undo; the undo of an undo is the original remediation again (`recorded_action`).

pub mod containment;

use std::fmt::Debug;
use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::function::Function;
use crate::outcome::Outcome;
use crate::report::ActionReport;

/// Why a recorded step cannot be reversed: a sentence of Reflex's own, never outside text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Irreversible(pub String);

impl Irreversible {
    pub fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

impl std::fmt::Display for Irreversible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub trait Reverse: Function {
    /// One change that reverses one recorded step, as this function carries it out.
    type Reversal: Serialize + Clone + Debug + Send + Sync;

    /// The reversal of `step` (a step of this function's, as the ledger recorded it: its action
    /// as JSON, its outcome with the prior state), or why it cannot be reversed. Pure. Only a
    /// step whose outcome is `done` changed anything; any other is not reversed.
    fn reversal(step: &ActionReport) -> Result<Self::Reversal, Irreversible>;

    /// For people, imperative: "attach AdministratorAccess to user alice again".
    fn describe_reversal(reversal: &Self::Reversal) -> String;

    /// Carry out a reversal: reads the current state first (already reversed is
    /// `already-done`), never panics, every fault an outcome.
    fn reverse(&self, reversal: &Self::Reversal) -> impl Future<Output = Outcome> + Send;

    /// The action a step recorded, to carry it out again: the undo of an undo.
    fn recorded_action(step: &ActionReport) -> Result<Self::Action, Irreversible>;
}

/// `step` changed something (its outcome is `done`): only such a step has anything to reverse.
pub fn done_step(step: &ActionReport) -> Result<(), Irreversible> {
    match step.outcome {
        Outcome::Done { .. } => Ok(()),
        ref other => Err(Irreversible(format!(
            "step `{}` changed nothing (its outcome is {})",
            step.step,
            other.status()
        ))),
    }
}

/// The step's recorded action as the function's own type `T`.
pub fn action<T: DeserializeOwned>(function: &str, step: &ActionReport) -> Result<T, Irreversible> {
    serde_json::from_value(step.action.clone()).map_err(|e| {
        Irreversible(format!(
            "the recorded action of step `{}` is not a {function} action: {e}",
            step.step
        ))
    })
}

/// The prior state a `done` step recorded, in the shape `T` its executor writes; anything else
/// (missing, shrunk for the ledger, another shape) is refused, naming the step.
pub fn prior<T: DeserializeOwned>(step: &ActionReport) -> Result<T, Irreversible> {
    done_step(step)?;
    let Some(state) = step.outcome.prior_state() else {
        return Err(Irreversible(format!(
            "step `{}` recorded no prior state to restore",
            step.step
        )));
    };
    serde_json::from_value(state.clone()).map_err(|e| {
        Irreversible(format!(
            "the prior state recorded for step `{}` is not in the shape its executor writes \
             ({e}): refusing to guess",
            step.step
        ))
    })
}

/// A reversal carried out: what changed, no command (the undo of an undo re-runs the recorded
/// action instead).
pub fn reversed(detail: impl Into<String>) -> Outcome {
    Outcome::Done {
        detail: detail.into(),
        prior_state: None,
        undo: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Attached {
        attached: Vec<String>,
    }

    fn step(outcome: Outcome) -> ActionReport {
        ActionReport {
            step: "detach-managed-policy user alice".into(),
            description: "detach".into(),
            action: json!({"type": "detach-managed-policy"}),
            outcome,
        }
    }

    #[test]
    fn a_prior_state_is_read_only_from_a_done_step_in_the_expected_shape() {
        let undo = crate::undo::Undo::none("test");
        let good = step(Outcome::done(
            "d",
            Some(json!({"attached": ["arn"]})),
            undo.clone(),
        ));
        assert_eq!(
            prior::<Attached>(&good),
            Ok(Attached {
                attached: vec!["arn".into()]
            })
        );
        let shrunk = step(Outcome::done(
            "d",
            Some(json!(
                "too large for the ledger: see the function's audit log"
            )),
            undo.clone(),
        ));
        assert!(prior::<Attached>(&shrunk).unwrap_err().0.contains("shape"));
        let other = step(Outcome::done(
            "d",
            Some(json!({"attached": ["a"], "x": 1})),
            undo,
        ));
        assert!(prior::<Attached>(&other).is_err());
        let skipped = step(Outcome::skipped("off"));
        assert!(
            prior::<Attached>(&skipped)
                .unwrap_err()
                .0
                .contains("skipped")
        );
    }
}
