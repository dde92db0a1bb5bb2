//! Read-only EC2 and Auto Scaling lookups: the instances a quarantine request names, read
//! before the rules decide, and the tags of an instance or security group, read by the pipeline
//! for exemptions. The executor reads through the same helpers, so plan and action see state the
//! same way.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, Instance, SecurityGroup};
use reflex_shared::Notes;
use reflex_shared::aws::CallError;
use reflex_shared::exemption::Tags;

use crate::actions::{Interface, QUARANTINE_GROUP_NAME};
use crate::trigger::Trigger;

/// The tag Auto Scaling puts on the instances it launches.
pub const AUTO_SCALING_GROUP_TAG: &str = "aws:autoscaling:groupName";

/// What the rules need beyond the event: each instance a quarantine request names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
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
    pub tags: Tags,
    pub auto_scaling_group: Option<String>,
    /// The VPC's quarantine group, when it exists.
    pub quarantine_group: Option<String>,
}

/// Look up exactly the instances the trigger names; a security group opened to the world needs
/// nothing more than the event. A failed lookup is said in `notes` and in the fact itself.
pub async fn gather(
    ec2: &Client,
    autoscaling: &AutoScaling,
    trigger: &Trigger,
    notes: &mut Notes,
) -> Facts {
    let mut facts = Facts::default();
    if let Trigger::Quarantine(request) = trigger {
        for id in &request.instances {
            let lookup = instance(ec2, autoscaling, id, notes).await;
            facts.instances.insert(id.clone(), lookup);
        }
    }
    facts
}

async fn instance(
    ec2: &Client,
    autoscaling: &AutoScaling,
    id: &str,
    notes: &mut Notes,
) -> InstanceLookup {
    let found = match describe_instance(ec2, id).await {
        Ok(Some(i)) => i,
        Ok(None) => return InstanceLookup::Missing,
        Err(e) => {
            notes.failed(
                format!("could not describe instance {id}: {e}"),
                e.transient,
            );
            return InstanceLookup::Unreadable(e.why);
        }
    };
    let tags = tags(found.tags());
    let vpc_id = found.vpc_id().map(String::from);
    let quarantine_group = match &vpc_id {
        Some(vpc) => quarantine_group_id(ec2, vpc, notes).await,
        None => None,
    };
    let auto_scaling_group = auto_scaling_group(autoscaling, id, &tags, notes).await;
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

/// The id of the VPC's quarantine group; `None` when there is none yet or it could not be read
/// (isolation then looks again, and creates it if missing).
async fn quarantine_group_id(ec2: &Client, vpc: &str, notes: &mut Notes) -> Option<String> {
    match find_quarantine_group(ec2, vpc).await {
        Ok(group) => group.and_then(|g| g.group_id),
        Err(e) => {
            notes.push(format!(
                "could not look for the quarantine group in {vpc}: {e}"
            ));
            None
        }
    }
}

/// The Auto Scaling group of an instance. When Auto Scaling cannot be asked, the tag it puts on
/// its instances says it.
async fn auto_scaling_group(
    autoscaling: &AutoScaling,
    id: &str,
    tags: &Tags,
    notes: &mut Notes,
) -> Option<String> {
    match autoscaling
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
            let e = CallError::from(e);
            let from_tag = tags.get(AUTO_SCALING_GROUP_TAG).cloned();
            let note = format!(
                "could not ask Auto Scaling about instance {id} ({e}); {}",
                match &from_tag {
                    Some(g) => format!("its {AUTO_SCALING_GROUP_TAG} tag names {g}"),
                    None => "treated as in no Auto Scaling group".into(),
                }
            );
            // Without the group, an isolated instance could be terminated by it before its
            // volumes are snapshotted: a lookup that failed for now is retried, unless the tag
            // says which group it is.
            notes.failed(note, e.transient && from_tag.is_none());
            from_tag
        }
    }
}

/// The tags of an EC2 resource (instance, security group) by id, for exemptions. A resource
/// that is gone has no tags.
pub async fn resource_tags(ec2: &Client, id: &str) -> Result<Tags, CallError> {
    let described = ec2
        .describe_tags()
        .filters(Filter::builder().name("resource-id").values(id).build())
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await?;
    Ok(described
        .into_iter()
        .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
        .collect())
}

/// The instance, `None` when EC2 does not know it, or why it could not be read.
pub async fn describe_instance(ec2: &Client, id: &str) -> Result<Option<Instance>, CallError> {
    match ec2.describe_instances().instance_ids(id).send().await {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(id))
            .cloned()),
        Err(e) if is_missing_instance(e.code()) => Ok(None),
        Err(e) => Err(e.into()),
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

/// The ids of the groups named `reflex-quarantine` among the instance's groups, as its
/// description names them.
pub fn quarantine_groups_of(instance: &Instance) -> Vec<&str> {
    instance
        .security_groups()
        .iter()
        .chain(
            instance
                .network_interfaces()
                .iter()
                .flat_map(|n| n.groups()),
        )
        .filter(|g| g.group_name() == Some(QUARANTINE_GROUP_NAME))
        .filter_map(|g| g.group_id())
        .collect()
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

/// The VPC's quarantine group: the one named `reflex-quarantine` (a name is unique in a VPC).
///
/// Not by its tag: anyone who may tag a security group could put the tag on a group in use
/// (isolation strips every rule of the quarantine group). A namesake someone else created is
/// taken: isolation strips it of every rule before it is used, whoever made it.
pub async fn find_quarantine_group(
    ec2: &Client,
    vpc_id: &str,
) -> Result<Option<SecurityGroup>, CallError> {
    let out = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(
            Filter::builder()
                .name("group-name")
                .values(QUARANTINE_GROUP_NAME)
                .build(),
        )
        .send()
        .await?;
    Ok(out.security_groups.unwrap_or_default().into_iter().next())
}

pub fn tags(tags: &[aws_sdk_ec2::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}
