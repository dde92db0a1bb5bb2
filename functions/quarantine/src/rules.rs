//! The quarantine rules: pure decisions from a trigger (plus looked-up facts) to findings. No
//! AWS call, no failure: an instance that could not be read is no step, and the finding's reason
//! says so for a person. Exemption tags are not read here: the pipeline holds back every step on
//! an exempt instance or security group.
//!
//! - `quarantine.world-open-ingress`: a security group whose rules on a sensitive port, with the
//!   ones a call just added, let in at least the configured share of the public address space
//!   (`world_open`): revoke the largest of them until they no longer do. The same judgement for
//!   a rule changed by `ModifySecurityGroupRules`, read back as EC2 has it now (never as the
//!   event's text says), inbound rules only.
//! - `quarantine.guardduty-finding`, `quarantine.instance-alarm`, `quarantine.operator-tag`:
//!   quarantine an instance, one finding whose actions are the steps, isolation first. An
//!   alarm's change must be proven CloudWatch's own evaluation of EC2's metric (`alarm`), or a
//!   person is told and nothing is done.
//! - `quarantine.exemption-tag`: the exemption tag written on instances or security groups by a
//!   caller not exempt by ARN (an exempt one never gets this far): removed, and a person told.

use reflex_shared::{Finding, Severity};

use crate::actions::{Interface, QUARANTINED_AT_TAG, QuarantineAction};
use crate::alarm;
use crate::facts::{Facts, InstanceFacts, InstanceLookup, PrefixListLookup};
use crate::ingress::{ModifiedRule, OpenedRule};
use crate::settings::Settings;
use crate::trigger::{Cause, ExemptionWrite, Request, Trigger};
use crate::world_open;

pub const WORLD_OPEN_INGRESS: &str = "quarantine.world-open-ingress";
pub const GUARDDUTY_FINDING: &str = "quarantine.guardduty-finding";
pub const INSTANCE_ALARM: &str = "quarantine.instance-alarm";
pub const OPERATOR_TAG: &str = "quarantine.operator-tag";
pub const EXEMPTION_TAG: &str = "quarantine.exemption-tag";

pub const RULE_IDS: &[&str] = &[
    WORLD_OPEN_INGRESS,
    GUARDDUTY_FINDING,
    INSTANCE_ALARM,
    OPERATOR_TAG,
    EXEMPTION_TAG,
];

/// Every rule over one trigger.
pub fn decide(
    trigger: &Trigger,
    facts: &Facts,
    settings: &Settings,
) -> Vec<Finding<QuarantineAction>> {
    match trigger {
        Trigger::IngressOpened { group_id, rules } => {
            let lead = format!("security group {group_id} was opened to the internet");
            let current = facts.group_rules.as_deref();
            world_open_ingress(group_id, &lead, rules, current, facts, settings)
                .into_iter()
                .collect()
        }
        Trigger::RulesModified { group_id, rules } => {
            rules_modified(group_id, rules, facts, settings)
                .into_iter()
                .collect()
        }
        Trigger::Quarantine(request) => vec![quarantine(request, facts)],
        Trigger::ExemptionTagSet(write) => vec![exemption_tag(write, settings)],
    }
}

/// The exemption tag self-granted on instances or security groups: removed from each, HIGH so
/// that a person hears of it. Not a quarantine: a colleague who tagged by mistake loses only the
/// tag, and the instance's or group's next change is judged as any other's.
fn exemption_tag(write: &ExemptionWrite, settings: &Settings) -> Finding<QuarantineAction> {
    let key = &settings.exempt_tag.key;
    let mut reason = format!(
        "{} set the exemption tag {key}={} on {}, which would make Reflex leave {} alone; only a \
         principal exempt by configuration (REFLEX_EXEMPT_PRINCIPALS) may grant an exemption",
        write.by,
        write.value,
        write.resources.join(", "),
        if write.resources.len() > 1 {
            "them"
        } else {
            "it"
        },
    );
    if write.quarantine_tag_too {
        reason += "\nthe same call set the quarantine tag: no quarantine was started; once the \
                   exemption tag is gone, set the quarantine tag again to quarantine";
    }
    Finding {
        rule_id: EXEMPTION_TAG,
        severity: Severity::High,
        reason,
        actions: write
            .resources
            .iter()
            .map(|id| QuarantineAction::RemoveExemptionTag {
                resource_id: id.clone(),
                key: key.clone(),
                value: write.value.clone(),
            })
            .collect(),
    }
}

/// The rules a `ModifySecurityGroupRules` call changed, as EC2 has them now, judged as if just
/// opened. Not judged: a rule that is outbound, names another group, or is gone since (none is
/// among the group's inbound rules with an address source), and any rule when the group's rules
/// could not be read (said in the notes): the event's text alone is not trusted.
fn rules_modified(
    group_id: &str,
    modified: &[ModifiedRule],
    facts: &Facts,
    settings: &Settings,
) -> Option<Finding<QuarantineAction>> {
    let current = facts.group_rules.as_deref()?;
    let now: Vec<OpenedRule> = modified
        .iter()
        .filter_map(|m| {
            current
                .iter()
                .find(|r| r.rule_id.as_deref() == Some(m.rule_id.as_str()))
                .cloned()
        })
        .collect();
    let ids: Vec<&str> = now.iter().filter_map(|r| r.rule_id.as_deref()).collect();
    let lead = format!(
        "rule{} {} of security group {group_id} {} changed to let the internet in",
        if ids.len() > 1 { "s" } else { "" },
        ids.join(", "),
        if ids.len() > 1 { "were" } else { "was" },
    );
    world_open_ingress(group_id, &lead, &now, Some(current), facts, settings)
}

/// The rules that open a sensitive port to the world, with the group's others, revoked until
/// they no longer do; the others are left alone.
fn world_open_ingress(
    group_id: &str,
    lead: &str,
    opened: &[OpenedRule],
    current: Option<&[OpenedRule]>,
    facts: &Facts,
    settings: &Settings,
) -> Option<Finding<QuarantineAction>> {
    let exposures = world_open::judge_with(
        opened,
        current,
        &facts.prefix_entries(),
        &settings.sensitive_ports,
        settings.world_open_share,
    );
    let revoke = world_open::to_revoke(&exposures);
    if revoke.is_empty() {
        return None;
    }
    let exposed: Vec<String> = exposures
        .iter()
        .map(world_open::Exposure::describe)
        .collect();
    let mut reason = format!("{lead}: {}", exposed.join("; "));
    let lists: Vec<String> = revoke
        .iter()
        .filter_map(OpenedRule::prefix_list)
        .map(|id| match facts.prefix_lists.get(id) {
            Some(PrefixListLookup::Entries(e)) => {
                let shown: Vec<&str> = e.iter().take(5).map(String::as_str).collect();
                let more = match e.len() {
                    n if n > 5 => format!(" and {} more", n - 5),
                    _ => String::new(),
                };
                format!("{id} holds {}{more}", shown.join(", "))
            }
            _ => id.to_string(),
        })
        .collect();
    if !lists.is_empty() {
        reason += &format!("\n(prefix list {})", lists.join("; "));
    }
    if current.is_none() {
        reason += "\n(its other rules could not be read: the call's rules were judged alone)";
    }
    Some(Finding {
        rule_id: WORLD_OPEN_INGRESS,
        severity: Severity::High,
        reason,
        actions: vec![QuarantineAction::RevokeIngress {
            group_id: group_id.to_string(),
            rules: revoke,
        }],
    })
}

/// The rule behind each cause of a quarantine.
fn rule_for(cause: Cause) -> &'static str {
    match cause {
        Cause::GuardDutyFinding => GUARDDUTY_FINDING,
        Cause::InstanceAlarm => INSTANCE_ALARM,
        Cause::OperatorTag => OPERATOR_TAG,
    }
}

/// One finding for the request: every instance's steps, all isolations first. An instance with
/// nothing to quarantine (missing, unreadable, terminated) is said in the reason, so a request
/// with no step at all reaches a person.
fn quarantine(request: &Request, facts: &Facts) -> Finding<QuarantineAction> {
    let mut reason = request.reason.clone();
    if let Some(claim) = &request.alarm
        && claim.instance.is_some()
    {
        match alarm::verdict(claim, facts.alarm.as_ref()) {
            Ok(proof) => reason += &format!("\n{proof}"),
            Err(why) => {
                return Finding {
                    rule_id: rule_for(request.cause),
                    severity: request.severity,
                    reason: format!(
                        "{reason}\nnot quarantined: {why}. A person must check the alarm and who set it (CloudTrail: cloudwatch:SetAlarmState, PutMetricAlarm)"
                    ),
                    actions: Vec::new(),
                };
            }
        }
    }
    let mut isolations = Vec::new();
    let mut rest = Vec::new();
    for id in &request.instances {
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
                let earlier = earlier_quarantine(i);
                match (&earlier, i.tags.get(QUARANTINED_AT_TAG)) {
                    (Some(at), _) => {
                        reason += &format!(
                            "\ninstance {id} was already quarantined by Reflex at {at}: each step checks and keeps what is done"
                        )
                    }
                    (None, Some(_)) => {
                        reason += &format!(
                            "\ninstance {id} carries {QUARANTINED_AT_TAG} but is not isolated: the tag is not taken as a quarantine in place"
                        )
                    }
                    (None, None) => {}
                }
                let (isolate, others) = steps(i, &request.reason, &request.event_id, earlier);
                if isolate.is_empty() {
                    reason += &format!("\ninstance {id} is in no VPC: it cannot be isolated");
                }
                isolations.extend(isolate);
                rest.extend(others);
            }
        }
    }
    isolations.extend(rest);
    Finding {
        rule_id: rule_for(request.cause),
        severity: request.severity,
        reason,
        actions: isolations,
    }
}

/// The steps of one instance's quarantine: isolation, then the rest.
///
/// Isolation is two steps, write-ahead: the groups are recorded on the instance before they are
/// replaced, so a run that dies in between leaves them recorded (the retry finds them and keeps
/// them), never replaced unrecorded. The isolation step itself moves the instance through the
/// untracked-connections group (see the executor). Detaching from the Auto Scaling group comes right after
/// isolation: an isolated instance fails its health checks and the group would terminate it
/// (termination protection does not stop Auto Scaling) before its volumes are snapshotted. The
/// snapshots, one per volume, come last.
fn steps(
    i: &InstanceFacts,
    reason: &str,
    event_id: &str,
    earlier_quarantine: Option<String>,
) -> (Vec<QuarantineAction>, Vec<QuarantineAction>) {
    let id = i.instance_id.clone();
    let Some(vpc) = &i.vpc_id else {
        return (Vec::new(), Vec::new());
    };
    // What to record: the groups before quarantine, never Reflex's own groups.
    let previous: Vec<Interface> = i
        .interfaces
        .iter()
        .map(|eni| Interface {
            groups: eni
                .groups
                .iter()
                .filter(|g| !i.reflex_groups.contains(g))
                .cloned()
                .collect(),
            ..eni.clone()
        })
        .collect();
    let isolate = vec![
        QuarantineAction::RecordPreviousGroups {
            instance_id: id.clone(),
            interfaces: previous,
        },
        QuarantineAction::Isolate {
            instance_id: id.clone(),
            vpc_id: vpc.clone(),
            quarantine_group: i.quarantine_group.clone(),
            interfaces: i.interfaces.clone(),
        },
    ];
    let mut rest = Vec::new();
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
        reason: reason.to_string(),
        earlier_quarantine: earlier_quarantine.clone(),
    });
    for (volume, device) in &i.volumes {
        rest.push(QuarantineAction::SnapshotVolume {
            instance_id: id.clone(),
            volume_id: volume.clone(),
            device: device.clone(),
            finding: reason.to_string(),
            event_id: event_id.to_string(),
            earlier_quarantine: earlier_quarantine.clone(),
        });
    }
    (isolate, rest)
}

/// The time of a quarantine in place: the instance's `reflex:quarantined-at` when every
/// interface has the VPC's quarantine group as its only group. Without that isolation the tag
/// proves nothing (whoever may tag the instance may set it) and is not trusted.
fn earlier_quarantine(i: &InstanceFacts) -> Option<String> {
    let group = i.quarantine_group.as_ref()?;
    let isolated = !i.interfaces.is_empty()
        && i.interfaces
            .iter()
            .all(|eni| eni.groups == std::slice::from_ref(group));
    if isolated {
        i.tags.get(QUARANTINED_AT_TAG).cloned()
    } else {
        None
    }
}
