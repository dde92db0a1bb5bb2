//! What quarantine reads in an event: a security group opened by a CloudTrail call, or a request
//! to quarantine instances (a GuardDuty finding, a listed alarm, the operator's tag), typed and
//! validated once. Pure: a missing or malformed field is an `EventError` here, before any AWS
//! call, and nothing after this parses the event again.

use reflex_shared::event::alarm::AlarmStateValue;
use reflex_shared::event::{AlarmStateChange, GuardDutyFinding};
use reflex_shared::exemption::written_tags;
use reflex_shared::{ApiCall, Event, EventError, Interpreted, Severity};
use serde_json::Value;

use crate::alarm::AlarmClaim;
use crate::ingress::{self, OpenedRule};
use crate::settings::Settings;

/// An event quarantine's rules judge.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `AuthorizeSecurityGroupIngress` that added rules: the rules judge which are world-open on
    /// a sensitive port.
    IngressOpened {
        group_id: String,
        rules: Vec<OpenedRule>,
    },
    /// A request to quarantine instances.
    Quarantine(Request),
    /// `CreateTags` writing the exemption tag, with a value that exempts, on instances or
    /// security groups: self-granted unless the caller is exempt by ARN.
    ExemptionTagSet(ExemptionWrite),
}

/// Who wrote the exemption tag on what.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemptionWrite {
    /// The instances and security groups tagged (other resources carry no exemption Reflex
    /// reads).
    pub resources: Vec<String>,
    /// The value written, as written (`TRUE` exempts as `true` does).
    pub value: String,
    /// The caller, for people.
    pub by: String,
    /// The same call also set the operator's quarantine tag: not acted on, said in the report.
    pub quarantine_tag_too: bool,
}

/// What asked for a quarantine: each cause has its own rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A GuardDuty finding about an instance, at or above the configured severity.
    GuardDutyFinding,
    /// A listed alarm went to ALARM.
    InstanceAlarm,
    /// An operator put the quarantine tag on instances.
    OperatorTag,
}

/// Why instances are to be quarantined, and which.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub cause: Cause,
    pub severity: Severity,
    /// One line for people and for the instance's reason tag.
    pub reason: String,
    /// Empty for an alarm that watches no instance: a finding a person is told about.
    pub instances: Vec<String>,
    /// The event's id, on each forensic snapshot.
    pub event_id: String,
    /// For an alarm: what its change claims, to be verified before anything is done.
    pub alarm: Option<AlarmClaim>,
}

/// The event as quarantine's trigger, or why quarantine has nothing to judge in it.
pub fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
    let id = event.id();
    match event {
        Event::ApiCall { call, .. } => match call.event_name.as_str() {
            "AuthorizeSecurityGroupIngress" => ingress_opened(call),
            "CreateTags" => tags_written(call, settings, id),
            other => Ok(ignored(format!("quarantine has no rule for ec2:{other}"))),
        },
        Event::GuardDuty { finding, .. } => Ok(guardduty(finding, settings, id)),
        Event::Alarm { alarm, .. } => Ok(instance_alarm(alarm, settings, id)),
        _ => Ok(ignored("quarantine has no rule for this kind of event")),
    }
}

fn ignored(why: impl Into<String>) -> Interpreted<Trigger> {
    Interpreted::Ignored(why.into())
}

/// A request to quarantine `instances`.
fn quarantine(
    cause: Cause,
    severity: Severity,
    reason: String,
    instances: Vec<String>,
    event_id: &str,
) -> Interpreted<Trigger> {
    Interpreted::Trigger(Trigger::Quarantine(Request {
        cause,
        severity,
        reason,
        instances,
        event_id: event_id.to_string(),
        alarm: None,
    }))
}

/// The group and the rules an `AuthorizeSecurityGroupIngress` call added.
fn ingress_opened(call: &ApiCall) -> Result<Interpreted<Trigger>, EventError> {
    let group_id = ingress::group_id(call)?;
    let rules = ingress::opened_rules(call)?;
    let returned = call
        .response_elements
        .as_ref()
        .and_then(|r| r.get("_return"))
        .and_then(Value::as_bool);
    if returned == Some(false) {
        return Ok(ignored(format!(
            "the call on security group {group_id} returned false: it changed nothing"
        )));
    }
    Ok(Interpreted::Trigger(Trigger::IngressOpened {
        group_id,
        rules,
    }))
}

/// A GuardDuty finding about an instance, at or above the configured severity.
fn guardduty(
    finding: &GuardDutyFinding,
    settings: &Settings,
    event_id: &str,
) -> Interpreted<Trigger> {
    let Some(instance) = finding.instance_id() else {
        return ignored(format!(
            "GuardDuty finding {} is about {}, not an instance",
            finding.finding_type,
            finding.resource_summary()
        ));
    };
    if finding.severity < settings.min_severity {
        return ignored(format!(
            "GuardDuty finding {} on instance {instance} has severity {}, below {}",
            finding.finding_type, finding.severity, settings.min_severity
        ));
    }
    let title = if finding.title.is_empty() {
        String::new()
    } else {
        format!(": {}", finding.title)
    };
    let reason = format!(
        "GuardDuty finding {} (severity {}, at or above {}) on instance {instance}{title}",
        finding.finding_type, finding.severity, settings.min_severity
    );
    quarantine(
        Cause::GuardDutyFinding,
        finding.band(),
        reason,
        vec![instance.to_string()],
        event_id,
    )
}

/// A listed alarm going to ALARM. One that watches no instance is still a request, with no
/// instance: a person must check the alarm or the configuration. Whether the change is
/// CloudWatch's own is verified before anything is done (`alarm::verdict`).
fn instance_alarm(
    alarm: &AlarmStateChange,
    settings: &Settings,
    event_id: &str,
) -> Interpreted<Trigger> {
    let name = &alarm.alarm_name;
    if alarm.state.value != AlarmStateValue::Alarm {
        return ignored(format!("alarm {name} is {}, not ALARM", alarm.state.value));
    }
    if !settings.alarm_listed(name) {
        return ignored(format!("alarm {name} is not listed to quarantine"));
    }
    let instance = alarm.dimension("InstanceId");
    let reason = match instance {
        Some(i) => format!(
            "alarm {name} (listed) is ALARM for instance {i}: {}",
            alarm.cause()
        ),
        None => format!(
            "alarm {name} (listed) is ALARM but watches no instance (no InstanceId dimension): nothing to quarantine, check the alarm or the configuration"
        ),
    };
    Interpreted::Trigger(Trigger::Quarantine(Request {
        cause: Cause::InstanceAlarm,
        severity: Severity::High,
        reason,
        instances: instance.map(String::from).into_iter().collect(),
        event_id: event_id.to_string(),
        alarm: Some(AlarmClaim::read(alarm)),
    }))
}

/// A `CreateTags` call: the exemption tag written on instances or security groups (checked
/// first: an exemption written in the same call as the quarantine tag would hold the quarantine
/// back), else the operator's quarantine tag put on instances. Both lists must be there and
/// every resource must have an id, whatever the tags; the tags are read as the exemption tag's
/// are everywhere (`written_tags`).
fn tags_written(
    call: &ApiCall,
    settings: &Settings,
    event_id: &str,
) -> Result<Interpreted<Trigger>, EventError> {
    let params = call.require_request()?;
    let resources = list(params, "resourcesSet")?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.get("resourceId")
                .and_then(Value::as_str)
                .ok_or_else(|| create_tags_missing(&format!("resourcesSet.items[{i}].resourceId")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    list(params, "tagSet")?;
    let written = written_tags(params);
    let asked = settings.trigger_tag.as_ref().and_then(|trigger| {
        written
            .iter()
            .find(|(key, value)| trigger.matches(key, value))
    });
    let exempted: Vec<String> = resources
        .iter()
        .filter(|r| r.starts_with("i-") || r.starts_with("sg-"))
        .map(|r| r.to_string())
        .collect();
    if let Some(value) = settings.exempt_tag.written_in(Some(params))
        && !exempted.is_empty()
    {
        return Ok(Interpreted::Trigger(Trigger::ExemptionTagSet(
            ExemptionWrite {
                resources: exempted,
                value,
                by: call.user_identity.describe(),
                quarantine_tag_too: asked.is_some(),
            },
        )));
    }
    // The key only: the value is the operators' and the reason is written on the instance,
    // where anyone who may describe it reads it.
    let Some(tag) = asked.map(|(key, _)| format!("the quarantine tag {key}")) else {
        return Ok(ignored(match &settings.trigger_tag {
            Some(trigger) => format!(
                "no tag set asks for quarantine (the key {} with its configured value), and none \
                 exempts an instance or a security group",
                trigger.key
            ),
            None => "no tag set exempts an instance or a security group, and the operator's \
                     quarantine tag is off (REFLEX_QUARANTINE_TAG unset)"
                .into(),
        }));
    };
    let instances: Vec<String> = resources
        .into_iter()
        .filter(|r| r.starts_with("i-"))
        .map(String::from)
        .collect();
    if instances.is_empty() {
        return Ok(ignored(format!("{tag} was put on no instance")));
    }
    let reason = format!(
        "{} tagged instance{} {} with {tag}: quarantine requested",
        call.user_identity.describe(),
        if instances.len() > 1 { "s" } else { "" },
        instances.join(", ")
    );
    Ok(quarantine(
        Cause::OperatorTag,
        Severity::High,
        reason,
        instances,
        event_id,
    ))
}

/// CloudTrail's `{"items": [...]}` list under `requestParameters.<key>`, required.
fn list<'a>(params: &'a Value, key: &str) -> Result<&'a [Value], EventError> {
    match params.get(key).map(|v| v.get("items")) {
        None | Some(None) => Err(create_tags_missing(&format!("{key}.items"))),
        Some(Some(Value::Array(a))) => Ok(a),
        Some(Some(_)) => Err(EventError::invalid(
            format!("detail.requestParameters.{key}.items"),
            "not a list",
        )),
    }
}

fn create_tags_missing(field: &str) -> EventError {
    EventError::missing(format!("detail.requestParameters.{field} (in CreateTags)"))
}
