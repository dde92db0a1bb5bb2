//! One function's judgement of one event: the pure path offline, or with the facts and
//! exemption tags read from AWS (`--facts-from-aws`), and what it assumed.

use std::collections::BTreeMap;

use reflex_shared::Function;
use reflex_shared::config::Env;
use reflex_shared::event::Event;
use reflex_shared::guard::Disposition;

use super::assumed::{self, Known};
use super::aws::AwsReader;
use crate::catalog::Visit;
use crate::judge::{self, Judge, Judgement, Stopped};

/// What one function would do with the event.
pub struct FunctionPlan {
    pub function: &'static str,
    /// The enabled rules that route the event to it (none: only `--function` asked for it).
    pub routed_by: Vec<String>,
    /// `Err`: it could not be planned (a configuration or AWS error), and why.
    pub judgement: Result<Judgement, String>,
    /// Whether the facts and tags were read from AWS.
    pub facts_read: bool,
    pub limits: Limits,
    /// What the plan took for granted instead of reading it, one sentence each.
    pub assumptions: Vec<String>,
}

/// The guards' limits on what one function does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// The blast radius: actions per event (`REFLEX_MAX_ACTIONS`).
    pub max_actions: usize,
    /// Enforced actions per account and hour (`REFLEX_MAX_ACTIONS_PER_HOUR`), counted in the
    /// ledger.
    pub max_per_hour: u32,
}

impl FunctionPlan {
    /// The function refuses the event (a field missing or malformed, a kind it does not take),
    /// or it could not be planned.
    pub fn is_error(&self) -> bool {
        match &self.judgement {
            Err(_) => true,
            Ok(judgement) => matches!(judgement.stopped, Some(Stopped::Refused { .. })),
        }
    }

    /// A step would run in enforce mode, or a report would go out.
    pub fn is_found(&self) -> bool {
        self.judgement
            .as_ref()
            .is_ok_and(|j| judge::would_enforce(j) || j.report.is_notifiable())
    }

    /// The steps the blast radius counts: those that would run, or would in enforce mode.
    pub fn counted_steps(&self) -> usize {
        self.judgement.as_ref().map_or(0, |j| {
            j.dispositions
                .iter()
                .flatten()
                .filter(|d| matches!(d, Disposition::Run | Disposition::DryRun))
                .count()
        })
    }
}

/// Plans the event for the function visited.
pub struct PlanFor<'a> {
    pub event: &'a Event,
    pub env: &'a Env<'a>,
    pub aws: Option<&'a AwsReader>,
    pub routed_by: Vec<String>,
}

impl Visit for PlanFor<'_> {
    type Out = FunctionPlan;

    fn visit<F: Function>(self) -> FunctionPlan {
        let (judgement, limits, assumptions) = match Judge::<F>::from_env(self.env) {
            Err(e) => (Err(e), Limits::default(), Vec::new()),
            Ok(judge) => {
                let limits = Limits {
                    max_actions: judge.guards.max_actions,
                    max_per_hour: judge.max_per_hour,
                };
                let judgement = self.judge(&judge);
                let assumptions = match &judgement {
                    Ok(judgement) => assumed::assumptions(&self.known(&judge, limits), judgement),
                    Err(_) => Vec::new(),
                };
                (judgement, limits, assumptions)
            }
        };
        // Read only where the rules decided: an event stopped before had nothing read for it.
        let decided = matches!(&judgement, Ok(j) if j.stopped.is_none());
        FunctionPlan {
            function: F::NAME,
            routed_by: self.routed_by,
            judgement,
            facts_read: self.aws.is_some() && decided,
            limits,
            assumptions,
        }
    }
}

impl PlanFor<'_> {
    /// The pure path, with the facts and tags read from AWS when asked, else none.
    fn judge<F: Function>(&self, judge: &Judge<F>) -> Result<Judgement, String> {
        let trigger = match judge.interpret(self.event) {
            Ok(trigger) => trigger,
            Err(stopped) => return Ok(judge.stopped(self.event, stopped)),
        };
        let Some(aws) = self.aws else {
            let facts = F::Facts::default();
            return Ok(judge.decide(self.event, &trigger, &facts, &BTreeMap::new()));
        };
        let read = aws.read(judge, self.env, self.event, &trigger)?;
        let mut judgement = judge.decide(self.event, &trigger, &read.facts, &read.exempt);
        for note in read.notes {
            judgement.report.note(note);
        }
        Ok(judgement)
    }

    /// What the plan of `F` knew, for its assumptions.
    fn known<F: Function>(&self, judge: &Judge<F>, limits: Limits) -> Known {
        Known {
            function: F::NAME,
            facts_read: self.aws.is_some(),
            // Facts of no size are no facts: the function reads nothing (notify).
            reads_facts: std::mem::size_of::<F::Facts>() != 0,
            is_api_call: self.event.api_call().is_some(),
            knows_itself: judge.guards.self_identity.is_some(),
            exempt_tag: reflex_shared::exemption::ExemptTag::from_env(self.env)
                .map(|t| format!("{}={}", t.key, t.value))
                .unwrap_or_default(),
            limits,
        }
    }
}
