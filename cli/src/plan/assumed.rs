//! What a plan took for granted instead of reading it: said, never guessed silently.

use reflex_shared::guard::Disposition;

use super::function::Limits;
use crate::judge::{Judgement, Stopped};

/// What the plan knew when it judged the event.
pub struct Known {
    pub function: &'static str,
    /// `--facts-from-aws`: the facts and the exemption tags were read.
    pub facts_read: bool,
    /// The function reads facts before it decides (notify reads none).
    pub reads_facts: bool,
    /// A CloudTrail API call: the event guards (loop guard, ...) apply.
    pub is_api_call: bool,
    /// Reflex's own identity is known (`REFLEX_SELF_ARN`), so the loop guard can tell its calls.
    pub knows_itself: bool,
    /// The exemption tag, `key=value`.
    pub exempt_tag: String,
    pub limits: Limits,
}

/// The assumptions behind `judgement`, one sentence each, most consequential first.
pub fn assumptions(known: &Known, judgement: &Judgement) -> Vec<String> {
    let mut said = Vec::new();
    let refused = matches!(judgement.stopped, Some(Stopped::Refused { .. }));
    let screened = matches!(judgement.stopped, Some(Stopped::Screened { .. }));
    if known.is_api_call && !known.knows_itself && !refused && !screened {
        said.push(
            "REFLEX_SELF_ARN is unset: the loop guard cannot recognise Reflex's own calls here \
             (a deployed function asks STS who it is), so a call Reflex made is planned as \
             anyone's; set it to the function's role ARN"
                .to_string(),
        );
    }
    // Only an event the rules decided on had anything to read.
    if judgement.stopped.is_none() && !known.facts_read && known.reads_facts {
        said.push(format!(
            "no facts read from AWS (--facts-from-aws reads them): {} decided without what it \
             would read first (a policy's document, a resource's state); a rule that needs an \
             unknown fact finds nothing or takes the safe side, as its reason says, so a \
             finding that depends on a read may be missing here",
            known.function
        ));
    }
    // The caller's tag is read for an API call; the resources' for the steps.
    let tags_matter = known.is_api_call || judgement.report.actions().next().is_some();
    if judgement.stopped.is_none() && !known.facts_read && tags_matter {
        said.push(format!(
            "exemption tags not read: the caller and every resource the steps touch are taken \
             to carry no {} tag",
            known.exempt_tag
        ));
    }
    if !judgement.report.findings.is_empty() {
        said.push(
            "the ledger is not read: no earlier delivery of this event is taken to have handled \
             it already"
                .to_string(),
        );
    }
    let enforced = judgement
        .dispositions
        .iter()
        .flatten()
        .any(|d| matches!(d, Disposition::Run));
    if enforced {
        said.push(format!(
            "the hourly rate limit is taken as not reached: at most {} enforced actions per \
             account and hour (REFLEX_MAX_ACTIONS_PER_HOUR), counted in the ledger, which is not \
             read",
            known.limits.max_per_hour
        ));
    }
    said
}
