//! The pipeline's pure path for one function, with no AWS call: the event guards, the
//! function's `interpret` and `decide`, then the guards on the findings (mode, exempt resources,
//! blast radius), as `Handler::handle_by` runs them. What the pipeline would read from AWS is
//! given (`plan --facts-from-aws`) or unknown (`F::Facts::default()`, no exempt resource), and
//! the result is the report a person would receive, each step `would-do` where it would run.

use std::collections::BTreeMap;

use reflex_shared::config::{CoreConfig, Env};
use reflex_shared::event::Event;
use reflex_shared::function::{Function, Interpreted};
use reflex_shared::guard::{Disposition, Guards};
use reflex_shared::identity::SelfIdentity;
use reflex_shared::plan::{Action, Finding};
use reflex_shared::report::{ActionReport, EventSummary, FindingReport, Report};
use reflex_shared::{Outcome, Resource};

/// Function `F`'s settings and guards, read once from the configuration.
pub struct Judge<F: Function> {
    pub settings: F::Settings,
    pub guards: Guards,
    /// The hourly rate limit of enforced actions (counted in the ledger: unknown offline).
    pub max_per_hour: u32,
}

/// What the pure path made of one event for one function.
pub struct Judgement {
    /// The report a person would receive (settled), each step that would run `would-do`.
    pub report: Report,
    /// The guards' verdict on each step, in the report's order: `dispositions[f][s]` is that of
    /// `report.findings[f].actions[s]`.
    pub dispositions: Vec<Vec<Disposition>>,
    /// What each step touches, in the same order: `resources[f][s]` is that of
    /// `report.findings[f].actions[s]`.
    pub resources: Vec<Vec<Resource>>,
    /// Why the function would not look further: refused (not an event it takes, a field
    /// missing or malformed), screened out by an event guard, or ignored by its rules.
    pub stopped: Option<Stopped>,
}

/// Where the pure path stopped before the rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Stopped {
    /// The event is not one the function takes, or a field it needs is missing or malformed:
    /// the error type (`MissingField`, ...) and the message, which names the field.
    Refused { error_type: String, message: String },
    /// An event guard left it alone (`loop-guard`, `failed-call`, `exempt-actor`).
    Screened { guard: String, why: String },
    /// Nothing for this function's rules, and why.
    Ignored(String),
}

impl<F: Function> Judge<F> {
    /// As the function reads its configuration at cold start. Reflex's own identity for the loop
    /// guard is `REFLEX_SELF_ARN` only (offline, STS is not asked).
    pub fn from_env(env: &Env<'_>) -> Result<Self, String> {
        let core =
            CoreConfig::from_env(env, F::RULE_IDS).map_err(|e| format!("{}: {e}", F::NAME))?;
        let settings = F::settings(env).map_err(|e| format!("{}: {e}", F::NAME))?;
        let me = core.self_arn.as_deref().map(SelfIdentity::from_arn);
        Ok(Self {
            settings,
            guards: core.guards(me),
            max_per_hour: core.rate_limit.max_per_hour,
        })
    }

    /// The event guards and `interpret`: the trigger, or where the path stops.
    pub fn interpret(&self, event: &Event) -> Result<F::Trigger, Stopped> {
        if !event.is_one_of(F::ACCEPTS) {
            let error = event.unsupported();
            return Err(Stopped::Refused {
                error_type: error.error_type().to_string(),
                message: error.to_string(),
            });
        }
        if let Some(skip) = event.api_call().and_then(|call| self.guards.screen(call)) {
            return Err(Stopped::Screened {
                guard: skip.name().to_string(),
                why: skip.describe(),
            });
        }
        match F::interpret(event, &self.settings) {
            Ok(Interpreted::Trigger(trigger)) => Ok(trigger),
            Ok(Interpreted::Ignored(why)) => Err(Stopped::Ignored(why)),
            Err(e) => Err(Stopped::Refused {
                error_type: e.error_type().to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// `decide` on the trigger and `facts`, then the guards with `exempt` resources.
    pub fn decide(
        &self,
        event: &Event,
        trigger: &F::Trigger,
        facts: &F::Facts,
        exempt: &BTreeMap<Resource, String>,
    ) -> Judgement {
        let findings: Vec<Finding<F::Action>> = F::decide(trigger, facts, &self.settings);
        let mut report = Report::new(F::NAME, EventSummary::of(event));
        let mut dispositions = Vec::new();
        let mut resources = Vec::new();
        for guarded in self.guards.apply(findings, exempt) {
            let mut actions = Vec::new();
            let mut verdicts = Vec::new();
            let mut touched = Vec::new();
            for (action, disposition) in &guarded.steps {
                touched.push(action.resource());
                actions.push(ActionReport {
                    step: action.step(),
                    description: action.describe(),
                    action: serde_json::to_value(action).unwrap_or_default(),
                    outcome: match disposition {
                        Disposition::Run | Disposition::DryRun => Outcome::WouldDo,
                        Disposition::Skip { why } => Outcome::skipped(why.clone()),
                        Disposition::Exempt { why } => Outcome::Exempt { why: why.clone() },
                    },
                });
                verdicts.push(disposition.clone());
            }
            report.findings.push(FindingReport {
                rule_id: guarded.finding.rule_id.to_string(),
                severity: guarded.finding.severity,
                reason: guarded.finding.reason,
                mode: guarded.mode,
                already_handled: false,
                attention: None,
                actions,
            });
            dispositions.push(verdicts);
            resources.push(touched);
        }
        report.settle(F::ALERT_SEVERITY);
        Judgement {
            report,
            dispositions,
            resources,
            stopped: None,
        }
    }

    /// The whole pure path with nothing known beyond the event: no facts, no exempt resource.
    pub fn offline(&self, event: &Event) -> Judgement {
        match self.interpret(event) {
            Ok(trigger) => self.decide(event, &trigger, &F::Facts::default(), &BTreeMap::new()),
            Err(stopped) => self.stopped(event, stopped),
        }
    }

    /// The report of an event the path stopped for before the rules.
    pub fn stopped(&self, event: &Event, stopped: Stopped) -> Judgement {
        let mut report = Report::new(F::NAME, EventSummary::of(event));
        match &stopped {
            Stopped::Ignored(why) => report.note(why.clone()),
            // As the pipeline reports it: status `skipped`, the guard named.
            Stopped::Screened { why, .. } => {
                report.skipped = event.api_call().and_then(|call| self.guards.screen(call));
                if report.skipped.is_none() {
                    report.note(why.clone());
                }
            }
            Stopped::Refused { message, .. } => report.note(message.clone()),
        }
        report.settle(F::ALERT_SEVERITY);
        Judgement {
            report,
            dispositions: Vec::new(),
            resources: Vec::new(),
            stopped: Some(stopped),
        }
    }
}

/// Whether any step would run in enforce mode.
pub fn would_enforce(judgement: &Judgement) -> bool {
    judgement
        .dispositions
        .iter()
        .flatten()
        .any(|d| matches!(d, Disposition::Run))
}

/// Every function's judge behind one object, for code that runs all of them on each event.
pub trait AnyJudge: Send + Sync {
    fn name(&self) -> &'static str;
    fn accepts(&self, event: &Event) -> bool;
    fn offline(&self, event: &Event) -> Judgement;
}

impl<F: Function> AnyJudge for Judge<F> {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn accepts(&self, event: &Event) -> bool {
        event.is_one_of(F::ACCEPTS)
    }

    fn offline(&self, event: &Event) -> Judgement {
        Judge::offline(self, event)
    }
}

/// Builds a function's judge as an [`AnyJudge`] (with `catalog::visit`).
pub struct Build<'a>(pub &'a Env<'a>);

impl crate::catalog::Visit for Build<'_> {
    type Out = Result<Box<dyn AnyJudge>, String>;
    fn visit<F: Function>(self) -> Self::Out {
        Ok(Box::new(Judge::<F>::from_env(self.0)?))
    }
}

/// Every function's judge, from the configuration.
pub fn all(env: &Env<'_>) -> Result<Vec<Box<dyn AnyJudge>>, String> {
    crate::catalog::NAMES
        .iter()
        .map(|name| {
            crate::catalog::visit(name, Build(env))
                .unwrap_or_else(|| Err(format!("{name}: unknown")))
        })
        .collect()
}
