//! The ledger's part in handling one finding: claim it before acting, so a redelivery neither
//! acts nor pages twice; record what was done; give the claim back when the report could not
//! be sent, so Lambda's retry reports it.

use chrono::Utc;

use crate::guard::{Disposition, GuardedFinding, Mode};
use crate::ledger::{Claim, Ledger};
use crate::outcome::Outcome;
use crate::plan::{Action, Severity};
use crate::report::ActionReport;

/// Where a finding stands in the ledger for this delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimState {
    /// This delivery holds the claim: act, then record under `key`.
    Acquired { key: String },
    /// An earlier delivery claimed this finding: do nothing again, report what it recorded.
    HeldByAnother {
        claimed_at: String,
        state: String,
        recorded: Option<Vec<ActionReport>>,
    },
    /// No ledger table is configured: act without duplicate protection.
    NoLedger,
    /// The ledger could not be reached: act anyway (acting twice is safe, not acting is not).
    Unavailable { why: String },
    /// The finding neither acts nor pages anyone: nothing to claim.
    NotNeeded,
}

/// The ledger key of a finding: its rule, apart for a dry-run so that enforcing the same event
/// later still acts.
pub fn key<A>(guarded: &GuardedFinding<A>) -> String {
    let rule_id = guarded.finding.rule_id;
    match guarded.mode {
        Mode::DryRun => format!("{rule_id}#dry-run"),
        _ => rule_id.to_string(),
    }
}

/// Whether handling the finding acts or pages a person: only then is it claimed.
pub fn is_needed<A>(guarded: &GuardedFinding<A>, alert: Severity) -> bool {
    let acts_or_reports = guarded.steps.iter().any(|(_, d)| {
        matches!(
            d,
            Disposition::Run | Disposition::DryRun | Disposition::Exempt { .. }
        )
    });
    let pages =
        guarded.steps.is_empty() && guarded.mode != Mode::Off && guarded.finding.severity >= alert;
    acts_or_reports || pages
}

/// Claim the finding for this delivery of `event_id`.
pub async fn claim<A>(
    ledger: Option<&Ledger>,
    event_id: &str,
    guarded: &GuardedFinding<A>,
    alert: Severity,
    function: &str,
    summary: &str,
) -> ClaimState {
    if !is_needed(guarded, alert) {
        return ClaimState::NotNeeded;
    }
    let Some(ledger) = ledger else {
        return ClaimState::NoLedger;
    };
    let key = key(guarded);
    match ledger
        .claim(event_id, &key, function, summary, Utc::now())
        .await
    {
        Ok(Claim::Acquired) => ClaimState::Acquired { key },
        Ok(Claim::Held {
            state,
            claimed_at,
            recorded,
        }) => ClaimState::HeldByAnother {
            claimed_at,
            state,
            recorded,
        },
        Err(why) => ClaimState::Unavailable { why },
    }
}

impl ClaimState {
    /// What the report says about the claim, if anything.
    pub fn note(&self, table: &str) -> Option<String> {
        match self {
            ClaimState::NoLedger => Some(format!(
                "no ledger table ({}): duplicate protection is off",
                crate::ledger::TABLE
            )),
            ClaimState::Unavailable { why } => Some(format!(
                "ledger {table} unavailable, acting without duplicate protection: {why}"
            )),
            _ => None,
        }
    }

    /// For a finding an earlier delivery handled: each action reported as skipped, with what
    /// the earlier delivery recorded (not a plan recomputed from today's state).
    pub fn handled_earlier<A: Action>(
        &self,
        steps: &[(A, Disposition)],
    ) -> Option<Vec<ActionReport>> {
        let ClaimState::HeldByAnother {
            claimed_at,
            state,
            recorded,
        } = self
        else {
            return None;
        };
        let why = format!(
            "already handled: an earlier delivery of this event claimed it at {claimed_at} ({state})"
        );
        Some(match recorded {
            Some(recorded) => recorded
                .iter()
                .map(|earlier| ActionReport {
                    description: earlier.description.clone(),
                    action: earlier.action.clone(),
                    outcome: Outcome::skipped(format!(
                        "{why}; the earlier outcome was {}",
                        earlier.outcome.status()
                    )),
                })
                .collect(),
            None => steps
                .iter()
                .map(|(action, _)| ActionReport {
                    description: action.describe(),
                    action: serde_json::to_value(action).unwrap_or_default(),
                    outcome: Outcome::skipped(why.clone()),
                })
                .collect(),
        })
    }
}
