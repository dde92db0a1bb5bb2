//! Carrying out quarantine's plans through the EC2 and Auto Scaling APIs. Every action first reads
//! the current state, so a repeated delivery reports "already done"; every change records its
//! prior state and the command that undoes it. A fault is the outcome of its own step only: the
//! other steps still run.
//!
//! Each step returns a `Step`: `?` on a failed call stops it with that call's outcome (an
//! instance that no longer exists is a skip; anything else is a failure).

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::describe_instance_attribute::DescribeInstanceAttributeOutput;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, Instance, InstanceAttributeName, IpPermission, ResourceType,
    SecurityGroup, Tag, TagSpecification,
};
use chrono::{SecondsFormat, Utc};
use reflex_shared::aws::{self, CallError, failure};
use reflex_shared::outcome::settle;
use reflex_shared::{Outcome, Step, Undo};
use serde_json::{Value, json};

use crate::actions::{
    Interface, PREVIOUS_GROUPS_TAG_PREFIX, QUARANTINE_GROUP_NAME, QUARANTINE_GROUP_TAG,
    QUARANTINE_REASON_TAG, QUARANTINED_AT_TAG, QuarantineAction, SNAPSHOT_EVENT_TAG,
    SNAPSHOT_FINDING_TAG, SNAPSHOT_INSTANCE_TAG, tag_value,
};
use crate::facts::{self, MISSING_INSTANCE, describe_instance, find_quarantine_group};
use crate::ingress::OpenedRule;
use crate::undo;

pub async fn execute(
    ec2: &Client,
    autoscaling: &AutoScaling,
    action: &QuarantineAction,
) -> Outcome {
    settle(match action {
        QuarantineAction::RevokeIngress { group_id, rules } => {
            revoke_ingress(ec2, group_id, rules).await
        }
        QuarantineAction::Isolate {
            instance_id,
            vpc_id,
            ..
        } => isolate(ec2, instance_id, vpc_id).await,
        QuarantineAction::RecordPreviousGroups {
            instance_id,
            interfaces,
        } => record_previous_groups(ec2, instance_id, interfaces).await,
        QuarantineAction::DetachFromAutoScalingGroup { instance_id, group } => {
            detach(autoscaling, instance_id, group).await
        }
        QuarantineAction::EnableTerminationProtection { instance_id } => {
            termination_protection(ec2, instance_id).await
        }
        QuarantineAction::StopOnShutdown { instance_id } => {
            stop_on_shutdown(ec2, instance_id).await
        }
        QuarantineAction::TagQuarantined {
            instance_id,
            reason,
            earlier_quarantine,
        } => tag_quarantined(ec2, instance_id, reason, earlier_quarantine.as_deref()).await,
        QuarantineAction::SnapshotVolume {
            instance_id,
            volume_id,
            device,
            finding,
            event_id,
            earlier_quarantine,
        } => {
            let earlier = earlier_quarantine.as_deref();
            snapshot(
                ec2,
                instance_id,
                volume_id,
                device,
                finding,
                event_id,
                earlier,
            )
            .await
        }
    })
}

// ---- faults and small helpers ----

/// A failed call about an instance: `ec2:CreateTags failed with UnauthorizedOperation: ...`, or
/// a skip when the instance no longer exists.
fn on_instance<E>(call: &str, instance: &str, err: &SdkError<E, HttpResponse>) -> Outcome
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    aws::fault(call, err, MISSING_INSTANCE).or_gone(|| gone(instance))
}

fn gone(instance: &str) -> Outcome {
    Outcome::skipped(format!("instance {instance} no longer exists"))
}

/// The instance as EC2 has it now.
async fn current_instance(ec2: &Client, id: &str) -> Step<Instance> {
    match describe_instance(ec2, id).await {
        Ok(Some(i)) => Ok(i),
        Ok(None) => Err(gone(id)),
        Err(e) => Err(e.outcome("ec2:DescribeInstances")),
    }
}

/// One attribute of the instance as EC2 has it now.
async fn attribute(
    ec2: &Client,
    instance_id: &str,
    name: InstanceAttributeName,
) -> Step<DescribeInstanceAttributeOutput> {
    ec2.describe_instance_attribute()
        .instance_id(instance_id)
        .attribute(name)
        .send()
        .await
        .map_err(|e| on_instance("ec2:DescribeInstanceAttribute", instance_id, &e))
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

// ---- a security group opened to the world ----

async fn revoke_ingress(ec2: &Client, group_id: &str, rules: &[OpenedRule]) -> Step {
    let gone = || Outcome::already_done(format!("security group {group_id} no longer exists"));
    let current = ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group_id).build())
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            aws::fault(
                "ec2:DescribeSecurityGroupRules",
                &e,
                &["InvalidGroup.NotFound"],
            )
            .or_gone(gone)
        })?;
    // Each opened rule still on the group, by its id or, failing that, by what it allows.
    let present: Vec<(String, &OpenedRule)> = rules
        .iter()
        .filter_map(|r| {
            let found = current
                .iter()
                .filter(|c| c.is_egress() != Some(true))
                .find(|c| {
                    (r.rule_id.is_some() && c.security_group_rule_id() == r.rule_id.as_deref())
                        || r.same_rule(
                            c.ip_protocol().unwrap_or(""),
                            c.from_port(),
                            c.to_port(),
                            c.cidr_ipv4().or(c.cidr_ipv6()).unwrap_or(""),
                        )
                })?;
            Some((found.security_group_rule_id()?.to_string(), r))
        })
        .collect();
    if present.is_empty() {
        return Ok(Outcome::already_done(format!(
            "none of the opened rules remain on security group {group_id}"
        )));
    }
    let ids: Vec<String> = present.iter().map(|(id, _)| id.clone()).collect();
    ec2.revoke_security_group_ingress()
        .group_id(group_id)
        .set_security_group_rule_ids(Some(ids.clone()))
        .send()
        .await
        .map_err(|e| failure("ec2:RevokeSecurityGroupIngress", &e))?;
    let permissions: Vec<Value> = present.iter().map(|(_, r)| r.ip_permission()).collect();
    let revoked: Vec<String> = present
        .iter()
        .map(|(id, r)| format!("{id} ({} from {})", r.ports(), r.cidr))
        .collect();
    Ok(Outcome::done(
        format!(
            "revoked {} on security group {group_id}; its other rules are untouched",
            revoked.join(", ")
        ),
        Some(json!({ "security_group": group_id, "rule_ids": ids, "ip_permissions": permissions })),
        undo::authorize_again(group_id, &permissions),
    ))
}

// ---- isolation ----

async fn isolate(ec2: &Client, instance_id: &str, vpc_hint: &str) -> Step {
    let instance = current_instance(ec2, instance_id).await?;
    let vpc = instance.vpc_id().unwrap_or(vpc_hint).to_string();
    let interfaces = facts::interfaces(&instance);
    if interfaces.is_empty() {
        return Err(Outcome::failed(
            format!("instance {instance_id} has no network interface to isolate"),
            None,
        ));
    }
    let (group, created) = quarantine_group(ec2, &vpc).await?;
    let created_note = if created {
        format!("created quarantine group {group} ({QUARANTINE_GROUP_NAME}) in {vpc}; ")
    } else {
        String::new()
    };
    if interfaces.iter().all(|i| i.groups == [group.clone()]) {
        return Ok(Outcome::already_done(format!(
            "{created_note}instance {instance_id} already has quarantine group {group} as its only security group"
        )));
    }
    let undo_isolation = match interfaces.as_slice() {
        [only] => move_instance(ec2, instance_id, only, &group).await?,
        several => move_interfaces(ec2, instance_id, several, &group, &created_note).await?,
    };
    let was: Vec<String> = interfaces
        .iter()
        .map(|i| format!("{} had {}", i.id, i.groups.join(" ")))
        .collect();
    Ok(Outcome::done(
        format!(
            "{created_note}quarantine group {group} is now the only security group of instance {instance_id} ({})",
            was.join("; ")
        ),
        Some(json!({
            "interfaces": interfaces,
            "quarantine_group": group,
            "created_quarantine_group": created,
        })),
        undo_isolation,
    ))
}

/// One interface: its groups are the instance's. (With several interfaces EC2 refuses this call:
/// "There are multiple interfaces attached to instance".) Returns the undo command.
async fn move_instance(
    ec2: &Client,
    instance_id: &str,
    only: &Interface,
    group: &str,
) -> Step<Undo> {
    ec2.modify_instance_attribute()
        .instance_id(instance_id)
        .groups(group)
        .send()
        .await
        .map_err(|e| on_instance("ec2:ModifyInstanceAttribute", instance_id, &e))?;
    Ok(undo::instance_groups_back(instance_id, &only.groups))
}

/// Several interfaces: each not yet isolated, the primary one included, moved on its own.
/// Returns the undo commands.
async fn move_interfaces(
    ec2: &Client,
    instance_id: &str,
    interfaces: &[Interface],
    group: &str,
    created_note: &str,
) -> Step<Undo> {
    let to_move: Vec<&Interface> = interfaces.iter().filter(|i| i.groups != [group]).collect();
    let mut done = Vec::new();
    for eni in &to_move {
        ec2.modify_network_interface_attribute()
            .network_interface_id(&eni.id)
            .groups(group)
            .send()
            .await
            .map_err(|e| {
                let failed = on_instance("ec2:ModifyNetworkInterfaceAttribute", instance_id, &e);
                partly_isolated(failed, created_note, &eni.id, &done)
            })?;
        done.push(format!("{} (was {})", eni.id, eni.groups.join(" ")));
    }
    Ok(undo::interface_groups_back(&to_move))
}

/// A failure part-way through the interfaces says which were isolated already.
fn partly_isolated(failed: Outcome, created_note: &str, eni: &str, done: &[String]) -> Outcome {
    let Outcome::Failed {
        why,
        error_code,
        retryable,
    } = failed
    else {
        return failed;
    };
    let done = if done.is_empty() {
        "none".to_string()
    } else {
        done.join(", ")
    };
    Outcome::Failed {
        why: format!("{created_note}{why} on {eni}; already isolated: {done}"),
        error_code,
        retryable,
    }
}

/// The VPC's quarantine group, created if missing, with every rule removed; and whether it
/// was created now. A group found by its name is stripped whoever made it: only its lack of
/// rules makes it a quarantine.
async fn quarantine_group(ec2: &Client, vpc: &str) -> Step<(String, bool)> {
    let lookup_failed = |e: CallError| e.outcome("ec2:DescribeSecurityGroups");
    if let Some(existing) = find_quarantine_group(ec2, vpc)
        .await
        .map_err(lookup_failed)?
    {
        let id = existing.group_id().unwrap_or_default().to_string();
        strip(ec2, &existing).await?;
        return Ok((id, false));
    }
    let created = ec2
        .create_security_group()
        .group_name(QUARANTINE_GROUP_NAME)
        .description("Reflex quarantine: no inbound and no outbound traffic")
        .vpc_id(vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(tag(QUARANTINE_GROUP_TAG, "true"))
                .tags(tag("Name", QUARANTINE_GROUP_NAME))
                .build(),
        )
        .send()
        .await;
    let (id, created) = match created {
        Ok(out) => (out.group_id.unwrap_or_default(), true),
        // Another invocation created it first; EC2 may not list it yet.
        Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
            let found = find_quarantine_group(ec2, vpc)
                .await
                .map_err(lookup_failed)?
                .ok_or_else(|| {
                    Outcome::failed_for_now(
                        format!(
                            "{QUARANTINE_GROUP_NAME} exists in {vpc} (another invocation created it) but is not listed yet"
                        ),
                        Some("InvalidGroup.Duplicate".into()),
                    )
                })?;
            (found.group_id.unwrap_or_default(), false)
        }
        Err(e) => return Err(failure("ec2:CreateSecurityGroup", &e)),
    };
    // A new group allows all outbound traffic: remove that (and anything else) too. Not
    // listed yet (EC2 is eventually consistent), it is not used unstripped: the retry finds it
    // by its name.
    let unlisted = || {
        Outcome::failed_for_now(
            format!("quarantine group {id} in {vpc} is not listed yet: its rules are not removed"),
            None,
        )
    };
    let described = ec2
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .map_err(|e| {
            aws::fault("ec2:DescribeSecurityGroups", &e, &["InvalidGroup.NotFound"])
                .or_gone(unlisted)
        })?;
    let group = described.security_groups().first().ok_or_else(unlisted)?;
    strip(ec2, group).await?;
    Ok((id, created))
}

/// Remove every inbound and outbound rule of the quarantine group.
async fn strip(ec2: &Client, group: &SecurityGroup) -> Step<()> {
    let id = group.group_id().unwrap_or_default();
    let cleaned = |p: &[IpPermission]| (!p.is_empty()).then(|| p.to_vec());
    if let Some(ingress) = cleaned(group.ip_permissions()) {
        ec2.revoke_security_group_ingress()
            .group_id(id)
            .set_ip_permissions(Some(ingress))
            .send()
            .await
            .map_err(|e| failure("ec2:RevokeSecurityGroupIngress", &e))?;
    }
    if let Some(egress) = cleaned(group.ip_permissions_egress()) {
        ec2.revoke_security_group_egress()
            .group_id(id)
            .set_ip_permissions(Some(egress))
            .send()
            .await
            .map_err(|e| failure("ec2:RevokeSecurityGroupEgress", &e))?;
    }
    Ok(())
}

// ---- the other quarantine steps ----

async fn record_previous_groups(ec2: &Client, instance_id: &str, interfaces: &[Interface]) -> Step {
    let instance = current_instance(ec2, instance_id).await?;
    let tags = facts::tags(instance.tags());
    // The quarantine group is never recorded as a previous group (the plan leaves it out when
    // it knew the group; the instance's own description names it in any case).
    let quarantine = facts::quarantine_groups_of(&instance);
    // A tag already there with other groups is not this record (a released quarantine's, or set
    // by whoever may tag the instance, to have groups of their choice restored): replaced.
    let (mut recorded, mut writes) = (Vec::new(), Vec::new());
    for i in interfaces {
        let key = format!("{PREVIOUS_GROUPS_TAG_PREFIX}{}", i.id);
        let groups: Vec<&str> = i
            .groups
            .iter()
            .map(String::as_str)
            .filter(|g| !quarantine.contains(g))
            .collect();
        let have = tags.get(&key);
        if groups.is_empty() {
            // Isolated when planned: the record is the earlier quarantine's.
            if let Some(value) = have {
                recorded.push((key, value.clone()));
            }
            continue;
        }
        let value = tag_value(&groups.join(","));
        if have == Some(&value) {
            recorded.push((key, value));
        } else {
            writes.push((key, value));
        }
    }
    let shown = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if writes.is_empty() && recorded.is_empty() {
        return Ok(Outcome::skipped(format!(
            "instance {instance_id} was already isolated when this plan was made; its earlier groups are in the isolation step's prior state of the earlier report"
        )));
    }
    if writes.is_empty() {
        return Ok(Outcome::already_done(format!(
            "the previous groups are already recorded on instance {instance_id}: {}",
            shown(&recorded)
        )));
    }
    ec2.create_tags()
        .resources(instance_id)
        .set_tags(Some(writes.iter().map(|(k, v)| tag(k, v)).collect()))
        .send()
        .await
        .map_err(|e| on_instance("ec2:CreateTags", instance_id, &e))?;
    let keys: Vec<String> = writes.iter().map(|(k, _)| k.clone()).collect();
    let replaced: serde_json::Map<String, Value> = keys
        .iter()
        .filter_map(|k| Some((k.clone(), tags.get(k)?.clone().into())))
        .collect();
    Ok(Outcome::done(
        format!("recorded on instance {instance_id}: {}", shown(&writes)),
        Some(json!({ "tags": replaced })),
        undo::delete_tags(instance_id, &keys),
    ))
}

async fn detach(autoscaling: &AutoScaling, instance_id: &str, planned_group: &str) -> Step {
    let out = autoscaling
        .describe_auto_scaling_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| on_instance("autoscaling:DescribeAutoScalingInstances", instance_id, &e))?;
    let Some(member) = out.auto_scaling_instances().first() else {
        return Ok(Outcome::already_done(format!(
            "instance {instance_id} is in no Auto Scaling group (it was in {planned_group})"
        )));
    };
    let group = member.auto_scaling_group_name().unwrap_or(planned_group);
    let state = member.lifecycle_state().unwrap_or("");
    if state.starts_with("Detach") {
        return Ok(Outcome::already_done(format!(
            "instance {instance_id} is already {} from Auto Scaling group {group}",
            state.to_ascii_lowercase()
        )));
    }
    let described = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .map_err(|e| failure("autoscaling:DescribeAutoScalingGroups", &e))?;
    let desired = described
        .auto_scaling_groups()
        .first()
        .and_then(|g| g.desired_capacity());
    autoscaling
        .detach_instances()
        .auto_scaling_group_name(group)
        .instance_ids(instance_id)
        .should_decrement_desired_capacity(false)
        .send()
        .await
        .map_err(|e| failure("autoscaling:DetachInstances", &e))?;
    Ok(Outcome::done(
        format!(
            "detached instance {instance_id} from Auto Scaling group {group}; desired capacity stays {}, so the group launches a replacement (attaching it back raises the desired capacity by one)",
            desired
                .map(|d| d.to_string())
                .unwrap_or_else(|| "as it was".into())
        ),
        Some(json!({
            "auto_scaling_group": group,
            "lifecycle_state": state,
            "desired_capacity": desired,
        })),
        undo::attach_again(group, instance_id),
    ))
}

async fn termination_protection(ec2: &Client, instance_id: &str) -> Step {
    let out = attribute(
        ec2,
        instance_id,
        InstanceAttributeName::DisableApiTermination,
    )
    .await?;
    if out.disable_api_termination().and_then(|v| v.value()) == Some(true) {
        return Ok(Outcome::already_done(format!(
            "termination protection of instance {instance_id} is already on"
        )));
    }
    ec2.modify_instance_attribute()
        .instance_id(instance_id)
        .disable_api_termination(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .map_err(|e| on_instance("ec2:ModifyInstanceAttribute", instance_id, &e))?;
    Ok(Outcome::done(
        format!("turned on termination protection of instance {instance_id}"),
        Some(json!({ "disable_api_termination": false })),
        undo::termination_protection_off(instance_id),
    ))
}

async fn stop_on_shutdown(ec2: &Client, instance_id: &str) -> Step {
    let out = attribute(
        ec2,
        instance_id,
        InstanceAttributeName::InstanceInitiatedShutdownBehavior,
    )
    .await?;
    let before = out
        .instance_initiated_shutdown_behavior()
        .and_then(|v| v.value())
        .unwrap_or("stop")
        .to_string();
    if before == "stop" {
        return Ok(Outcome::already_done(format!(
            "a shutdown from inside instance {instance_id} already stops it"
        )));
    }
    // The `Attribute`/`Value` form of the call, as `--attribute ... --value stop`.
    ec2.modify_instance_attribute()
        .instance_id(instance_id)
        .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
        .value("stop")
        .send()
        .await
        .map_err(|e| on_instance("ec2:ModifyInstanceAttribute", instance_id, &e))?;
    Ok(Outcome::done(
        format!("shutdown behaviour of instance {instance_id}: {before} -> stop"),
        Some(json!({ "instance_initiated_shutdown_behavior": before })),
        undo::shutdown_behavior_back(instance_id, &before),
    ))
}

async fn tag_quarantined(
    ec2: &Client,
    instance_id: &str,
    reason: &str,
    earlier_quarantine: Option<&str>,
) -> Step {
    let instance = current_instance(ec2, instance_id).await?;
    let tags = facts::tags(instance.tags());
    let before = tags.get(QUARANTINED_AT_TAG);
    if let Some(at) = before
        && Some(at.as_str()) == earlier_quarantine
    {
        return Ok(Outcome::already_done(format!(
            "instance {instance_id} is already tagged as quarantined at {at}"
        )));
    }
    // Any other quarantined-at tag is not a quarantine in place (see the plan): replaced, so
    // that the snapshots are this quarantine's.
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    ec2.create_tags()
        .resources(instance_id)
        .tags(tag(QUARANTINED_AT_TAG, &at))
        .tags(tag(QUARANTINE_REASON_TAG, &tag_value(reason)))
        .send()
        .await
        .map_err(|e| on_instance("ec2:CreateTags", instance_id, &e))?;
    Ok(Outcome::done(
        format!(
            "tagged instance {instance_id}: {QUARANTINED_AT_TAG}={at}, {QUARANTINE_REASON_TAG}"
        ),
        Some(json!({ "tags": {
            QUARANTINED_AT_TAG: before,
            QUARANTINE_REASON_TAG: tags.get(QUARANTINE_REASON_TAG),
        } })),
        undo::delete_tags(
            instance_id,
            &[
                QUARANTINED_AT_TAG.to_string(),
                QUARANTINE_REASON_TAG.to_string(),
            ],
        ),
    ))
}

async fn snapshot(
    ec2: &Client,
    instance_id: &str,
    volume_id: &str,
    device: &str,
    finding: &str,
    event_id: &str,
    earlier_quarantine: Option<&str>,
) -> Step {
    // Tagged with the instance's quarantine time (written by the step before): this quarantine.
    let instance = current_instance(ec2, instance_id).await?;
    let quarantined_at = facts::tags(instance.tags())
        .get(QUARANTINED_AT_TAG)
        .cloned();
    if let Some(existing) =
        existing_snapshot(ec2, instance_id, volume_id, event_id, earlier_quarantine).await?
    {
        return Ok(Outcome::already_done(format!(
            "volume {volume_id} of instance {instance_id} is already snapshotted as {existing}"
        )));
    }
    let mut tags = TagSpecification::builder()
        .resource_type(ResourceType::Snapshot)
        .tags(tag(
            "Name",
            &format!("reflex-quarantine {instance_id} {device}"),
        ))
        .tags(tag(SNAPSHOT_INSTANCE_TAG, instance_id))
        .tags(tag(SNAPSHOT_FINDING_TAG, &tag_value(finding)))
        .tags(tag(SNAPSHOT_EVENT_TAG, event_id));
    if let Some(at) = &quarantined_at {
        tags = tags.tags(tag(QUARANTINED_AT_TAG, at));
    }
    let created = ec2
        .create_snapshot()
        .volume_id(volume_id)
        .description(tag_value(&format!(
            "Reflex quarantine of {instance_id} ({device}): {finding}"
        )))
        .tag_specifications(tags.build())
        .send()
        .await
        .map_err(|e| match e.code() {
            Some("InvalidVolume.NotFound") => {
                Outcome::skipped(format!("volume {volume_id} no longer exists"))
            }
            _ => on_instance("ec2:CreateSnapshot", instance_id, &e),
        })?;
    let snapshot = created.snapshot_id.unwrap_or_default();
    Ok(Outcome::done(
        format!(
            "snapshot {snapshot} of volume {volume_id} ({device}) started, tagged with the finding; keep it until the investigation is closed"
        ),
        None,
        undo::delete_snapshot(&snapshot),
    ))
}

/// The id of a snapshot of the volume taken already: for this event, or during the quarantine
/// in place when planned (another finding about an instance already quarantined). Snapshots of
/// an earlier, released quarantine do not count, nor any tagged with a quarantine time the plan
/// did not find in place (anyone may tag a snapshot of their own).
async fn existing_snapshot(
    ec2: &Client,
    instance_id: &str,
    volume_id: &str,
    event_id: &str,
    earlier_quarantine: Option<&str>,
) -> Step<Option<String>> {
    let existing = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(
            Filter::builder()
                .name("volume-id")
                .values(volume_id)
                .build(),
        )
        .filters(
            Filter::builder()
                .name(format!("tag:{SNAPSHOT_INSTANCE_TAG}"))
                .values(instance_id)
                .build(),
        )
        .send()
        .await
        .map_err(|e| failure("ec2:DescribeSnapshots", &e))?;
    let found = existing.snapshots().iter().find(|s| {
        let tags = facts::tags(s.tags());
        let tagged = |key: &str, value: Option<&str>| {
            value.is_some() && tags.get(key).map(String::as_str) == value
        };
        s.state().map(|st| st.as_str()) != Some("error")
            && (tagged(SNAPSHOT_EVENT_TAG, Some(event_id))
                || tagged(QUARANTINED_AT_TAG, earlier_quarantine))
    });
    Ok(found.map(|s| s.snapshot_id().unwrap_or("?").to_string()))
}
