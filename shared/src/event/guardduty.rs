//! The detail of a "GuardDuty Finding" event. Only what Reflex reads is typed; the rest of the
//! finding stays available as JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardDutyFinding {
    pub id: String,
    /// E.g. `CryptoCurrency:EC2/BitcoinTool.B!DNS`.
    #[serde(rename = "type")]
    pub finding_type: String,
    /// 1.0 to 8.9 (low < 4, medium < 7, high); newer findings may reach 10 (critical).
    pub severity: f64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub resource: Value,
    /// What GuardDuty saw: the action (API call, connection, probe), counts, first and last seen.
    #[serde(default)]
    pub service: Value,
}

/// GuardDuty's bands of a severity score: low below 4, medium below 7, high below 9, critical
/// above.
pub fn band_of(severity: f64) -> crate::plan::Severity {
    use crate::plan::Severity;
    match severity {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        _ => Severity::Low,
    }
}

impl GuardDutyFinding {
    /// GuardDuty's own band of this finding's severity (see [`band_of`]).
    pub fn band(&self) -> crate::plan::Severity {
        band_of(self.severity)
    }

    /// What the finding is about, for people: "access key ASIA... of web-fleet (AssumedRole)".
    pub fn resource_summary(&self) -> String {
        let r = &self.resource;
        let s = |p: &str| r.pointer(p).and_then(Value::as_str).unwrap_or("?");
        match r.get("resourceType").and_then(Value::as_str) {
            Some("AccessKey") => format!(
                "access key {} of {} ({})",
                s("/accessKeyDetails/accessKeyId"),
                s("/accessKeyDetails/userName"),
                s("/accessKeyDetails/userType")
            ),
            Some("Instance") => format!("instance {}", s("/instanceDetails/instanceId")),
            Some("S3Bucket") => {
                let buckets: Vec<&str> = r
                    .get("s3BucketDetails")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b.get("name").and_then(Value::as_str))
                    .collect();
                format!("S3 bucket {}", buckets.join(", "))
            }
            Some(other) => other.to_string(),
            None => "an unnamed resource".to_string(),
        }
    }

    /// How often GuardDuty has seen it (`service.count`, 1 when absent): GuardDuty republishes a
    /// finding with a higher count as a new event.
    pub fn count(&self) -> u64 {
        self.service
            .get("count")
            .and_then(Value::as_u64)
            .unwrap_or(1)
    }

    /// The EC2 instance the finding is about, if it is about one.
    pub fn instance_id(&self) -> Option<&str> {
        if self.resource.get("resourceType").and_then(Value::as_str) != Some("Instance") {
            return None;
        }
        self.resource
            .pointer("/instanceDetails/instanceId")?
            .as_str()
    }
}
