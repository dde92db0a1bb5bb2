//! A plan for people (text) or machines (one JSON object per event).

use std::fmt::Write;

use reflex_shared::event::API_CALL_DETAIL_TYPE;
use reflex_shared::guard::Disposition;
use reflex_shared::report::{Status, one_line};
use serde_json::{Value, json};

use super::event::{EventPlan, Planned};
use super::function::FunctionPlan;
use crate::judge::{self, Judgement, Stopped};

/// The plan of one event as text, ending with a blank line.
pub fn text(plan: &EventPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", one_line(&plan.source));
    match &plan.outcome {
        Err(bad) => {
            let _ = writeln!(out, "  not an event: {}", one_line(&bad.message));
            if let Some(field) = &bad.field {
                let _ = writeln!(
                    out,
                    "  field        {} ({})",
                    one_line(field),
                    bad.error_type
                );
            }
        }
        Ok(planned) => planned_text(&mut out, planned),
    }
    let _ = writeln!(out, "  => {}\n", conclusion(plan));
    out
}

fn planned_text(out: &mut String, planned: &Planned) {
    let e = &planned.summary;
    let _ = writeln!(out, "  event    {}", one_line(&e.what));
    // Every field of the event, as its sender wrote it, kept on its line.
    let _ = writeln!(
        out,
        "           {}",
        one_line(&format!(
            "{} from {}, account {}, {}{}",
            e.detail_type,
            e.source,
            e.account,
            e.region,
            e.time
                .as_deref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default()
        ))
    );
    let _ = writeln!(
        out,
        "           by {} ({})",
        one_line(&e.actor),
        one_line(&e.actor_type)
    );
    if planned.routes.is_empty() {
        let _ = writeln!(
            out,
            "  routes   no enabled rule fires: no function receives it"
        );
    }
    for (i, (rule, function)) in planned.routes.iter().enumerate() {
        let label = if i == 0 { "routes" } else { "" };
        let _ = writeln!(out, "  {label:<8} {rule} -> {function}");
    }
    for function in &planned.not_routed {
        let _ = writeln!(
            out,
            "  unrouted {function} takes this kind of event, but no enabled rule routes this one \
             to it"
        );
    }
    let is_api_call = e.detail_type == API_CALL_DETAIL_TYPE;
    for plan in &planned.functions {
        function_text(out, plan, is_api_call);
    }
}

fn function_text(out: &mut String, plan: &FunctionPlan, is_api_call: bool) {
    let _ = writeln!(out, "\n  {}: {}", plan.function, headline(plan));
    if plan.routed_by.is_empty() {
        let _ = writeln!(
            out,
            "    no enabled rule routes this event to {}: deployed, it would never see it",
            plan.function
        );
    }
    let Ok(judgement) = &plan.judgement else {
        return;
    };
    for (finding, verdicts) in judgement
        .report
        .findings
        .iter()
        .zip(&judgement.dispositions)
    {
        let _ = writeln!(
            out,
            "    finding  {} ({}, mode {})",
            finding.rule_id,
            finding.severity,
            finding.mode.as_str()
        );
        // A reason may run over lines (an alarm's); each is made safe for a terminal.
        for (i, line) in finding.reason.lines().enumerate() {
            let label = if i == 0 { "why" } else { "" };
            let _ = writeln!(out, "      {label:<6} {}", one_line(line));
        }
        if finding.actions.is_empty() {
            let _ = writeln!(out, "      step   none: nothing to do automatically");
        }
        for (action, verdict) in finding.actions.iter().zip(verdicts) {
            let _ = writeln!(out, "      step   {}", one_line(&action.description));
            let _ = writeln!(out, "             -> {}", verdict_text(verdict));
        }
    }
    if judgement.stopped.is_none() {
        if is_api_call {
            let _ = writeln!(
                out,
                "    guards   event guards passed: loop guard, failed call, callers exempt by \
                 REFLEX_EXEMPT_PRINCIPALS"
            );
        }
        if judgement.report.actions().next().is_some() {
            let _ = writeln!(
                out,
                "    guards   blast radius: {} of at most {} actions per event \
                 (REFLEX_MAX_ACTIONS)",
                plan.counted_steps(),
                plan.limits.max_actions
            );
        }
    }
    // A stop's reason is the headline already; the report repeats it as a note.
    let stop = match &judgement.stopped {
        Some(Stopped::Refused { message, .. }) => Some(message),
        Some(Stopped::Screened { why, .. } | Stopped::Ignored(why)) => Some(why),
        None => None,
    };
    let notes: Vec<String> = (judgement.report.notes.iter())
        .filter(|note| Some(*note) != stop)
        .cloned()
        .collect();
    list(out, "notes", &notes);
    list(out, "assumed", &plan.assumptions);
}

fn list(out: &mut String, label: &str, lines: &[String]) {
    for (i, line) in lines.iter().enumerate() {
        let label = if i == 0 { label } else { "" };
        let _ = writeln!(out, "    {label:<8} - {}", one_line(line));
    }
}

/// One line on what the function would do.
fn headline(plan: &FunctionPlan) -> String {
    let judgement = match &plan.judgement {
        Err(e) => return format!("cannot plan: {e}"),
        Ok(judgement) => judgement,
    };
    match &judgement.stopped {
        Some(Stopped::Refused {
            error_type,
            message,
        }) => format!("refuses the event ({error_type}): {message}"),
        Some(Stopped::Screened { why, .. }) => format!("leaves it alone: {why}"),
        Some(Stopped::Ignored(why)) => format!("nothing to do: {why}"),
        None => {
            // Run steps are `would-do` in the judged report (status dry-run): say what they are.
            let mut line = match judgement.report.status {
                _ if judge::would_enforce(judgement) => "would act".to_string(),
                Status::DryRun => "dry-run: would act in enforce mode".to_string(),
                status => status.as_str().to_string(),
            };
            line += if judgement.report.is_notifiable() {
                ", a report would go out"
            } else {
                ", no report"
            };
            line
        }
    }
}

fn verdict_text(verdict: &Disposition) -> String {
    match verdict {
        Disposition::Run => "run".into(),
        Disposition::DryRun => "dry-run (would run in enforce mode)".into(),
        Disposition::Skip { why } => format!("skipped: {}", one_line(why)),
        Disposition::Exempt { why } => format!("exempt: {}", one_line(why)),
    }
}

fn conclusion(plan: &EventPlan) -> &'static str {
    if plan.is_error() {
        "error: cannot be planned as it is"
    } else if let Ok(planned) = &plan.outcome
        && planned
            .functions
            .iter()
            .any(|f| f.judgement.as_ref().is_ok_and(judge::would_enforce))
    {
        "a rule would act"
    } else if plan.is_found() {
        "a report would go out"
    } else {
        "nothing would act, no report"
    }
}

/// The plan of one event as one JSON object.
pub fn json(plan: &EventPlan) -> Value {
    let mut object = json!({
        "source": plan.source,
        "failed": plan.is_error(),
        "found": plan.is_found(),
    });
    match &plan.outcome {
        Err(bad) => {
            object["problem"] = json!({
                "type": bad.error_type,
                "field": bad.field,
                "message": bad.message,
            });
        }
        Ok(planned) => {
            object["event"] = serde_json::to_value(&planned.summary).unwrap_or_default();
            object["routes"] = planned
                .routes
                .iter()
                .map(|(rule, function)| json!({"rule": rule, "function": function}))
                .collect();
            object["not_routed"] = json!(planned.not_routed);
            object["functions"] = planned.functions.iter().map(function_json).collect();
        }
    }
    object
}

fn function_json(plan: &FunctionPlan) -> Value {
    let mut object = json!({
        "function": plan.function,
        "routed_by": plan.routed_by,
        "facts": if plan.facts_read { "read-from-aws" } else { "assumed" },
        "limits": {
            "max_actions_per_event": plan.limits.max_actions,
            "max_enforced_actions_per_hour": plan.limits.max_per_hour,
        },
        "assumptions": plan.assumptions,
        "failed": plan.is_error(),
        "found": plan.is_found(),
    });
    match &plan.judgement {
        Err(e) => object["problem"] = json!({ "message": e }),
        Ok(judgement) => judgement_json(&mut object, judgement),
    }
    object
}

fn judgement_json(object: &mut Value, judgement: &Judgement) {
    object["would_act"] = json!(judge::would_enforce(judgement));
    object["report_would_go_out"] = json!(judgement.report.is_notifiable());
    object["stopped"] = match &judgement.stopped {
        None => Value::Null,
        Some(Stopped::Refused {
            error_type,
            message,
        }) => json!({"refused": {"type": error_type, "message": message}}),
        Some(Stopped::Screened { guard, why }) => {
            json!({"screened": {"guard": guard, "why": why}})
        }
        Some(Stopped::Ignored(why)) => json!({ "ignored": why }),
    };
    object["dispositions"] = json!(judgement.dispositions);
    object["report"] = judgement.report.to_json();
}
