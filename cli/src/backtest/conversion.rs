//! A CloudTrail record as the EventBridge event it would have been, and the filters on it.
//!
//! EventBridge wraps the record unchanged as `detail`, with `detail-type` from the record's
//! `eventType` and `source` `aws.<service>` from its `eventSource` (`iam.amazonaws.com` →
//! `aws.iam`, `monitoring.amazonaws.com` → `aws.monitoring`, as the EventBridge event reference
//! lists them); CloudTrail Insights events come from `aws.cloudtrail`.
//! <https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudtrail.html>

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// An EventBridge event made from a record, with what the filters and the summary read.
pub struct Converted {
    pub event: Value,
    pub account: String,
    pub region: String,
    pub time: String,
}

/// Why a record is not one CloudTrail writes: the summary's reason, by field.
pub fn not_a_record(why: &str) -> String {
    format!("not a CloudTrail record ({why})")
}

/// The fields every CloudTrail record has; a record without one of them is not CloudTrail's.
const ALWAYS: [&str; 4] = ["eventVersion", "eventTime", "eventID", "awsRegion"];
/// And those of every record but an Insights event.
const CALLS_ALWAYS: [&str; 2] = ["eventSource", "eventName"];

/// The event `record` would have been on the bus, or why it is not a CloudTrail record (or has
/// no EventBridge form).
pub fn to_event(record: Value) -> Result<Converted, String> {
    let Value::Object(record) = record else {
        return Err(not_a_record("not a JSON object"));
    };
    let text = |field: &str| record.get(field).and_then(Value::as_str);
    if record.contains_key("detail-type") && record.contains_key("detail") {
        // Already an EventBridge event (an export of the bus, a sample event): as it is.
        let field = |name: &str| text(name).unwrap_or_default().to_string();
        return Ok(Converted {
            account: field("account"),
            region: field("region"),
            time: field("time"),
            event: Value::Object(record),
        });
    }
    for field in ALWAYS {
        if text(field).is_none_or(str::is_empty) {
            return Err(not_a_record(&format!("no `{field}`")));
        }
    }
    let event_type = text("eventType").unwrap_or("AwsApiCall");
    let (detail_type, source) = match event_type {
        "AwsCloudTrailInsight" => ("AWS Insight via CloudTrail", "aws.cloudtrail".to_string()),
        _ => {
            for field in CALLS_ALWAYS {
                if text(field).is_none_or(str::is_empty) {
                    return Err(not_a_record(&format!("no `{field}`")));
                }
            }
            let detail_type = match event_type {
                "AwsApiCall" => "AWS API Call via CloudTrail",
                "AwsConsoleSignIn" => "AWS Console Sign In via CloudTrail",
                "AwsServiceEvent" => "AWS Service Event via CloudTrail",
                "AwsConsoleAction" => "AWS Console Action via CloudTrail",
                // Not the type in the reason: the reasons counted must stay few.
                _ => return Err(not_a_record("an `eventType` CloudTrail does not write")),
            };
            let event_source = text("eventSource").unwrap_or_default();
            let service = event_source
                .strip_suffix(".amazonaws.com")
                .unwrap_or(event_source);
            (detail_type, format!("aws.{service}"))
        }
    };
    let account = text("recipientAccountId")
        .or_else(|| {
            record
                .get("userIdentity")
                .and_then(|u| u.get("accountId"))
                .and_then(Value::as_str)
        })
        .unwrap_or_default()
        .to_string();
    let region = text("awsRegion").unwrap_or_default().to_string();
    let time = text("eventTime").unwrap_or_default().to_string();
    let id = text("eventID").unwrap_or_default().to_string();
    // Built by hand: `json!` would copy the record through serialization.
    let mut event = Map::new();
    event.insert("version".into(), "0".into());
    event.insert("id".into(), id.into());
    event.insert("detail-type".into(), detail_type.into());
    event.insert("source".into(), source.into());
    event.insert("account".into(), account.clone().into());
    event.insert("time".into(), time.clone().into());
    event.insert("region".into(), region.clone().into());
    event.insert("resources".into(), Value::Array(Vec::new()));
    event.insert("detail".into(), Value::Object(record));
    let event = Value::Object(event);
    Ok(Converted {
        event,
        account,
        region,
        time,
    })
}

/// `--since`, `--until`, `--account`, `--region`: which records count.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

/// Why a record was left out by the filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filtered {
    Time,
    Account,
    Region,
}

impl Filtered {
    pub fn as_str(self) -> &'static str {
        match self {
            Filtered::Time => "time",
            Filtered::Account => "account",
            Filtered::Region => "region",
        }
    }
}

impl Filters {
    /// `Err` with the filter that leaves the record out. A record whose time cannot be read is
    /// left out by a time filter (it cannot be said to be inside the window).
    pub fn admit(&self, converted: &Converted) -> Result<(), Filtered> {
        if !self.accounts.is_empty() && !self.accounts.contains(&converted.account) {
            return Err(Filtered::Account);
        }
        if !self.regions.is_empty() && !self.regions.contains(&converted.region) {
            return Err(Filtered::Region);
        }
        if self.since.is_some() || self.until.is_some() {
            let Ok(time) = DateTime::parse_from_rfc3339(&converted.time) else {
                return Err(Filtered::Time);
            };
            let time = time.with_timezone(&Utc);
            if self.since.is_some_and(|since| time < since)
                || self.until.is_some_and(|until| time >= until)
            {
                return Err(Filtered::Time);
            }
        }
        Ok(())
    }

    /// Whether a file at `path` in CloudTrail's S3 layout
    /// (`AWSLogs/[o-org/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/`) can hold no admitted
    /// record: another account or region, or a day more than one day outside the window (a
    /// file is delivered minutes after its records, so a record may sit in the next day's
    /// folder). Paths in no such layout are read.
    pub fn excludes_path(&self, path: &std::path::Path) -> Option<Filtered> {
        let parts: Vec<&str> = path
            .iter()
            .map(|p| p.to_str().unwrap_or_default())
            .collect();
        let at = parts.iter().position(|p| *p == "CloudTrail")?;
        let account = *parts.get(at.checked_sub(1)?)?;
        let region = *parts.get(at + 1)?;
        if !self.accounts.is_empty() && !self.accounts.iter().any(|a| a == account) {
            return Some(Filtered::Account);
        }
        if !self.regions.is_empty() && !self.regions.iter().any(|r| r == region) {
            return Some(Filtered::Region);
        }
        let day = format!(
            "{}-{}-{}",
            parts.get(at + 2)?,
            parts.get(at + 3)?,
            parts.get(at + 4)?
        );
        let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok()?;
        let one_day = chrono::Duration::days(1);
        if self
            .since
            .is_some_and(|since| day < since.date_naive() - one_day)
            || self
                .until
                .is_some_and(|until| day > until.date_naive() + one_day)
        {
            return Some(Filtered::Time);
        }
        None
    }
}

/// `2026-09-01` (midnight UTC) or an RFC 3339 time.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!(
                "`{text}` is not a date (2026-09-01) or an RFC 3339 time (2026-09-01T12:00:00Z)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Value {
        json!({
            "eventVersion": "1.10", "eventTime": "2026-11-20T10:15:07Z",
            "eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
            "awsRegion": "us-east-1", "eventID": "e-1", "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory"}
        })
    }

    #[test]
    fn a_record_becomes_the_event_eventbridge_delivers() {
        let sample: Value = serde_json::from_str(include_str!(
            "../../../events/revoke/attach-admin-to-user.json"
        ))
        .unwrap();
        let converted = to_event(sample["detail"].clone()).unwrap();
        for field in [
            "version",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
        ] {
            assert_eq!(converted.event[field], sample[field], "{field}");
        }
        assert_eq!(converted.event["detail"], sample["detail"]);
        assert_eq!(converted.event["id"], sample["detail"]["eventID"]);
    }

    #[test]
    fn sign_ins_and_insights_keep_their_detail_types() {
        let mut sign_in = record();
        sign_in["eventType"] = json!("AwsConsoleSignIn");
        sign_in["eventSource"] = json!("signin.amazonaws.com");
        let event = to_event(sign_in).unwrap().event;
        assert_eq!(event["detail-type"], "AWS Console Sign In via CloudTrail");
        assert_eq!(event["source"], "aws.signin");
        let mut insight = record();
        insight["eventType"] = json!("AwsCloudTrailInsight");
        insight.as_object_mut().unwrap().remove("eventName");
        let event = to_event(insight).unwrap().event;
        assert_eq!(event["source"], "aws.cloudtrail");
    }

    #[test]
    fn a_record_without_cloudtrails_fields_is_named_by_field() {
        let mut r = record();
        r.as_object_mut().unwrap().remove("eventName");
        assert_eq!(
            to_event(r).err().unwrap(),
            "not a CloudTrail record (no `eventName`)"
        );
        assert_eq!(
            to_event(json!([1])).err().unwrap(),
            "not a CloudTrail record (not a JSON object)"
        );
    }

    #[test]
    fn filters_by_path_leave_a_day_of_margin() {
        let filters = Filters {
            since: Some(parse_time("2026-11-20").unwrap()),
            accounts: vec!["123456789012".into()],
            ..Filters::default()
        };
        let path = |account: &str, day: &str| {
            std::path::PathBuf::from(format!(
                "x/AWSLogs/{account}/CloudTrail/us-east-1/{day}/f.json.gz"
            ))
        };
        assert_eq!(
            filters.excludes_path(&path("123456789012", "2026/11/19")),
            None
        );
        assert_eq!(
            filters.excludes_path(&path("123456789012", "2026/11/18")),
            Some(Filtered::Time)
        );
        assert_eq!(
            filters.excludes_path(&path("999999999999", "2026/11/21")),
            Some(Filtered::Account)
        );
        assert_eq!(
            filters.excludes_path(std::path::Path::new("a/b.json")),
            None
        );
        let converted = to_event(record()).unwrap();
        assert_eq!(filters.admit(&converted), Ok(()));
    }
}
