//! The `detail` of an "AWS API Call via CloudTrail" event: our own type, because the
//! ecosystem's one has no `errorCode`, which the failed-call guard needs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::EventError;
use crate::identity::UserIdentity;

/// The `detail` of an "AWS API Call via CloudTrail" event.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiCall {
    pub user_identity: UserIdentity,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(default)]
    pub event_time: Option<String>,
    #[serde(default, rename = "eventID")]
    pub event_id: Option<String>,
    #[serde(default, rename = "sourceIPAddress")]
    pub source_ip_address: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Present when AWS refused the call: there is nothing to remediate.
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub request_parameters: Option<Value>,
    #[serde(default)]
    pub response_elements: Option<Value>,
    #[serde(default)]
    pub recipient_account_id: Option<String>,
    /// Console sign-ins carry `MFAUsed`, `LoginTo` and the like here.
    #[serde(default)]
    pub additional_event_data: Option<Value>,
}

impl ApiCall {
    /// A string field of `requestParameters`.
    pub fn request_str(&self, key: &str) -> Option<&str> {
        self.request_parameters.as_ref()?.get(key)?.as_str()
    }

    /// A boolean field of `requestParameters` (CloudTrail sometimes renders booleans as strings).
    pub fn request_bool(&self, key: &str) -> Option<bool> {
        match self.request_parameters.as_ref()?.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// A value in `responseElements` by JSON pointer, e.g. `/accessKey/accessKeyId`.
    pub fn response_str(&self, pointer: &str) -> Option<&str> {
        self.response_elements.as_ref()?.pointer(pointer)?.as_str()
    }

    /// A required string request parameter, or a clear error naming it.
    pub fn require_request_str(&self, key: &str) -> Result<&str, EventError> {
        self.request_str(key).ok_or_else(|| {
            EventError::missing(format!(
                "detail.requestParameters.{key} (in {})",
                self.event_name
            ))
        })
    }

    /// A required string in `responseElements`, by JSON pointer, or a clear error naming it.
    pub fn require_response_str(&self, pointer: &str) -> Result<&str, EventError> {
        self.response_str(pointer).ok_or_else(|| {
            EventError::missing(format!(
                "detail.responseElements{} (in {})",
                pointer.replace('/', "."),
                self.event_name
            ))
        })
    }

    /// `requestParameters`, required.
    pub fn require_request(&self) -> Result<&Value, EventError> {
        self.request_parameters.as_ref().ok_or_else(|| {
            EventError::missing(format!("detail.requestParameters (in {})", self.event_name))
        })
    }
}
