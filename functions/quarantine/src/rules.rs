//! The quarantine rules: pure functions from an event (plus looked-up facts) to findings.
//! No AWS calls here; `facts.rs` reads what the rules need, `executor.rs` acts on their plans.
//!
//! - `quarantine.world-open-ingress`: a security group opened to `0.0.0.0/0` or `::/0` on a
//!   sensitive port: revoke exactly the rules that did it.
//! - `quarantine.guardduty-finding`, `quarantine.instance-alarm`, `quarantine.operator-tag`:
//!   quarantine an instance, one finding whose actions are the steps, isolation first.

use std::collections::BTreeMap;

use reflex_shared::alarm::{AlarmStateChange, AlarmStateValue};
use reflex_shared::event::Event;
use reflex_shared::finding::GuardDutyFinding;
use reflex_shared::{ApiCall, EventError, Finding, Severity};
use serde_json::Value;

use crate::action::{Interface, QuarantineAction, tag_value};
use crate::ingress::{self, OpenedRule};
use crate::settings::Settings;

pub const WORLD_OPEN_INGRESS: &str = "quarantine.world-open-ingress";
pub const GUARDDUTY_FINDING: &str = "quarantine.guardduty-finding";
pub const INSTANCE_ALARM: &str = "quarantine.instance-alarm";
pub const OPERATOR_TAG: &str = "quarantine.operator-tag";

pub const RULE_IDS: &[&str] = &[
    WORLD_OPEN_INGRESS,
    GUARDDUTY_FINDING,
    INSTANCE_ALARM,
    OPERATOR_TAG,
];

/// What the rules need beyond the event, read from EC2 and Auto Scaling before deciding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// For `AuthorizeSecurityGroupIngress`: the group's tags, when it could be read.
    pub group_tags: Option<BTreeMap<String, String>>,
    /// For a quarantine: each instance the event names.
    pub instances: BTreeMap<String, InstanceLookup>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InstanceLookup {
    Found(InstanceFacts),
    /// EC2 does not know the instance (terminated long ago, or a wrong id).
    Missing,
    /// The lookup failed; why.
    Unreadable(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceFacts {
    pub instance_id: String,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    pub state: String,
    pub vpc_id: Option<String>,
    pub interfaces: Vec<Interface>,
    /// Attached EBS volumes: id and device name.
    pub volumes: Vec<(String, String)>,
    pub tags: BTreeMap<String, String>,
    pub auto_scaling_group: Option<String>,
    /// The VPC's quarantine group, when it exists.
    pub quarantine_group: Option<String>,
}

/// Why an instance is to be quarantined.
struct Trigger {
    rule_id: &'static str,
    severity: Severity,
    /// One line for people and for the instance's reason tag.
    reason: String,
    instances: Vec<String>,
}

/// Every rule over one event. Errors only for an event missing a field a rule needs.
pub fn evaluate(
    event: &Event,
    facts: &Facts,
    settings: &Settings,
) -> Result<Vec<Finding<QuarantineAction>>, EventError> {
    if let Event::ApiCall { call, .. } = event
        && call.event_name == "AuthorizeSecurityGroupIngress"
    {
        return Ok(world_open_ingress(call, facts, settings)?
            .into_iter()
            .collect());
    }
    let Some(trigger) = trigger(event, settings)? else {
        return Ok(Vec::new());
    };
    Ok(vec![quarantine(trigger, event.id(), facts, settings)])
}

/// The instances an event asks to quarantine (for the fact lookups). Never errors: a malformed
/// event was refused by `evaluate` before any lookup.
pub fn instances_to_look_up(event: &Event, settings: &Settings) -> Vec<String> {
    trigger(event, settings)
        .ok()
        .flatten()
        .map(|t| t.instances)
        .unwrap_or_default()
}

/// Whether the call opened anything sensitive to the world (so its group is worth looking up).
pub fn opens_to_world(call: &ApiCall, settings: &Settings) -> Option<String> {
    if call.event_name != "AuthorizeSecurityGroupIngress" {
        return None;
    }
    let rules = ingress::opened_rules(call).ok()?;
    let any = rules
        .iter()
        .any(|r| ingress::exposes(r, &settings.sensitive_ports).is_some());
    any.then(|| ingress::group_id(call).ok()).flatten()
}

fn world_open_ingress(
    call: &ApiCall,
    facts: &Facts,
    settings: &Settings,
) -> Result<Option<Finding<QuarantineAction>>, EventError> {
    let group_id = ingress::group_id(call)?;
    let rules = ingress::opened_rules(call)?;
    // A call that returned false changed nothing.
    if call
        .response_elements
        .as_ref()
        .and_then(|r| r.get("_return"))
        .and_then(Value::as_bool)
        == Some(false)
    {
        return Ok(None);
    }
    let (exposing, exposed): (Vec<OpenedRule>, Vec<String>) = rules
        .into_iter()
        .filter_map(|r| ingress::exposes(&r, &settings.sensitive_ports).map(|why| (r, why)))
        .unzip();
    if exposing.is_empty() {
        return Ok(None);
    }
    let mut reason = format!(
        "security group {group_id} was opened to the internet: {}",
        exposed.join(", ")
    );
    let exempt = facts.group_tags.as_ref().and_then(|tags| {
        tags.iter()
            .find(|(k, v)| settings.exempt_tag.matches(k, v))
            .map(|(k, v)| format!("{k}={v}"))
    });
    let actions = match exempt {
        Some(tag) => {
            reason += &format!("; the group carries the exemption tag {tag}: left open");
            Vec::new()
        }
        None => vec![QuarantineAction::RevokeIngress {
            group_id,
            rules: exposing,
        }],
    };
    Ok(Some(Finding {
        rule_id: WORLD_OPEN_INGRESS,
        severity: Severity::High,
        reason,
        actions,
    }))
}

fn trigger(event: &Event, settings: &Settings) -> Result<Option<Trigger>, EventError> {
    match event {
        Event::GuardDuty { finding, .. } => Ok(guardduty(finding, settings)),
        Event::Alarm { alarm, .. } => Ok(alarm_trigger(alarm, settings)),
        Event::ApiCall { call, .. } if call.event_name == "CreateTags" => {
            operator_tag(call, settings)
        }
        _ => Ok(None),
    }
}

fn guardduty(finding: &GuardDutyFinding, settings: &Settings) -> Option<Trigger> {
    let instance = finding.instance_id()?;
    if finding.severity < settings.min_severity {
        return None;
    }
    let severity = finding.band();
    let title = if finding.title.is_empty() {
        String::new()
    } else {
        format!(": {}", finding.title)
    };
    Some(Trigger {
        rule_id: GUARDDUTY_FINDING,
        severity,
        reason: format!(
            "GuardDuty finding {} (severity {}, at or above {}) on instance {instance}{title}",
            finding.finding_type, finding.severity, settings.min_severity
        ),
        instances: vec![instance.to_string()],
    })
}

fn alarm_trigger(alarm: &AlarmStateChange, settings: &Settings) -> Option<Trigger> {
    if alarm.state.value != AlarmStateValue::Alarm {
        return None;
    }
    let pattern = settings.alarm_listed(&alarm.alarm_name)?;
    let instances: Vec<String> = alarm
        .dimension("InstanceId")
        .map(|i| vec![i.to_string()])
        .unwrap_or_default();
    let reason = match instances.first() {
        Some(i) => format!(
            "alarm {} (listed as `{pattern}`) is ALARM for instance {i}: {}",
            alarm.alarm_name,
            alarm.cause()
        ),
        None => format!(
            "alarm {} (listed as `{pattern}`) is ALARM but watches no instance (no InstanceId dimension): nothing to quarantine, check the alarm or the configuration",
            alarm.alarm_name
        ),
    };
    Some(Trigger {
        rule_id: INSTANCE_ALARM,
        severity: Severity::High,
        reason,
        instances,
    })
}

fn operator_tag(call: &ApiCall, settings: &Settings) -> Result<Option<Trigger>, EventError> {
    let params = call
        .request_parameters
        .as_ref()
        .ok_or_else(|| EventError::MissingField {
            field: "detail.requestParameters (in CreateTags)".into(),
        })?;
    let resources = list(params, "resourcesSet")?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.get("resourceId")
                .and_then(Value::as_str)
                .ok_or_else(|| create_tags_missing(&format!("resourcesSet.items[{i}].resourceId")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut asked = None;
    for (i, t) in list(params, "tagSet")?.iter().enumerate() {
        let key = t
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| create_tags_missing(&format!("tagSet.items[{i}].key")))?;
        let value = t.get("value").and_then(Value::as_str).unwrap_or("");
        if settings.trigger_tag.matches(key, value) {
            asked = Some(format!("{key}={value}"));
        }
    }
    let Some(tag) = asked else {
        return Ok(None);
    };
    let instances: Vec<String> = resources
        .into_iter()
        .filter(|r| r.starts_with("i-"))
        .map(String::from)
        .collect();
    if instances.is_empty() {
        return Ok(None);
    }
    Ok(Some(Trigger {
        rule_id: OPERATOR_TAG,
        severity: Severity::High,
        reason: format!(
            "{} tagged instance{} {} with {tag}: quarantine requested",
            call.user_identity.describe(),
            if instances.len() > 1 { "s" } else { "" },
            instances.join(", ")
        ),
        instances,
    }))
}

/// One finding for the trigger: every instance's steps, all isolations first.
fn quarantine(
    trigger: Trigger,
    event_id: &str,
    facts: &Facts,
    settings: &Settings,
) -> Finding<QuarantineAction> {
    let mut reason = trigger.reason.clone();
    let mut isolations = Vec::new();
    let mut rest = Vec::new();
    for id in &trigger.instances {
        let unknown = InstanceLookup::Unreadable("not looked up".into());
        match facts.instances.get(id).unwrap_or(&unknown) {
            InstanceLookup::Missing => {
                reason += &format!(
                    "\ninstance {id} does not exist (terminated, or a wrong id): nothing to quarantine"
                )
            }
            InstanceLookup::Unreadable(why) => {
                reason += &format!(
                    "\ninstance {id} could not be read ({why}): not quarantined, a person must act"
                )
            }
            InstanceLookup::Found(i)
                if matches!(i.state.as_str(), "shutting-down" | "terminated") =>
            {
                reason += &format!("\ninstance {id} is {}: nothing to quarantine", i.state)
            }
            InstanceLookup::Found(i) => {
                if let Some((k, v)) = i
                    .tags
                    .iter()
                    .find(|(k, v)| settings.exempt_tag.matches(k, v))
                {
                    reason += &format!(
                        "\ninstance {id} carries the exemption tag {k}={v}: not quarantined"
                    );
                    continue;
                }
                if let Some(at) = i.tags.get(crate::action::QUARANTINED_AT_TAG) {
                    reason += &format!(
                        "\ninstance {id} was already quarantined by Reflex at {at}: each step checks and keeps what is done"
                    );
                }
                let (isolate, others) = steps(i, &trigger.reason, event_id);
                if isolate.is_none() {
                    reason += &format!("\ninstance {id} is in no VPC: it cannot be isolated");
                }
                isolations.extend(isolate);
                rest.extend(others);
            }
        }
    }
    isolations.extend(rest);
    Finding {
        rule_id: trigger.rule_id,
        severity: trigger.severity,
        reason,
        actions: isolations,
    }
}

/// The steps of one instance's quarantine: isolation, then the rest. Detaching from the Auto
/// Scaling group comes right after isolation: an isolated instance fails its health checks and
/// the group would terminate it (termination protection does not stop Auto Scaling) before its
/// volumes are snapshotted. The snapshots, one per volume, come last.
fn steps(
    i: &InstanceFacts,
    reason: &str,
    event_id: &str,
) -> (Option<QuarantineAction>, Vec<QuarantineAction>) {
    let id = i.instance_id.clone();
    let isolate = i.vpc_id.as_ref().map(|vpc| QuarantineAction::Isolate {
        instance_id: id.clone(),
        vpc_id: vpc.clone(),
        quarantine_group: i.quarantine_group.clone(),
        interfaces: i.interfaces.clone(),
    });
    // What to record: the groups before quarantine, never the quarantine group itself.
    let previous: Vec<Interface> = i
        .interfaces
        .iter()
        .map(|eni| Interface {
            groups: eni
                .groups
                .iter()
                .filter(|g| Some(*g) != i.quarantine_group.as_ref())
                .cloned()
                .collect(),
            ..eni.clone()
        })
        .collect();
    let mut rest = vec![QuarantineAction::RecordPreviousGroups {
        instance_id: id.clone(),
        interfaces: previous,
    }];
    if let Some(group) = &i.auto_scaling_group {
        rest.push(QuarantineAction::DetachFromAutoScalingGroup {
            instance_id: id.clone(),
            group: group.clone(),
        });
    }
    rest.push(QuarantineAction::EnableTerminationProtection {
        instance_id: id.clone(),
    });
    rest.push(QuarantineAction::StopOnShutdown {
        instance_id: id.clone(),
    });
    rest.push(QuarantineAction::TagQuarantined {
        instance_id: id.clone(),
        reason: tag_value(reason),
    });
    for (volume, device) in &i.volumes {
        rest.push(QuarantineAction::SnapshotVolume {
            instance_id: id.clone(),
            volume_id: volume.clone(),
            device: device.clone(),
            finding: tag_value(reason),
            event_id: event_id.to_string(),
        });
    }
    (isolate, rest)
}

/// CloudTrail's `{"items": [...]}` list under `requestParameters.<key>`, required.
fn list<'a>(params: &'a Value, key: &str) -> Result<&'a [Value], EventError> {
    match params.get(key).map(|v| v.get("items")) {
        None | Some(None) => Err(create_tags_missing(&format!("{key}.items"))),
        Some(Some(Value::Array(a))) => Ok(a),
        Some(Some(_)) => Err(EventError::InvalidField {
            field: format!("detail.requestParameters.{key}.items"),
            reason: "not a list".into(),
        }),
    }
}

fn create_tags_missing(field: &str) -> EventError {
    EventError::MissingField {
        field: format!("detail.requestParameters.{field} (in CreateTags)"),
    }
}
