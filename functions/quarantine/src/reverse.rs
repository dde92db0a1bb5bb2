//! Taking back quarantine's changes from what the ledger recorded, one step at a time: revoked
//! world-open rules authorized again exactly as recorded; an isolated instance's interfaces put
//! back in their previous groups; its quarantine tags and its record of previous groups put back
//! as they were; the instance attached to its Auto Scaling group again; termination protection
//! and the shutdown behaviour as they were. A forensic snapshot is evidence, and an exemption
//! tag Reflex removed was self-granted: neither is reversed.
//!
//! Each change is made only while what it changes is still as Reflex left it (an instance moved
//! to other groups since is someone's decision, not overwritten). Every value a reversal carries
//! comes from the ledger's record, whose names and ids an attacker may have chosen: each is
//! checked for the shape EC2 gives it before any call.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, InstanceAttributeName, IpPermission, IpRange, Ipv6Range, PrefixListId,
    Tag,
};
use reflex_shared::aws::failure;
use reflex_shared::outcome::settle;
use reflex_shared::report::ActionReport;
use reflex_shared::reverse::{Irreversible, Reverse};
use reflex_shared::{AwsCli, Outcome, Step, Undo};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Quarantine;
use crate::actions::{
    Interface, MAX_TAG_VALUE, PREVIOUS_GROUPS_TAG_PREFIX, QUARANTINE_REASON_TAG,
    QUARANTINED_AT_TAG, QuarantineAction,
};
use crate::exposure::Block;
use crate::facts::{self, MISSING_INSTANCE, describe_instance};
use crate::ingress::{self, OpenedRule};
use crate::undo;

/// EC2 takes at most this many security groups on one network interface.
const MAX_GROUPS: usize = 16;
/// Auto Scaling group names are 1 to 255 characters.
const MAX_GROUP_NAME: usize = 255;
/// EC2 refuses a rule description longer than this.
const MAX_DESCRIPTION: usize = 255;

/// One change that takes back one of quarantine's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum QuarantineReversal {
    /// Authorize the revoked rules on the group again, exactly as recorded.
    AuthorizeAgain {
        group_id: String,
        rules: Vec<OpenedRule>,
    },
    /// Put each interface back in the groups it had before isolation, while it is still in
    /// the quarantine group alone.
    GroupsBack {
        instance_id: String,
        quarantine_group: String,
        interfaces: Vec<Interface>,
    },
    /// Put the instance's tags back as they were: each key to its value, or deleted (`None`).
    TagsBack {
        instance_id: String,
        tags: BTreeMap<String, Option<String>>,
    },
    /// Attach the instance to its Auto Scaling group again.
    AttachAgain {
        instance_id: String,
        group: String,
    },
    TerminationProtectionOff {
        instance_id: String,
    },
    /// The shutdown behaviour the instance had (`terminate`).
    ShutdownBehaviourBack {
        instance_id: String,
        behaviour: String,
    },
}

// ---- the reversal of a recorded step (pure) ----

pub fn reversal(step: &ActionReport) -> Result<QuarantineReversal, Irreversible> {
    let Outcome::Done { prior_state, .. } = &step.outcome else {
        return Err(Irreversible(format!(
            "this step changed nothing (its outcome was {}): there is nothing to reverse",
            step.outcome.status()
        )));
    };
    let prior = prior_state.as_ref().unwrap_or(&Value::Null);
    match recorded(step)? {
        QuarantineAction::RevokeIngress { group_id, .. } => authorize_again(&group_id, prior),
        QuarantineAction::Isolate { instance_id, .. } => groups_back(&instance_id, prior),
        QuarantineAction::RecordPreviousGroups {
            instance_id,
            interfaces,
        } => record_back(&instance_id, &interfaces, prior),
        QuarantineAction::TagQuarantined { instance_id, .. } => {
            let instance_id = shaped_id(&instance_id, "i-", "instance")?;
            let mut tags = BTreeMap::new();
            for key in [QUARANTINED_AT_TAG, QUARANTINE_REASON_TAG] {
                tags.insert(key.to_string(), recorded_tag(prior, key)?);
            }
            Ok(QuarantineReversal::TagsBack { instance_id, tags })
        }
        QuarantineAction::DetachFromAutoScalingGroup { instance_id, group } => {
            let instance_id = shaped_id(&instance_id, "i-", "instance")?;
            let recorded = prior.get("auto_scaling_group").and_then(Value::as_str);
            // The group the instance was detached from, as recorded; the plan's when the same.
            if recorded.is_some_and(|g| g != group) {
                return Err(refused(
                    "the recorded prior state names another Auto Scaling group than the recorded action",
                ));
            }
            if group.is_empty() || group.chars().count() > MAX_GROUP_NAME {
                return Err(refused(
                    "the recorded group name is not an Auto Scaling group name (1 to 255 characters)",
                ));
            }
            Ok(QuarantineReversal::AttachAgain { instance_id, group })
        }
        QuarantineAction::EnableTerminationProtection { instance_id } => {
            if prior.get("disable_api_termination") != Some(&Value::Bool(false)) {
                return Err(refused(
                    "the recorded prior state does not say termination protection was off",
                ));
            }
            Ok(QuarantineReversal::TerminationProtectionOff {
                instance_id: shaped_id(&instance_id, "i-", "instance")?,
            })
        }
        QuarantineAction::StopOnShutdown { instance_id } => {
            let behaviour = prior
                .get("instance_initiated_shutdown_behavior")
                .and_then(Value::as_str)
                .filter(|b| *b == "terminate")
                .ok_or_else(|| {
                    refused(
                        "the recorded prior state does not give the shutdown behaviour the instance had (terminate)",
                    )
                })?;
            Ok(QuarantineReversal::ShutdownBehaviourBack {
                instance_id: shaped_id(&instance_id, "i-", "instance")?,
                behaviour: behaviour.to_string(),
            })
        }
        QuarantineAction::SnapshotVolume { .. } => Err(refused(
            "a forensic snapshot is evidence, not a change to the instance: undo does not delete it; delete it once the investigation no longer needs it (the report's undo command)",
        )),
        QuarantineAction::RemoveExemptionTag { .. } => Err(refused(
            "Reflex removed an exemption tag set by a caller not allowed to grant exemptions: undo grants no exemption; someone allowed to grant it must tag the resource again",
        )),
    }
}

/// The recorded action, rebuilt from the ledger's JSON.
pub fn recorded(step: &ActionReport) -> Result<QuarantineAction, Irreversible> {
    serde_json::from_value(step.action.clone()).map_err(|e| {
        Irreversible(format!(
            "the recorded action is not a quarantine action Reflex knows ({e})"
        ))
    })
}

/// The recorded action as it is carried out again (the undo of an undo): revoked rules are
/// found by what they allow, not by their recorded ids, which the undo's authorization replaced
/// with new ones.
pub fn again(action: QuarantineAction) -> QuarantineAction {
    match action {
        QuarantineAction::RevokeIngress { group_id, rules } => QuarantineAction::RevokeIngress {
            group_id,
            rules: rules
                .into_iter()
                .map(|r| OpenedRule { rule_id: None, ..r })
                .collect(),
        },
        other => other,
    }
}

fn refused(why: &str) -> Irreversible {
    Irreversible(why.to_string())
}

/// `i-…`, `sg-…`, `eni-…`, `pl-…`: the prefix and 1 to 32 hex digits.
fn is_shaped(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        !hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn shaped_id(id: &str, prefix: &str, what: &str) -> Result<String, Irreversible> {
    if is_shaped(id, prefix) {
        Ok(id.to_string())
    } else {
        Err(Irreversible(format!(
            "a recorded {what} id is not of the form {prefix}…"
        )))
    }
}

/// The revoked rules, from the `IpPermission`s the prior state recorded (one source each, as
/// the executor records them).
fn authorize_again(group_id: &str, prior: &Value) -> Result<QuarantineReversal, Irreversible> {
    let group_id = shaped_id(group_id, "sg-", "security group")?;
    if prior.get("security_group").and_then(Value::as_str) != Some(group_id.as_str()) {
        return Err(refused(
            "the recorded prior state names another security group than the recorded action",
        ));
    }
    let permissions = prior
        .get("ip_permissions")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| refused("the recorded prior state lists no revoked rule"))?;
    let rules = permissions
        .iter()
        .map(revoked_rule)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(QuarantineReversal::AuthorizeAgain { group_id, rules })
}

fn revoked_rule(p: &Value) -> Result<OpenedRule, Irreversible> {
    let bad = || refused("a recorded revoked rule is not an EC2 IpPermission with one source");
    let protocol = p
        .get("IpProtocol")
        .and_then(Value::as_str)
        .ok_or_else(bad)?;
    let protocol_known = matches!(
        ingress::normalise_protocol(protocol).as_str(),
        "tcp" | "udp" | "icmp" | "icmpv6" | "-1"
    ) || protocol.parse::<u8>().is_ok();
    let port = |key: &str| -> Result<Option<i32>, Irreversible> {
        match p.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .filter(|n| (-1..=65535).contains(n))
                .map(|n| Some(n as i32))
                .ok_or_else(bad),
        }
    };
    let (from, to) = (port("FromPort")?, port("ToPort")?);
    let sources: Vec<(&str, &Value)> = [
        ("IpRanges", "CidrIp"),
        ("Ipv6Ranges", "CidrIpv6"),
        ("PrefixListIds", "PrefixListId"),
    ]
    .into_iter()
    .filter_map(|(list, field)| p.get(list).and_then(Value::as_array).map(|l| (field, l)))
    .flat_map(|(field, l)| l.iter().map(move |r| (field, r)))
    .collect();
    let [(field, range)] = sources.as_slice() else {
        return Err(bad());
    };
    let source = range.get(*field).and_then(Value::as_str).ok_or_else(bad)?;
    let source_ok = match *field {
        "PrefixListId" => is_shaped(source, "pl-"),
        "CidrIp" => Block::parse(source).is_some() && !source.contains(':'),
        _ => Block::parse(source).is_some() && source.contains(':'),
    };
    let description = range.get("Description");
    let description_ok = match description {
        None | Some(Value::Null) => true,
        Some(Value::String(d)) => {
            d.chars().count() <= MAX_DESCRIPTION && !d.chars().any(char::is_control)
        }
        Some(_) => false,
    };
    if !protocol_known || !source_ok || !description_ok {
        return Err(bad());
    }
    Ok(ingress::rule(protocol, from, to, source, description))
}

fn groups_back(instance_id: &str, prior: &Value) -> Result<QuarantineReversal, Irreversible> {
    let instance_id = shaped_id(instance_id, "i-", "instance")?;
    let quarantine_group = prior
        .get("quarantine_group")
        .and_then(Value::as_str)
        .ok_or_else(|| refused("the recorded prior state does not name the quarantine group"))?;
    let quarantine_group = shaped_id(quarantine_group, "sg-", "security group")?;
    let interfaces: Vec<Interface> = prior
        .get("interfaces")
        .cloned()
        .and_then(|i| serde_json::from_value(i).ok())
        .filter(|i: &Vec<Interface>| !i.is_empty())
        .ok_or_else(|| {
            refused(
                "the recorded prior state does not list the instance's interfaces and their groups",
            )
        })?;
    for i in &interfaces {
        shaped_id(&i.id, "eni-", "network interface")?;
        if i.groups.is_empty() {
            return Err(refused(
                "the security groups an interface had before quarantine are not known (the record names none): a person must choose them",
            ));
        }
        if i.groups.len() > MAX_GROUPS {
            return Err(refused(
                "a recorded interface has more security groups than EC2 takes (16)",
            ));
        }
        for g in &i.groups {
            shaped_id(g, "sg-", "security group")?;
        }
        let untracked = prior.get("untracked_group").and_then(Value::as_str);
        if i.groups.contains(&quarantine_group)
            || untracked.is_some_and(|u| i.groups.iter().any(|g| g == u))
        {
            return Err(refused(
                "the recorded groups of an interface include one of Reflex's own groups (quarantine or untracked-connections): they are not its groups before quarantine",
            ));
        }
    }
    Ok(QuarantineReversal::GroupsBack {
        instance_id,
        quarantine_group,
        interfaces,
    })
}

/// The record of previous groups deleted again, or put back as it was where one was replaced.
fn record_back(
    instance_id: &str,
    interfaces: &[Interface],
    prior: &Value,
) -> Result<QuarantineReversal, Irreversible> {
    let instance_id = shaped_id(instance_id, "i-", "instance")?;
    let mut tags = BTreeMap::new();
    for i in interfaces {
        shaped_id(&i.id, "eni-", "network interface")?;
        let key = format!("{PREVIOUS_GROUPS_TAG_PREFIX}{}", i.id);
        let before = recorded_tag(prior, &key)?;
        if let Some(list) = &before
            && !list.split(',').all(|g| is_shaped(g, "sg-"))
        {
            return Err(refused(
                "a recorded earlier value of a previous-groups tag is not a list of security group ids",
            ));
        }
        tags.insert(key, before);
    }
    if tags.is_empty() {
        return Err(refused("the recorded action names no network interface"));
    }
    Ok(QuarantineReversal::TagsBack { instance_id, tags })
}

/// A tag's value before the step, from `prior.tags`: `None` when it had none.
fn recorded_tag(prior: &Value, key: &str) -> Result<Option<String>, Irreversible> {
    let tags = prior
        .get("tags")
        .and_then(Value::as_object)
        .ok_or_else(|| refused("the recorded prior state does not give the tags as they were"))?;
    match tags.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) if v.len() <= MAX_TAG_VALUE => Ok(Some(v.clone())),
        Some(_) => Err(refused(
            "a recorded tag value is not text EC2 takes (at most 256 characters)",
        )),
    }
}

pub fn describe(r: &QuarantineReversal) -> String {
    match r {
        QuarantineReversal::AuthorizeAgain { group_id, rules } => {
            let list: Vec<String> = rules
                .iter()
                .map(|r| format!("{} from {}", r.ports(), r.source()))
                .collect();
            format!(
                "authorize {} on security group {group_id} again",
                list.join(", ")
            )
        }
        QuarantineReversal::GroupsBack {
            instance_id,
            quarantine_group,
            interfaces,
        } => {
            let each: Vec<String> = interfaces
                .iter()
                .map(|i| format!("{}: {}", i.id, i.groups.join(" ")))
                .collect();
            format!(
                "put instance {instance_id} back in its security groups from before quarantine ({}), out of quarantine group {quarantine_group} (which stays in the VPC for other quarantines)",
                each.join("; ")
            )
        }
        QuarantineReversal::TagsBack { instance_id, tags } => {
            let each: Vec<String> = tags
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => format!("delete {k}"),
                })
                .collect();
            format!(
                "put the tags of instance {instance_id} back as they were ({})",
                each.join(", ")
            )
        }
        QuarantineReversal::AttachAgain { instance_id, group } => format!(
            "attach instance {instance_id} to Auto Scaling group {group} again (its desired capacity rises by one: the replacement it launched stays)"
        ),
        QuarantineReversal::TerminationProtectionOff { instance_id } => {
            format!("turn termination protection of instance {instance_id} off again")
        }
        QuarantineReversal::ShutdownBehaviourBack {
            instance_id,
            behaviour,
        } => format!(
            "make a shutdown from inside instance {instance_id} {behaviour} it again, as before"
        ),
    }
}

// ---- carrying a reversal out ----

pub async fn reverse(ec2: &Client, autoscaling: &AutoScaling, r: &QuarantineReversal) -> Outcome {
    settle(match r {
        QuarantineReversal::AuthorizeAgain { group_id, rules } => {
            authorize(ec2, group_id, rules).await
        }
        QuarantineReversal::GroupsBack {
            instance_id,
            quarantine_group,
            interfaces,
        } => put_groups_back(ec2, instance_id, quarantine_group, interfaces).await,
        QuarantineReversal::TagsBack { instance_id, tags } => {
            put_tags_back(ec2, instance_id, tags).await
        }
        QuarantineReversal::AttachAgain { instance_id, group } => {
            attach(autoscaling, instance_id, group).await
        }
        QuarantineReversal::TerminationProtectionOff { instance_id } => {
            protection_off(ec2, instance_id).await
        }
        QuarantineReversal::ShutdownBehaviourBack {
            instance_id,
            behaviour,
        } => shutdown_back(ec2, instance_id, behaviour).await,
    })
}

fn gone(instance: &str) -> Outcome {
    Outcome::skipped(format!(
        "instance {instance} no longer exists: there is nothing to put back"
    ))
}

fn on_instance<E>(
    call: &str,
    instance: &str,
    err: &aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>,
) -> Outcome
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    reflex_shared::aws::fault(call, err, MISSING_INSTANCE).or_gone(|| gone(instance))
}

async fn authorize(ec2: &Client, group_id: &str, rules: &[OpenedRule]) -> Step {
    let current = facts::describe_group_rules(ec2, group_id)
        .await
        .map_err(|e| e.outcome("ec2:DescribeSecurityGroupRules"))?;
    let missing: Vec<&OpenedRule> = rules
        .iter()
        .filter(|r| {
            !current.iter().any(|c| {
                c.is_egress() != Some(true)
                    && r.same_rule(
                        c.ip_protocol().unwrap_or(""),
                        c.from_port(),
                        c.to_port(),
                        c.cidr_ipv4()
                            .or(c.cidr_ipv6())
                            .or(c.prefix_list_id())
                            .unwrap_or(""),
                    )
            })
        })
        .collect();
    if missing.is_empty() {
        return Ok(Outcome::already_done(format!(
            "every revoked rule is on security group {group_id} again"
        )));
    }
    ec2.authorize_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(missing.iter().map(|r| permission(r)).collect()))
        .send()
        .await
        .map_err(|e| {
            reflex_shared::aws::fault(
                "ec2:AuthorizeSecurityGroupIngress",
                &e,
                &["InvalidGroup.NotFound"],
            )
            .or_gone(|| {
                Outcome::skipped(format!(
                    "security group {group_id} no longer exists: there is nothing to authorize again"
                ))
            })
        })?;
    let shown: Vec<String> = missing
        .iter()
        .map(|r| format!("{} from {}", r.ports(), r.source()))
        .collect();
    let permissions: Vec<Value> = missing.iter().map(|r| r.ip_permission()).collect();
    Ok(Outcome::done(
        format!(
            "authorized {} on security group {group_id} again",
            shown.join(", ")
        ),
        // The rules were not on the group: what the undo of this undo revokes again.
        Some(json!({ "security_group": group_id, "absent": permissions })),
        Undo::run(
            AwsCli::new("ec2", "revoke-security-group-ingress")
                .arg("--group-id", group_id)
                .json("--ip-permissions", &Value::Array(permissions.clone())),
        ),
    ))
}

/// The rule as the SDK's `IpPermission`.
fn permission(r: &OpenedRule) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(&r.protocol);
    if r.protocol != "-1" {
        p = p.set_from_port(r.from_port).set_to_port(r.to_port);
    }
    let description = r.description.clone();
    if let Some(list) = r.prefix_list() {
        p = p.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(list)
                .set_description(description)
                .build(),
        );
    } else if r.is_ipv6() {
        p = p.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(&r.cidr)
                .set_description(description)
                .build(),
        );
    } else {
        p = p.ip_ranges(
            IpRange::builder()
                .cidr_ip(&r.cidr)
                .set_description(description)
                .build(),
        );
    }
    p.build()
}

async fn put_groups_back(
    ec2: &Client,
    instance_id: &str,
    quarantine_group: &str,
    before: &[Interface],
) -> Step {
    let instance = match describe_instance(ec2, instance_id).await {
        Ok(Some(i)) => i,
        Ok(None) => return Err(gone(instance_id)),
        Err(e) => return Err(e.outcome("ec2:DescribeInstances")),
    };
    let now = facts::interfaces(&instance);
    let sorted = |g: &[String]| {
        let mut g = g.to_vec();
        g.sort();
        g
    };
    let mut to_move: Vec<&Interface> = Vec::new();
    for b in before {
        let Some(current) = now.iter().find(|n| n.id == b.id) else {
            return Err(Outcome::failed(
                format!(
                    "network interface {} is no longer attached to instance {instance_id}: nothing is put back; a person must restore its groups",
                    b.id
                ),
                None,
            ));
        };
        if sorted(&current.groups) == sorted(&b.groups) {
            continue;
        }
        if current.groups != [quarantine_group] {
            return Err(Outcome::failed(
                format!(
                    "network interface {} of instance {instance_id} is in {} now, not quarantine group {quarantine_group} alone: it was changed since, so nothing is put back; a person must decide",
                    b.id,
                    current.groups.join(" ")
                ),
                None,
            ));
        }
        to_move.push(b);
    }
    if to_move.is_empty() {
        return Ok(Outcome::already_done(format!(
            "instance {instance_id} is already in its security groups from before quarantine"
        )));
    }
    let undo = if let ([only], [_]) = (to_move.as_slice(), now.as_slice()) {
        ec2.modify_instance_attribute()
            .instance_id(instance_id)
            .set_groups(Some(only.groups.clone()))
            .send()
            .await
            .map_err(|e| on_instance("ec2:ModifyInstanceAttribute", instance_id, &e))?;
        undo::instance_groups_back(instance_id, &[quarantine_group.to_string()])
    } else {
        for i in &to_move {
            ec2.modify_network_interface_attribute()
                .network_interface_id(&i.id)
                .set_groups(Some(i.groups.clone()))
                .send()
                .await
                .map_err(|e| on_instance("ec2:ModifyNetworkInterfaceAttribute", instance_id, &e))?;
        }
        let isolated: Vec<Interface> = to_move
            .iter()
            .map(|i| Interface {
                groups: vec![quarantine_group.to_string()],
                ..(*i).clone()
            })
            .collect();
        undo::interface_groups_back(&isolated.iter().collect::<Vec<_>>())
    };
    let each: Vec<String> = to_move
        .iter()
        .map(|i| format!("{} is in {} again", i.id, i.groups.join(" ")))
        .collect();
    let was: Vec<Value> = to_move
        .iter()
        .map(
            |i| json!({ "id": i.id, "device_index": i.device_index, "groups": [quarantine_group] }),
        )
        .collect();
    Ok(Outcome::done(
        format!(
            "instance {instance_id} is out of quarantine group {quarantine_group}: {}",
            each.join("; ")
        ),
        Some(json!({ "interfaces": was, "quarantine_group": quarantine_group })),
        undo,
    ))
}

async fn put_tags_back(
    ec2: &Client,
    instance_id: &str,
    tags: &BTreeMap<String, Option<String>>,
) -> Step {
    let instance = match describe_instance(ec2, instance_id).await {
        Ok(Some(i)) => i,
        Ok(None) => return Err(gone(instance_id)),
        Err(e) => return Err(e.outcome("ec2:DescribeInstances")),
    };
    let now = facts::tags(instance.tags());
    let (mut set, mut delete) = (Vec::new(), Vec::new());
    for (key, want) in tags {
        match (now.get(key), want) {
            (have, want) if have == want.as_ref() => {}
            (_, Some(value)) => set.push((key.clone(), value.clone())),
            (Some(have), None) => delete.push((key.clone(), have.clone())),
            (None, None) => {}
        }
    }
    if set.is_empty() && delete.is_empty() {
        return Ok(Outcome::already_done(format!(
            "the tags of instance {instance_id} are already as they were"
        )));
    }
    let tag = |(k, v): &(String, String)| Tag::builder().key(k).value(v).build();
    if !set.is_empty() {
        ec2.create_tags()
            .resources(instance_id)
            .set_tags(Some(set.iter().map(tag).collect()))
            .send()
            .await
            .map_err(|e| on_instance("ec2:CreateTags", instance_id, &e))?;
    }
    if !delete.is_empty() {
        // Deleted with the value read: a value written in between is not deleted with it.
        ec2.delete_tags()
            .resources(instance_id)
            .set_tags(Some(delete.iter().map(tag).collect()))
            .send()
            .await
            .map_err(|e| on_instance("ec2:DeleteTags", instance_id, &e))?;
    }
    // What the changed keys held: the undo of this undo writes them again.
    let changed: Vec<&String> = set.iter().chain(&delete).map(|(k, _)| k).collect();
    let was: serde_json::Map<String, Value> = changed
        .iter()
        .map(|k| ((*k).clone(), now.get(*k).cloned().into()))
        .collect();
    let mut calls = Vec::new();
    let rewrite: Vec<Value> = changed
        .iter()
        .filter_map(|k| Some(json!({ "Key": k, "Value": now.get(*k)? })))
        .collect();
    if !rewrite.is_empty() {
        calls.push(
            AwsCli::new("ec2", "create-tags")
                .list("--resources", &[instance_id])
                .json("--tags", &Value::Array(rewrite)),
        );
    }
    let new_keys: Vec<Value> = set
        .iter()
        .filter(|(k, _)| !now.contains_key(k))
        .map(|(k, _)| json!({ "Key": k }))
        .collect();
    if !new_keys.is_empty() {
        calls.push(
            AwsCli::new("ec2", "delete-tags")
                .list("--resources", &[instance_id])
                .json("--tags", &Value::Array(new_keys)),
        );
    }
    let shown: Vec<String> = set
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(delete.iter().map(|(k, _)| format!("deleted {k}")))
        .collect();
    Ok(Outcome::done(
        format!(
            "the tags of instance {instance_id} are back as they were: {}",
            shown.join(", ")
        ),
        Some(json!({ "tags": was })),
        Undo::all(calls),
    ))
}

async fn attach(autoscaling: &AutoScaling, instance_id: &str, group: &str) -> Step {
    let out = autoscaling
        .describe_auto_scaling_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| failure("autoscaling:DescribeAutoScalingInstances", &e))?;
    if let Some(member) = out.auto_scaling_instances().first() {
        let now = member.auto_scaling_group_name().unwrap_or("?");
        let state = member.lifecycle_state().unwrap_or("");
        if now == group && !state.starts_with("Detach") {
            return Ok(Outcome::already_done(format!(
                "instance {instance_id} is already in Auto Scaling group {group}"
            )));
        }
        if now != group {
            return Err(Outcome::failed(
                format!(
                    "instance {instance_id} is in Auto Scaling group {now} now, not {group}: it was changed since, so it is not attached back; a person must decide"
                ),
                None,
            ));
        }
    }
    autoscaling
        .attach_instances()
        .auto_scaling_group_name(group)
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| failure("autoscaling:AttachInstances", &e))?;
    Ok(Outcome::done(
        format!(
            "attached instance {instance_id} to Auto Scaling group {group} again (its desired capacity rose by one)"
        ),
        Some(json!({ "auto_scaling_group": null })),
        Undo::run(
            AwsCli::new("autoscaling", "detach-instances")
                .arg("--auto-scaling-group-name", group)
                .list("--instance-ids", &[instance_id])
                .switch("--should-decrement-desired-capacity"),
        ),
    ))
}

async fn protection_off(ec2: &Client, instance_id: &str) -> Step {
    let out = ec2
        .describe_instance_attribute()
        .instance_id(instance_id)
        .attribute(InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .map_err(|e| on_instance("ec2:DescribeInstanceAttribute", instance_id, &e))?;
    if out.disable_api_termination().and_then(|v| v.value()) != Some(true) {
        return Ok(Outcome::already_done(format!(
            "termination protection of instance {instance_id} is already off"
        )));
    }
    ec2.modify_instance_attribute()
        .instance_id(instance_id)
        .disable_api_termination(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .map_err(|e| on_instance("ec2:ModifyInstanceAttribute", instance_id, &e))?;
    Ok(Outcome::done(
        format!("turned termination protection of instance {instance_id} off again"),
        Some(json!({ "disable_api_termination": true })),
        Undo::run(
            AwsCli::new("ec2", "modify-instance-attribute")
                .arg("--instance-id", instance_id)
                .switch("--disable-api-termination"),
        ),
    ))
}

async fn shutdown_back(ec2: &Client, instance_id: &str, behaviour: &str) -> Step {
    let out = ec2
        .describe_instance_attribute()
        .instance_id(instance_id)
        .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
        .send()
        .await
        .map_err(|e| on_instance("ec2:DescribeInstanceAttribute", instance_id, &e))?;
    let now = out
        .instance_initiated_shutdown_behavior()
        .and_then(|v| v.value())
        .unwrap_or("stop")
        .to_string();
    if now == behaviour {
        return Ok(Outcome::already_done(format!(
            "a shutdown from inside instance {instance_id} already makes it {behaviour}"
        )));
    }
    ec2.modify_instance_attribute()
        .instance_id(instance_id)
        .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
        .value(behaviour)
        .send()
        .await
        .map_err(|e| on_instance("ec2:ModifyInstanceAttribute", instance_id, &e))?;
    Ok(Outcome::done(
        format!("shutdown behaviour of instance {instance_id}: {now} -> {behaviour}"),
        Some(json!({ "instance_initiated_shutdown_behavior": now })),
        undo::shutdown_behavior_back(instance_id, &now),
    ))
}

impl Reverse for Quarantine {
    type Reversal = QuarantineReversal;

    fn reversal(step: &ActionReport) -> Result<QuarantineReversal, Irreversible> {
        reversal(step)
    }

    fn describe_reversal(reversal: &QuarantineReversal) -> String {
        describe(reversal)
    }

    async fn reverse(&self, reversal: &QuarantineReversal) -> Outcome {
        reverse(&self.ec2, &self.autoscaling, reversal).await
    }

    fn recorded_action(step: &ActionReport) -> Result<QuarantineAction, Irreversible> {
        recorded(step).map(again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const I: &str = "i-0c7e5f3a9b1d24680";
    const ENI: &str = "eni-0a1b2c3d4e5f60001";
    const WEB: &str = "sg-0a1b2c3d4e5f60001";
    const SSH: &str = "sg-0a1b2c3d4e5f60002";
    const Q: &str = "sg-0a1b2c3d4e5f6000f";

    fn step(action: Value, prior: Option<Value>) -> ActionReport {
        ActionReport {
            step: String::new(),
            description: "d".into(),
            action,
            outcome: Outcome::Done {
                detail: "d".into(),
                prior_state: prior,
                undo: Some(Undo::none("x")),
            },
        }
    }

    fn isolate() -> Value {
        json!({ "type": "isolate", "instance_id": I, "vpc_id": "vpc-01", "quarantine_group": null,
                "interfaces": [{ "id": ENI, "device_index": 0, "groups": [WEB, SSH] }] })
    }

    fn isolated(groups: Value) -> Option<Value> {
        Some(
            json!({ "interfaces": [{ "id": ENI, "device_index": 0, "groups": groups }],
                     "quarantine_group": Q, "created_quarantine_group": true,
                     "untracked_group": "sg-0a1b2c3d4e5f6000e" }),
        )
    }

    #[test]
    fn an_isolation_is_reversed_by_each_interfaces_previous_groups() {
        let r = reversal(&step(isolate(), isolated(json!([WEB, SSH])))).unwrap();
        assert_eq!(
            r,
            QuarantineReversal::GroupsBack {
                instance_id: I.into(),
                quarantine_group: Q.into(),
                interfaces: vec![Interface {
                    id: ENI.into(),
                    device_index: 0,
                    groups: vec![WEB.into(), SSH.into()]
                }],
            }
        );
        assert!(
            describe(&r).contains(&format!("{ENI}: {WEB} {SSH}")),
            "{}",
            describe(&r)
        );
    }

    #[test]
    fn an_isolation_with_unknown_or_malformed_groups_is_refused() {
        for prior in [
            isolated(json!([])),
            isolated(json!(["sg-0a1b; rm -rf /"])),
            isolated(json!(["default"])),
            isolated(json!([Q])),
            // The untracked-connections group lets everything in while an isolation moves.
            isolated(json!([WEB, "sg-0a1b2c3d4e5f6000e"])),
            isolated(json!("sg-01")),
            Some(json!({ "interfaces": [], "quarantine_group": Q })),
            Some(
                json!({ "interfaces": [{ "id": "eni-zz", "device_index": 0, "groups": [WEB] }],
                         "quarantine_group": Q }),
            ),
            Some(json!({ "interfaces": [{ "id": ENI, "device_index": 0, "groups": [WEB] }] })),
            None,
        ] {
            assert!(
                reversal(&step(isolate(), prior.clone())).is_err(),
                "{prior:?}"
            );
        }
        let mut bad = isolate();
        bad["instance_id"] = "i-123 --dry-run".into();
        assert!(reversal(&step(bad, isolated(json!([WEB])))).is_err());
    }

    #[test]
    fn revoked_rules_are_authorized_again_exactly_as_recorded() {
        let action = json!({ "type": "revoke-ingress", "group_id": WEB, "rules": [] });
        let prior = json!({ "security_group": WEB, "rule_ids": ["sgr-01", "sgr-02", "sgr-03"],
            "ip_permissions": [
                { "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                  "IpRanges": [{ "CidrIp": "0.0.0.0/0", "Description": "ssh" }] },
                { "IpProtocol": "-1", "Ipv6Ranges": [{ "CidrIpv6": "::/0" }] },
                { "IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389,
                  "PrefixListIds": [{ "PrefixListId": "pl-0a1b2c3d4e5f60001" }] } ] });
        let r = reversal(&step(action.clone(), Some(prior.clone()))).unwrap();
        let QuarantineReversal::AuthorizeAgain { group_id, rules } = &r else {
            panic!("{r:?}")
        };
        assert_eq!(group_id, WEB);
        let back: Vec<Value> = rules.iter().map(OpenedRule::ip_permission).collect();
        assert_eq!(
            Value::Array(back),
            prior["ip_permissions"],
            "the same rules, re-authorized"
        );
        assert_eq!(
            describe(&r),
            format!(
                "authorize tcp 22 from 0.0.0.0/0, all traffic from ::/0, tcp 3389 from prefix list pl-0a1b2c3d4e5f60001 on security group {WEB} again"
            )
        );
        let permission = permission(&rules[0]);
        assert_eq!(permission.ip_ranges()[0].cidr_ip(), Some("0.0.0.0/0"));
        assert_eq!(permission.from_port(), Some(22));
    }

    #[test]
    fn malformed_revoked_rules_are_refused() {
        let action = json!({ "type": "revoke-ingress", "group_id": WEB, "rules": [] });
        let with = |permission: Value| {
            Some(json!({ "security_group": WEB, "ip_permissions": [permission] }))
        };
        for prior in [
            with(json!({ "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                         "IpRanges": [{ "CidrIp": "everywhere" }] })),
            with(
                json!({ "IpProtocol": "tcp", "FromPort": 22, "ToPort": 99999,
                         "IpRanges": [{ "CidrIp": "0.0.0.0/0" }] }),
            ),
            with(json!({ "IpProtocol": "gopher", "IpRanges": [{ "CidrIp": "0.0.0.0/0" }] })),
            // Two sources in one: not as the executor records them.
            with(
                json!({ "IpProtocol": "-1", "IpRanges": [{ "CidrIp": "0.0.0.0/0" }],
                         "Ipv6Ranges": [{ "CidrIpv6": "::/0" }] }),
            ),
            with(json!({ "IpProtocol": "-1", "IpRanges": [{ "CidrIp": "::/0" }] })),
            with(json!({ "IpProtocol": "-1", "PrefixListIds": [{ "PrefixListId": "sg-01" }] })),
            with(json!({ "IpProtocol": "-1",
                         "IpRanges": [{ "CidrIp": "0.0.0.0/0", "Description": "a\nb" }] })),
            with(json!({ "IpProtocol": "-1", "UserIdGroupPairs": [{ "GroupId": SSH }] })),
            Some(json!({ "security_group": SSH, "ip_permissions": [
                { "IpProtocol": "-1", "IpRanges": [{ "CidrIp": "0.0.0.0/0" }] }] })),
            Some(json!({ "security_group": WEB, "ip_permissions": [] })),
            None,
        ] {
            assert!(
                reversal(&step(action.clone(), prior.clone())).is_err(),
                "{prior:?}"
            );
        }
    }

    #[test]
    fn the_quarantine_tags_and_the_record_go_back_to_what_they_were() {
        let tagged = json!({ "type": "tag-quarantined", "instance_id": I, "reason": "r",
                             "earlier_quarantine": null });
        let r = reversal(&step(
            tagged.clone(),
            Some(json!({ "tags": { QUARANTINED_AT_TAG: null, QUARANTINE_REASON_TAG: null } })),
        ))
        .unwrap();
        assert_eq!(
            r,
            QuarantineReversal::TagsBack {
                instance_id: I.into(),
                tags: BTreeMap::from([
                    (QUARANTINED_AT_TAG.to_string(), None),
                    (QUARANTINE_REASON_TAG.to_string(), None),
                ]),
            }
        );
        // An earlier value is put back as it was.
        let earlier = reversal(&step(
            tagged.clone(),
            Some(json!({ "tags": { QUARANTINED_AT_TAG: "2026-01-01T00:00:00Z" } })),
        ))
        .unwrap();
        let QuarantineReversal::TagsBack { tags, .. } = earlier else {
            panic!()
        };
        assert_eq!(
            tags[QUARANTINED_AT_TAG].as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        assert!(reversal(&step(tagged.clone(), Some(json!({})))).is_err());
        let long = json!({ "tags": { QUARANTINE_REASON_TAG: "x".repeat(300) } });
        assert!(reversal(&step(tagged, Some(long))).is_err());

        let record = json!({ "type": "record-previous-groups", "instance_id": I,
            "interfaces": [{ "id": ENI, "device_index": 0, "groups": [WEB, SSH] }] });
        let key = format!("{PREVIOUS_GROUPS_TAG_PREFIX}{ENI}");
        assert_eq!(
            reversal(&step(record.clone(), Some(json!({ "tags": {} })))).unwrap(),
            QuarantineReversal::TagsBack {
                instance_id: I.into(),
                tags: BTreeMap::from([(key.clone(), None)]),
            }
        );
        let replaced = json!({ "tags": { key.clone(): "sg-01,sg-02" } });
        assert!(reversal(&step(record.clone(), Some(replaced))).is_ok());
        let hostile = json!({ "tags": { key: "sg-01,$(id)" } });
        assert!(reversal(&step(record, Some(hostile))).is_err());
    }

    #[test]
    fn the_instance_settings_go_back_to_what_they_were() {
        let detach = json!({ "type": "detach-from-auto-scaling-group", "instance_id": I,
                             "group": "web-fleet" });
        assert_eq!(
            reversal(&step(
                detach.clone(),
                Some(
                    json!({ "auto_scaling_group": "web-fleet", "lifecycle_state": "InService",
                             "desired_capacity": 2 })
                )
            ))
            .unwrap(),
            QuarantineReversal::AttachAgain {
                instance_id: I.into(),
                group: "web-fleet".into()
            }
        );
        assert!(
            reversal(&step(
                detach,
                Some(json!({ "auto_scaling_group": "other" }))
            ))
            .is_err()
        );

        let protect = json!({ "type": "enable-termination-protection", "instance_id": I });
        assert_eq!(
            reversal(&step(
                protect.clone(),
                Some(json!({ "disable_api_termination": false }))
            ))
            .unwrap(),
            QuarantineReversal::TerminationProtectionOff {
                instance_id: I.into()
            }
        );
        assert!(
            reversal(&step(
                protect,
                Some(json!({ "disable_api_termination": "no" }))
            ))
            .is_err()
        );

        let stop = json!({ "type": "stop-on-shutdown", "instance_id": I });
        assert_eq!(
            reversal(&step(
                stop.clone(),
                Some(json!({ "instance_initiated_shutdown_behavior": "terminate" }))
            ))
            .unwrap(),
            QuarantineReversal::ShutdownBehaviourBack {
                instance_id: I.into(),
                behaviour: "terminate".into()
            }
        );
        for behaviour in ["stop", "hibernate; reboot", ""] {
            let prior = json!({ "instance_initiated_shutdown_behavior": behaviour });
            assert!(
                reversal(&step(stop.clone(), Some(prior))).is_err(),
                "{behaviour}"
            );
        }
    }

    #[test]
    fn evidence_and_exemptions_are_refused_with_the_reason() {
        let snapshot = json!({ "type": "snapshot-volume", "instance_id": I,
            "volume_id": "vol-01", "device": "/dev/xvda", "finding": "f", "event_id": "e",
            "earlier_quarantine": null });
        let why = reversal(&step(snapshot, None)).unwrap_err();
        assert!(
            why.0.starts_with("a forensic snapshot is evidence"),
            "{why:?}"
        );
        let exemption = json!({ "type": "remove-exemption-tag", "resource_id": I,
                                "key": "reflex:exempt", "value": "true" });
        let why = reversal(&step(exemption, Some(json!({ "tags": {} })))).unwrap_err();
        assert!(why.0.contains("undo grants no exemption"), "{why:?}");
    }

    #[test]
    fn a_step_that_changed_nothing_or_an_unknown_action_is_not_reversed() {
        let mut s = step(isolate(), isolated(json!([WEB])));
        s.outcome = Outcome::skipped("blast radius");
        assert!(reversal(&s).unwrap_err().0.contains("changed nothing"));
        assert!(reversal(&step(json!({ "type": "terminate" }), None)).is_err());
    }

    #[test]
    fn the_recorded_action_is_rebuilt_for_the_undo_of_an_undo() {
        let a = recorded(&step(isolate(), None)).unwrap();
        let QuarantineAction::Isolate {
            instance_id,
            interfaces,
            ..
        } = a
        else {
            panic!("{a:?}")
        };
        assert_eq!((instance_id.as_str(), interfaces.len()), (I, 1));
    }

    #[test]
    fn a_revoke_carried_out_again_finds_its_rules_by_what_they_allow() {
        let mut rule = ingress::rule("tcp", Some(22), Some(22), "0.0.0.0/0", None);
        rule.rule_id = Some("sgr-0123456789abcdef0".into());
        let action = QuarantineAction::RevokeIngress {
            group_id: WEB.into(),
            rules: vec![rule.clone()],
        };
        let s = step(serde_json::to_value(&action).unwrap(), None);
        let QuarantineAction::RevokeIngress { rules, .. } =
            Quarantine::recorded_action(&s).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            rules,
            [OpenedRule {
                rule_id: None,
                ..rule
            }]
        );
    }

    #[test]
    fn every_action_round_trips_through_the_ledgers_json() {
        let rule = ingress::rule("tcp", Some(22), Some(22), "0.0.0.0/0", None);
        let interface = Interface {
            id: ENI.into(),
            device_index: 0,
            groups: vec![WEB.into()],
        };
        for action in [
            QuarantineAction::RevokeIngress {
                group_id: WEB.into(),
                rules: vec![rule],
            },
            QuarantineAction::Isolate {
                instance_id: I.into(),
                vpc_id: "vpc-01".into(),
                quarantine_group: Some(Q.into()),
                interfaces: vec![interface.clone()],
            },
            QuarantineAction::RecordPreviousGroups {
                instance_id: I.into(),
                interfaces: vec![interface],
            },
            QuarantineAction::DetachFromAutoScalingGroup {
                instance_id: I.into(),
                group: "web-fleet".into(),
            },
            QuarantineAction::EnableTerminationProtection {
                instance_id: I.into(),
            },
            QuarantineAction::StopOnShutdown {
                instance_id: I.into(),
            },
            QuarantineAction::TagQuarantined {
                instance_id: I.into(),
                reason: "r".into(),
                earlier_quarantine: None,
            },
            QuarantineAction::RemoveExemptionTag {
                resource_id: I.into(),
                key: "reflex:exempt".into(),
                value: "true".into(),
            },
            QuarantineAction::SnapshotVolume {
                instance_id: I.into(),
                volume_id: "vol-01".into(),
                device: "/dev/xvda".into(),
                finding: "f".into(),
                event_id: "e".into(),
                earlier_quarantine: Some("2026-01-01T00:00:00Z".into()),
            },
        ] {
            let s = step(serde_json::to_value(&action).unwrap(), None);
            assert_eq!(recorded(&s).unwrap(), action);
        }
    }
}
