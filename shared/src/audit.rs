//! One structured audit line per action (JSON in Lambda), with the prior state needed to undo it.
//! In text logs a value from outside could break the line, so the ones read there are kept on
//! it ([`one_line`]).

use crate::report::{Report, one_line};

pub fn log_actions(report: &Report) {
    for finding in &report.findings {
        for action in &finding.actions {
            let outcome = serde_json::to_string(&action.outcome).unwrap_or_default();
            tracing::info!(
                audit = true,
                function = %report.function,
                event_id = %report.event.id,
                event_name = %report.event.name,
                actor = %one_line(&report.event.actor),
                rule_id = %finding.rule_id,
                mode = ?finding.mode,
                action = %action.action,
                outcome = %outcome,
                "{}: {}",
                one_line(&action.description),
                action.outcome.label()
            );
        }
    }
    tracing::info!(
        audit = true,
        function = %report.function,
        event_id = %report.event.id,
        status = ?report.status,
        skipped = report.skipped.as_ref().map(|s| one_line(&s.describe()).into_owned()),
        "event {} by {}: {:?}",
        one_line(&report.event.name),
        one_line(&report.event.actor),
        report.status
    );
}

/// The whole report as one JSON audit line: where a person reads what SNS could not carry (a
/// report cut to fit) or where no topic is configured.
pub fn log_report(report: &Report, why: &str) {
    tracing::info!(
        audit = true,
        function = %report.function,
        event_id = %report.event.id,
        report = %report.to_json(),
        "the full report ({why})"
    );
}
