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
use crate::ingress::{self, ModifiedRule, OpenedRule};
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
    /// `ModifySecurityGroupRules` that changed rules of a group: each rule is judged as EC2 has
    /// it now (an egress rule, or one gone since, opens nothing).
    RulesModified {
        group_id: String,
        rules: Vec<ModifiedRule>,
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
            "ModifySecurityGroupRules" => rules_modified(call),
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

/// The group and the rules a `ModifySecurityGroupRules` call changed.
fn rules_modified(call: &ApiCall) -> Result<Interpreted<Trigger>, EventError> {
    let (group_id, rules) = ingress::modified_rules(call)?;
    if ingress::modify_returned_false(call) {
        return Ok(ignored(format!(
            "the call on security group {group_id} returned false: it changed nothing"
        )));
    }
    Ok(Interpreted::Trigger(Trigger::RulesModified {
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

#[cfg(test)]
mod tests {
    //! Each form a security group is opened by, from its sample as CloudTrail records it, through
    //! the rules with the facts EC2 would give (pure).

    use super::*;
    use crate::actions::QuarantineAction;
    use crate::facts::{Facts, PrefixListLookup};
    use crate::rules;
    use reflex_testkit::sample_event;

    const GROUP: &str = "sg-0a1b2c3d4e5f60001";
    const LIST: &str = "pl-0a1b2c3d4e5f60001";

    fn trigger(name: &str) -> Trigger {
        match interpret(
            &sample_event(&format!("quarantine/{name}")),
            &Settings::default(),
        ) {
            Ok(Interpreted::Trigger(t)) => t,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// The rule ids revoked, and the finding's reason.
    fn decided(trigger: &Trigger, facts: &Facts) -> Option<(Vec<String>, String)> {
        let findings = rules::decide(trigger, facts, &Settings::default());
        let f = findings.first()?;
        let ids = f
            .actions
            .iter()
            .flat_map(|a| match a {
                QuarantineAction::RevokeIngress { group_id, rules } => {
                    assert_eq!(group_id, GROUP);
                    rules
                        .iter()
                        .map(|r| r.rule_id.clone().unwrap())
                        .collect::<Vec<String>>()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        Some((ids, f.reason.clone()))
    }

    fn on_group(id: &str, source: &str) -> OpenedRule {
        let mut r = ingress::rule("tcp", Some(22), Some(22), source, None);
        r.rule_id = Some(id.into());
        r
    }

    #[test]
    fn the_older_form_to_the_world_is_revoked_and_to_a_private_network_is_not() {
        let t = trigger("authorize-old-form-ssh-to-world.json");
        let Trigger::IngressOpened { group_id, rules } = &t else {
            panic!("{t:?}")
        };
        assert_eq!(group_id, GROUP);
        assert_eq!(rules.len(), 1);
        let (ids, reason) = decided(&t, &Facts::default()).expect("revoked");
        assert_eq!(ids, ["sgr-0f1e2d3c4b5a69001"]);
        assert!(reason.contains("tcp 22 (SSH) from 0.0.0.0/0"), "{reason}");
        let t = trigger("authorize-old-form-ssh-to-private-cidr.json");
        assert_eq!(decided(&t, &Facts::default()), None);
    }

    #[test]
    fn ssh_to_every_ipv6_address_is_revoked() {
        let t = trigger("authorize-ssh-to-world-ipv6-only.json");
        let (ids, reason) = decided(&t, &Facts::default()).expect("revoked");
        assert_eq!(ids, ["sgr-0f1e2d3c4b5a69003"]);
        assert!(reason.contains("of the public IPv6 space"), "{reason}");
    }

    #[test]
    fn a_prefix_list_is_judged_by_its_entries_and_an_aws_managed_one_is_not_the_world() {
        let t = trigger("authorize-ssh-to-prefix-list.json");
        let facts = |lookup: PrefixListLookup| Facts {
            group_rules: Some(vec![on_group("sgr-0f1e2d3c4b5a69004", LIST)]),
            prefix_lists: [(LIST.to_string(), lookup)].into(),
            ..Facts::default()
        };
        let world = facts(PrefixListLookup::Entries(vec![
            "10.0.0.0/8".into(),
            "0.0.0.0/0".into(),
        ]));
        let (ids, reason) = decided(&t, &world).expect("revoked");
        assert_eq!(ids, ["sgr-0f1e2d3c4b5a69004"]);
        assert!(
            reason.contains(&format!("from prefix list {LIST}")),
            "{reason}"
        );
        assert!(
            reason.contains(&format!("{LIST} holds 10.0.0.0/8, 0.0.0.0/0")),
            "{reason}"
        );
        // Two halves of the internet in one list are the world too.
        let halves = facts(PrefixListLookup::Entries(vec![
            "0.0.0.0/1".into(),
            "128.0.0.0/1".into(),
        ]));
        assert!(decided(&t, &halves).is_some());
        for harmless in [
            PrefixListLookup::Entries(vec!["198.51.100.0/24".into(), "10.0.0.0/8".into()]),
            PrefixListLookup::Entries(vec![]),
            PrefixListLookup::AwsManaged("com.amazonaws.global.cloudfront.origin-facing".into()),
            PrefixListLookup::Missing,
        ] {
            assert_eq!(decided(&t, &facts(harmless.clone())), None, "{harmless:?}");
        }
        // A list of the group's already there, with the call's half, is the world.
        let mut half = ingress::rule("tcp", Some(22), Some(22), "0.0.0.0/1", None);
        half.rule_id = Some("sgr-half".into());
        let mut beside = facts(PrefixListLookup::Entries(vec!["128.0.0.0/1".into()]));
        beside.group_rules.as_mut().unwrap().push(half.clone());
        let t = Trigger::IngressOpened {
            group_id: GROUP.into(),
            rules: vec![half],
        };
        let (mut ids, _) = decided(&t, &beside).expect("revoked");
        ids.sort();
        assert_eq!(ids, ["sgr-0f1e2d3c4b5a69004", "sgr-half"]);
    }

    #[test]
    fn a_modified_rule_is_judged_as_ec2_has_it_now_never_as_the_event_says() {
        let t = trigger("modify-security-group-rule-ssh-to-world.json");
        let Trigger::RulesModified { group_id, rules } = &t else {
            panic!("{t:?}")
        };
        assert_eq!(group_id, GROUP);
        assert_eq!(rules[0].rule_id, "sgr-0f1e2d3c4b5a69005");
        let with = |rules: Vec<OpenedRule>| Facts {
            group_rules: Some(rules),
            ..Facts::default()
        };
        // Open to the world now: revoked.
        let now = with(vec![on_group("sgr-0f1e2d3c4b5a69005", "0.0.0.0/0")]);
        let (ids, reason) = decided(&t, &now).expect("revoked");
        assert_eq!(ids, ["sgr-0f1e2d3c4b5a69005"]);
        assert!(
            reason.starts_with(&format!(
                "rule sgr-0f1e2d3c4b5a69005 of security group {GROUP} was changed to let the internet in"
            )),
            "{reason}"
        );
        // Narrowed since, gone since (or outbound: not among the inbound rules), or not readable:
        // nothing, whatever the event says.
        for facts in [
            with(vec![on_group("sgr-0f1e2d3c4b5a69005", "10.20.0.0/16")]),
            with(vec![on_group("sgr-other", "10.20.0.0/16")]),
            Facts::default(),
        ] {
            assert_eq!(decided(&t, &facts), None, "{facts:?}");
        }
        // The event says private; EC2 says the world (a later edit): EC2 is believed.
        let t = trigger("modify-security-group-rule-ssh-to-private-cidr.json");
        assert!(decided(&t, &now).is_some());
        assert_eq!(
            decided(
                &t,
                &with(vec![on_group("sgr-0f1e2d3c4b5a69005", "10.20.0.0/16")])
            ),
            None
        );
    }

    #[test]
    fn a_modify_call_that_returned_false_changed_nothing() {
        let mut event =
            reflex_testkit::sample("quarantine/modify-security-group-rule-ssh-to-world.json");
        event["detail"]["responseElements"]["ModifySecurityGroupRulesResponse"]["return"] =
            false.into();
        let event = reflex_shared::event::parse(event).unwrap();
        assert!(matches!(
            interpret(&event, &Settings::default()),
            Ok(Interpreted::Ignored(why)) if why.contains("returned false")
        ));
    }
}
