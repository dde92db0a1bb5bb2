//! The ledger's part in handling one finding: claim it before acting, so a redelivery neither
//! acts nor pages twice; resume a claim a crashed or interrupted delivery left; record the
//! progress step by step; finish it; mark it reported once the report went out.

use chrono::Utc;

use super::deadline::Deadline;
use crate::event::{EventKey, Revision};
use crate::guard::{Disposition, GuardedFinding, Mode};
use crate::ledger::{Claim, ClaimKey, Finished, Ledger, LedgerError};
use crate::plan::Severity;
use crate::report::ActionReport;
use crate::target::Target;

/// Where a finding stands in the ledger for this delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimState {
    /// This delivery holds the claim. `progress`: the steps an earlier delivery recorded before
    /// it crashed or was interrupted; done steps are not done again.
    Acquired {
        key: ClaimKey,
        progress: Vec<ActionReport>,
    },
    /// Another delivery works on it now: this one must come back later.
    InProgress { claimed_at: String },
    /// An earlier delivery finished it.
    Finished { key: ClaimKey, finished: Finished },
    /// No ledger table is configured: act without duplicate protection.
    NoLedger,
    /// The ledger refused by configuration (the table is missing, access is denied): act anyway,
    /// and say so. (A transient ledger fault fails the event instead, so it is retried.)
    Unavailable { why: String },
    /// The finding neither acts nor pages anyone: nothing to claim.
    NotNeeded,
}

/// The ledger key of a finding: the event's, and its rule, apart for a dry-run so that
/// enforcing the same event later still acts.
pub fn key<A>(event: &EventKey, guarded: &GuardedFinding<A>) -> ClaimKey {
    let rule_id = guarded.finding.rule_id;
    ClaimKey {
        event: event.key.clone(),
        rule: match guarded.mode {
            Mode::DryRun => format!("{rule_id}#dry-run"),
            _ => rule_id.to_string(),
        },
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

/// Claim the finding for this delivery, until just past its deadline. A transient ledger fault
/// is an error: the event is retried rather than handled without duplicate protection.
pub async fn claim<A>(
    ledger: Option<&Ledger>,
    event: &EventKey,
    guarded: &GuardedFinding<A>,
    alert: Severity,
    (function, summary, target): (&str, &str, &Target),
    deadline: &Deadline,
) -> Result<ClaimState, LedgerError> {
    let needed = is_needed(guarded, alert);
    let Some(ledger) = ledger else {
        return Ok(match needed {
            true => ClaimState::NoLedger,
            false => ClaimState::NotNeeded,
        });
    };
    let key = key(event, guarded);
    // A retry may plan nothing where the delivery it retries did part of the work (the state
    // no longer calls for it): that claim is still taken, so what was done is reported and the
    // claim finished.
    if !needed && !ledger.is_unfinished(&key).await? {
        return Ok(ClaimState::NotNeeded);
    }
    match ledger
        .claim_in(
            &key,
            (function, summary),
            Some(target),
            Utc::now(),
            deadline.lease_until(),
        )
        .await
    {
        Ok(Claim::Acquired { progress }) => Ok(ClaimState::Acquired { key, progress }),
        Ok(Claim::InProgress { claimed_at }) => Ok(ClaimState::InProgress { claimed_at }),
        Ok(Claim::Finished(finished)) => Ok(ClaimState::Finished { key, finished }),
        Err(e) if e.transient => Err(e),
        Err(e) => Ok(ClaimState::Unavailable { why: e.why }),
    }
}

impl ClaimState {
    /// What the report says about the claim, if anything.
    pub fn note(&self, table: &str) -> Option<String> {
        match self {
            ClaimState::NoLedger => Some(format!(
                "no ledger table ({}): duplicate protection is off, and so is the rate limit \
                 ({})",
                crate::ledger::TABLE,
                super::rate::MAX_ACTIONS_PER_HOUR
            )),
            ClaimState::Unavailable { why } => Some(format!(
                "ledger {table} unavailable, acting without duplicate protection or rate limit: \
                 {why}"
            )),
            ClaimState::Acquired { progress, .. } if !progress.is_empty() => Some(
                "an earlier delivery of this event stopped part way: its recorded steps are \
                 kept, the rest done now"
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// The steps an earlier delivery already finished, to keep rather than redo.
    pub fn progress(&self) -> &[ActionReport] {
        match self {
            ClaimState::Acquired { progress, .. } => progress,
            _ => &[],
        }
    }

    /// The key of a claim this delivery holds.
    pub fn held(&self) -> Option<&ClaimKey> {
        match self {
            ClaimState::Acquired { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// What a finished claim means for a redelivery of its event.
#[derive(Debug, Clone, PartialEq)]
pub enum Earlier {
    /// Reported already: nothing to do or say again.
    Handled,
    /// Done, but its report never went out: send the recorded one.
    Unreported,
    /// Reported, and the source has since republished it changed enough to tell people again.
    Updated { told: Revision, now: Revision },
    /// Reported; the source republished it with a change too small to page anyone again.
    Seen { now: Revision },
}

/// Compare what a finished claim told people with the event now delivered.
pub fn earlier(finished: &Finished, now: Option<Revision>) -> Earlier {
    if !finished.reported {
        return Earlier::Unreported;
    }
    match (finished.revision, now) {
        (Some(told), Some(now)) if now.is_newer_than(&told) && now.matters_since(&told) => {
            Earlier::Updated { told, now }
        }
        (Some(told), Some(now)) if now.is_newer_than(&told) => Earlier::Seen { now },
        _ => Earlier::Handled,
    }
}
