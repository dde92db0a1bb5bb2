//! The audit trail and log groups of the sample account, for `harden`: the bucket and trail
//! seeded, the callers' CloudTrail and CloudWatch Logs calls replayed, and read-back helpers.

use std::io::{Read, Write};
use std::net::TcpStream;

use reflex_harden::actions::trail_name;
use serde_json::Value;

use crate::Account;

/// The trail the sample events name (by name or by ARN).
pub const TRAIL: &str = "main";
pub const BUCKET: &str = "reflex-audit-logs";
/// The log group `delete-retention-policy.json` names; seeded with a 30-day retention.
pub const ORDERS: &str = "/app/orders";
pub const ORDERS_RETENTION_DAYS: i32 = 30;
/// The log group `create-log-group-without-kms-key.json` creates.
pub const PAYMENTS: &str = "/app/payments";
/// The log group `create-log-group-with-kms-key.json` creates, with a key of its own.
pub const LEDGER: &str = "/app/ledger";
/// A key ARN for `REFLEX_LOG_KMS_KEY_ARN` (CloudWatch Logs in the emulator does not check it).
pub const KMS_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

pub fn cloudtrail(acct: &Account) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::new(&acct.sdk)
}

pub fn logs(acct: &Account) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::new(&acct.sdk)
}

/// An S3 bucket in the emulator without the (heavy) S3 SDK: an unsigned `PUT /<bucket>`. moto
/// serves a request it cannot attribute to another service (no signature, no target header,
/// no form body) as S3, path-style, in the default account.
pub fn create_bucket(acct: &Account, bucket: &str) {
    let endpoint = acct
        .sdk
        .endpoint_url()
        .expect("the account talks to the emulator");
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connecting to the emulator");
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("asking the emulator for a bucket");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reading the bucket response");
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "creating bucket {bucket} failed: {response}"
    );
}

/// The audit trail as it should be (multi-region, global service events, log file validation,
/// logging) and a log group with a retention policy.
pub async fn seed(acct: &Account) {
    create_bucket(acct, BUCKET);
    let ct = cloudtrail(acct);
    ct.create_trail()
        .name(TRAIL)
        .s3_bucket_name(BUCKET)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .expect("create trail");
    ct.start_logging()
        .name(TRAIL)
        .send()
        .await
        .expect("start logging");
    let logs = logs(acct);
    logs.create_log_group()
        .log_group_name(ORDERS)
        .send()
        .await
        .expect("create log group");
    logs.put_retention_policy()
        .log_group_name(ORDERS)
        .retention_in_days(ORDERS_RETENTION_DAYS)
        .send()
        .await
        .expect("put retention");
}

/// Make the emulator's state what it is right after the call the event records (a failed call
/// changed nothing), and return the event.
pub async fn replay(acct: &Account, event: Value) -> Value {
    let d = &event["detail"];
    if d.get("errorCode").is_some_and(|c| !c.is_null()) {
        return event;
    }
    let req = &d["requestParameters"];
    let s = |k: &str| req[k].as_str().unwrap_or_default().to_string();
    let b = |k: &str| match &req[k] {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let ct = cloudtrail(acct);
    let logs = logs(acct);
    match d["eventName"].as_str().unwrap_or_default() {
        "StopLogging" => drop(
            ct.stop_logging()
                .name(s("name"))
                .send()
                .await
                .expect("replay"),
        ),
        "UpdateTrail" => drop(
            ct.update_trail()
                .name(s("name"))
                .set_is_multi_region_trail(b("isMultiRegionTrail"))
                .set_enable_log_file_validation(b("enableLogFileValidation"))
                .set_include_global_service_events(b("includeGlobalServiceEvents"))
                .set_s3_key_prefix(req["s3KeyPrefix"].as_str().map(String::from))
                .send()
                .await
                .expect("replay"),
        ),
        // moto deletes a trail by name only (an ARN is silently ignored); AWS takes either.
        "DeleteTrail" => drop(
            ct.delete_trail()
                .name(trail_name(&s("name")))
                .send()
                .await
                .expect("replay"),
        ),
        "CreateLogGroup" => drop(
            logs.create_log_group()
                .log_group_name(s("logGroupName"))
                .set_kms_key_id(req["kmsKeyId"].as_str().map(String::from))
                .send()
                .await
                .expect("replay"),
        ),
        "DeleteRetentionPolicy" => drop(
            logs.delete_retention_policy()
                .log_group_name(s("logGroupName"))
                .send()
                .await
                .expect("replay"),
        ),
        other => panic!("no replay for {other}"),
    }
    event
}

/// A trail's settings and status as the emulator has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailState {
    pub logging: bool,
    pub multi_region: bool,
    pub log_file_validation: bool,
    pub global_service_events: bool,
}

impl std::fmt::Display for TrailState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "logging={} multi-region={} log-file-validation={} global-service-events={}",
            self.logging, self.multi_region, self.log_file_validation, self.global_service_events
        )
    }
}

/// `None` when the trail does not exist; a failed read panics, so that "the trail is gone"
/// cannot pass on a broken read.
pub async fn trail_state(acct: &Account, name: &str) -> Option<TrailState> {
    let ct = cloudtrail(acct);
    let trail = match ct.get_trail().name(name).send().await {
        Ok(out) => out.trail?,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_trail_not_found_exception()) =>
        {
            return None;
        }
        Err(e) => panic!("get trail {name}: {}", reflex_shared::aws::error_text(&e)),
    };
    let status = ct
        .get_trail_status()
        .name(name)
        .send()
        .await
        .expect("trail status");
    Some(TrailState {
        logging: status.is_logging == Some(true),
        multi_region: trail.is_multi_region_trail == Some(true),
        log_file_validation: trail.log_file_validation_enabled == Some(true),
        global_service_events: trail.include_global_service_events == Some(true),
    })
}

/// A log group's protection as the emulator has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupState {
    pub retention_days: Option<i32>,
    pub kms_key_id: Option<String>,
}

impl std::fmt::Display for LogGroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.retention_days {
            Some(days) => write!(f, "retention={days} days")?,
            None => write!(f, "retention=never expire")?,
        }
        match &self.kms_key_id {
            Some(key) => write!(f, " kms-key={key}"),
            None => write!(f, " kms-key=none"),
        }
    }
}

/// `None` when the log group does not exist.
pub async fn log_group_state(acct: &Account, name: &str) -> Option<LogGroupState> {
    let groups = logs(acct)
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .expect("describe log groups")
        .log_groups
        .unwrap_or_default();
    groups
        .into_iter()
        .find(|g| g.log_group_name() == Some(name))
        .map(|g| LogGroupState {
            retention_days: g.retention_in_days,
            kms_key_id: g.kms_key_id,
        })
}
