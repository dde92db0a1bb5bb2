//! Read-only EC2 and Auto Scaling lookups the rules need before they can decide. The executor
//! reads through the same helpers, so plan and action see state the same way.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, Instance, SecurityGroup};
use reflex_shared::aws::error_text;
use reflex_shared::event::Event;

use crate::action::{Interface, QUARANTINE_GROUP_TAG};
use crate::rules::{self, Facts, InstanceFacts, InstanceLookup};
use crate::settings::Settings;

/// The tag Auto Scaling puts on the instances it launches.
pub const AUTO_SCALING_GROUP_TAG: &str = "aws:autoscaling:groupName";

/// Gather the facts for one event. A failed lookup leaves that fact unknown and adds a note.
pub async fn gather(
    ec2: &Client,
    autoscaling: &aws_sdk_autoscaling::Client,
    event: &Event,
    settings: &Settings,
) -> (Facts, Vec<String>) {
    let mut facts = Facts::default();
    let mut notes = Vec::new();
    if let Event::ApiCall { call, .. } = event
        && let Some(group) = rules::opens_to_world(call, settings)
    {
        match ec2
            .describe_security_groups()
            .group_ids(&group)
            .send()
            .await
        {
            Ok(out) => {
                facts.group_tags = out.security_groups().first().map(|g| tags(g.tags()));
                if facts.group_tags.is_none() {
                    notes.push(format!("security group {group} no longer exists"));
                }
            }
            Err(e) if e.code() == Some("InvalidGroup.NotFound") => {
                notes.push(format!("security group {group} no longer exists"))
            }
            Err(e) => notes.push(format!(
                "could not read the tags of security group {group}, treated as not exempt: {}",
                error_text(&e)
            )),
        }
    }
    for id in rules::instances_to_look_up(event, settings) {
        let lookup = instance(ec2, autoscaling, &id, &mut notes).await;
        facts.instances.insert(id, lookup);
    }
    (facts, notes)
}

async fn instance(
    ec2: &Client,
    autoscaling: &aws_sdk_autoscaling::Client,
    id: &str,
    notes: &mut Vec<String>,
) -> InstanceLookup {
    let found = match describe_instance(ec2, id).await {
        Ok(Some(i)) => i,
        Ok(None) => return InstanceLookup::Missing,
        Err(e) => {
            notes.push(format!("could not describe instance {id}: {e}"));
            return InstanceLookup::Unreadable(e);
        }
    };
    let tags = tags(found.tags());
    let vpc_id = found.vpc_id().map(String::from);
    let quarantine_group = match &vpc_id {
        Some(vpc) => match find_quarantine_group(ec2, vpc).await {
            Ok(g) => g.and_then(|g| g.group_id),
            Err(e) => {
                notes.push(format!(
                    "could not look for the quarantine group in {vpc}: {e}"
                ));
                None
            }
        },
        None => None,
    };
    let auto_scaling_group = match autoscaling
        .describe_auto_scaling_instances()
        .instance_ids(id)
        .send()
        .await
    {
        Ok(out) => out
            .auto_scaling_instances()
            .first()
            .and_then(|i| i.auto_scaling_group_name())
            .map(String::from),
        Err(e) => {
            let from_tag = tags.get(AUTO_SCALING_GROUP_TAG).cloned();
            notes.push(format!(
                "could not ask Auto Scaling about instance {id} ({}); {}",
                error_text(&e),
                match &from_tag {
                    Some(g) => format!("its {AUTO_SCALING_GROUP_TAG} tag names {g}"),
                    None => "treated as in no Auto Scaling group".into(),
                }
            ));
            from_tag
        }
    };
    InstanceLookup::Found(InstanceFacts {
        instance_id: id.to_string(),
        state: found
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        vpc_id,
        interfaces: interfaces(&found),
        volumes: volumes(&found),
        tags,
        auto_scaling_group,
        quarantine_group,
    })
}

/// The instance, `None` when EC2 does not know it, or why it could not be read.
pub async fn describe_instance(ec2: &Client, id: &str) -> Result<Option<Instance>, String> {
    match ec2.describe_instances().instance_ids(id).send().await {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(id))
            .cloned()),
        Err(e) if is_missing_instance(e.code()) => Ok(None),
        Err(e) => Err(error_text(&e)),
    }
}

/// EC2's answers for an instance that is not (or no longer) there.
pub const MISSING_INSTANCE: &[&str] =
    &["InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"];

pub fn is_missing_instance(code: Option<&str>) -> bool {
    code.is_some_and(|c| MISSING_INSTANCE.contains(&c))
}

/// The instance's network interfaces and their security groups, primary first.
///
/// With one interface, its groups are the instance's groups: `ModifyInstanceAttribute`, which
/// Reflex uses to change them, reads and writes them as the instance's, so they are read that
/// way too. With several interfaces each is read (and changed) on its own.
pub fn interfaces(instance: &Instance) -> Vec<Interface> {
    let ids = |groups: &[aws_sdk_ec2::types::GroupIdentifier]| -> Vec<String> {
        groups
            .iter()
            .filter_map(|g| g.group_id().map(String::from))
            .collect()
    };
    let mut out: Vec<Interface> = instance
        .network_interfaces()
        .iter()
        .filter_map(|n| {
            Some(Interface {
                id: n.network_interface_id()?.to_string(),
                device_index: n.attachment().and_then(|a| a.device_index()).unwrap_or(0),
                groups: ids(n.groups()),
            })
        })
        .collect();
    out.sort_by_key(|i| i.device_index);
    if let [only] = out.as_mut_slice()
        && !instance.security_groups().is_empty()
    {
        only.groups = ids(instance.security_groups());
    }
    out
}

/// Attached EBS volumes: id and device name.
pub fn volumes(instance: &Instance) -> Vec<(String, String)> {
    instance
        .block_device_mappings()
        .iter()
        .filter_map(|m| {
            let volume = m.ebs()?.volume_id()?;
            Some((
                volume.to_string(),
                m.device_name().unwrap_or("?").to_string(),
            ))
        })
        .collect()
}

/// The VPC's quarantine group: the one carrying Reflex's quarantine-group tag.
pub async fn find_quarantine_group(
    ec2: &Client,
    vpc_id: &str,
) -> Result<Option<SecurityGroup>, String> {
    let out = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(
            Filter::builder()
                .name(format!("tag:{QUARANTINE_GROUP_TAG}"))
                .values("true")
                .build(),
        )
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    let mut groups = out.security_groups.unwrap_or_default();
    // More than one (two invocations racing to create it): always pick the same one.
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    Ok(groups.into_iter().next())
}

pub fn tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}
