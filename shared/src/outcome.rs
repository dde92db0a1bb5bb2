//! What happened to one action, and the `Step` an executor returns on its way there.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::undo::Undo;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// Reflex changed something. `prior_state` and `undo` let a person reverse it; `undo` is
    /// built only from quoted AWS CLI calls (see [`Undo`]).
    Done {
        detail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prior_state: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undo: Option<Undo>,
    },
    /// The desired end state already held (a repeated delivery, or someone fixed it first).
    AlreadyDone { detail: String },
    /// Dry-run: this is exactly what enforce mode would do.
    WouldDo,
    /// Not attempted, and why (rule off, blast-radius limit, an earlier delivery handled it).
    Skipped { why: String },
    /// Not attempted: the resource it touches carries the exemption tag.
    Exempt { why: String },
    /// Attempted and refused or broken; the other actions still ran. `retryable`: a fault that
    /// outlasted the SDK's retries but may pass later (throttling, a 5xx, a timeout, a broken
    /// connection): the invocation fails after recording what was done, so Lambda's retry
    /// finishes the job. A final failure (AccessDenied, validation) is reported instead.
    Failed {
        why: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retryable: bool,
    },
}

/// An executor's way to an outcome: `?` on a failed call returns that call's outcome (a
/// failure, or "already done" when the resource is gone), `Ok` the outcome of a completed step.
pub type Step<T = Outcome> = Result<T, Outcome>;

/// The outcome a finished step arrived at, whichever way it ended.
pub fn settle(step: Step) -> Outcome {
    step.unwrap_or_else(|stopped| stopped)
}

impl Outcome {
    /// A change made, with what it replaced and the command that reverses it.
    pub fn done(detail: impl Into<String>, prior_state: Option<Value>, undo: Undo) -> Self {
        Outcome::Done {
            detail: detail.into(),
            prior_state,
            undo: Some(undo),
        }
    }

    pub fn already_done(detail: impl Into<String>) -> Self {
        Outcome::AlreadyDone {
            detail: detail.into(),
        }
    }

    pub fn skipped(why: impl Into<String>) -> Self {
        Outcome::Skipped { why: why.into() }
    }

    /// A final failure: retrying the same call changes nothing.
    pub fn failed(why: impl Into<String>, error_code: Option<String>) -> Self {
        Outcome::Failed {
            why: why.into(),
            error_code,
            retryable: false,
        }
    }

    /// A failure that may pass if the call is made again later.
    pub fn failed_for_now(why: impl Into<String>, error_code: Option<String>) -> Self {
        Outcome::Failed {
            why: why.into(),
            error_code,
            retryable: true,
        }
    }

    /// Short label for people: DONE, ALREADY DONE, WOULD DO, SKIPPED, EXEMPT, FAILED.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "DONE",
            Outcome::AlreadyDone { .. } => "ALREADY DONE",
            Outcome::WouldDo => "WOULD DO (dry-run)",
            Outcome::Skipped { .. } => "SKIPPED",
            Outcome::Exempt { .. } => "EXEMPT",
            Outcome::Failed { .. } => "FAILED",
        }
    }

    /// As in the JSON report: `done`, `already-done`, `would-do`, `skipped`, `exempt`, `failed`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "done",
            Outcome::AlreadyDone { .. } => "already-done",
            Outcome::WouldDo => "would-do",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Exempt { .. } => "exempt",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// The command that undoes a change (or why none is printed), when one was made.
    pub fn undo(&self) -> Option<&str> {
        self.undo_command().map(Undo::as_str)
    }

    /// The outcome with its undo for the region the change was made in (see [`Undo::in_region`]).
    pub fn in_region(self, region: &str) -> Self {
        match self {
            Outcome::Done {
                detail,
                prior_state,
                undo,
            } => Outcome::Done {
                detail,
                prior_state,
                undo: undo.map(|u| u.in_region(region)),
            },
            other => other,
        }
    }

    /// The same, typed: whether it is a runnable command.
    pub fn undo_command(&self) -> Option<&Undo> {
        match self {
            Outcome::Done { undo, .. } => undo.as_ref(),
            _ => None,
        }
    }

    /// What a change replaced, recorded so a person can restore it.
    pub fn prior_state(&self) -> Option<&Value> {
        match self {
            Outcome::Done { prior_state, .. } => prior_state.as_ref(),
            _ => None,
        }
    }

    /// What happened, for people: the detail of a change or why nothing was changed.
    pub fn explanation(&self) -> Option<&str> {
        match self {
            Outcome::Done { detail, .. } | Outcome::AlreadyDone { detail } => Some(detail),
            Outcome::Skipped { why } | Outcome::Exempt { why } | Outcome::Failed { why, .. } => {
                Some(why)
            }
            Outcome::WouldDo => None,
        }
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    /// A failure that Lambda's retry of the event may get past.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Outcome::Failed {
                retryable: true,
                ..
            }
        )
    }

    /// Whether the end state holds: changed now, or already so.
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done { .. } | Outcome::AlreadyDone { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;
    use crate::undo::{AwsCli, Undo};

    fn every_kind() -> Vec<Outcome> {
        let undo = Undo::run(AwsCli::new("ec2", "delete-snapshot").arg("--snapshot-id", "snap-1"));
        vec![
            Outcome::done("d", Some(serde_json::json!({"was": 1})), undo),
            Outcome::already_done("d"),
            Outcome::WouldDo,
            Outcome::skipped("w"),
            Outcome::Exempt { why: "e".into() },
            Outcome::failed("f", Some("AccessDenied".into())),
            Outcome::failed_for_now("t", Some("Throttling".into())),
        ]
    }

    #[test]
    fn status_names_are_the_json_ones() {
        for o in every_kind() {
            assert_eq!(serde_json::to_value(&o).unwrap()["status"], o.status());
        }
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        for o in every_kind() {
            let text = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<Outcome>(&text).unwrap(), o, "{text}");
        }
    }
}
