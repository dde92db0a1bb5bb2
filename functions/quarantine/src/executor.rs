//! Carrying out quarantine's plans through the EC2 and Auto Scaling APIs. Every action first reads
//! the current state, so a repeated delivery reports "already done"; every change records its
//! prior state and the command that undoes it. A fault is the outcome of its own step only: the
//! other steps still run.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, InstanceAttributeName, IpPermission, ResourceType,
    SecurityGroup, Tag, TagSpecification,
};
use chrono::{SecondsFormat, Utc};
use reflex_shared::Outcome;
use reflex_shared::aws::{self, Fault, shell_arg};
use serde_json::{Value, json};

use crate::action::{
    Interface, PREVIOUS_GROUPS_TAG_PREFIX, QUARANTINE_GROUP_NAME, QUARANTINE_GROUP_TAG,
    QUARANTINE_REASON_TAG, QUARANTINED_AT_TAG, QuarantineAction, SNAPSHOT_EVENT_TAG,
    SNAPSHOT_FINDING_TAG, SNAPSHOT_INSTANCE_TAG, tag_value,
};
use crate::facts::{self, MISSING_INSTANCE, describe_instance, find_quarantine_group};
use crate::ingress::OpenedRule;

#[derive(Debug, Clone)]
pub struct Ec2Executor {
    ec2: Client,
    autoscaling: aws_sdk_autoscaling::Client,
}

/// A failed call as an outcome: `ec2:CreateSnapshot failed with UnauthorizedOperation: ...`;
/// an instance that no longer exists is a skip, not a failure.
fn fault<E>(call: &str, instance: Option<&str>, err: SdkError<E, HttpResponse>) -> Outcome
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // "Not found" means the instance is gone only when the call is about one.
    let gone_codes = if instance.is_some() {
        MISSING_INSTANCE
    } else {
        &[]
    };
    match aws::fault(call, &err, gone_codes) {
        Fault::Gone => gone(instance.unwrap_or_default()),
        Fault::Failed(outcome) => outcome,
    }
}

fn gone(instance: &str) -> Outcome {
    Outcome::Skipped {
        why: format!("instance {instance} no longer exists"),
    }
}

/// Unwrap a result, or return the step's outcome for the fault.
macro_rules! attempt {
    ($call:literal, $instance:expr, $fut:expr) => {
        match $fut.await {
            Ok(v) => v,
            Err(e) => return fault($call, $instance, e),
        }
    };
}

/// The instance as EC2 has it now, or the step's outcome.
macro_rules! current_instance {
    ($self:ident, $id:expr) => {
        match describe_instance(&$self.ec2, $id).await {
            Ok(Some(i)) => i,
            Ok(None) => return gone($id),
            Err(e) => return Outcome::failed(format!("ec2:DescribeInstances failed: {e}"), None),
        }
    };
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// `--tags Key=a Key=b`, for `aws ec2 delete-tags`.
fn delete_tags(instance: &str, keys: &[String]) -> String {
    let keys: Vec<String> = keys.iter().map(|k| format!("Key={k}")).collect();
    format!(
        "aws ec2 delete-tags --resources {instance} --tags {}",
        keys.join(" ")
    )
}

impl Ec2Executor {
    pub fn new(ec2: Client, autoscaling: aws_sdk_autoscaling::Client) -> Self {
        Self { ec2, autoscaling }
    }

    pub async fn execute(&self, action: &QuarantineAction) -> Outcome {
        match action {
            QuarantineAction::RevokeIngress { group_id, rules } => {
                self.revoke_ingress(group_id, rules).await
            }
            QuarantineAction::Isolate {
                instance_id,
                vpc_id,
                ..
            } => self.isolate(instance_id, vpc_id).await,
            QuarantineAction::RecordPreviousGroups {
                instance_id,
                interfaces,
            } => self.record_previous_groups(instance_id, interfaces).await,
            QuarantineAction::DetachFromAutoScalingGroup { instance_id, group } => {
                self.detach(instance_id, group).await
            }
            QuarantineAction::EnableTerminationProtection { instance_id } => {
                self.termination_protection(instance_id).await
            }
            QuarantineAction::StopOnShutdown { instance_id } => {
                self.stop_on_shutdown(instance_id).await
            }
            QuarantineAction::TagQuarantined {
                instance_id,
                reason,
            } => self.tag_quarantined(instance_id, reason).await,
            QuarantineAction::SnapshotVolume {
                instance_id,
                volume_id,
                device,
                finding,
                event_id,
            } => {
                self.snapshot(instance_id, volume_id, device, finding, event_id)
                    .await
            }
        }
    }

    async fn revoke_ingress(&self, group_id: &str, rules: &[OpenedRule]) -> Outcome {
        let current = self
            .ec2
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(group_id).build())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await;
        let current = match current {
            Ok(c) => c,
            Err(e) if matches!(e.code(), Some("InvalidGroup.NotFound")) => {
                return Outcome::already_done(format!(
                    "security group {group_id} no longer exists"
                ));
            }
            Err(e) => return fault("ec2:DescribeSecurityGroupRules", None, e),
        };
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
            return Outcome::already_done(format!(
                "none of the opened rules remain on security group {group_id}"
            ));
        }
        let ids: Vec<String> = present.iter().map(|(id, _)| id.clone()).collect();
        attempt!(
            "ec2:RevokeSecurityGroupIngress",
            None,
            self.ec2
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_security_group_rule_ids(Some(ids.clone()))
                .send()
        );
        let permissions: Vec<Value> = present.iter().map(|(_, r)| r.ip_permission()).collect();
        let revoked: Vec<String> = present
            .iter()
            .map(|(id, r)| format!("{id} ({} from {})", r.ports(), r.cidr))
            .collect();
        Outcome::done(
            format!(
                "revoked {} on security group {group_id}; its other rules are untouched",
                revoked.join(", ")
            ),
            Some(
                json!({ "security_group": group_id, "rule_ids": ids, "ip_permissions": permissions }),
            ),
            format!(
                "aws ec2 authorize-security-group-ingress --group-id {group_id} --ip-permissions {}",
                shell_arg(&Value::Array(permissions.clone()).to_string())
            ),
        )
    }

    async fn isolate(&self, instance_id: &str, vpc_hint: &str) -> Outcome {
        let instance = current_instance!(self, instance_id);
        let vpc = instance.vpc_id().unwrap_or(vpc_hint).to_string();
        let interfaces = facts::interfaces(&instance);
        if interfaces.is_empty() {
            return Outcome::failed(
                format!("instance {instance_id} has no network interface to isolate"),
                None,
            );
        }
        let (group, created) = match self.quarantine_group(&vpc).await {
            Ok(g) => g,
            Err(outcome) => return outcome,
        };
        let isolated = |i: &Interface| i.groups == [group.clone()];
        let created_note = if created {
            format!("created quarantine group {group} ({QUARANTINE_GROUP_NAME}) in {vpc}; ")
        } else {
            String::new()
        };
        if interfaces.iter().all(isolated) {
            return Outcome::already_done(format!(
                "{created_note}instance {instance_id} already has quarantine group {group} as its only security group"
            ));
        }
        let undo: Vec<String>;
        if let [only] = interfaces.as_slice() {
            // One interface: the instance's groups. (With several interfaces EC2 refuses this
            // call: "There are multiple interfaces attached to instance".)
            attempt!(
                "ec2:ModifyInstanceAttribute",
                Some(instance_id),
                self.ec2
                    .modify_instance_attribute()
                    .instance_id(instance_id)
                    .groups(&group)
                    .send()
            );
            undo = vec![format!(
                "aws ec2 modify-instance-attribute --instance-id {instance_id} --groups {}",
                only.groups.join(" ")
            )];
        } else {
            let mut done = Vec::new();
            for eni in interfaces.iter().filter(|i| !isolated(i)) {
                let result = self
                    .ec2
                    .modify_network_interface_attribute()
                    .network_interface_id(&eni.id)
                    .groups(&group)
                    .send()
                    .await;
                if let Err(e) = result {
                    let failed = fault("ec2:ModifyNetworkInterfaceAttribute", Some(instance_id), e);
                    return match failed {
                        Outcome::Failed { why, error_code } => Outcome::failed(
                            format!(
                                "{created_note}{why} on {}; already isolated: {}",
                                eni.id,
                                if done.is_empty() {
                                    "none".to_string()
                                } else {
                                    done.join(", ")
                                }
                            ),
                            error_code,
                        ),
                        other => other,
                    };
                }
                done.push(format!("{} (was {})", eni.id, eni.groups.join(" ")));
            }
            undo = interfaces
                .iter()
                .filter(|i| !isolated(i))
                .map(|i| {
                    format!(
                        "aws ec2 modify-network-interface-attribute --network-interface-id {} --groups {}",
                        i.id,
                        i.groups.join(" ")
                    )
                })
                .collect();
        }
        let was: Vec<String> = interfaces
            .iter()
            .map(|i| format!("{} had {}", i.id, i.groups.join(" ")))
            .collect();
        Outcome::done(
            format!(
                "{created_note}quarantine group {group} is now the only security group of instance {instance_id} ({})",
                was.join("; ")
            ),
            Some(json!({
                "interfaces": interfaces,
                "quarantine_group": group,
                "created_quarantine_group": created,
            })),
            undo.join(" && "),
        )
    }

    /// The VPC's quarantine group, created if missing, with every rule removed; and whether it
    /// was created now.
    async fn quarantine_group(&self, vpc: &str) -> Result<(String, bool), Outcome> {
        let lookup_failed =
            |e: String| Outcome::failed(format!("ec2:DescribeSecurityGroups failed: {e}"), None);
        if let Some(existing) = find_quarantine_group(&self.ec2, vpc)
            .await
            .map_err(lookup_failed)?
        {
            let id = existing.group_id().unwrap_or_default().to_string();
            self.strip(&existing).await?;
            return Ok((id, false));
        }
        let created = self
            .ec2
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
            // Another invocation created it first.
            Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
                match find_quarantine_group(&self.ec2, vpc)
                    .await
                    .map_err(lookup_failed)?
                {
                    Some(g) => (g.group_id.unwrap_or_default(), false),
                    None => {
                        return Err(Outcome::failed(
                            format!(
                                "a security group named {QUARANTINE_GROUP_NAME} already exists in {vpc} without the tag {QUARANTINE_GROUP_TAG}=true: tag it (if it is Reflex's) or rename it"
                            ),
                            Some("InvalidGroup.Duplicate".into()),
                        ));
                    }
                }
            }
            Err(e) => return Err(fault("ec2:CreateSecurityGroup", None, e)),
        };
        // A new group allows all outbound traffic: remove that (and anything else) too.
        let described = self
            .ec2
            .describe_security_groups()
            .group_ids(&id)
            .send()
            .await
            .map_err(|e| fault("ec2:DescribeSecurityGroups", None, e))?;
        if let Some(g) = described.security_groups().first() {
            self.strip(g).await?;
        }
        Ok((id, created))
    }

    /// Remove every inbound and outbound rule of the quarantine group.
    async fn strip(&self, group: &SecurityGroup) -> Result<(), Outcome> {
        let id = group.group_id().unwrap_or_default();
        let cleaned = |p: &[IpPermission]| (!p.is_empty()).then(|| p.to_vec());
        if let Some(ingress) = cleaned(group.ip_permissions()) {
            self.ec2
                .revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(ingress))
                .send()
                .await
                .map_err(|e| fault("ec2:RevokeSecurityGroupIngress", None, e))?;
        }
        if let Some(egress) = cleaned(group.ip_permissions_egress()) {
            self.ec2
                .revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(egress))
                .send()
                .await
                .map_err(|e| fault("ec2:RevokeSecurityGroupEgress", None, e))?;
        }
        Ok(())
    }

    async fn record_previous_groups(&self, instance_id: &str, interfaces: &[Interface]) -> Outcome {
        let instance = current_instance!(self, instance_id);
        let tags = facts::tags(instance.tags());
        let key = |i: &Interface| format!("{PREVIOUS_GROUPS_TAG_PREFIX}{}", i.id);
        let unrecorded: Vec<&Interface> = interfaces
            .iter()
            .filter(|i| !tags.contains_key(&key(i)))
            .collect();
        if unrecorded.is_empty() {
            let recorded: Vec<String> = interfaces
                .iter()
                .map(|i| format!("{}={}", key(i), tags[&key(i)]))
                .collect();
            return Outcome::already_done(format!(
                "the previous groups are already recorded on instance {instance_id}: {}",
                recorded.join(", ")
            ));
        }
        let writes: Vec<(String, String)> = unrecorded
            .iter()
            .filter(|i| !i.groups.is_empty())
            .map(|i| (key(i), tag_value(&i.groups.join(","))))
            .collect();
        if writes.is_empty() {
            return Outcome::Skipped {
                why: format!(
                    "instance {instance_id} was already isolated when this plan was made; its earlier groups are in the isolation step's prior state of the earlier report"
                ),
            };
        }
        attempt!(
            "ec2:CreateTags",
            Some(instance_id),
            self.ec2
                .create_tags()
                .resources(instance_id)
                .set_tags(Some(writes.iter().map(|(k, v)| tag(k, v)).collect()))
                .send()
        );
        let keys: Vec<String> = writes.iter().map(|(k, _)| k.clone()).collect();
        let shown: Vec<String> = writes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Outcome::done(
            format!("recorded on instance {instance_id}: {}", shown.join(", ")),
            Some(json!({ "tags": {} })),
            delete_tags(instance_id, &keys),
        )
    }

    async fn detach(&self, instance_id: &str, planned_group: &str) -> Outcome {
        let out = attempt!(
            "autoscaling:DescribeAutoScalingInstances",
            Some(instance_id),
            self.autoscaling
                .describe_auto_scaling_instances()
                .instance_ids(instance_id)
                .send()
        );
        let Some(member) = out.auto_scaling_instances().first() else {
            return Outcome::already_done(format!(
                "instance {instance_id} is in no Auto Scaling group (it was in {planned_group})"
            ));
        };
        let group = member.auto_scaling_group_name().unwrap_or(planned_group);
        let state = member.lifecycle_state().unwrap_or("");
        if state.starts_with("Detach") {
            return Outcome::already_done(format!(
                "instance {instance_id} is already {} from Auto Scaling group {group}",
                state.to_ascii_lowercase()
            ));
        }
        let described = attempt!(
            "autoscaling:DescribeAutoScalingGroups",
            None,
            self.autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(group)
                .send()
        );
        let desired = described
            .auto_scaling_groups()
            .first()
            .and_then(|g| g.desired_capacity());
        attempt!(
            "autoscaling:DetachInstances",
            None,
            self.autoscaling
                .detach_instances()
                .auto_scaling_group_name(group)
                .instance_ids(instance_id)
                .should_decrement_desired_capacity(false)
                .send()
        );
        Outcome::done(
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
            format!(
                "aws autoscaling attach-instances --auto-scaling-group-name {} --instance-ids {instance_id}",
                shell_arg(group)
            ),
        )
    }

    async fn termination_protection(&self, instance_id: &str) -> Outcome {
        let out = attempt!(
            "ec2:DescribeInstanceAttribute",
            Some(instance_id),
            self.ec2
                .describe_instance_attribute()
                .instance_id(instance_id)
                .attribute(InstanceAttributeName::DisableApiTermination)
                .send()
        );
        if out.disable_api_termination().and_then(|v| v.value()) == Some(true) {
            return Outcome::already_done(format!(
                "termination protection of instance {instance_id} is already on"
            ));
        }
        attempt!(
            "ec2:ModifyInstanceAttribute",
            Some(instance_id),
            self.ec2
                .modify_instance_attribute()
                .instance_id(instance_id)
                .disable_api_termination(AttributeBooleanValue::builder().value(true).build())
                .send()
        );
        Outcome::done(
            format!("turned on termination protection of instance {instance_id}"),
            Some(json!({ "disable_api_termination": false })),
            format!(
                "aws ec2 modify-instance-attribute --instance-id {instance_id} --no-disable-api-termination"
            ),
        )
    }

    async fn stop_on_shutdown(&self, instance_id: &str) -> Outcome {
        let out = attempt!(
            "ec2:DescribeInstanceAttribute",
            Some(instance_id),
            self.ec2
                .describe_instance_attribute()
                .instance_id(instance_id)
                .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
                .send()
        );
        let before = out
            .instance_initiated_shutdown_behavior()
            .and_then(|v| v.value())
            .unwrap_or("stop")
            .to_string();
        if before == "stop" {
            return Outcome::already_done(format!(
                "a shutdown from inside instance {instance_id} already stops it"
            ));
        }
        // The `Attribute`/`Value` form of the call, as `--attribute ... --value stop`.
        attempt!(
            "ec2:ModifyInstanceAttribute",
            Some(instance_id),
            self.ec2
                .modify_instance_attribute()
                .instance_id(instance_id)
                .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
                .value("stop")
                .send()
        );
        Outcome::done(
            format!("shutdown behaviour of instance {instance_id}: {before} -> stop"),
            Some(json!({ "instance_initiated_shutdown_behavior": before })),
            format!(
                "aws ec2 modify-instance-attribute --instance-id {instance_id} --instance-initiated-shutdown-behavior {before}"
            ),
        )
    }

    async fn tag_quarantined(&self, instance_id: &str, reason: &str) -> Outcome {
        let instance = current_instance!(self, instance_id);
        let tags = facts::tags(instance.tags());
        if let Some(at) = tags.get(QUARANTINED_AT_TAG) {
            return Outcome::already_done(format!(
                "instance {instance_id} is already tagged as quarantined at {at}"
            ));
        }
        let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        attempt!(
            "ec2:CreateTags",
            Some(instance_id),
            self.ec2
                .create_tags()
                .resources(instance_id)
                .tags(tag(QUARANTINED_AT_TAG, &at))
                .tags(tag(QUARANTINE_REASON_TAG, &tag_value(reason)))
                .send()
        );
        Outcome::done(
            format!(
                "tagged instance {instance_id}: {QUARANTINED_AT_TAG}={at}, {QUARANTINE_REASON_TAG}"
            ),
            Some(json!({ "tags": {} })),
            delete_tags(
                instance_id,
                &[
                    QUARANTINED_AT_TAG.to_string(),
                    QUARANTINE_REASON_TAG.to_string(),
                ],
            ),
        )
    }

    async fn snapshot(
        &self,
        instance_id: &str,
        volume_id: &str,
        device: &str,
        finding: &str,
        event_id: &str,
    ) -> Outcome {
        // The quarantine this snapshot belongs to: the instance's quarantine time, when tagged.
        let instance = current_instance!(self, instance_id);
        let quarantined_at = facts::tags(instance.tags())
            .get(QUARANTINED_AT_TAG)
            .cloned();
        let existing = attempt!(
            "ec2:DescribeSnapshots",
            None,
            self.ec2
                .describe_snapshots()
                .owner_ids("self")
                .filters(
                    Filter::builder()
                        .name("volume-id")
                        .values(volume_id)
                        .build()
                )
                .filters(
                    Filter::builder()
                        .name(format!("tag:{SNAPSHOT_INSTANCE_TAG}"))
                        .values(instance_id)
                        .build()
                )
                .send()
        );
        // Taken already for this event, or during this quarantine (another finding about an
        // instance already quarantined). Snapshots of an earlier, released quarantine do not count.
        let taken = existing.snapshots().iter().find(|s| {
            let tags = facts::tags(s.tags());
            s.state().map(|st| st.as_str()) != Some("error")
                && (tags.get(SNAPSHOT_EVENT_TAG).map(String::as_str) == Some(event_id)
                    || (quarantined_at.is_some()
                        && tags.get(QUARANTINED_AT_TAG) == quarantined_at.as_ref()))
        });
        if let Some(s) = taken {
            return Outcome::already_done(format!(
                "volume {volume_id} of instance {instance_id} is already snapshotted as {}",
                s.snapshot_id().unwrap_or("?")
            ));
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
        let created = self
            .ec2
            .create_snapshot()
            .volume_id(volume_id)
            .description(tag_value(&format!(
                "Reflex quarantine of {instance_id} ({device}): {finding}"
            )))
            .tag_specifications(tags.build())
            .send()
            .await;
        let snapshot = match created {
            Ok(out) => out.snapshot_id.unwrap_or_default(),
            Err(e) if e.code() == Some("InvalidVolume.NotFound") => {
                return Outcome::Skipped {
                    why: format!("volume {volume_id} no longer exists"),
                };
            }
            Err(e) => return fault("ec2:CreateSnapshot", Some(instance_id), e),
        };
        Outcome::done(
            format!(
                "snapshot {snapshot} of volume {volume_id} ({device}) started, tagged with the finding; keep it until the investigation is closed"
            ),
            None,
            format!("aws ec2 delete-snapshot --snapshot-id {snapshot}"),
        )
    }
}
