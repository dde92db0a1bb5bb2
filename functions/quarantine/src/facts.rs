//! Read-only EC2, Auto Scaling and CloudWatch lookups, read before the rules decide: the
//! instances a quarantine request names, the alarm that asked for it and EC2's metric behind it,
//! the rules already on a security group opened to the world and the entries of the prefix lists
//! its rules name; and the tags of an instance or
//! security group, read by the pipeline for exemptions. The executor reads through the same
//! helpers, so plan and action see state the same way.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::Client as CloudWatch;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, Instance, NetworkInterface, SecurityGroup, SecurityGroupRule};
use reflex_shared::Notes;
use reflex_shared::aws::CallError;
use reflex_shared::exemption::Tags;

use crate::actions::{Interface, QUARANTINE_GROUP_NAME, REFLEX_GROUP_NAMES};
use crate::alarm::{AlarmClaim, AlarmFacts, AlarmLookup};
use crate::ingress::{self, OpenedRule};
use crate::trigger::Trigger;

/// The tag Auto Scaling puts on the instances it launches.
pub const AUTO_SCALING_GROUP_TAG: &str = "aws:autoscaling:groupName";

/// What the rules need beyond the event: each instance a quarantine request names, the alarm
/// behind an alarm's request, the ingress rules already on a group opened to the world.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub instances: BTreeMap<String, InstanceLookup>,
    pub alarm: Option<AlarmLookup>,
    /// The group's ingress rules with a CIDR or a prefix list as EC2 lists them now; `None` when
    /// not read (the call's rules are then judged alone; a modified rule is not judged at all).
    pub group_rules: Option<Vec<OpenedRule>>,
    /// Each prefix list the call's rules or the group's name, as EC2 has it now.
    pub prefix_lists: BTreeMap<String, PrefixListLookup>,
}

impl Facts {
    /// The entries of the customer-managed prefix lists read, for the world-open judgement.
    pub fn prefix_entries(&self) -> crate::world_open::PrefixEntries {
        self.prefix_lists
            .iter()
            .filter_map(|(id, l)| match l {
                PrefixListLookup::Entries(e) => Some((id.clone(), e.clone())),
                _ => None,
            })
            .collect()
    }
}

/// A managed prefix list a rule names.
#[derive(Debug, Clone, PartialEq)]
pub enum PrefixListLookup {
    /// Customer-managed (this account's, or shared with it): the CIDRs of its entries now.
    Entries(Vec<String>),
    /// Managed by AWS (owner `AWS`, named `com.amazonaws.*`): an AWS service's address ranges,
    /// not the world. Its name.
    AwsManaged(String),
    /// EC2 does not know it (deleted since).
    Missing,
    /// The lookup failed; why.
    Unreadable(String),
}

/// At most this many prefix lists are read for one event (the call's own first).
pub const MAX_PREFIX_LISTS: usize = 20;
/// An owner id EC2 gives the prefix lists AWS manages.
pub const AWS_OWNER: &str = "AWS";

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
    /// Reflex's own groups among the instance's, by name as its description gives them (see
    /// [`reflex_groups_of`]): never recorded as its previous groups.
    pub reflex_groups: Vec<String>,
}

/// Look up exactly what the trigger names: its instances and its alarm, or the rules of the
/// group it opened. A failed lookup is said in `notes` and in the fact itself.
pub async fn gather(
    ec2: &Client,
    autoscaling: &AutoScaling,
    cloudwatch: &CloudWatch,
    trigger: &Trigger,
    notes: &mut Notes,
) -> Facts {
    let mut facts = Facts::default();
    match trigger {
        Trigger::Quarantine(request) => {
            // An alarm that names no instance quarantines nothing: nothing to verify.
            if let Some(claim) = &request.alarm
                && claim.instance.is_some()
            {
                facts.alarm = Some(alarm(cloudwatch, claim, notes).await);
            }
            for id in &request.instances {
                let lookup = instance(ec2, autoscaling, id, notes).await;
                facts.instances.insert(id.clone(), lookup);
            }
        }
        Trigger::IngressOpened { group_id, rules } => {
            facts.group_rules = group_rules(ec2, group_id, notes).await;
            let named = rules.iter().chain(facts.group_rules.iter().flatten());
            facts.prefix_lists = prefix_lists(ec2, named, notes).await;
        }
        Trigger::RulesModified { group_id, .. } => {
            facts.group_rules = group_rules(ec2, group_id, notes).await;
            let named = facts.group_rules.iter().flatten();
            facts.prefix_lists = prefix_lists(ec2, named, notes).await;
        }
        // The removal reads the tag as it is when it runs.
        Trigger::ExemptionTagSet(_) => {}
    }
    facts
}

/// The group's ingress rules that name a CIDR. Unreadable for now: retried; for good (denied):
/// `None`, and the call's rules are judged alone.
async fn group_rules(ec2: &Client, group_id: &str, notes: &mut Notes) -> Option<Vec<OpenedRule>> {
    match describe_group_rules(ec2, group_id).await {
        Ok(rules) => Some(
            rules
                .iter()
                .filter(|r| r.is_egress() != Some(true))
                .filter_map(as_opened_rule)
                .collect(),
        ),
        Err(e) => {
            notes.failed(
                format!(
                    "could not read the rules of security group {group_id} ({e}): the call's rules are judged without the group's others"
                ),
                e.transient,
            );
            None
        }
    }
}

/// The prefix lists the rules name, each once, in order, at most [`MAX_PREFIX_LISTS`]. One that
/// cannot be read for now is retried (its entries may be the world); for good (denied): said,
/// and the rule lets in nothing of its own.
async fn prefix_lists<'a>(
    ec2: &Client,
    rules: impl Iterator<Item = &'a OpenedRule>,
    notes: &mut Notes,
) -> BTreeMap<String, PrefixListLookup> {
    let mut ids: Vec<&str> = Vec::new();
    for id in rules.filter_map(OpenedRule::prefix_list) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > MAX_PREFIX_LISTS {
        notes.failed(
            format!(
                "the rules name {} prefix lists: only the first {MAX_PREFIX_LISTS} were read ({} not)",
                ids.len(),
                ids[MAX_PREFIX_LISTS..].join(", ")
            ),
            false,
        );
        ids.truncate(MAX_PREFIX_LISTS);
    }
    let mut out = BTreeMap::new();
    for id in ids {
        let lookup = match prefix_list(ec2, id).await {
            Ok(found) => found,
            Err(e) => {
                notes.failed(
                    format!("could not read prefix list {id} ({e}): its entries are not judged"),
                    e.transient,
                );
                PrefixListLookup::Unreadable(e.why)
            }
        };
        out.insert(id.to_string(), lookup);
    }
    out
}

/// A prefix list: whose it is and, when it is not AWS's, its entries now, through every page.
pub async fn prefix_list(ec2: &Client, id: &str) -> Result<PrefixListLookup, CallError> {
    let described = match ec2
        .describe_managed_prefix_lists()
        .prefix_list_ids(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if is_missing_prefix_list(e.code()) => return Ok(PrefixListLookup::Missing),
        Err(e) => return Err(e.into()),
    };
    let Some(list) = described
        .prefix_lists()
        .iter()
        .find(|l| l.prefix_list_id() == Some(id))
    else {
        return Ok(PrefixListLookup::Missing);
    };
    if list.owner_id() == Some(AWS_OWNER) {
        let name = list.prefix_list_name().unwrap_or_default().to_string();
        return Ok(PrefixListLookup::AwsManaged(name));
    }
    let entries = ec2
        .get_managed_prefix_list_entries()
        .prefix_list_id(id)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await;
    match entries {
        Ok(entries) => Ok(PrefixListLookup::Entries(
            entries.into_iter().filter_map(|e| e.cidr).collect(),
        )),
        Err(e) if is_missing_prefix_list(e.code()) => Ok(PrefixListLookup::Missing),
        Err(e) => Err(e.into()),
    }
}

fn is_missing_prefix_list(code: Option<&str>) -> bool {
    code.is_some_and(|c| {
        c.eq_ignore_ascii_case("InvalidPrefixListID.NotFound")
            || c.eq_ignore_ascii_case("InvalidPrefixListId.NotFound")
    })
}

/// Every rule of a group, inbound and outbound, through every page.
pub async fn describe_group_rules(
    ec2: &Client,
    group_id: &str,
) -> Result<Vec<SecurityGroupRule>, CallError> {
    ec2.describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group_id).build())
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(CallError::from)
}

/// An ingress rule as the rules read a call's: `None` when it names no address source (another
/// group).
pub fn as_opened_rule(r: &SecurityGroupRule) -> Option<OpenedRule> {
    let cidr = r.cidr_ipv4().or(r.cidr_ipv6()).or(r.prefix_list_id())?;
    let mut rule = ingress::rule(
        r.ip_protocol().unwrap_or("-1"),
        r.from_port(),
        r.to_port(),
        cidr,
        None,
    );
    rule.rule_id = r.security_group_rule_id().map(String::from);
    rule.description = r.description().map(String::from);
    Some(rule)
}

/// The alarm as CloudWatch has it now and, when it could be CloudWatch's evaluation of EC2's
/// metric, the metric at each datapoint its record claims.
async fn alarm(cloudwatch: &CloudWatch, claim: &AlarmClaim, notes: &mut Notes) -> AlarmLookup {
    let name = &claim.name;
    let described = match cloudwatch.describe_alarms().alarm_names(name).send().await {
        Ok(out) => out,
        Err(e) => {
            let e = CallError::from(e);
            notes.failed(format!("could not describe alarm {name}: {e}"), e.transient);
            return AlarmLookup::Unreadable(e.why);
        }
    };
    let Some(found) = described
        .metric_alarms()
        .iter()
        .find(|a| a.alarm_name() == Some(name.as_str()))
    else {
        return AlarmLookup::Missing;
    };
    let mut facts = AlarmFacts {
        state: found
            .state_value()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        math: !found.metrics().is_empty(),
        namespace: found.namespace().map(String::from),
        metric_name: found.metric_name().map(String::from),
        dimensions: found
            .dimensions()
            .iter()
            .filter_map(|d| Some((d.name()?.to_string(), d.value()?.to_string())))
            .collect(),
        statistic: found.statistic().map(|s| s.as_str().to_string()),
        period: found.period(),
        evaluation_periods: found.evaluation_periods(),
        datapoints_to_alarm: found.datapoints_to_alarm(),
        threshold: found.threshold(),
        comparison: found.comparison_operator().map(|c| c.as_str().to_string()),
        metric: Vec::new(),
    };
    // Only an alarm that could quarantine is worth the metric's reads.
    let checkable = facts.state == "ALARM"
        && !facts.math
        && facts.namespace.as_deref() == Some(crate::alarm::EC2_NAMESPACE);
    if let (true, Some(metric), Some(statistic), Some(period)) = (
        checkable,
        facts.metric_name.clone(),
        found.statistic().cloned(),
        facts.period,
    ) {
        for point in claim.to_check() {
            let start =
                aws_sdk_cloudwatch::primitives::DateTime::from_secs(point.timestamp.timestamp());
            let end = aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                point.timestamp.timestamp() + i64::from(period.max(1)),
            );
            let read = cloudwatch
                .get_metric_statistics()
                .namespace(crate::alarm::EC2_NAMESPACE)
                .metric_name(&metric)
                .set_dimensions(Some(found.dimensions().to_vec()))
                .start_time(start)
                .end_time(end)
                .period(period.max(1))
                .statistics(statistic.clone())
                .send()
                .await;
            let value = match read {
                Ok(out) => out
                    .datapoints()
                    .first()
                    .and_then(|d| statistic_value(d, &statistic)),
                Err(e) => {
                    let e = CallError::from(e);
                    notes.failed(
                        format!("could not read the metric {metric} of alarm {name}: {e}"),
                        e.transient,
                    );
                    return AlarmLookup::Unreadable(e.why);
                }
            };
            facts.metric.push((point.timestamp, value));
        }
    }
    AlarmLookup::Found(facts)
}

/// A datapoint's value for one standard statistic.
fn statistic_value(
    d: &aws_sdk_cloudwatch::types::Datapoint,
    statistic: &aws_sdk_cloudwatch::types::Statistic,
) -> Option<f64> {
    use aws_sdk_cloudwatch::types::Statistic;
    match statistic {
        Statistic::Average => d.average(),
        Statistic::Maximum => d.maximum(),
        Statistic::Minimum => d.minimum(),
        Statistic::SampleCount => d.sample_count(),
        Statistic::Sum => d.sum(),
        _ => None,
    }
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
        Some(vpc) => group_id_named(ec2, vpc, QUARANTINE_GROUP_NAME, notes).await,
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
        reflex_groups: reflex_groups_of(&found)
            .into_iter()
            .map(String::from)
            .collect(),
    })
}

/// The id of one of Reflex's groups in the VPC; `None` when there is none yet. Unreadable for
/// now: retried (without it an isolated instance would pass for one not isolated, and be
/// quarantined again); for good: `None`, said in the notes.
async fn group_id_named(ec2: &Client, vpc: &str, name: &str, notes: &mut Notes) -> Option<String> {
    match find_group(ec2, vpc, name).await {
        Ok(group) => group.and_then(|g| g.group_id),
        Err(e) => {
            notes.failed(
                format!("could not look for the group {name} in {vpc}: {e}"),
                e.transient,
            );
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

/// The ids of Reflex's own groups (`reflex-quarantine`, `reflex-untracked`) among the
/// instance's groups, as its description names them: never an instance's previous groups.
pub fn reflex_groups_of(instance: &Instance) -> Vec<&str> {
    instance
        .security_groups()
        .iter()
        .chain(
            instance
                .network_interfaces()
                .iter()
                .flat_map(|n| n.groups()),
        )
        .filter(|g| {
            g.group_name()
                .is_some_and(|n| REFLEX_GROUP_NAMES.contains(&n))
        })
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

/// One of Reflex's groups in the VPC, by its exact name (unique in a VPC): `reflex-quarantine`
/// or `reflex-untracked`.
///
/// Not by its tag: anyone who may tag a security group could put the tag on a group in use
/// (isolation strips every rule of the quarantine group). A `reflex-quarantine` someone else
/// created is taken, its rules stripped before use; a `reflex-untracked` is opened only when it
/// carries Reflex's tag and no one else's interface is in it (see the executor).
pub async fn find_group(
    ec2: &Client,
    vpc_id: &str,
    name: &str,
) -> Result<Option<SecurityGroup>, CallError> {
    let out = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await?;
    // Filter values take `*` and `?` as wildcards: only the exact name counts.
    Ok(out
        .security_groups
        .unwrap_or_default()
        .into_iter()
        .find(|g| g.group_name() == Some(name)))
}

pub fn tags(tags: &[aws_sdk_ec2::types::Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// The network interfaces in a security group, through every page.
pub async fn interfaces_in_group(
    ec2: &Client,
    group_id: &str,
) -> Result<Vec<NetworkInterface>, CallError> {
    ec2.describe_network_interfaces()
        .filters(Filter::builder().name("group-id").values(group_id).build())
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(CallError::from)
}

/// A security group by id, as EC2 has it now; `None` when EC2 does not know it (or does not
/// list it yet).
pub async fn describe_group(ec2: &Client, id: &str) -> Result<Option<SecurityGroup>, CallError> {
    match ec2.describe_security_groups().group_ids(id).send().await {
        Ok(out) => Ok(out.security_groups.unwrap_or_default().into_iter().next()),
        Err(e) if e.code() == Some("InvalidGroup.NotFound") => Ok(None),
        Err(e) => Err(e.into()),
    }
}
