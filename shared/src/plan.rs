//! What a rule decides: findings, each with a reason, a severity and a plan of actions.

use serde::{Deserialize, Serialize};
use std::fmt::Debug;

use crate::resource::Resource;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        })
    }
}

/// One remediation step a function knows how to carry out. Each function has its own action
/// enum; the core only needs to describe it, serialize it and know what it touches.
pub trait Action: Serialize + Clone + Debug + Send + Sync {
    /// Imperative, for people: "detach AdministratorAccess from user alice".
    fn describe(&self) -> String;
    /// The resource this action changes: an exemption tag on it skips the action.
    fn resource(&self) -> Resource;

    /// A stable name for the step within its finding: its kind and the resource it touches. A
    /// delivery that resumes an earlier one's work recognises by it the steps already done,
    /// even when it re-plans from a state those steps changed. Override it where one finding
    /// has several steps of a kind on one resource.
    fn step(&self) -> String {
        step_of(self)
    }

    /// This action removes the exemption tag from its resource. The resource carries that tag
    /// (that is why the action exists), so the exemption must not hold it back: such an action
    /// is never turned into an `exempt` step, and neither is any other step of the same event on
    /// that resource. Only the removal of a tag write a rule refused may say `true` here.
    fn lifts_exemption(&self) -> bool {
        false
    }
}

/// The usual step name: the action's `type` and the resource it touches
/// (`detach-managed-policy user alice`).
pub fn step_of<A: Action>(action: &A) -> String {
    let kind = serde_json::to_value(action)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
        .unwrap_or_else(|| "change".into());
    format!("{kind} {}", action.resource())
}

/// A rule's verdict on one event: why it matters and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding<A> {
    pub rule_id: &'static str,
    pub severity: Severity,
    pub reason: String,
    pub actions: Vec<A>,
}
