//! The events Reflex reads: a raw EventBridge event parsed once into a typed [`Event`], which
//! each function then interprets as its own trigger.
//!
//! The envelope is `aws_lambda_events`' `EventBridgeEvent`; the details are typed here:
//! `api_call` (CloudTrail API calls and console sign-ins), `alarm` (alarm state changes),
//! `insight` (CloudTrail Insights), `guardduty` (GuardDuty findings).

pub mod alarm;
pub mod api_call;
pub mod guardduty;
pub mod insight;
pub mod key;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Serialize;
use serde_json::Value;

use crate::error::EventError;
use crate::identity::is_account_id;

pub use alarm::AlarmStateChange;
pub use api_call::ApiCall;
pub use guardduty::GuardDutyFinding;
pub use insight::InsightEvent;
pub use key::{EventKey, Revision};

/// The `detail-type` CloudTrail uses for management API calls delivered to EventBridge.
pub const API_CALL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// Envelope fields every report needs, whatever the detail.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Envelope {
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub region: String,
    pub time: Option<String>,
}

/// The `detail-type` of an alarm state change (metric, metric-math and composite alarms).
pub const ALARM_DETAIL_TYPE: &str = "CloudWatch Alarm State Change";

/// CloudTrail Insights: unusual API call or error rates.
pub const INSIGHT_DETAIL_TYPE: &str = "AWS Insight via CloudTrail";
/// Console sign-ins; AWS spells the detail-type both ways.
pub const SIGN_IN_DETAIL_TYPES: [&str; 2] = [
    "AWS Console Sign In via CloudTrail",
    "AWS Console Signin via CloudTrail",
];

/// GuardDuty findings.
pub const GUARDDUTY_DETAIL_TYPE: &str = "GuardDuty Finding";

/// A typed event.
// One event per invocation: the variants' size difference costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Event {
    ApiCall {
        envelope: Envelope,
        call: ApiCall,
    },
    Alarm {
        envelope: Envelope,
        alarm: AlarmStateChange,
    },
    Insight {
        envelope: Envelope,
        insight: InsightEvent,
    },
    /// A console sign-in: CloudTrail's record shape, `ConsoleLogin` with `additionalEventData`.
    SignIn {
        envelope: Envelope,
        call: ApiCall,
    },
    GuardDuty {
        envelope: Envelope,
        finding: GuardDutyFinding,
    },
}

impl Event {
    pub fn envelope(&self) -> &Envelope {
        match self {
            Event::ApiCall { envelope, .. }
            | Event::Alarm { envelope, .. }
            | Event::Insight { envelope, .. }
            | Event::SignIn { envelope, .. }
            | Event::GuardDuty { envelope, .. } => envelope,
        }
    }

    /// Where what the event is about happened: `(account, region)`, the envelope's, except for
    /// a GuardDuty finding that names its own. A GuardDuty administrator account receives its
    /// members' findings with its own id in the envelope; acting there would look for the
    /// instance in the wrong account (and the finding's claim would then block the member's
    /// copy).
    pub fn place(&self) -> (&str, &str) {
        let envelope = self.envelope();
        let (mut account, mut region) = (envelope.account.as_str(), envelope.region.as_str());
        if let Event::GuardDuty { finding, .. } = self {
            if let Some(own) = finding.account_id.as_deref().filter(|a| is_account_id(a)) {
                account = own;
            }
            if let Some(own) = finding
                .region
                .as_deref()
                .filter(|r| !r.trim().is_empty() && is_region_name(r))
            {
                region = own;
            }
        }
        (account, region)
    }

    pub fn kind(&self) -> EventKind {
        match self {
            Event::ApiCall { .. } => EventKind::ApiCall,
            Event::Alarm { .. } => EventKind::Alarm,
            Event::Insight { .. } => EventKind::Insight,
            Event::SignIn { .. } => EventKind::SignIn,
            Event::GuardDuty { .. } => EventKind::GuardDuty,
        }
    }

    /// The API call, for CloudTrail API-call events (not sign-ins: those are news, not calls to
    /// remediate, and no event guard applies to them).
    pub fn api_call(&self) -> Option<&ApiCall> {
        match self {
            Event::ApiCall { call, .. } => Some(call),
            _ => None,
        }
    }

    /// Whether one of `accepted` describes this event.
    pub fn is_one_of(&self, accepted: &[Accepts]) -> bool {
        let source = self.envelope().source.as_str();
        accepted
            .iter()
            .any(|a| a.kind == self.kind() && a.source.is_none_or(|s| s == source))
    }

    /// The error for an event of a kind or source the function does not take.
    pub fn unsupported(&self) -> EventError {
        let envelope = self.envelope();
        EventError::Unsupported {
            detail_type: envelope.detail_type.clone(),
            event_source: envelope.source.clone(),
        }
    }

    /// The id that identifies this event across redeliveries (EventBridge keeps it).
    pub fn id(&self) -> &str {
        let envelope = self.envelope();
        match self {
            Event::ApiCall { call, .. } | Event::SignIn { call, .. } if envelope.id.is_empty() => {
                call.event_id.as_deref().unwrap_or("")
            }
            _ => &envelope.id,
        }
    }
}

/// The families of events Reflex reads, one per detail type (both sign-in spellings are one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    ApiCall,
    Alarm,
    Insight,
    SignIn,
    GuardDuty,
}

/// One kind of event a function takes, from one EventBridge source or from any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepts {
    pub kind: EventKind,
    pub source: Option<&'static str>,
}

impl Accepts {
    /// CloudTrail API calls of one service: `Accepts::api_calls("aws.iam")`.
    pub const fn api_calls(source: &'static str) -> Self {
        Self {
            kind: EventKind::ApiCall,
            source: Some(source),
        }
    }

    pub const fn from(kind: EventKind, source: &'static str) -> Self {
        Self {
            kind,
            source: Some(source),
        }
    }

    pub const fn any(kind: EventKind) -> Self {
        Self { kind, source: None }
    }
}

/// Parse raw JSON text into a typed event.
pub fn parse_str(raw: &str) -> Result<Event, EventError> {
    let value: Value = serde_json::from_str(raw).map_err(|e| EventError::MalformedJson {
        reason: e.to_string(),
    })?;
    parse(value)
}

/// Whether `text` is blank (the home region) or shaped like an AWS region's name: `us-east-1`,
/// `us-gov-west-1`, `cn-north-1`. Checks of a configured region must refuse the blank themselves.
pub fn is_region_name(text: &str) -> bool {
    if text.trim().is_empty() {
        return true;
    }
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[0].len() == 2
        && parts[parts.len() - 1].len() <= 2
        && !parts[parts.len() - 1].is_empty()
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Parse an already-decoded JSON value (what the Lambda runtime hands us) into a typed event.
pub fn parse(value: Value) -> Result<Event, EventError> {
    if !value.is_object() {
        return Err(EventError::MalformedJson {
            reason: format!("expected a JSON object, got {}", json_kind(&value)),
        });
    }
    let raw: EventBridgeEvent<Value> = from_value(value, "")?;
    // Reflex builds its AWS clients for the event's region: only a region's name may get there.
    if let Some(region) = raw.region.as_deref().filter(|r| !is_region_name(r)) {
        return Err(EventError::InvalidField {
            field: "region".into(),
            reason: format!("`{}` is not an AWS region name", region.escape_default()),
        });
    }
    let envelope = Envelope {
        id: raw.id.clone().unwrap_or_default(),
        detail_type: raw.detail_type.clone(),
        source: raw.source.clone(),
        account: raw.account.clone().unwrap_or_default(),
        region: raw.region.clone().unwrap_or_default(),
        time: raw.time.map(|t| t.to_rfc3339()),
    };
    match raw.detail_type.as_str() {
        API_CALL_DETAIL_TYPE => {
            let call: ApiCall = from_value(raw.detail, "detail")?;
            Ok(Event::ApiCall { envelope, call })
        }
        INSIGHT_DETAIL_TYPE => {
            let insight: InsightEvent = from_value(raw.detail, "detail")?;
            Ok(Event::Insight { envelope, insight })
        }
        t if SIGN_IN_DETAIL_TYPES.contains(&t) => {
            let call: ApiCall = from_value(raw.detail, "detail")?;
            Ok(Event::SignIn { envelope, call })
        }
        GUARDDUTY_DETAIL_TYPE => {
            let finding: GuardDutyFinding = from_value(raw.detail, "detail")?;
            Ok(Event::GuardDuty { envelope, finding })
        }
        ALARM_DETAIL_TYPE => {
            let alarm: AlarmStateChange = from_value(raw.detail, "detail")?;
            Ok(Event::Alarm { envelope, alarm })
        }
        other => Err(EventError::Unsupported {
            detail_type: other.to_string(),
            event_source: raw.source,
        }),
    }
}

/// Deserialize with the path of the offending field in the error ("detail.userIdentity.type");
/// `within` names where `value` sits in the event ("detail", or "" for the event itself).
fn from_value<T: serde::de::DeserializeOwned>(value: Value, within: &str) -> Result<T, EventError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde reports a missing field at its parent's path ("." at the top); name the field.
        let missing = inner
            .strip_prefix("missing field `")
            .and_then(|s| s.split('`').next());
        let field = [within, path.as_str(), missing.unwrap_or_default()]
            .into_iter()
            .filter(|part| !part.is_empty() && *part != ".")
            .collect::<Vec<_>>()
            .join(".");
        match missing {
            Some(_) => EventError::MissingField { field },
            None => EventError::InvalidField {
                field,
                reason: inner,
            },
        }
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api_call_event(detail: Value) -> Value {
        json!({
            "version": "0", "id": "e-1", "detail-type": API_CALL_DETAIL_TYPE,
            "source": "aws.iam", "account": "123456789012", "time": "2026-11-20T10:00:00Z",
            "region": "us-east-1", "resources": [], "detail": detail
        })
    }

    #[test]
    fn parses_an_api_call() {
        let ev = parse(api_call_event(json!({
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
            "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
            "awsRegion": "us-east-1", "errorCode": "AccessDenied",
            "requestParameters": {"userName": "alice", "setAsDefault": "true"}
        })))
        .unwrap();
        let Event::ApiCall { envelope, call } = ev else {
            panic!("not an API call")
        };
        assert_eq!(envelope.id, "e-1");
        assert_eq!(call.event_name, "AttachUserPolicy");
        assert_eq!(call.error_code.as_deref(), Some("AccessDenied"));
        assert_eq!(call.request_str("userName"), Some("alice"));
        assert_eq!(call.request_bool("setAsDefault"), Some(true));
    }

    #[test]
    fn malformed_json_is_a_clear_error() {
        let err = parse_str("{not json").unwrap_err();
        assert_eq!(err.error_type(), "MalformedJson");
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        let err = parse(json!([1, 2])).unwrap_err();
        assert!(err.to_string().contains("an array"), "{err}");
    }

    #[test]
    fn a_missing_field_is_named_with_its_path() {
        let err = parse(api_call_event(json!({
            "userIdentity": {"type": "IAMUser"},
            "eventSource": "iam.amazonaws.com", "awsRegion": "us-east-1"
        })))
        .unwrap_err();
        assert_eq!(err.error_type(), "MissingField");
        assert!(err.to_string().contains("detail.eventName"), "{err}");

        let err = parse(json!({"source": "aws.iam", "detail": {}})).unwrap_err();
        assert!(err.to_string().contains("detail-type"), "{err}");
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let err = parse(api_call_event(json!({
            "userIdentity": {"type": 7}, "eventSource": "iam.amazonaws.com",
            "eventName": "X", "awsRegion": "us-east-1"
        })))
        .unwrap_err();
        assert_eq!(err.error_type(), "InvalidField");
        assert!(
            err.to_string().contains("detail.userIdentity.type"),
            "{err}"
        );
    }

    #[test]
    fn parses_the_forms_cloudtrail_records() {
        let identities = [
            json!({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}),
            json!({"type": "Root", "principalId": "123456789012", "arn": "arn:aws:iam::123456789012:root",
                   "accountId": "123456789012", "accessKeyId": ""}),
            json!({"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": "999999999999"}),
            json!({"type": "FederatedUser", "principalId": "123456789012:jane",
                   "arn": "arn:aws:sts::123456789012:federated-user/jane", "accountId": "123456789012",
                   "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "bob"}}}),
            json!({"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/ops/jane",
                   "accountId": "123456789012",
                   "sessionContext": {"sessionIssuer": {}, "webIdFederationData": {},
                                      "attributes": {"mfaAuthenticated": "false"}, "sourceIdentity": "jane"}}),
            json!({"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/ops/jane",
                   "sessionContext": null}),
            json!({"type": "IAMUser", "accountId": "123456789012", "accessKeyId": "",
                   "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        ];
        for identity in identities {
            for (request, response) in [
                (json!(null), json!(null)),
                (
                    json!({"userName": "alice"}),
                    json!({"user": {"userName": "alice"}}),
                ),
            ] {
                let ev = parse(api_call_event(json!({
                    "userIdentity": identity, "eventSource": "iam.amazonaws.com",
                    "eventName": "CreateUser", "awsRegion": "us-east-1",
                    "requestParameters": request, "responseElements": response
                })))
                .unwrap_or_else(|e| panic!("{identity}: {e}"));
                let call = ev.api_call().unwrap();
                assert!(!call.user_identity.describe().is_empty());
                if request.is_null() {
                    assert_eq!(call.request_parameters, None);
                    assert_eq!(call.request_str("userName"), None);
                    assert!(call.require_request().is_err());
                    assert_eq!(call.response_str("/user/userName"), None);
                }
            }
        }
        // Left out rather than null: the same.
        let ev = parse(api_call_event(json!({
            "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
            "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "awsRegion": "us-east-1"
        })))
        .unwrap();
        let call = ev.api_call().unwrap();
        assert_eq!(
            (&call.request_parameters, &call.response_elements),
            (&None, &None)
        );
        let err = call.require_request_str("userName").unwrap_err();
        assert!(
            err.to_string()
                .contains("detail.requestParameters.userName"),
            "{err}"
        );
    }

    #[test]
    fn a_detail_of_the_wrong_shape_is_named_once() {
        for (detail, field) in [
            (json!(null), "`detail`"),
            (json!([]), "`detail`"),
            (
                json!({"userIdentity": null, "eventSource": "iam.amazonaws.com",
                    "eventName": "X", "awsRegion": "us-east-1"}),
                "`detail.userIdentity`",
            ),
            (
                json!({"userIdentity": {"type": "IAMUser", "sessionContext": {"sessionIssuer": "x"}},
                    "eventSource": "iam.amazonaws.com", "eventName": "X", "awsRegion": "us-east-1"}),
                "`detail.userIdentity.sessionContext.sessionIssuer`",
            ),
        ] {
            let err = parse(api_call_event(detail.clone())).unwrap_err();
            assert_eq!(err.error_type(), "InvalidField", "{detail}: {err}");
            assert!(err.to_string().contains(field), "{detail}: {err}");
            assert_eq!(
                crate::ReflexError::from(err).error_type(),
                "Permanent.BadEvent.InvalidField"
            );
        }
        let err = parse(api_call_event(json!({}))).unwrap_err();
        assert!(err.to_string().contains("`detail.userIdentity`"), "{err}");
        let err =
            parse(json!({"detail-type": API_CALL_DETAIL_TYPE, "source": "aws.iam"})).unwrap_err();
        assert_eq!(err.error_type(), "MissingField", "{err}");
        assert!(err.to_string().contains("`detail`"), "{err}");
    }

    #[test]
    fn parses_an_alarm_state_change() {
        let ev = parse(json!({
            "id": "a-1", "detail-type": ALARM_DETAIL_TYPE, "source": "aws.cloudwatch",
            "detail": {"alarmName": "web-cpu-high",
                       "state": {"value": "INSUFFICIENT_DATA", "timestamp": "2026-11-20T10:40:00.000+0000"}}
        }))
        .unwrap();
        let Event::Alarm { alarm, .. } = &ev else {
            panic!("not an alarm")
        };
        assert_eq!(alarm.alarm_name, "web-cpu-high");
        assert_eq!(ev.id(), "a-1");
        let err = parse(json!({"detail-type": ALARM_DETAIL_TYPE, "source": "aws.cloudwatch",
                               "detail": {"alarmName": "x", "state": {"value": "SOMETIMES", "timestamp": "t"}}}))
        .unwrap_err();
        assert!(err.to_string().contains("detail.state.value"), "{err}");
    }

    #[test]
    fn a_guardduty_finding_happened_in_the_account_and_region_it_names() {
        let finding = |account: &str, region: &str| {
            json!({
                "version": "0", "id": "g", "detail-type": "GuardDuty Finding",
                "source": "aws.guardduty", "account": "111111111111", "region": "us-east-1",
                "time": "2026-11-20T10:00:00Z", "resources": [],
                "detail": {"id": "f", "type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 5.0,
                           "accountId": account, "region": region,
                           "resource": {"resourceType": "Instance"}}
            })
        };
        // Delivered in the GuardDuty administrator account, about a member's instance.
        let ev = parse(finding("222222222222", "eu-west-1")).unwrap();
        assert_eq!(ev.place(), ("222222222222", "eu-west-1"));
        // What is not an account id or a region is not believed: the envelope's.
        let ev = parse(finding("2222-bad", "eu-west-1; rm")).unwrap();
        assert_eq!(ev.place(), ("111111111111", "us-east-1"));
        // Any other event: its envelope.
        let ev = parse(api_call_event(json!({
            "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
            "awsRegion": "eu-west-1", "userIdentity": {"type": "IAMUser"}
        })))
        .unwrap();
        assert_eq!(ev.place(), ("123456789012", "us-east-1"));
    }

    #[test]
    fn an_unknown_detail_type_is_unsupported() {
        let err = parse(json!({
            "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
            "detail": {"state": "running"}
        }))
        .unwrap_err();
        assert_eq!(err.error_type(), "UnsupportedEvent");
        assert!(
            err.to_string().contains("EC2 Instance State-change"),
            "{err}"
        );
    }

    #[test]
    fn only_a_region_name_is_taken_as_the_event_s_region() {
        for good in [
            "us-east-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-4",
            "",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "evil.example.com",
            "us-east-1/x",
            "US-EAST-1",
            "us",
            "us-east-",
            "a-b-1x",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
        let mut event = api_call_event(json!({
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"},
            "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
            "awsRegion": "us-east-1",
        }));
        event["region"] = "attacker.example#".into();
        match parse(event.clone()) {
            Err(EventError::InvalidField { field, .. }) => assert_eq!(field, "region"),
            other => panic!("{other:?}"),
        }
        event["region"] = "eu-west-1".into();
        assert!(parse(event).is_ok());
    }
}
