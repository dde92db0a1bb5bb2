//! The rate limit on enforced actions: per function and per account (the event's), at most
//! `REFLEX_MAX_ACTIONS_PER_HOUR` in each clock hour (UTC). Whoever can fire Reflex's triggers at
//! will (set an alarm's state, tag an instance) could otherwise have it act without end. A
//! finding whose actions would go past the limit does none of them: all or nothing, never half
//! a remediation. The window's first refusal is reported as needing attention; later ones are
//! recorded (ledger, audit log) without paging anyone again, so a flood is one page per window,
//! except a refused finding of the function's alert severity, which always pages: filling the
//! hour with cheap triggers must not hide the escalation that follows.
//!
//! Counted in the ledger, once per claim (a retry of a counted delivery is not counted twice).
//! Dry-run steps are not counted. Without a ledger there is no limit (said at cold start and in
//! every report); a ledger refusing by configuration leaves it unchecked, said in the report.

use chrono::{DateTime, Utc};

use crate::guard::Disposition;
use crate::ledger::{ClaimKey, Ledger, RateCount};
use crate::plan::Action;

pub const MAX_ACTIONS_PER_HOUR: &str = "REFLEX_MAX_ACTIONS_PER_HOUR";
pub const DEFAULT_MAX_ACTIONS_PER_HOUR: u32 = 30;
/// An upper bound that keeps the setting a limit.
pub const MOST_ACTIONS_PER_HOUR: u32 = 100_000;

/// At most `max_per_hour` enforced actions per function and account in each clock hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max_per_hour: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            max_per_hour: DEFAULT_MAX_ACTIONS_PER_HOUR,
        }
    }
}

/// The counter a finding's actions count against: `function#account#hour`.
pub fn counter(function: &str, account: &str, now: DateTime<Utc>) -> String {
    format!("{function}#{account}#{}", now.format("%Y-%m-%dT%HZ"))
}

/// How many of the steps the guards let run (dry-run and skipped steps are not counted). The
/// removal of an exemption tag someone had no right to write is not counted either: otherwise
/// whoever fills the hour with tag writes keeps the last one, and with it the exemption.
pub fn enforced<A: Action>(steps: &[(A, Disposition)]) -> u32 {
    steps
        .iter()
        .filter(|(a, d)| matches!(d, Disposition::Run) && !a.lifts_exemption())
        .count() as u32
}

/// What the rate limit decided for one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `Some(why)`: none of the finding's enforced steps may run.
    pub refused: Option<String>,
    /// Why a person must look although nothing failed: the window's first refusal.
    pub attention: Option<String>,
}

impl Verdict {
    pub const ADMITTED: Verdict = Verdict {
        refused: None,
        attention: None,
    };
}

/// The verdict on the ledger's answer (pure).
pub fn verdict(
    count: RateCount,
    limit: RateLimit,
    function: &str,
    account: &str,
    actions: u32,
) -> Verdict {
    let RateCount::Refused { first, used } = count else {
        return Verdict::ADMITTED;
    };
    let why = format!(
        "rate limit: {function} may take at most {} enforced actions per hour in account \
         {account}, {used} taken this hour; these {actions} were not taken ({MAX_ACTIONS_PER_HOUR})",
        limit.max_per_hour
    );
    let attention = first.then(|| {
        format!(
            "{why}. Later refusals this hour are recorded in the ledger and the audit log \
             without another report: a flood of triggers may be under way"
        )
    });
    Verdict {
        refused: Some(why),
        attention,
    }
}

/// The steps after a refusal: every enforced one skipped, saying why; the others (and the
/// uncounted removal of an exemption tag) as they were.
pub fn hold_back<A: Action>(steps: Vec<(A, Disposition)>, why: &str) -> Vec<(A, Disposition)> {
    steps
        .into_iter()
        .map(|(action, disposition)| match disposition {
            Disposition::Run if !action.lifts_exemption() => (
                action,
                Disposition::Skip {
                    why: why.to_string(),
                },
            ),
            other => (action, other),
        })
        .collect()
}

/// Count a held claim's enforced steps in the ledger and decide. A ledger fault that may pass
/// is an error (the steps are not run, the event is retried); one by configuration leaves the
/// limit unchecked, and `Ok(None)` says so.
pub async fn admit<A: Action>(
    ledger: &Ledger,
    claim: &ClaimKey,
    limit: RateLimit,
    (function, account): (&str, &str),
    steps: &[(A, Disposition)],
) -> Result<Option<Verdict>, crate::ledger::LedgerError> {
    let actions = enforced(steps);
    if actions == 0 {
        return Ok(Some(Verdict::ADMITTED));
    }
    let now = Utc::now();
    match ledger
        .count_actions(
            claim,
            &counter(function, account, now),
            actions,
            limit.max_per_hour,
            now,
        )
        .await
    {
        Ok(count) => Ok(Some(verdict(count, limit, function, account, actions))),
        Err(e) if e.transient => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "rate limit not checked");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit { max_per_hour: 3 };

    #[test]
    fn one_counter_per_function_account_and_clock_hour() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let a = counter("scale", "123456789012", at("2026-12-01T23:00:00Z"));
        assert_eq!(a, "scale#123456789012#2026-12-01T23Z");
        assert_eq!(
            a,
            counter("scale", "123456789012", at("2026-12-01T23:59:59Z"))
        );
        assert_ne!(
            a,
            counter("scale", "123456789012", at("2026-12-02T00:00:00Z"))
        );
        assert_ne!(
            a,
            counter("scale", "222222222222", at("2026-12-01T23:00:00Z"))
        );
        assert_ne!(
            a,
            counter("revoke", "123456789012", at("2026-12-01T23:00:00Z"))
        );
    }

    #[test]
    fn admitted_or_counted_before_runs_and_pages_no_one() {
        for count in [RateCount::Admitted { used: 3 }, RateCount::AlreadyCounted] {
            assert_eq!(
                verdict(count, LIMIT, "scale", "123456789012", 1),
                Verdict::ADMITTED
            );
        }
    }

    #[test]
    fn only_the_windows_first_refusal_asks_for_a_person() {
        let first = verdict(
            RateCount::Refused {
                first: true,
                used: 3,
            },
            LIMIT,
            "scale",
            "123456789012",
            1,
        );
        let why = first.refused.clone().unwrap();
        assert!(why.contains("at most 3 enforced actions per hour"), "{why}");
        assert!(why.contains("account 123456789012"), "{why}");
        assert!(why.contains(MAX_ACTIONS_PER_HOUR), "{why}");
        assert!(first.attention.unwrap().starts_with(&why));
        let later = verdict(
            RateCount::Refused {
                first: false,
                used: 3,
            },
            LIMIT,
            "scale",
            "123456789012",
            1,
        );
        assert_eq!(later.refused, Some(why));
        assert_eq!(later.attention, None);
    }

    /// A step named by its text; `lift` marks the removal of an exemption tag.
    #[derive(Debug, Clone, serde::Serialize)]
    struct Step {
        name: &'static str,
        lift: bool,
    }

    impl Action for Step {
        fn describe(&self) -> String {
            self.name.to_string()
        }
        fn resource(&self) -> crate::resource::Resource {
            crate::resource::Resource::User(self.name.to_string())
        }
        fn lifts_exemption(&self) -> bool {
            self.lift
        }
    }

    fn step(name: &'static str) -> Step {
        Step { name, lift: false }
    }

    #[test]
    fn a_refusal_holds_back_every_enforced_step_and_leaves_the_rest() {
        let steps = vec![
            (step("detach"), Disposition::Run),
            (step("contain"), Disposition::Run),
            (step("dry"), Disposition::DryRun),
            (
                step("exempt"),
                Disposition::Exempt {
                    why: "tagged".into(),
                },
            ),
        ];
        assert_eq!(enforced(&steps), 2);
        let held = hold_back(steps, "rate limit");
        assert_eq!(enforced(&held), 0);
        assert_eq!(
            held[0].1,
            Disposition::Skip {
                why: "rate limit".into()
            }
        );
        assert_eq!(held[2].1, Disposition::DryRun);
        assert!(matches!(held[3].1, Disposition::Exempt { .. }));
    }

    #[test]
    fn removing_an_exemption_tag_is_neither_counted_nor_held_back() {
        let steps = vec![
            (
                Step {
                    name: "untag",
                    lift: true,
                },
                Disposition::Run,
            ),
            (step("detach"), Disposition::Run),
        ];
        assert_eq!(enforced(&steps), 1);
        let held = hold_back(steps, "rate limit");
        assert_eq!(
            held[0].1,
            Disposition::Run,
            "the tag is removed all the same"
        );
        assert!(matches!(held[1].1, Disposition::Skip { .. }));
    }
}
