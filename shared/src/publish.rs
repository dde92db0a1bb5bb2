//! Publishing a report to SNS: one message per event, in the SNS per-protocol message structure
//! (the forms themselves are `report::render`'s), cut to fit SNS's limit.

use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::json;

use crate::error::ReflexError;
use crate::report::Report;
use crate::report::render::{TRUNCATED_MARKER, cut_lines};

#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// Publish the report; returns the SNS message id.
    pub async fn publish(&self, report: &Report) -> Result<String, ReflexError> {
        let (message, cut) = fitted(report);
        if cut {
            crate::audit::log_report(report, "cut to fit SNS");
        }
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| ReflexError::Publish(e.to_string()))
        };
        let status = report.status.as_str();
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(report.subject())
            .message_structure("json")
            .message(message)
            // Attributes let subscribers filter (e.g. only HIGH and above to a pager).
            .message_attributes("reflex_function", attr(&report.function)?)
            .message_attributes("reflex_status", attr(status)?);
        if let Some(sev) = report.severity() {
            request = request.message_attributes("reflex_severity", attr(&sev.to_string())?);
        }
        let out = request
            .send()
            .await
            .map_err(|e| ReflexError::Publish(crate::aws::error_text(&e)))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// SNS refuses messages over 256 KiB; the per-protocol structure counts whole.
const SNS_MAX_BYTES: usize = 256 * 1024;

/// The SNS `MessageStructure=json` body, one form per protocol: readable text for email (and
/// any protocol without its own form), the JSON report for queues, functions and HTTP
/// endpoints, and the AWS Chatbot (Amazon Q Developer in chat) custom-notification format on
/// HTTPS, which is how Chatbot subscribes. Too large a report is cut with a visible marker,
/// never dropped.
pub fn message_structure(report: &Report) -> String {
    fitted(report).0
}

/// The message structure, and whether it had to be cut. Cut on whole lines (a cut inside an
/// undo line would leave another command that still runs), each form to a share of the limit
/// that halves until the whole fits: escaping (a quote is four bytes in the machine form's
/// text) decides the final size, not the share.
fn fitted(report: &Report) -> (String, bool) {
    let text = report.text();
    let machine = report.to_json().to_string();
    let full = forms(&text, &machine, &report.chat(None).to_string());
    if full.len() <= SNS_MAX_BYTES {
        return (full, false);
    }
    // Six copies share the limit, with room for the JSON around them.
    let mut share = SNS_MAX_BYTES / 6 - 4096;
    loop {
        let machine = json!({
            "truncated": TRUNCATED_MARKER,
            "function": report.function,
            "status": report.status,
            "subject": report.subject(),
            "event": report.event,
            "text": cut_lines(&text, share / 2),
        })
        .to_string();
        let chat = report.chat(Some(share / 2)).to_string();
        let cut = forms(&cut_lines(&text, share), &machine, &chat);
        if cut.len() <= SNS_MAX_BYTES || share < 1024 {
            return (cut, true);
        }
        share /= 2;
    }
}

fn forms(text: &str, machine: &str, chat: &str) -> String {
    json!({
        "default": text,
        "email": text,
        "sqs": machine,
        "lambda": machine,
        "http": machine,
        "https": chat,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{EventSummary, Status};
    use serde_json::Value;

    fn report(notes: Vec<String>) -> Report {
        let mut r = Report::new(
            "notify",
            EventSummary {
                id: "e-1".into(),
                what: "console sign-in failure by mallory".into(),
                detail_type: "AWS Console Sign In via CloudTrail".into(),
                source: "aws.signin".into(),
                name: "ConsoleLogin".into(),
                account: "123456789012".into(),
                region: "us-east-1".into(),
                time: None,
                actor: "arn:aws:iam::123456789012:user/mallory".into(),
                actor_type: "IAMUser".into(),
                source_ip: None,
                user_agent: None,
                console_url: Some("https://console.example/event".into()),
            },
        );
        r.notes = notes;
        r.status = Status::NeedsAttention;
        r
    }

    fn parse(structure: &str) -> Value {
        serde_json::from_str(structure).expect("the structure is JSON")
    }

    #[test]
    fn every_protocol_gets_its_form() {
        let m = parse(&message_structure(&report(vec![])));
        assert!(
            m["email"]
                .as_str()
                .unwrap()
                .starts_with("Reflex notify: Needs attention")
        );
        assert_eq!(m["default"], m["email"]);
        let json: Value = serde_json::from_str(m["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(json["status"], "needs-attention");
        assert_eq!(m["sqs"], m["lambda"]);
        let chat: Value = serde_json::from_str(m["https"].as_str().unwrap()).unwrap();
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
        assert_eq!(chat["content"]["textType"], "client-markdown");
        assert!(
            chat["content"]["description"]
                .as_str()
                .unwrap()
                .contains("console sign-in failure by mallory")
        );
        assert_eq!(
            chat["content"]["nextSteps"][0],
            "Open in the console: https://console.example/event"
        );
    }

    #[test]
    fn a_report_whose_text_escaping_multiplies_still_fits_and_is_cut_between_lines() {
        // A quote is two bytes in the JSON of each form and four in the machine form's text.
        let quotes = vec!["\"".repeat(100); 5_000];
        let structure = message_structure(&report(quotes));
        assert!(
            structure.len() <= SNS_MAX_BYTES,
            "{} bytes",
            structure.len()
        );
        let email = parse(&structure)["email"].as_str().unwrap().to_string();
        assert!(email.ends_with(&format!("{TRUNCATED_MARKER}\n")), "{email}");
        // Whole lines only: every kept note is all its hundred quotes.
        for line in email.lines().filter(|l| l.starts_with("NOTE: ")) {
            assert_eq!(line.len(), "NOTE: ".len() + 100, "{line}");
        }
    }

    #[test]
    fn a_report_too_large_for_sns_is_cut_with_a_marker_not_dropped() {
        let huge = vec!["x".repeat(400 * 1024), "é".repeat(10_000)];
        let structure = message_structure(&report(huge));
        assert!(
            structure.len() <= SNS_MAX_BYTES,
            "{} bytes",
            structure.len()
        );
        let m = parse(&structure);
        assert!(m["email"].as_str().unwrap().contains(TRUNCATED_MARKER));
        let json: Value = serde_json::from_str(m["sqs"].as_str().unwrap()).unwrap();
        assert_eq!(json["truncated"], TRUNCATED_MARKER);
        assert_eq!(json["status"], "needs-attention");
        assert_eq!(
            json["event"]["actor"],
            "arn:aws:iam::123456789012:user/mallory"
        );
        let chat: Value = serde_json::from_str(m["https"].as_str().unwrap()).unwrap();
        assert!(
            chat["content"]["description"]
                .as_str()
                .unwrap()
                .contains(TRUNCATED_MARKER)
        );
    }
}
