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
}

impl GuardDutyFinding {
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
