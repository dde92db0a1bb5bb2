//! What happened to one action.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// Reflex changed something. `prior_state` and `undo` let a person reverse it.
    Done {
        detail: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        prior_state: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        undo: Option<String>,
    },
    /// The desired end state already held (a repeated delivery, or someone fixed it first).
    AlreadyDone { detail: String },
    /// Dry-run: this is exactly what enforce mode would do.
    WouldDo,
    /// Not attempted, and why (rule off, exempt target, blast-radius limit).
    Skipped { why: String },
    /// Attempted and refused or broken; the other actions still ran.
    Failed {
        why: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
    },
}

impl Outcome {
    pub fn done(
        detail: impl Into<String>,
        prior_state: Option<Value>,
        undo: impl Into<String>,
    ) -> Self {
        Outcome::Done {
            detail: detail.into(),
            prior_state,
            undo: Some(undo.into()),
        }
    }

    pub fn already_done(detail: impl Into<String>) -> Self {
        Outcome::AlreadyDone {
            detail: detail.into(),
        }
    }

    pub fn failed(why: impl Into<String>, error_code: Option<String>) -> Self {
        Outcome::Failed {
            why: why.into(),
            error_code,
        }
    }

    /// Short label for people: DONE, ALREADY DONE, WOULD DO, SKIPPED, FAILED.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "DONE",
            Outcome::AlreadyDone { .. } => "ALREADY DONE",
            Outcome::WouldDo => "WOULD DO (dry-run)",
            Outcome::Skipped { .. } => "SKIPPED",
            Outcome::Failed { .. } => "FAILED",
        }
    }

    /// As in the JSON report: `done`, `already-done`, `would-do`, `skipped`, `failed`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "done",
            Outcome::AlreadyDone { .. } => "already-done",
            Outcome::WouldDo => "would-do",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Failed { .. } => "failed",
        }
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn status_names_are_the_json_ones() {
        for o in [
            Outcome::done("d", None, "u"),
            Outcome::already_done("d"),
            Outcome::WouldDo,
            Outcome::Skipped { why: "w".into() },
            Outcome::failed("f", None),
        ] {
            assert_eq!(serde_json::to_value(&o).unwrap()["status"], o.status());
        }
    }
}
