//! Remediation metrics in CloudWatch's Embedded Metric Format: one JSON line on stdout per
//! metric, which Lambda's log pipeline turns into metrics with no API call and no extra
//! permission. The dashboard in `infra/template.yaml` charts them.
//!
//! - `Actions` (Count): one per action outcome, by `Function`, `Rule` and `Outcome`
//!   (`done`, `already-done`, `would-do`, `skipped`, `exempt`, `failed`);
//! - `Events` (Count): one per event, by `Function` and `Status` (`remediated`, `dry-run`, ...).

use serde_json::{Value, json};

use crate::report::Report;

pub const NAMESPACE: &str = "Reflex";

/// The EMF documents of one report, stamped with `timestamp_ms` (milliseconds since the epoch).
pub fn documents(report: &Report, timestamp_ms: i64) -> Vec<Value> {
    let mut docs = Vec::new();
    for finding in &report.findings {
        for action in &finding.actions {
            docs.push(document(
                timestamp_ms,
                "Actions",
                &[
                    ("Function", &report.function),
                    ("Rule", &finding.rule_id),
                    ("Outcome", action.outcome.status()),
                ],
            ));
        }
    }
    docs.push(document(
        timestamp_ms,
        "Events",
        &[
            ("Function", &report.function),
            ("Status", report.status.as_str()),
        ],
    ));
    docs
}

fn document(timestamp_ms: i64, metric: &str, dimensions: &[(&str, &str)]) -> Value {
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [names],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        metric: 1,
    });
    for (name, value) in dimensions {
        doc[*name] = json!(value);
    }
    doc
}

/// Print the report's metrics. Plain stdout lines, not tracing: EMF must be the whole line.
pub fn emit(report: &Report) {
    let now = chrono::Utc::now().timestamp_millis();
    for doc in documents(report, now) {
        println!("{doc}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::Mode;
    use crate::outcome::Outcome;
    use crate::plan::Severity;
    use crate::report::{ActionReport, EventSummary, FindingReport};

    fn report() -> Report {
        let event = crate::event::parse_str(include_str!(
            "../../events/revoke/attach-admin-to-user.json"
        ))
        .unwrap();
        let mut report = Report::new("revoke", EventSummary::of(&event));
        let action = |outcome| ActionReport {
            step: String::new(),
            description: "detach".into(),
            action: Value::Null,
            outcome,
        };
        report.findings.push(FindingReport {
            rule_id: "revoke.admin-policy-attached".into(),
            severity: Severity::Critical,
            reason: "admin".into(),
            mode: Mode::Enforce,
            already_handled: false,
            attention: None,
            actions: vec![
                action(Outcome::done(
                    "detached",
                    None,
                    crate::undo::Undo::run(crate::undo::AwsCli::new("iam", "attach-user-policy")),
                )),
                action(Outcome::failed("denied", Some("AccessDenied".into()))),
            ],
        });
        report.settle(Severity::High);
        report
    }

    #[test]
    fn one_action_document_per_outcome_and_one_event_document() {
        let docs = documents(&report(), 1_700_000_000_000);
        assert_eq!(docs.len(), 3);
        let outcomes: Vec<&str> = docs[..2]
            .iter()
            .map(|d| d["Outcome"].as_str().unwrap())
            .collect();
        assert_eq!(outcomes, ["done", "failed"]);
        assert_eq!(docs[0]["Rule"], "revoke.admin-policy-attached");
        assert_eq!(docs[0]["Function"], "revoke");
        assert_eq!(docs[0]["Actions"], 1);
        assert_eq!(
            (&docs[1]["Function"], &docs[1]["Rule"]),
            (&json!("revoke"), &json!("revoke.admin-policy-attached"))
        );
        assert_eq!(docs[2]["Events"], 1);
        assert_eq!(docs[2]["Function"], "revoke");
        assert_eq!(docs[2]["Status"], "partially-failed");
    }

    #[test]
    fn documents_follow_the_embedded_metric_format() {
        for doc in documents(&report(), 1_700_000_000_000) {
            let aws = &doc["_aws"];
            assert_eq!(aws["Timestamp"], 1_700_000_000_000_i64);
            let directive = &aws["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], NAMESPACE);
            // Every dimension and metric named in the directive is a top-level member.
            for name in directive["Dimensions"][0].as_array().unwrap() {
                assert!(doc[name.as_str().unwrap()].is_string(), "{doc}");
            }
            let metric = directive["Metrics"][0]["Name"].as_str().unwrap();
            assert_eq!(doc[metric], 1, "{doc}");
            assert_eq!(directive["Metrics"][0]["Unit"], "Count");
        }
    }
}
