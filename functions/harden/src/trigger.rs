//! What harden reads in a CloudTrail or CloudWatch Logs API call: the change it made, typed and
//! validated once. Pure: a missing field is an `EventError` here, before any AWS call, and
//! nothing after this parses the event again.

use chrono::{DateTime, Utc};
use reflex_shared::event::ApiCall;
use reflex_shared::identity::UserIdentity;
use reflex_shared::target::Target;
use reflex_shared::{Event, EventError, Interpreted};

const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";
const LOGS: &str = "logs.amazonaws.com";

/// A change to the audit trail or to a log group, who made it, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The caller: named in every reason, and what containment acts on.
    pub actor: UserIdentity,
    pub change: Change,
    /// The event's account and region (its envelope's), where the pipeline acts: which
    /// configured KMS key a new log group can use. Blank only in an event EventBridge did not
    /// deliver; the rules then know no place to match a key to.
    pub target: Target,
    /// When the call was made: containment cuts off the caller's sessions issued before it.
    pub at: Option<DateTime<Utc>>,
}

/// Trails are kept as the event named them: a name or a trail ARN (the API takes either).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `StopLogging`.
    LoggingStopped { trail: String },
    /// `UpdateTrail`: which protections the request turned off. `UpdateTrail` changes only what
    /// its request names, so an absent flag is left as it was and counts as not turned off.
    TrailUpdated {
        trail: String,
        multi_region_off: bool,
        log_file_validation_off: bool,
    },
    /// `DeleteTrail`.
    TrailDeleted { trail: String },
    /// `CreateLogGroup`, with the KMS key it was created with, if any.
    LogGroupCreated {
        log_group: String,
        kms_key_id: Option<String>,
    },
    /// `DeleteRetentionPolicy`.
    RetentionDeleted { log_group: String },
}

/// The call as harden's trigger, or why harden has nothing to judge in it.
pub fn interpret(event: &Event) -> Result<Interpreted<Trigger>, EventError> {
    let Some(call) = event.api_call() else {
        return Ok(Interpreted::Ignored(
            "not a CloudTrail or CloudWatch Logs API call".into(),
        ));
    };
    let change = match (call.event_source.as_str(), call.event_name.as_str()) {
        (CLOUDTRAIL, "StopLogging") => Change::LoggingStopped {
            trail: trail(call)?,
        },
        (CLOUDTRAIL, "UpdateTrail") => Change::TrailUpdated {
            trail: trail(call)?,
            multi_region_off: turned_off(call, "isMultiRegionTrail"),
            log_file_validation_off: turned_off(call, "enableLogFileValidation"),
        },
        (CLOUDTRAIL, "DeleteTrail") => Change::TrailDeleted {
            trail: trail(call)?,
        },
        (LOGS, "CreateLogGroup") => Change::LogGroupCreated {
            log_group: log_group(call)?,
            kms_key_id: call
                .request_str("kmsKeyId")
                .filter(|k| !k.is_empty())
                .map(String::from),
        },
        (LOGS, "DeleteRetentionPolicy") => Change::RetentionDeleted {
            log_group: log_group(call)?,
        },
        (source, name) => {
            let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
            return Ok(Interpreted::Ignored(format!(
                "harden has no rule for {service}:{name}"
            )));
        }
    };
    let envelope = event.envelope();
    Ok(Interpreted::Trigger(Trigger {
        actor: call.user_identity.clone(),
        change,
        target: Target::new(&envelope.account, &envelope.region),
        at: reflex_shared::iam::incident_time(event),
    }))
}

/// The trail a CloudTrail call names: `name`, a name or an ARN.
fn trail(call: &ApiCall) -> Result<String, EventError> {
    call.require_request_str("name").map(String::from)
}

fn log_group(call: &ApiCall) -> Result<String, EventError> {
    call.require_request_str("logGroupName").map(String::from)
}

/// Whether the request sets this flag to false (CloudTrail sometimes renders booleans as
/// strings; `request_bool` reads both).
fn turned_off(call: &ApiCall, flag: &str) -> bool {
    call.request_bool(flag) == Some(false)
}
