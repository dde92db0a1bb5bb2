//! Publishing a report to SNS: one message per event, a readable body for email and a JSON
//! document for queues, functions and HTTP endpoints (SNS per-protocol message structure).

use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::json;

use crate::error::ReflexError;
use crate::report::Report;

/// SNS accepts at most 256 KiB per message; keep the readable body well inside it.
const MAX_TEXT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Notifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Notifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// Publish the report; returns the SNS message id.
    pub async fn publish(&self, report: &Report) -> Result<String, ReflexError> {
        let message = message_structure(report);
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| ReflexError::Notify(e.to_string()))
        };
        let status = serde_json::to_value(report.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(report.subject())
            .message_structure("json")
            .message(message)
            // Attributes let subscribers filter (e.g. only HIGH and above to a pager).
            .message_attributes("reflex_function", attr(&report.function)?)
            .message_attributes("reflex_status", attr(&status)?);
        if let Some(sev) = report.severity() {
            request = request.message_attributes("reflex_severity", attr(&sev.to_string())?);
        }
        let out = request
            .send()
            .await
            .map_err(|e| ReflexError::Notify(crate::aws::error_text(&e)))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// The SNS `MessageStructure=json` body: text for people, the JSON report for programs.
pub fn message_structure(report: &Report) -> String {
    let mut text = report.text();
    if text.len() > MAX_TEXT_BYTES {
        let mut cut = MAX_TEXT_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text += "\n[... truncated by Reflex: the full report is in the JSON form and the logs]\n";
    }
    let machine = report.to_json().to_string();
    json!({
        "default": text,
        "email": text,
        "email-json": machine,
        "sqs": machine,
        "lambda": machine,
        "http": machine,
        "https": machine,
    })
    .to_string()
}
