//! One event planned: read and parsed (or what is wrong with it, by field), the rules that fire
//! and the function each invokes, and each function's judgement.

use reflex_shared::config::Env;
use reflex_shared::error::EventError;
use reflex_shared::event;
use reflex_shared::report::EventSummary;

use super::aws::AwsReader;
use super::function::{FunctionPlan, PlanFor};
use crate::catalog;
use crate::input::Given;
use crate::judge::AnyJudge;
use crate::routes::Routes;

/// What `plan` made of one event given.
pub struct EventPlan {
    /// The file, or `-` for standard input.
    pub source: String,
    pub outcome: Result<Planned, BadInput>,
}

/// Why an event could not be planned at all: not readable, not JSON, not an event.
pub struct BadInput {
    /// `MissingField`, `InvalidField`, `MalformedJson`, `UnsupportedEvent`, `Unreadable`.
    pub error_type: String,
    /// The field that is missing or wrong, when one is (`detail.eventName`).
    pub field: Option<String>,
    pub message: String,
}

pub struct Planned {
    pub summary: EventSummary,
    /// Each enabled rule that fires: its name in the template and the function it invokes.
    pub routes: Vec<(String, String)>,
    /// The functions planned: those routed to (or the one `--function` names), in catalog order.
    pub functions: Vec<FunctionPlan>,
    /// Functions that take this kind of event though no enabled rule routes it to them (not
    /// planned unless `--function` names one).
    pub not_routed: Vec<&'static str>,
}

impl EventPlan {
    /// Bad input, or a function that refused it or could not be planned.
    pub fn is_error(&self) -> bool {
        match &self.outcome {
            Err(_) => true,
            Ok(planned) => planned.functions.iter().any(FunctionPlan::is_error),
        }
    }

    /// A rule would act, or a report would go out.
    pub fn is_found(&self) -> bool {
        self.outcome
            .as_ref()
            .is_ok_and(|planned| planned.functions.iter().any(FunctionPlan::is_found))
    }
}

/// What every event is planned with.
pub struct Planner<'a> {
    pub routes: &'a Routes,
    /// Every function's judge, to tell which take an event no rule routes to them.
    pub judges: &'a [Box<dyn AnyJudge>],
    pub env: &'a Env<'a>,
    /// `--function`: plan only this one, routed or not.
    pub only: Option<&'a str>,
    pub aws: Option<&'a AwsReader>,
}

impl Planner<'_> {
    pub fn plan(&self, given: &Given) -> EventPlan {
        EventPlan {
            source: given.source.clone(),
            outcome: self.plan_value(given),
        }
    }

    fn plan_value(&self, given: &Given) -> Result<Planned, BadInput> {
        let raw = given.event.as_ref().map_err(|why| BadInput {
            error_type: if why.starts_with("not JSON") {
                "MalformedJson".into()
            } else {
                "Unreadable".into()
            },
            field: None,
            message: why.clone(),
        })?;
        let event = event::parse(raw.clone()).map_err(bad_event)?;
        let routes: Vec<(String, String)> = self
            .routes
            .fired(raw)
            .filter_map(|rule| Some((rule.name.clone(), rule.function.clone()?)))
            .collect();
        let routed_by = |function: &str| -> Vec<String> {
            routes
                .iter()
                .filter(|(_, f)| f == function)
                .map(|(rule, _)| rule.clone())
                .collect()
        };
        let mut functions = Vec::new();
        let mut not_routed = Vec::new();
        for name in catalog::NAMES {
            let rules = routed_by(name);
            let wanted = match self.only {
                Some(only) => only == name,
                None => !rules.is_empty(),
            };
            if wanted {
                let plan_for = PlanFor {
                    event: &event,
                    env: self.env,
                    aws: self.aws,
                    routed_by: rules,
                };
                if let Some(plan) = catalog::visit(name, plan_for) {
                    functions.push(plan);
                }
            } else if self.only.is_none()
                && (self.judges.iter()).any(|j| j.name() == name && j.accepts(&event))
            {
                not_routed.push(name);
            }
        }
        Ok(Planned {
            summary: EventSummary::of(&event),
            routes,
            functions,
            not_routed,
        })
    }
}

/// What is wrong with an event, by field.
fn bad_event(error: EventError) -> BadInput {
    let field = match &error {
        EventError::MissingField { field } | EventError::InvalidField { field, .. } => {
            Some(field.clone())
        }
        EventError::Unsupported { .. } => Some("detail-type".into()),
        EventError::MalformedJson { .. } => None,
    };
    BadInput {
        error_type: error.error_type().to_string(),
        field,
        message: error.to_string(),
    }
}
