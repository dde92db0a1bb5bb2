//! EC2, Auto Scaling and CloudWatch in the emulator, for the quarantine tests and demo: a VPC
//! with a web fleet (an Auto Scaling group of instances with two security groups and two
//! volumes), alarms on an instance (CloudWatch's own, or forged), the sample events pointed at
//! what the emulator created, and read-back.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    AddPrefixListEntry, Filter, InstanceAttributeName, IpPermission, IpRange, Ipv6Range,
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest, PrefixListId,
    RequestLaunchTemplateData, SecurityGroupRuleRequest, SecurityGroupRuleUpdate, ShutdownBehavior,
    Tag,
};
use serde_json::{Value, json};

use crate::Account;
use crate::emulator::{ACCOUNT, REGION};

/// The instance the sample events name; [`for_instance`] points them at a real one.
pub const SAMPLE_INSTANCE: &str = "i-0c7e5f3a9b1d24680";
/// The security group the sample `AuthorizeSecurityGroupIngress` events change.
pub const SAMPLE_GROUP: &str = "sg-0a1b2c3d4e5f60001";
/// The customer-managed prefix list the samples name (`authorize-ssh-to-prefix-list.json`).
pub const SAMPLE_PREFIX_LIST: &str = "pl-0a1b2c3d4e5f60001";
/// The rule the sample `ModifySecurityGroupRules` events change.
pub const SAMPLE_MODIFIED_RULE: &str = "sgr-0f1e2d3c4b5a69005";
/// What that rule allowed before the change, in the replay: SSH from a documentation network.
pub const RULE_BEFORE_MODIFY: &str = "192.0.2.0/24";
/// The Auto Scaling group of the web fleet.
pub const FLEET: &str = "web-fleet";
/// The tag Reflex creates its quarantine group with (`reflex_quarantine::actions`).
pub use reflex_quarantine::actions::QUARANTINE_GROUP_TAG;
/// The names of Reflex's quarantine and untracked-connections groups, and the tag it creates
/// the untracked group with.
pub use reflex_quarantine::actions::{
    QUARANTINE_GROUP_NAME, UNTRACKED_GROUP_NAME, UNTRACKED_GROUP_TAG,
};
/// The listed alarm of the samples (`alarm-instance-network-out-high.json`).
pub const LISTED_ALARM: &str = "exfil-network-out-web-1";
/// The operator's quarantine tag the samples carry (`create-tags-quarantine.json`), as
/// `REFLEX_QUARANTINE_TAG`.
pub const OPERATOR_TAG: &str = "reflex:quarantine=approved-by-secops";

/// What [`seed_fleet`] created.
pub struct Fleet {
    pub ec2: aws_sdk_ec2::Client,
    pub vpc_id: String,
    pub subnet_id: String,
    /// `web`: HTTP from anywhere.
    pub web_group: String,
    /// `ssh-from-office`: SSH from the office network only.
    pub ssh_group: String,
    /// The fleet's first instance, the one the tests quarantine.
    pub instance_id: String,
}

fn ec2(acct: &Account) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&acct.sdk)
}

/// A VPC with a subnet, the `web` and `ssh-from-office` groups, a launch template and the
/// `web-fleet` Auto Scaling group (min 1, max 4, desired 2): each instance in both groups, with
/// a root volume and a data volume, shutdown behaviour `terminate`.
pub async fn seed_fleet(acct: &Account) -> Fleet {
    let ec2 = ec2(acct);
    // moto knows a fixed catalogue of AMIs: use one it lists.
    let image = ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .expect("describe images")
        .images()
        .iter()
        .find_map(|i| i.image_id().map(String::from))
        .expect("the emulator lists an AMI");
    let vpc_id = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .expect("create vpc")
        .vpc
        .and_then(|v| v.vpc_id)
        .expect("vpc id");
    let subnet_id = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.20.1.0/24")
        .availability_zone(format!("{REGION}a"))
        .send()
        .await
        .expect("create subnet")
        .subnet
        .and_then(|s| s.subnet_id)
        .expect("subnet id");
    let web_group = create_group(&ec2, &vpc_id, "web", "web servers").await;
    authorize(&ec2, &web_group, "tcp", 80, "0.0.0.0/0").await;
    let ssh_group = create_group(&ec2, &vpc_id, "ssh-from-office", "SSH from the office").await;
    authorize(&ec2, &ssh_group, "tcp", 22, "198.51.100.0/24").await;

    ec2.create_launch_template()
        .launch_template_name("web")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(&image)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .security_group_ids(&web_group)
                .security_group_ids(&ssh_group)
                .instance_initiated_shutdown_behavior(ShutdownBehavior::Terminate)
                .block_device_mappings(
                    LaunchTemplateBlockDeviceMappingRequest::builder()
                        .device_name("/dev/sdf")
                        .ebs(
                            LaunchTemplateEbsBlockDeviceRequest::builder()
                                .volume_size(8)
                                .delete_on_termination(true)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("create launch template");
    acct.autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(FLEET)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name("web")
                .build(),
        )
        .min_size(1)
        .max_size(4)
        .desired_capacity(2)
        .vpc_zone_identifier(&subnet_id)
        .send()
        .await
        .expect("create the web fleet");
    let instance_id = fleet_instances(acct)
        .await
        .into_iter()
        .next()
        .expect("the fleet launched instances");
    // moto ignores the template's shutdown behaviour: set it as a real launch would have.
    ec2.modify_instance_attribute()
        .instance_id(&instance_id)
        .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
        .value("terminate")
        .send()
        .await
        .expect("shutdown behaviour");
    ec2.create_tags()
        .resources(&instance_id)
        .tags(Tag::builder().key("Name").value("web-1").build())
        .send()
        .await
        .expect("name the instance");
    Fleet {
        ec2,
        vpc_id,
        subnet_id,
        web_group,
        ssh_group,
        instance_id,
    }
}

/// A security group in `vpc`, made by whoever holds `ec2`: its id.
pub async fn create_group(ec2: &aws_sdk_ec2::Client, vpc: &str, name: &str, about: &str) -> String {
    ec2.create_security_group()
        .group_name(name)
        .description(about)
        .vpc_id(vpc)
        .send()
        .await
        .expect("create security group")
        .group_id
        .expect("group id")
}

async fn authorize(ec2: &aws_sdk_ec2::Client, group: &str, protocol: &str, port: i32, cidr: &str) {
    ec2.authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol(protocol)
                .from_port(port)
                .to_port(port)
                .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
                .build(),
        )
        .send()
        .await
        .expect("authorize ingress");
}

/// A VPC with only the `web` group (HTTP from anywhere), in the account and region of `acct`.
pub async fn seed_web_group(acct: &Account) -> String {
    let ec2 = ec2(acct);
    let vpc_id = ec2
        .create_vpc()
        .cidr_block("10.30.0.0/16")
        .send()
        .await
        .expect("create vpc")
        .vpc
        .and_then(|v| v.vpc_id)
        .expect("vpc id");
    let web_group = create_group(&ec2, &vpc_id, "web", "web servers").await;
    authorize(&ec2, &web_group, "tcp", 80, "0.0.0.0/0").await;
    web_group
}

/// A sample event (GuardDuty finding, alarm, `CreateTags`) about `instance` instead of the
/// sample's instance.
pub fn for_instance(event: Value, instance: &str) -> Value {
    let text = event.to_string().replace(SAMPLE_INSTANCE, instance);
    serde_json::from_str(&text).expect("still JSON")
}

/// Make the emulator's state what it is right after the `AuthorizeSecurityGroupIngress` call the
/// event records (on the fleet's `web` group), and return the event with the group and rule ids
/// the emulator generated. A failed call changed nothing and is returned as it is.
pub async fn replay_authorize(fleet: &Fleet, event: Value) -> Value {
    replay_authorize_on(&fleet.ec2, &fleet.web_group, event).await
}

/// [`replay_authorize`] on any group. A `ModifySecurityGroupRules` event is replayed too: see
/// [`replay_modify_on`].
pub async fn replay_authorize_on(ec2: &aws_sdk_ec2::Client, group: &str, event: Value) -> Value {
    let d = &event["detail"];
    if d.get("errorCode").is_some_and(|c| !c.is_null()) {
        return event;
    }
    if d["eventName"] == "ModifySecurityGroupRules" {
        return replay_modify_on(ec2, group, event).await;
    }
    // A prefix list the sample names is made, holding the whole IPv4 internet.
    let mut event = event;
    if event.to_string().contains(SAMPLE_PREFIX_LIST) {
        let list = world_prefix_list(ec2).await;
        event = serde_json::from_str(&event.to_string().replace(SAMPLE_PREFIX_LIST, &list))
            .expect("still JSON");
    }
    let d = &event["detail"];
    let mut permissions = Vec::new();
    for p in d["requestParameters"]["ipPermissions"]["items"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let mut b = IpPermission::builder().ip_protocol(p["ipProtocol"].as_str().unwrap_or("-1"));
        if let (Some(from), Some(to)) = (p["fromPort"].as_i64(), p["toPort"].as_i64()) {
            b = b.from_port(from as i32).to_port(to as i32);
        }
        for r in p["ipRanges"]["items"].as_array().into_iter().flatten() {
            b = b.ip_ranges(
                IpRange::builder()
                    .cidr_ip(r["cidrIp"].as_str().unwrap_or(""))
                    .build(),
            );
        }
        for r in p["ipv6Ranges"]["items"].as_array().into_iter().flatten() {
            b = b.ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(r["cidrIpv6"].as_str().unwrap_or(""))
                    .build(),
            );
        }
        for r in p["prefixListIds"]["items"].as_array().into_iter().flatten() {
            b = b.prefix_list_ids(
                PrefixListId::builder()
                    .prefix_list_id(r["prefixListId"].as_str().unwrap_or(""))
                    .build(),
            );
        }
        permissions.push(b.build());
    }
    let before = rule_ids(ec2, group).await;
    let request = &d["requestParameters"];
    let call = ec2.authorize_security_group_ingress().group_id(group);
    // The older single-rule form, sent as such (as SDK scripts do).
    let call = match request["cidrIp"].as_str() {
        Some(cidr) => call
            .ip_protocol(request["ipProtocol"].as_str().unwrap_or("-1"))
            .set_from_port(request["fromPort"].as_i64().map(|p| p as i32))
            .set_to_port(request["toPort"].as_i64().map(|p| p as i32))
            .cidr_ip(cidr),
        None => call.set_ip_permissions(Some(permissions)),
    };
    call.send()
        .await
        .expect("replay AuthorizeSecurityGroupIngress");
    // The rules the call created. (Read back rather than taken from the response: moto 5.2
    // answers a call with several permissions with the rules of the last one only.)
    let created: Vec<_> = describe_rules(ec2, group)
        .await
        .into_iter()
        .filter(|r| {
            !before
                .iter()
                .any(|b| Some(b.as_str()) == r.security_group_rule_id())
        })
        .collect();
    let owner = event["account"].clone();
    let mut event = for_group(event, group);
    let response = &mut event["detail"]["responseElements"];
    if response.get("securityGroupRuleSet").is_some() {
        let items: Vec<Value> = created
            .iter()
            .map(|r| {
                let mut item = json!({
                    "groupOwnerId": owner,
                    "groupId": r.group_id(),
                    "securityGroupRuleId": r.security_group_rule_id(),
                    "isEgress": false,
                    "ipProtocol": r.ip_protocol(),
                    "fromPort": r.from_port(),
                    "toPort": r.to_port(),
                });
                match (r.cidr_ipv4(), r.cidr_ipv6(), r.prefix_list_id()) {
                    (Some(v4), _, _) => item["cidrIpv4"] = v4.into(),
                    (_, Some(v6), _) => item["cidrIpv6"] = v6.into(),
                    (_, _, Some(pl)) => item["prefixListId"] = pl.into(),
                    _ => {}
                }
                item
            })
            .collect();
        response["securityGroupRuleSet"] = json!({ "items": items });
    }
    event
}

/// A customer-managed prefix list holding `0.0.0.0/0` (and an office network): its id.
pub async fn world_prefix_list(ec2: &aws_sdk_ec2::Client) -> String {
    prefix_list(ec2, "partners", &["198.51.100.0/24", "0.0.0.0/0"]).await
}

/// A customer-managed IPv4 prefix list with `entries`: its id.
pub async fn prefix_list(ec2: &aws_sdk_ec2::Client, name: &str, entries: &[&str]) -> String {
    ec2.create_managed_prefix_list()
        .prefix_list_name(name)
        .address_family("IPv4")
        .max_entries(10)
        .set_entries(Some(
            entries
                .iter()
                .map(|c| AddPrefixListEntry::builder().cidr(*c).build())
                .collect(),
        ))
        .send()
        .await
        .expect("create managed prefix list")
        .prefix_list
        .and_then(|l| l.prefix_list_id)
        .expect("prefix list id")
}

/// Make the emulator's state what it is right after the `ModifySecurityGroupRules` call the
/// event records, on `group`: an inbound rule as it was before (SSH from
/// [`RULE_BEFORE_MODIFY`]), changed as the event says. The event is returned naming that group
/// and rule.
pub async fn replay_modify_on(ec2: &aws_sdk_ec2::Client, group: &str, event: Value) -> Value {
    let before = rule_ids(ec2, group).await;
    ec2.authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip(RULE_BEFORE_MODIFY).build())
                .build(),
        )
        .send()
        .await
        .expect("the rule before ModifySecurityGroupRules");
    let rule = rule_ids(ec2, group)
        .await
        .into_iter()
        .find(|r| !before.contains(r))
        .expect("the new rule");
    let change = &event["detail"]["requestParameters"]["ModifySecurityGroupRulesRequest"]["SecurityGroupRule"]
        ["SecurityGroupRule"];
    modify_rule(
        ec2,
        group,
        &rule,
        change["CidrIpv4"].as_str().unwrap_or(RULE_BEFORE_MODIFY),
    )
    .await;
    let text = event.to_string().replace(SAMPLE_MODIFIED_RULE, &rule);
    for_group(serde_json::from_str(&text).expect("still JSON"), group)
}

/// `ModifySecurityGroupRules` on one inbound SSH rule: from `cidr` now.
pub async fn modify_rule(ec2: &aws_sdk_ec2::Client, group: &str, rule: &str, cidr: &str) {
    ec2.modify_security_group_rules()
        .group_id(group)
        .security_group_rules(
            SecurityGroupRuleUpdate::builder()
                .security_group_rule_id(rule)
                .security_group_rule(
                    SecurityGroupRuleRequest::builder()
                        .ip_protocol("tcp")
                        .from_port(22)
                        .to_port(22)
                        .cidr_ipv4(cidr)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("ModifySecurityGroupRules");
}

async fn describe_rules(
    ec2: &aws_sdk_ec2::Client,
    group: &str,
) -> Vec<aws_sdk_ec2::types::SecurityGroupRule> {
    ec2.describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group).build())
        .send()
        .await
        .expect("describe rules")
        .security_group_rules
        .unwrap_or_default()
}

async fn rule_ids(ec2: &aws_sdk_ec2::Client, group: &str) -> Vec<String> {
    describe_rules(ec2, group)
        .await
        .into_iter()
        .filter_map(|r| r.security_group_rule_id)
        .collect()
}

/// A sample event about `group` instead of the sample's group.
pub fn for_group(event: Value, group: &str) -> Value {
    let text = event.to_string().replace(SAMPLE_GROUP, group);
    serde_json::from_str(&text).expect("still JSON")
}

// ---- read-back ----

/// The fleet's instances, in the order Auto Scaling lists them.
pub async fn fleet_instances(acct: &Account) -> Vec<String> {
    let out = acct
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(FLEET)
        .send()
        .await
        .expect("describe the fleet");
    out.auto_scaling_groups()
        .first()
        .map(|g| {
            g.instances()
                .iter()
                .filter_map(|i| i.instance_id().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

async fn instance(acct: &Account, id: &str) -> aws_sdk_ec2::types::Instance {
    ec2(acct)
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("describe instance")
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .cloned()
        .expect("the instance exists")
}

/// The instance's security groups. (The instance's own list: moto 5.2 shows the primary
/// interface's groups as the union of the old and new groups after `ModifyInstanceAttribute`.)
pub async fn instance_groups(acct: &Account, id: &str) -> Vec<String> {
    instance(acct, id)
        .await
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(String::from))
        .collect()
}

pub async fn instance_tags(acct: &Account, id: &str) -> BTreeMap<String, String> {
    instance(acct, id)
        .await
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// Any resource's tags (a security group, a snapshot), as `DescribeTags` lists them.
pub async fn tags_of(acct: &Account, resource: &str) -> BTreeMap<String, String> {
    ec2(acct)
        .describe_tags()
        .filters(
            Filter::builder()
                .name("resource-id")
                .values(resource)
                .build(),
        )
        .send()
        .await
        .expect("describe tags")
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// The instance's EBS volumes.
pub async fn volumes_of(acct: &Account, id: &str) -> Vec<String> {
    instance(acct, id)
        .await
        .block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs()?.volume_id().map(String::from))
        .collect()
}

pub async fn termination_protection(acct: &Account, id: &str) -> bool {
    ec2(acct)
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .expect("describe attribute")
        .disable_api_termination()
        .and_then(|v| v.value())
        .unwrap_or(false)
}

pub async fn shutdown_behaviour(acct: &Account, id: &str) -> String {
    ec2(acct)
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(InstanceAttributeName::InstanceInitiatedShutdownBehavior)
        .send()
        .await
        .expect("describe attribute")
        .instance_initiated_shutdown_behavior()
        .and_then(|v| v.value())
        .unwrap_or_default()
        .to_string()
}

/// The forensic snapshots Reflex took of the instance: volume id and tags of each.
pub async fn snapshots_of(acct: &Account, id: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let out = ec2(acct)
        .describe_snapshots()
        .owner_ids("self")
        .filters(
            Filter::builder()
                .name("tag:reflex:quarantined-instance")
                .values(id)
                .build(),
        )
        .send()
        .await
        .expect("describe snapshots");
    out.snapshots()
        .iter()
        .map(|s| {
            let tags = s
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect();
            (s.volume_id().unwrap_or_default().to_string(), tags)
        })
        .collect()
}

/// The VPC's group named exactly `name`, as Reflex finds its own groups (by name, unique in a
/// VPC; a tag anyone may set proves nothing).
pub async fn group_named(acct: &Account, vpc: &str, name: &str) -> Option<String> {
    let found: Vec<String> = ec2(acct)
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .expect("describe security groups")
        .security_groups()
        .iter()
        .filter(|g| g.group_name() == Some(name))
        .filter_map(|g| g.group_id().map(String::from))
        .collect();
    assert!(found.len() <= 1, "{name} is unique in {vpc}: {found:?}");
    found.into_iter().next()
}

/// The VPC's quarantine group, if there is one.
pub async fn quarantine_group(acct: &Account, vpc: &str) -> Option<String> {
    group_named(acct, vpc, QUARANTINE_GROUP_NAME).await
}

/// A group's rules, one line each: `in tcp 22 0.0.0.0/0`, `out -1 all 0.0.0.0/0`.
pub async fn group_rules(acct: &Account, group: &str) -> Vec<String> {
    let mut rules: Vec<String> = describe_rules(&ec2(acct), group)
        .await
        .iter()
        .map(|r| {
            let ports = match (r.from_port(), r.to_port()) {
                (Some(f), Some(t)) if f == t && f >= 0 => f.to_string(),
                (Some(f), Some(t)) if f >= 0 => format!("{f}-{t}"),
                _ => "all".into(),
            };
            format!(
                "{} {} {ports} {}",
                if r.is_egress() == Some(true) {
                    "out"
                } else {
                    "in"
                },
                r.ip_protocol().unwrap_or("?"),
                r.cidr_ipv4()
                    .or(r.cidr_ipv6())
                    .or(r.prefix_list_id())
                    .unwrap_or("?")
            )
        })
        .collect();
    rules.sort();
    rules
}

/// The VPC's untracked-connections group, if there is one.
pub async fn untracked_group(acct: &Account, vpc: &str) -> Option<String> {
    group_named(acct, vpc, UNTRACKED_GROUP_NAME).await
}

/// An instance someone else launches in the fleet's subnet, in `group` only: its id.
pub async fn launch_in(acct: &Account, fleet: &Fleet, group: &str) -> String {
    let image = ec2(acct)
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .expect("describe images")
        .images()
        .iter()
        .find_map(|i| i.image_id().map(String::from))
        .expect("the emulator lists an AMI");
    ec2(acct)
        .run_instances()
        .image_id(image)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .subnet_id(&fleet.subnet_id)
        .security_group_ids(group)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .expect("run instances")
        .instances()
        .first()
        .and_then(|i| i.instance_id().map(String::from))
        .expect("an instance")
}

/// Put a tag on a resource, as anyone allowed `ec2:CreateTags` may.
pub async fn put_tag(acct: &Account, resource: &str, key: &str, value: &str) {
    ec2(acct)
        .create_tags()
        .resources(resource)
        .tags(Tag::builder().key(key).value(value).build())
        .send()
        .await
        .expect("tag");
}

// ---- alarms on an instance ----

/// The listed sample alarm as it is made in the emulator: `NetworkOut` of the instance (EC2's
/// own namespace), summed over five minutes, above 5 GB.
pub async fn put_network_out_alarm(acct: &Account, name: &str, instance: &str) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    aws_sdk_cloudwatch::Client::new(&acct.sdk)
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/EC2")
        .metric_name("NetworkOut")
        .dimensions(
            Dimension::builder()
                .name("InstanceId")
                .value(instance)
                .build(),
        )
        .statistic(Statistic::Sum)
        .period(300)
        .evaluation_periods(1)
        .threshold(5e9)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("put metric alarm");
}

/// The start of the last whole five-minute period, at least ten minutes ago: where EC2's
/// datapoint lands in these tests.
pub fn evaluated_period() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now().timestamp();
    let start = now - now.rem_euclid(300) - 600;
    chrono::DateTime::from_timestamp(start, 0).expect("a time")
}

/// EC2's `NetworkOut` datapoint of the instance at `at`. (In AWS only EC2 writes `AWS/EC2`; the
/// emulator lets the test stand in for it.)
pub async fn put_network_out(
    acct: &Account,
    instance: &str,
    at: chrono::DateTime<chrono::Utc>,
    bytes: f64,
) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    aws_sdk_cloudwatch::Client::new(&acct.sdk)
        .put_metric_data()
        .namespace("AWS/EC2")
        .metric_data(
            MetricDatum::builder()
                .metric_name("NetworkOut")
                .dimensions(
                    Dimension::builder()
                        .name("InstanceId")
                        .value(instance)
                        .build(),
                )
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                    at.timestamp(),
                ))
                .value(bytes)
                .build(),
        )
        .send()
        .await
        .expect("put metric data");
}

/// CloudWatch's evaluation record of one datapoint, as `reasonData` carries it.
pub fn evaluation_record(at: chrono::DateTime<chrono::Utc>, value: f64) -> String {
    let time = at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    json!({
        "version": "1.0", "queryDate": time, "startDate": time, "statistic": "Sum",
        "period": 300, "recentDatapoints": [value], "threshold": 5e9,
        "evaluatedDatapoints": [{"timestamp": time, "sampleCount": 1.0, "value": value}]
    })
    .to_string()
}

/// Set the alarm to ALARM with `cloudwatch:SetAlarmState`, as anyone allowed it may, with a
/// reason and, if given, a record (`StateReasonData`); and the state-change event CloudWatch
/// sends for it (the sample's shape, for `instance`).
pub async fn set_alarm(
    acct: &Account,
    name: &str,
    instance: &str,
    reason: &str,
    record: Option<String>,
) -> Value {
    aws_sdk_cloudwatch::Client::new(&acct.sdk)
        .set_alarm_state()
        .alarm_name(name)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason(reason)
        .set_state_reason_data(record.clone())
        .send()
        .await
        .expect("set alarm state");
    let mut event = for_instance(
        crate::sample("quarantine/alarm-instance-network-out-high.json"),
        instance,
    );
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string();
    event["detail"]["alarmName"] = name.into();
    event["resources"] = json!([format!(
        "arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    )]);
    let mut state = json!({ "value": "ALARM", "reason": reason, "timestamp": now });
    if let Some(record) = record {
        state["reasonData"] = record.into();
    }
    event["detail"]["state"] = state;
    event
}

/// Every mark of a quarantine on the fleet's first instance, read back from the emulator.
pub async fn assert_quarantined(acct: &Account, fleet: &Fleet) {
    let id = &fleet.instance_id;
    let q = quarantine_group(acct, &fleet.vpc_id)
        .await
        .expect("the quarantine group exists");
    assert_eq!(instance_groups(acct, id).await, std::slice::from_ref(&q));
    assert!(
        group_rules(acct, &q).await.is_empty(),
        "the quarantine group allows nothing in or out"
    );
    // The group it went through first allowed everything while it moved, so that EC2 stopped
    // tracking the instance's connections; closed again after it, so that no one else can use
    // it to open every port of theirs.
    let untracked = untracked_group(acct, &fleet.vpc_id)
        .await
        .expect("the untracked-connections group exists");
    assert_eq!(
        group_rules(acct, &untracked).await,
        Vec::<String>::new(),
        "the untracked-connections group is closed again"
    );
    assert!(termination_protection(acct, id).await);
    assert_eq!(shutdown_behaviour(acct, id).await, "stop");
    let volumes: BTreeSet<String> = volumes_of(acct, id).await.into_iter().collect();
    assert_eq!(volumes.len(), 2);
    let snapshots = snapshots_of(acct, id).await;
    let snapshotted: BTreeSet<String> = snapshots.iter().map(|(v, _)| v.clone()).collect();
    assert_eq!(snapshotted, volumes, "one snapshot per volume");
    assert_eq!(snapshots.len(), 2);
    let tags = instance_tags(acct, id).await;
    for (_, snapshot) in &snapshots {
        assert!(!snapshot["reflex:finding"].is_empty(), "{snapshot:?}");
        assert!(snapshot.contains_key("reflex:event-id"), "{snapshot:?}");
        assert_eq!(
            snapshot.get("reflex:quarantined-at"),
            tags.get("reflex:quarantined-at"),
            "the snapshots belong to this quarantine"
        );
    }
    assert!(
        !fleet_instances(acct).await.contains(id),
        "detached from the fleet"
    );
    assert_eq!(
        acct.desired_capacity(FLEET).await,
        2,
        "the fleet's desired capacity is unchanged: it replaces the instance"
    );
    assert!(tags.contains_key("reflex:quarantined-at"), "{tags:?}");
    assert!(tags.contains_key("reflex:quarantine-reason"), "{tags:?}");
    let previous: Vec<&String> = tags
        .iter()
        .filter(|(k, _)| k.starts_with("reflex:previous-groups:eni-"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        previous,
        [&format!("{},{}", fleet.web_group, fleet.ssh_group)],
        "{tags:?}"
    );
}
