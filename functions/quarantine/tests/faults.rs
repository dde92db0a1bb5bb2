//! Quarantine paths the moto emulator cannot show honestly, tested with the AWS SDK's own
//! `aws-smithy-mocks` instead:
//!
//! - An instance with several network interfaces. Real EC2 refuses `ModifyInstanceAttribute`
//!   with `Groups` on such an instance ("There are multiple interfaces attached to instance"),
//!   so each interface, the primary one included, is changed with
//!   `ModifyNetworkInterfaceAttribute`. moto 5.2's `ModifyNetworkInterfaceAttribute` adds the
//!   groups instead of replacing them, so the end-to-end tests (one interface per instance)
//!   cannot check this path.
//! - A step that fails: moto cannot refuse one chosen call (`CreateSnapshot`) with
//!   `UnauthorizedOperation`. The other steps, isolation first, must still run and the report
//!   must list each step's result.
//! - A move to the quarantine group refused, or failing for now, after the move to the
//!   untracked-connections group: the instance must not be left in a group that allows all
//!   traffic, and that group is open only for the moves.
//! - Faults that may pass while reading Reflex's groups or making the untracked group ready:
//!   the event fails for now, before anything is decided or moved.
//! - Previous groups that cannot be recorded whole, or are not known: no cut record, no undo
//!   command that cannot work.
//! - An instance carrying the exemption tag, read by the pipeline through EC2 `DescribeTags`:
//!   every step is exempt and no call changes anything.
//! - A security group opened to the world: the caller's tags come from IAM, the group's from
//!   EC2, and no instance is looked up.
//!
//! Nothing is sent over the network. Errors are answered the way EC2 answers on the wire (an
//! ec2Query `<Response><Errors>` body with an HTTP status), so the SDK's own error parsing runs.
//! The full pipeline runs (`Handler::handle` on a sample event from `events/quarantine/`).

use aws_sdk_autoscaling::operation::describe_auto_scaling_groups::DescribeAutoScalingGroupsOutput;
use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
use aws_sdk_autoscaling::operation::detach_instances::DetachInstancesOutput;
use aws_sdk_autoscaling::types::{AutoScalingGroup, AutoScalingInstanceDetails};
use aws_sdk_ec2::operation::authorize_security_group_egress::AuthorizeSecurityGroupEgressOutput;
use aws_sdk_ec2::operation::authorize_security_group_ingress::AuthorizeSecurityGroupIngressOutput;
use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
use aws_sdk_ec2::operation::create_snapshot::CreateSnapshotOutput;
use aws_sdk_ec2::operation::create_tags::CreateTagsOutput;
use aws_sdk_ec2::operation::describe_instance_attribute::DescribeInstanceAttributeOutput;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
use aws_sdk_ec2::operation::describe_security_group_rules::DescribeSecurityGroupRulesOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::operation::describe_snapshots::DescribeSnapshotsOutput;
use aws_sdk_ec2::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_ec2::operation::modify_instance_attribute::ModifyInstanceAttributeOutput;
use aws_sdk_ec2::operation::modify_network_interface_attribute::ModifyNetworkInterfaceAttributeOutput;
use aws_sdk_ec2::operation::revoke_security_group_egress::RevokeSecurityGroupEgressOutput;
use aws_sdk_ec2::operation::revoke_security_group_ingress::RevokeSecurityGroupIngressOutput;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, AttributeValue, EbsInstanceBlockDevice, GroupIdentifier, Instance,
    InstanceAttributeName, InstanceBlockDeviceMapping, InstanceNetworkInterface,
    InstanceNetworkInterfaceAttachment, InstanceState, InstanceStateName, IpPermission, IpRange,
    Ipv6Range, Reservation, SecurityGroup, SecurityGroupRule, Tag, TagDescription,
};
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_smithy_mocks::{Rule, mock};
use reflex_quarantine::{Quarantine, Settings};
use reflex_shared::Outcome;
use reflex_shared::pipeline::Handler;
use reflex_shared::report::{Report, Status};
use reflex_testkit::{MAX_ATTEMPTS, mocked};
use serde_json::Value;

const INSTANCE: &str = "i-0c7e5f3a9b1d24680";
const VPC: &str = "vpc-0f1e2d3c4b5a69788";
const WEB_SG: &str = "sg-0a1b2c3d4e5f60001";
const SSH_SG: &str = "sg-0a1b2c3d4e5f60002";
const BACKEND_SG: &str = "sg-0a1b2c3d4e5f60003";
const QUARANTINE_SG: &str = "sg-0feedc0ffee000001";
const UNTRACKED_SG: &str = "sg-0feedc0ffee000002";
const PRIMARY_ENI: &str = "eni-0b1c2d3e4f5a60718";
const SECONDARY_ENI: &str = "eni-0b1c2d3e4f5a60719";
const ROOT_VOLUME: &str = "vol-0a1b2c3d4e5f60001";

fn event(name: &str) -> Value {
    reflex_testkit::sample(&format!("quarantine/{name}"))
}

/// The pipeline over mocked clients. A GuardDuty finding has no caller, so IAM is never asked.
fn handler(ec2: &[&Rule], autoscaling: &[&Rule]) -> Handler<Quarantine> {
    handler_with_iam(ec2, autoscaling, &[])
}

/// The pipeline over mocked clients, IAM answering for the caller's tags.
fn handler_with_iam(ec2: &[&Rule], autoscaling: &[&Rule], iam: &[&Rule]) -> Handler<Quarantine> {
    let none: [&Rule; 0] = [];
    let quarantine = Quarantine::new(
        mocked!(aws_sdk_ec2, ec2),
        mocked!(aws_sdk_autoscaling, autoscaling),
        mocked!(aws_sdk_cloudwatch, &none),
        mocked!(aws_sdk_iam, iam),
    );
    reflex_testkit::enforcing(quarantine, Settings::default())
}

/// An EC2 error as EC2 sends it (the ec2Query protocol).
fn ec2_error(code: &str, message: &str) -> String {
    format!(
        "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>\
         <RequestID>4b1e9a2c-0000-4000-8000-faultstest02</RequestID></Response>"
    )
}

fn group(id: &str) -> GroupIdentifier {
    GroupIdentifier::builder().group_id(id).build()
}

fn eni(id: &str, index: i32, groups: &[&str]) -> InstanceNetworkInterface {
    groups
        .iter()
        .fold(
            InstanceNetworkInterface::builder()
                .network_interface_id(id)
                .attachment(
                    InstanceNetworkInterfaceAttachment::builder()
                        .device_index(index)
                        .build(),
                ),
            |b, g| b.groups(group(g)),
        )
        .build()
}

/// The instance as DescribeInstances returns it, with these interfaces.
fn instance(interfaces: Vec<InstanceNetworkInterface>, in_fleet: bool) -> Instance {
    let mut b = Instance::builder()
        .instance_id(INSTANCE)
        .vpc_id(VPC)
        .state(
            InstanceState::builder()
                .name(InstanceStateName::Running)
                .build(),
        )
        .block_device_mappings(
            InstanceBlockDeviceMapping::builder()
                .device_name("/dev/xvda")
                .ebs(
                    EbsInstanceBlockDevice::builder()
                        .volume_id(ROOT_VOLUME)
                        .build(),
                )
                .build(),
        )
        .tags(Tag::builder().key("Name").value("web-1").build());
    if in_fleet {
        b = b.tags(
            Tag::builder()
                .key("aws:autoscaling:groupName")
                .value("web-fleet")
                .build(),
        );
    }
    for n in &interfaces {
        for g in n.groups() {
            b = b.security_groups(g.clone());
        }
    }
    b.set_network_interfaces(Some(interfaces)).build()
}

fn describe_instances(i: Instance) -> Rule {
    mock!(aws_sdk_ec2::Client::describe_instances)
        .match_requests(|r| r.instance_ids() == [INSTANCE])
        .then_output(move || {
            DescribeInstancesOutput::builder()
                .reservations(Reservation::builder().instances(i.clone()).build())
                .build()
        })
}

/// DescribeInstanceAttribute: termination protection off, shutdown terminates.
fn attributes() -> Rule {
    mock!(aws_sdk_ec2::Client::describe_instance_attribute).then_compute_output(|r| {
        let b = DescribeInstanceAttributeOutput::builder().instance_id(INSTANCE);
        match r.attribute() {
            Some(InstanceAttributeName::DisableApiTermination) => b
                .disable_api_termination(AttributeBooleanValue::builder().value(false).build())
                .build(),
            _ => b
                .instance_initiated_shutdown_behavior(
                    AttributeValue::builder().value("terminate").build(),
                )
                .build(),
        }
    })
}

/// ModifyInstanceAttribute for termination protection and shutdown behaviour (not groups).
fn modify_attributes() -> Rule {
    mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| r.groups().is_empty())
        .then_output(|| ModifyInstanceAttributeOutput::builder().build())
}

fn create_tags() -> Rule {
    mock!(aws_sdk_ec2::Client::create_tags)
        .match_requests(|r| r.resources() == [INSTANCE])
        .then_output(|| CreateTagsOutput::builder().build())
}

/// DescribeTags of one resource, as the pipeline reads it for the exemption tag.
fn tags_of(resource: &'static str, tags: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(aws_sdk_ec2::Client::describe_tags)
        .match_requests(move |r| {
            r.filters()
                .iter()
                .any(|f| f.name() == Some("resource-id") && f.values() == [resource])
        })
        .then_output(move || {
            let described = tags.iter().map(|(k, v)| {
                TagDescription::builder()
                    .resource_id(resource)
                    .key(*k)
                    .value(*v)
                    .build()
            });
            DescribeTagsOutput::builder()
                .set_tags(Some(described.collect()))
                .build()
        })
}

/// The instance's tags in `instance()`: no exemption tag among them.
fn not_exempt() -> Rule {
    tags_of(INSTANCE, &[("Name", "web-1")])
}

/// All traffic, from and to anywhere: the untracked-connections group's rules, in one direction.
fn allow_all() -> IpPermission {
    IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build()
}

/// The group-name filter of a DescribeSecurityGroups call, if any.
fn named(
    r: &aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsInput,
) -> Option<&str> {
    r.filters()
        .iter()
        .find(|f| f.name() == Some("group-name"))
        .and_then(|f| f.values().first())
        .map(String::as_str)
}

/// Both of Reflex's groups exist in the VPC already, as Reflex leaves them between quarantines:
/// no rules, the untracked-connections group with Reflex's tag. Asked by id (to close it after
/// the moves), the untracked group is open to all traffic, as Reflex opened it for them.
fn both_groups_ready() -> Rule {
    mock!(aws_sdk_ec2::Client::describe_security_groups).then_compute_output(|r| {
        let b = DescribeSecurityGroupsOutput::builder();
        let group = |id: &str, name: &str| {
            SecurityGroup::builder()
                .group_id(id)
                .vpc_id(VPC)
                .group_name(name)
        };
        let untracked = || {
            group(UNTRACKED_SG, "reflex-untracked").tags(
                Tag::builder()
                    .key("reflex:untracked-group")
                    .value("true")
                    .build(),
            )
        };
        if r.group_ids() == [UNTRACKED_SG] {
            return b
                .security_groups(
                    untracked()
                        .ip_permissions(allow_all())
                        .ip_permissions_egress(allow_all())
                        .build(),
                )
                .build();
        }
        match named(r) {
            Some("reflex-quarantine") => b
                .security_groups(group(QUARANTINE_SG, "reflex-quarantine").build())
                .build(),
            Some("reflex-untracked") => b.security_groups(untracked().build()).build(),
            _ => b.build(),
        }
    })
}

/// A group's rules as DescribeSecurityGroupRules lists them: all traffic in and out, IPv4 and
/// IPv6 (the untracked group opened), or a new group's default rule (all out, IPv4).
fn rules_of(group: &str, opened: bool) -> DescribeSecurityGroupRulesOutput {
    let rule = |n: u32, egress: bool, cidr: &str| {
        let b = SecurityGroupRule::builder()
            .security_group_rule_id(format!("sgr-0{group}{n}"))
            .group_id(group)
            .is_egress(egress)
            .ip_protocol("-1");
        if cidr.contains(':') {
            b.cidr_ipv6(cidr).build()
        } else {
            b.cidr_ipv4(cidr).build()
        }
    };
    let b = DescribeSecurityGroupRulesOutput::builder();
    if !opened {
        return b.security_group_rules(rule(0, true, "0.0.0.0/0")).build();
    }
    b.security_group_rules(rule(1, false, "0.0.0.0/0"))
        .security_group_rules(rule(2, false, "::/0"))
        .security_group_rules(rule(3, true, "0.0.0.0/0"))
        .security_group_rules(rule(4, true, "::/0"))
        .build()
}

/// The untracked-connections group opened for the moves and closed after them: all traffic
/// authorized in and out, no other interface in it, then every rule revoked by its id.
struct OpenedAndClosed {
    all_in: Rule,
    all_out: Rule,
    no_interfaces: Rule,
    opened_rules: Rule,
    revoke_in: Rule,
    revoke_out: Rule,
}

impl OpenedAndClosed {
    fn new() -> Self {
        Self {
            all_in: mock!(aws_sdk_ec2::Client::authorize_security_group_ingress)
                .match_requests(|r| r.group_id() == Some(UNTRACKED_SG))
                .then_output(|| AuthorizeSecurityGroupIngressOutput::builder().build()),
            all_out: mock!(aws_sdk_ec2::Client::authorize_security_group_egress)
                .match_requests(|r| r.group_id() == Some(UNTRACKED_SG))
                .then_output(|| AuthorizeSecurityGroupEgressOutput::builder().build()),
            no_interfaces: mock!(aws_sdk_ec2::Client::describe_network_interfaces)
                .match_requests(|r| {
                    r.filters()
                        .iter()
                        .any(|f| f.name() == Some("group-id") && f.values() == [UNTRACKED_SG])
                })
                .then_output(|| DescribeNetworkInterfacesOutput::builder().build()),
            opened_rules: mock!(aws_sdk_ec2::Client::describe_security_group_rules)
                .match_requests(|r| {
                    r.filters()
                        .iter()
                        .any(|f| f.name() == Some("group-id") && f.values() == [UNTRACKED_SG])
                })
                .then_output(|| rules_of(UNTRACKED_SG, true)),
            revoke_in: mock!(aws_sdk_ec2::Client::revoke_security_group_ingress)
                .match_requests(|r| {
                    r.group_id() == Some(UNTRACKED_SG) && r.security_group_rule_ids().len() == 2
                })
                .then_output(|| RevokeSecurityGroupIngressOutput::builder().build()),
            revoke_out: mock!(aws_sdk_ec2::Client::revoke_security_group_egress)
                .match_requests(|r| {
                    r.group_id() == Some(UNTRACKED_SG) && r.security_group_rule_ids().len() == 2
                })
                .then_output(|| RevokeSecurityGroupEgressOutput::builder().build()),
        }
    }

    fn rules(&self) -> [&Rule; 6] {
        [
            &self.all_in,
            &self.all_out,
            &self.no_interfaces,
            &self.opened_rules,
            &self.revoke_in,
            &self.revoke_out,
        ]
    }

    /// Opened (IPv4 and IPv6, both ways) and closed again (each direction in one call), `times`.
    fn assert_opened_and_closed(&self, times: usize) {
        assert_eq!(
            (self.all_in.num_calls(), self.all_out.num_calls()),
            (2 * times, 2 * times),
            "opened"
        );
        assert_eq!(
            (self.revoke_in.num_calls(), self.revoke_out.num_calls()),
            (times, times),
            "closed again"
        );
    }
}

/// Every group change, in order: `(interface or instance, groups)`.
type Moves = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<String>)>>>;

fn no_snapshots() -> Rule {
    mock!(aws_sdk_ec2::Client::describe_snapshots)
        .then_output(|| DescribeSnapshotsOutput::builder().build())
}

/// CreateSnapshot of the instance's root volume: taken.
fn snapshot_taken() -> Rule {
    mock!(aws_sdk_ec2::Client::create_snapshot)
        .match_requests(|r| r.volume_id() == Some(ROOT_VOLUME))
        .then_output(|| {
            CreateSnapshotOutput::builder()
                .snapshot_id("snap-0a1b2c3d4e5f60001")
                .build()
        })
}

/// DescribeAutoScalingInstances: the instance is in no Auto Scaling group.
fn not_in_a_fleet() -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances)
        .then_output(|| DescribeAutoScalingInstancesOutput::builder().build())
}

/// DescribeAutoScalingInstances: the instance is in service in `web-fleet`.
fn in_web_fleet() -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_instances).then_output(|| {
        DescribeAutoScalingInstancesOutput::builder()
            .auto_scaling_instances(
                AutoScalingInstanceDetails::builder()
                    .instance_id(INSTANCE)
                    .auto_scaling_group_name("web-fleet")
                    .lifecycle_state("InService")
                    .build(),
            )
            .build()
    })
}

fn outcomes(report: &Report) -> Vec<(String, &Outcome)> {
    report
        .actions()
        .map(|a| (a.description.clone(), &a.outcome))
        .collect()
}

fn is_done(o: &Outcome) -> bool {
    matches!(o, Outcome::Done { .. })
}

#[tokio::test]
async fn an_instance_with_two_interfaces_is_isolated_interface_by_interface() {
    let two = instance(
        vec![
            eni(PRIMARY_ENI, 0, &[WEB_SG, SSH_SG]),
            eni(SECONDARY_ENI, 1, &[BACKEND_SG]),
        ],
        false,
    );
    let instances = describe_instances(two);
    // The VPC's quarantine and untracked-connections groups exist already, ready.
    let find_group = both_groups_ready();
    // Every interface change, recorded in order.
    let moves: Moves = Default::default();
    let seen = moves.clone();
    let move_interface = mock!(aws_sdk_ec2::Client::modify_network_interface_attribute)
        .then_compute_output(move |r| {
            seen.lock().unwrap().push((
                r.network_interface_id().unwrap_or_default().to_string(),
                r.groups().to_vec(),
            ));
            ModifyNetworkInterfaceAttributeOutput::builder().build()
        });
    // Refused by EC2 for an instance with several interfaces: must not be used.
    let instance_groups = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| !r.groups().is_empty())
        .then_http_response(|| {
            panic!("ModifyInstanceAttribute with Groups on a multi-interface instance")
        });
    let (exemption, attributes, modify, tags, snapshots) = (
        not_exempt(),
        attributes(),
        modify_attributes(),
        create_tags(),
        no_snapshots(),
    );
    let (snapshot, not_in_a_group) = (snapshot_taken(), not_in_a_fleet());
    let untracked = OpenedAndClosed::new();
    let mut ec2: Vec<&Rule> = vec![
        &instances,
        &find_group,
        &move_interface,
        &instance_groups,
        &exemption,
        &attributes,
        &modify,
        &tags,
        &snapshots,
        &snapshot,
    ];
    ec2.extend(untracked.rules());

    let report = handler(&ec2, &[&not_in_a_group])
        .handle(event("guardduty-bitcoin-tool-high.json"))
        .await
        .expect("the event is handled");

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let steps = outcomes(&report);
    assert_eq!(steps.len(), 6, "{steps:#?}");
    assert!(steps.iter().all(|(_, o)| is_done(o)), "{steps:#?}");
    // Both interfaces, the primary one included, changed one by one: each first to the
    // untracked-connections group, then to the quarantine group.
    let to = |eni: &str, group: &str| (eni.to_string(), vec![group.to_string()]);
    assert_eq!(
        *moves.lock().unwrap(),
        [
            to(PRIMARY_ENI, UNTRACKED_SG),
            to(PRIMARY_ENI, QUARANTINE_SG),
            to(SECONDARY_ENI, UNTRACKED_SG),
            to(SECONDARY_ENI, QUARANTINE_SG),
        ]
    );
    assert_eq!(instance_groups.num_calls(), 0);
    // Open to all traffic only for the moves of both interfaces.
    untracked.assert_opened_and_closed(1);
    // The instance's tags are read once for every step that touches it.
    assert_eq!(exemption.num_calls(), 1);
    let Outcome::Done {
        undo, prior_state, ..
    } = steps[1].1
    else {
        unreachable!()
    };
    assert_eq!(
        undo.as_deref(),
        Some(
            "aws --region us-east-1 ec2 modify-network-interface-attribute --network-interface-id eni-0b1c2d3e4f5a60718 --groups sg-0a1b2c3d4e5f60001 sg-0a1b2c3d4e5f60002 \
             && aws --region us-east-1 ec2 modify-network-interface-attribute --network-interface-id eni-0b1c2d3e4f5a60719 --groups sg-0a1b2c3d4e5f60003"
        )
    );
    let prior = prior_state.as_ref().unwrap();
    assert_eq!(prior["interfaces"][1]["groups"][0], BACKEND_SG);
    assert_eq!(prior["created_quarantine_group"], false);
    assert_eq!(prior["untracked_group"], UNTRACKED_SG);
    // The previous groups of each interface are recorded on the instance, before isolation.
    let Outcome::Done { detail, .. } = steps[0].1 else {
        unreachable!()
    };
    assert!(
        detail.contains(&format!(
            "reflex:previous-groups:{PRIMARY_ENI}={WEB_SG},{SSH_SG}"
        )) && detail.contains(&format!(
            "reflex:previous-groups:{SECONDARY_ENI}={BACKEND_SG}"
        )),
        "{detail}"
    );
}

#[tokio::test]
async fn a_failed_snapshot_leaves_the_isolation_done_and_the_report_lists_every_step() {
    let one = instance(vec![eni(PRIMARY_ENI, 0, &[WEB_SG, SSH_SG])], true);
    let instances = describe_instances(one);
    // Neither of Reflex's groups exists yet: looked for by name (none), created, then read back
    // with the default allow-all egress rule, which is revoked; the untracked-connections group
    // then gets all traffic in and out, and is read back so once more after the moves, to be
    // closed again.
    let untracked_reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let groups =
        mock!(aws_sdk_ec2::Client::describe_security_groups).then_compute_output(move |r| {
            let b = DescribeSecurityGroupsOutput::builder();
            let Some(id) = r.group_ids().first() else {
                return b.build();
            };
            // With the tag each was created with.
            let tag = match id.as_str() {
                UNTRACKED_SG => "reflex:untracked-group",
                _ => "reflex:quarantine-group",
            };
            let group = SecurityGroup::builder()
                .group_id(id)
                .vpc_id(VPC)
                .tags(Tag::builder().key(tag).value("true").build());
            let opened = id == UNTRACKED_SG
                && untracked_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0;
            let group = if opened {
                group
                    .ip_permissions(allow_all())
                    .ip_permissions_egress(allow_all())
            } else {
                group.ip_permissions_egress(
                    IpPermission::builder()
                        .ip_protocol("-1")
                        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                        .build(),
                )
            };
            b.security_groups(group.build()).build()
        });
    let no_interfaces = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .then_output(|| DescribeNetworkInterfacesOutput::builder().build());
    // The same state rule by rule: a default rule, then the untracked group opened.
    let untracked_listed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let rules =
        mock!(aws_sdk_ec2::Client::describe_security_group_rules).then_compute_output(move |r| {
            let group = r
                .filters()
                .iter()
                .find(|f| f.name() == Some("group-id"))
                .and_then(|f| f.values().first())
                .cloned()
                .unwrap_or_default();
            let opened = group == UNTRACKED_SG
                && untracked_listed.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0;
            rules_of(&group, opened)
        });
    let closed_in = mock!(aws_sdk_ec2::Client::revoke_security_group_ingress)
        .match_requests(|r| r.group_id() == Some(UNTRACKED_SG))
        .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
    let create_group = |name: &'static str, id: &'static str| {
        mock!(aws_sdk_ec2::Client::create_security_group)
            .match_requests(move |r| r.group_name() == Some(name) && r.vpc_id() == Some(VPC))
            .then_output(move || CreateSecurityGroupOutput::builder().group_id(id).build())
    };
    let (create_quarantine, create_untracked) = (
        create_group("reflex-quarantine", QUARANTINE_SG),
        create_group("reflex-untracked", UNTRACKED_SG),
    );
    let no_egress = mock!(aws_sdk_ec2::Client::revoke_security_group_egress)
        .then_output(|| RevokeSecurityGroupEgressOutput::builder().build());
    let all_in = mock!(aws_sdk_ec2::Client::authorize_security_group_ingress)
        .match_requests(|r| r.group_id() == Some(UNTRACKED_SG))
        .then_output(|| AuthorizeSecurityGroupIngressOutput::builder().build());
    let all_out = mock!(aws_sdk_ec2::Client::authorize_security_group_egress)
        .match_requests(|r| r.group_id() == Some(UNTRACKED_SG))
        .then_output(|| AuthorizeSecurityGroupEgressOutput::builder().build());
    let moves: Moves = Default::default();
    let seen = moves.clone();
    let isolate = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| r.instance_id() == Some(INSTANCE) && !r.groups().is_empty())
        .then_compute_output(move |r| {
            seen.lock()
                .unwrap()
                .push((INSTANCE.to_string(), r.groups().to_vec()));
            ModifyInstanceAttributeOutput::builder().build()
        });
    let (exemption, attributes, modify, tags, snapshots) = (
        not_exempt(),
        attributes(),
        modify_attributes(),
        create_tags(),
        no_snapshots(),
    );
    let refused = mock!(aws_sdk_ec2::Client::create_snapshot)
        .sequence()
        .http_status(
            403,
            Some(ec2_error(
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            )),
        )
        .build();
    let member = in_web_fleet();
    let fleet =
        mock!(aws_sdk_autoscaling::Client::describe_auto_scaling_groups).then_output(|| {
            DescribeAutoScalingGroupsOutput::builder()
                .auto_scaling_groups(
                    AutoScalingGroup::builder()
                        .auto_scaling_group_name("web-fleet")
                        .desired_capacity(2)
                        .build(),
                )
                .build()
        });
    let detach = mock!(aws_sdk_autoscaling::Client::detach_instances)
        .match_requests(|r| {
            r.auto_scaling_group_name() == Some("web-fleet")
                && r.should_decrement_desired_capacity() == Some(false)
        })
        .then_output(|| DetachInstancesOutput::builder().build());

    let report = handler(
        &[
            &instances,
            &groups,
            &create_quarantine,
            &create_untracked,
            &no_egress,
            &all_in,
            &all_out,
            &isolate,
            &exemption,
            &attributes,
            &modify,
            &tags,
            &snapshots,
            &refused,
            &no_interfaces,
            &rules,
            &closed_in,
        ],
        &[&member, &fleet, &detach],
    )
    .handle(event("guardduty-bitcoin-tool-high.json"))
    .await
    .expect("the event is handled");

    assert_eq!(report.status, Status::PartiallyFailed, "{report:#?}");
    let steps = outcomes(&report);
    let done: Vec<bool> = steps.iter().map(|(_, o)| is_done(o)).collect();
    assert_eq!(
        done,
        [true, true, true, true, true, true, false],
        "{steps:#?}"
    );
    match steps[6].1 {
        Outcome::Failed {
            why, error_code, ..
        } => {
            assert_eq!(error_code.as_deref(), Some("UnauthorizedOperation"));
            assert!(
                why.starts_with("ec2:CreateSnapshot failed with UnauthorizedOperation"),
                "{why}"
            );
        }
        other => panic!("the snapshot should have failed: {other:?}"),
    }
    // Through the untracked-connections group, then into the quarantine group.
    assert_eq!(
        *moves.lock().unwrap(),
        [
            (INSTANCE.to_string(), vec![UNTRACKED_SG.to_string()]),
            (INSTANCE.to_string(), vec![QUARANTINE_SG.to_string()]),
        ]
    );
    assert_eq!(
        (create_quarantine.num_calls(), create_untracked.num_calls()),
        (1, 1)
    );
    // Each new group's default egress rule revoked; the untracked group then open to IPv4
    // and IPv6 both ways for the moves, and closed again after them.
    assert_eq!((all_in.num_calls(), all_out.num_calls()), (2, 2));
    assert_eq!((closed_in.num_calls(), no_egress.num_calls()), (1, 3));
    assert_eq!(detach.num_calls(), 1);
    // UnauthorizedOperation is not retried.
    assert_eq!(refused.num_calls(), 1);
    let text = report.text();
    for (description, outcome) in &steps {
        assert!(
            text.contains(&format!("  - {description}: {}", outcome.label())),
            "{text}"
        );
    }
    assert!(
        text.contains("created quarantine group sg-0feedc0ffee000001"),
        "{text}"
    );
    assert!(
        text.contains("to undo: aws --region us-east-1 ec2 modify-instance-attribute --instance-id i-0c7e5f3a9b1d24680 --groups sg-0a1b2c3d4e5f60001 sg-0a1b2c3d4e5f60002"),
        "{text}"
    );
}

#[tokio::test]
async fn a_move_to_quarantine_refused_after_the_untracked_group_puts_the_previous_groups_back() {
    let one = instance(vec![eni(PRIMARY_ENI, 0, &[WEB_SG, SSH_SG])], false);
    let instances = describe_instances(one);
    let groups = both_groups_ready();
    let moves: Moves = Default::default();
    let seen = moves.clone();
    // The move into the untracked group and the move back pass; into quarantine is refused.
    let change_groups = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| !r.groups().is_empty())
        .then_compute_output(move |r| {
            seen.lock()
                .unwrap()
                .push((INSTANCE.to_string(), r.groups().to_vec()));
            ModifyInstanceAttributeOutput::builder().build()
        });
    let refused = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| r.groups() == [QUARANTINE_SG])
        .sequence()
        .http_status(
            403,
            Some(ec2_error(
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            )),
        )
        .build();
    let (exemption, attributes, modify, tags, snapshots) = (
        not_exempt(),
        attributes(),
        modify_attributes(),
        create_tags(),
        no_snapshots(),
    );
    let (snapshot, not_in_a_group) = (snapshot_taken(), not_in_a_fleet());
    let untracked = OpenedAndClosed::new();
    let mut ec2: Vec<&Rule> = vec![
        &instances,
        &groups,
        &refused,
        &change_groups,
        &exemption,
        &attributes,
        &modify,
        &tags,
        &snapshots,
        &snapshot,
    ];
    ec2.extend(untracked.rules());

    let report = handler(&ec2, &[&not_in_a_group])
        .handle(event("guardduty-bitcoin-tool-high.json"))
        .await
        .expect("the event is handled");

    assert_eq!(
        refused.num_calls(),
        1,
        "UnauthorizedOperation is not retried"
    );
    assert_eq!(
        *moves.lock().unwrap(),
        [
            (INSTANCE.to_string(), vec![UNTRACKED_SG.to_string()]),
            (
                INSTANCE.to_string(),
                vec![WEB_SG.to_string(), SSH_SG.to_string()]
            ),
        ],
        "into the untracked group, refused into quarantine, then back: never left open to all"
    );
    let isolation = report
        .actions()
        .find(|a| a.description.starts_with("isolate instance"))
        .expect("the isolation step");
    match &isolation.outcome {
        Outcome::Failed { why, retryable, .. } => {
            assert!(!retryable);
            assert!(why.contains("was put back in its previous groups"), "{why}");
            assert!(why.contains("NOT ISOLATED, a person must act"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.status, Status::PartiallyFailed, "{report:#?}");
    untracked.assert_opened_and_closed(1);
}

#[tokio::test]
async fn a_move_to_quarantine_that_fails_for_now_puts_the_previous_groups_back_until_the_retry() {
    let one = instance(vec![eni(PRIMARY_ENI, 0, &[WEB_SG, SSH_SG])], false);
    let instances = describe_instances(one);
    let groups = both_groups_ready();
    let moves: Moves = Default::default();
    let seen = moves.clone();
    let change_groups = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| !r.groups().is_empty())
        .then_compute_output(move |r| {
            seen.lock()
                .unwrap()
                .push((INSTANCE.to_string(), r.groups().to_vec()));
            ModifyInstanceAttributeOutput::builder().build()
        });
    // Into quarantine: throttled past the SDK's retries in the first delivery, then accepted.
    let throttled = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| r.groups() == [QUARANTINE_SG])
        .sequence()
        .http_status(
            400,
            Some(ec2_error("RequestLimitExceeded", "Request limit exceeded.")),
        )
        .times(MAX_ATTEMPTS as usize)
        .output(|| ModifyInstanceAttributeOutput::builder().build())
        .build();
    let (exemption, attributes, modify, tags, snapshots) = (
        not_exempt(),
        attributes(),
        modify_attributes(),
        create_tags(),
        no_snapshots(),
    );
    let (snapshot, not_in_a_group) = (snapshot_taken(), not_in_a_fleet());
    let untracked = OpenedAndClosed::new();
    let mut ec2: Vec<&Rule> = vec![
        &instances,
        &groups,
        &throttled,
        &change_groups,
        &exemption,
        &attributes,
        &modify,
        &tags,
        &snapshots,
        &snapshot,
    ];
    ec2.extend(untracked.rules());
    let handler = handler(&ec2, &[&not_in_a_group]);
    let event = event("guardduty-bitcoin-tool-high.json");

    // The delivery fails for now, so that Lambda retries it...
    let err = reflex_testkit::fails_for_now(&handler, &event, "Transient.Interrupted").await;
    assert!(err.to_string().contains("RequestLimitExceeded"), "{err}");
    assert!(
        err.to_string()
            .contains("was put back in its previous groups"),
        "{err}"
    );
    // ...but the instance does not wait for it in the group that allows all traffic: it is put
    // back in its own groups, and the group is closed again.
    let to = |groups: &[&str]| {
        (
            INSTANCE.to_string(),
            groups.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        *moves.lock().unwrap(),
        [to(&[UNTRACKED_SG]), to(&[WEB_SG, SSH_SG])],
        "into the untracked group, not into quarantine for now, then back"
    );
    untracked.assert_opened_and_closed(1);

    // Lambda's retry makes both moves again, from the instance's own groups.
    let report = handler.handle(event).await.expect("the retry is handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(
        *moves.lock().unwrap(),
        [
            to(&[UNTRACKED_SG]),
            to(&[WEB_SG, SSH_SG]),
            to(&[UNTRACKED_SG])
        ]
    );
    assert_eq!(throttled.num_calls(), MAX_ATTEMPTS as usize + 1);
    untracked.assert_opened_and_closed(2);
}

#[tokio::test]
async fn an_instance_with_the_exemption_tag_is_left_untouched_and_the_report_says_so() {
    let one = instance(vec![eni(PRIMARY_ENI, 0, &[WEB_SG, SSH_SG])], true);
    let instances = describe_instances(one);
    let exempt = tags_of(INSTANCE, &[("Name", "web-1"), ("reflex:exempt", "true")]);
    let no_quarantine_group = mock!(aws_sdk_ec2::Client::describe_security_groups)
        .then_output(|| DescribeSecurityGroupsOutput::builder().build());
    let member = in_web_fleet();
    // Every call that would change something, answered so that a call is counted below.
    let ec2_changes = [
        mock!(aws_sdk_ec2::Client::modify_instance_attribute)
            .then_output(|| ModifyInstanceAttributeOutput::builder().build()),
        mock!(aws_sdk_ec2::Client::modify_network_interface_attribute)
            .then_output(|| ModifyNetworkInterfaceAttributeOutput::builder().build()),
        mock!(aws_sdk_ec2::Client::create_security_group)
            .then_output(|| CreateSecurityGroupOutput::builder().build()),
        mock!(aws_sdk_ec2::Client::create_tags).then_output(|| CreateTagsOutput::builder().build()),
        mock!(aws_sdk_ec2::Client::create_snapshot)
            .then_output(|| CreateSnapshotOutput::builder().build()),
    ];
    let detach = mock!(aws_sdk_autoscaling::Client::detach_instances)
        .then_output(|| DetachInstancesOutput::builder().build());
    let mut ec2: Vec<&Rule> = vec![&instances, &exempt, &no_quarantine_group];
    ec2.extend(&ec2_changes);

    let report = handler(&ec2, &[&member, &detach])
        .handle(event("guardduty-bitcoin-tool-high.json"))
        .await
        .expect("the event is handled");

    let steps = outcomes(&report);
    // Previous groups, isolation, detach, termination protection, shutdown, tag, one snapshot.
    assert_eq!(steps.len(), 7, "{steps:#?}");
    let why = format!("instance {INSTANCE} carries the exemption tag reflex:exempt=true");
    for (description, outcome) in &steps {
        assert_eq!(
            *outcome,
            &Outcome::Exempt { why: why.clone() },
            "{description}"
        );
    }
    for change in ec2_changes.iter().chain([&detach]) {
        assert_eq!(change.num_calls(), 0, "no call may change anything");
    }
    assert_eq!(exempt.num_calls(), 1);
    assert_eq!(report.status, Status::Exempt, "{report:#?}");
    assert!(report.text().contains("EXEMPT"), "{}", report.text());
}

#[tokio::test]
async fn a_world_open_group_is_closed_after_reading_only_the_tags_of_the_caller_and_the_group() {
    let caller_tags = mock!(aws_sdk_iam::Client::list_user_tags)
        .match_requests(|r| r.user_name() == Some("mallory"))
        .then_output(|| {
            ListUserTagsOutput::builder()
                .set_tags(Some(Vec::new()))
                .build()
                .expect("tags are set")
        });
    let group_tags = tags_of(WEB_SG, &[("Name", "web")]);
    // What the call added: SSH from the world (IPv4 and IPv6), and HTTPS, which stays.
    let rules = mock!(aws_sdk_ec2::Client::describe_security_group_rules).then_output(|| {
        let rule = |id: &str, port: i32, cidr: &str| {
            let b = SecurityGroupRule::builder()
                .security_group_rule_id(id)
                .group_id(WEB_SG)
                .is_egress(false)
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port);
            if cidr.contains(':') {
                b.cidr_ipv6(cidr).build()
            } else {
                b.cidr_ipv4(cidr).build()
            }
        };
        DescribeSecurityGroupRulesOutput::builder()
            .security_group_rules(rule("sgr-0e1d2c3b4a5968701", 22, "0.0.0.0/0"))
            .security_group_rules(rule("sgr-0e1d2c3b4a5968702", 22, "::/0"))
            .security_group_rules(rule("sgr-0e1d2c3b4a5968703", 443, "0.0.0.0/0"))
            .build()
    });
    let revoke = mock!(aws_sdk_ec2::Client::revoke_security_group_ingress)
        .match_requests(|r| {
            r.group_id() == Some(WEB_SG)
                && r.security_group_rule_ids() == ["sgr-0e1d2c3b4a5968701", "sgr-0e1d2c3b4a5968702"]
        })
        .then_output(|| RevokeSecurityGroupIngressOutput::builder().build());
    // Gathering looks up only what the trigger names: no instance here.
    let instances = mock!(aws_sdk_ec2::Client::describe_instances)
        .then_output(|| DescribeInstancesOutput::builder().build());

    let report = handler_with_iam(
        &[&group_tags, &rules, &revoke, &instances],
        &[],
        &[&caller_tags],
    )
    .handle(event("authorize-ssh-to-world.json"))
    .await
    .expect("the event is handled");

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let steps = outcomes(&report);
    assert_eq!(steps.len(), 1, "{steps:#?}");
    let Outcome::Done { undo, .. } = steps[0].1 else {
        panic!("{steps:#?}")
    };
    assert!(
        undo.as_deref().is_some_and(|u| u.starts_with(&format!(
            "aws --region us-east-1 ec2 authorize-security-group-ingress --group-id {WEB_SG} --ip-permissions '["
        ))),
        "{undo:?}"
    );
    assert_eq!(
        (
            caller_tags.num_calls(),
            group_tags.num_calls(),
            revoke.num_calls()
        ),
        (1, 1, 1)
    );
    assert_eq!(instances.num_calls(), 0);
}

#[tokio::test]
async fn a_lookup_of_reflexs_groups_that_fails_for_now_fails_the_event_before_any_change() {
    let one = instance(vec![eni(PRIMARY_ENI, 0, &[QUARANTINE_SG])], false);
    let instances = describe_instances(one);
    // Throttled, whoever asks: gathering the facts, or (without the fix) the isolation.
    let throttled = mock!(aws_sdk_ec2::Client::describe_security_groups)
        .sequence()
        .http_status(
            400,
            Some(ec2_error("RequestLimitExceeded", "Request limit exceeded.")),
        )
        .times(3 * MAX_ATTEMPTS as usize)
        .build();
    let (exemption, tags, not_in_a_group) = (not_exempt(), create_tags(), not_in_a_fleet());

    // An instance already isolated must not pass for one that is not (its quarantine time
    // replaced, its volumes snapshotted again): nothing is decided without the group.
    let err = reflex_testkit::fails_for_now(
        &handler(
            &[&instances, &throttled, &exemption, &tags],
            &[&not_in_a_group],
        ),
        &event("guardduty-bitcoin-tool-high.json"),
        "Transient.Lookup",
    )
    .await;
    assert!(
        err.to_string()
            .contains("could not look for the group reflex-quarantine"),
        "{err}"
    );
    assert_eq!(tags.num_calls(), 0, "nothing changed");
}

#[tokio::test]
async fn a_fault_for_now_making_the_untracked_group_ready_fails_the_event_before_any_move() {
    let one = instance(vec![eni(PRIMARY_ENI, 0, &[WEB_SG, SSH_SG])], false);
    let instances = describe_instances(one);
    // The quarantine group is ready; the untracked group is missing, and creating it is
    // throttled past the SDK's retries.
    let groups = mock!(aws_sdk_ec2::Client::describe_security_groups).then_compute_output(|r| {
        let b = DescribeSecurityGroupsOutput::builder();
        match named(r) {
            Some("reflex-quarantine") => b
                .security_groups(
                    SecurityGroup::builder()
                        .group_id(QUARANTINE_SG)
                        .vpc_id(VPC)
                        .group_name("reflex-quarantine")
                        .build(),
                )
                .build(),
            _ => b.build(),
        }
    });
    let create_untracked = mock!(aws_sdk_ec2::Client::create_security_group)
        .match_requests(|r| r.group_name() == Some("reflex-untracked"))
        .sequence()
        .http_status(
            400,
            Some(ec2_error("RequestLimitExceeded", "Request limit exceeded.")),
        )
        .times(MAX_ATTEMPTS as usize)
        .build();
    let change_groups = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| !r.groups().is_empty())
        .then_output(|| ModifyInstanceAttributeOutput::builder().build());
    let (exemption, attributes, modify, tags, snapshots) = (
        not_exempt(),
        attributes(),
        modify_attributes(),
        create_tags(),
        no_snapshots(),
    );
    let (snapshot, not_in_a_group) = (snapshot_taken(), not_in_a_fleet());

    let err = reflex_testkit::fails_for_now(
        &handler(
            &[
                &instances,
                &groups,
                &create_untracked,
                &change_groups,
                &exemption,
                &attributes,
                &modify,
                &tags,
                &snapshots,
                &snapshot,
            ],
            &[&not_in_a_group],
        ),
        &event("guardduty-bitcoin-tool-high.json"),
        "Transient.Interrupted",
    )
    .await;
    assert!(err.to_string().contains("nothing moved yet"), "{err}");
    // Not isolated with tracked connections left open for good: the retry isolates through
    // the untracked group.
    assert_eq!(change_groups.num_calls(), 0, "no move");
    assert_eq!(create_untracked.num_calls(), MAX_ATTEMPTS as usize);
}

/// The instance as a run that died between the two moves left it: in the untracked group only
/// (named so in its description), and no record of its own groups on it.
fn left_in_the_untracked_group() -> Instance {
    let named = GroupIdentifier::builder()
        .group_id(UNTRACKED_SG)
        .group_name("reflex-untracked")
        .build();
    let interface = InstanceNetworkInterface::builder()
        .network_interface_id(PRIMARY_ENI)
        .attachment(
            InstanceNetworkInterfaceAttachment::builder()
                .device_index(0)
                .build(),
        )
        .groups(named)
        .build();
    instance(vec![interface], false)
}

#[tokio::test]
async fn an_isolation_whose_previous_groups_are_not_known_prints_no_undo_command() {
    let instances = describe_instances(left_in_the_untracked_group());
    let groups = both_groups_ready();
    let moves: Moves = Default::default();
    let seen = moves.clone();
    let change_groups = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| !r.groups().is_empty())
        .then_compute_output(move |r| {
            seen.lock()
                .unwrap()
                .push((INSTANCE.to_string(), r.groups().to_vec()));
            ModifyInstanceAttributeOutput::builder().build()
        });
    let (exemption, attributes, modify, tags, snapshots) = (
        not_exempt(),
        attributes(),
        modify_attributes(),
        create_tags(),
        no_snapshots(),
    );
    let (snapshot, not_in_a_group) = (snapshot_taken(), not_in_a_fleet());
    let untracked = OpenedAndClosed::new();
    let mut ec2: Vec<&Rule> = vec![
        &instances,
        &groups,
        &change_groups,
        &exemption,
        &attributes,
        &modify,
        &tags,
        &snapshots,
        &snapshot,
    ];
    ec2.extend(untracked.rules());

    let report = handler(&ec2, &[&not_in_a_group])
        .handle(event("guardduty-bitcoin-tool-high.json"))
        .await
        .expect("the event is handled");

    // The move is finished...
    assert_eq!(
        *moves.lock().unwrap(),
        [(INSTANCE.to_string(), vec![QUARANTINE_SG.to_string()])]
    );
    let isolation = report
        .actions()
        .find(|a| a.description.starts_with("isolate instance"))
        .expect("the isolation step");
    assert_eq!(
        isolation.outcome.status(),
        "done",
        "{:#?}",
        isolation.outcome
    );
    // ...but nothing says which groups it had: no command that cannot work.
    let undo = isolation.outcome.undo_command().expect("an undo line");
    assert!(!undo.is_command(), "{undo}");
    assert!(undo.starts_with("no command printed: "), "{undo}");
    assert!(undo.contains("are not known"), "{undo}");
}

#[tokio::test]
async fn previous_groups_too_many_for_one_tag_are_refused_whole_not_cut() {
    // Sixteen groups (a raised quota) on one interface: 335 characters joined, past EC2's 256.
    let many: Vec<String> = (0..16).map(|n| format!("sg-0a1b2c3d4e5f6{n:04}")).collect();
    let names: Vec<&str> = many.iter().map(String::as_str).collect();
    let instances = describe_instances(instance(vec![eni(PRIMARY_ENI, 0, &names)], false));
    let groups = both_groups_ready();
    let change_groups = mock!(aws_sdk_ec2::Client::modify_instance_attribute)
        .match_requests(|r| !r.groups().is_empty())
        .then_output(|| ModifyInstanceAttributeOutput::builder().build());
    let (exemption, attributes, modify, tags, snapshots) = (
        not_exempt(),
        attributes(),
        modify_attributes(),
        create_tags(),
        no_snapshots(),
    );
    let (snapshot, not_in_a_group) = (snapshot_taken(), not_in_a_fleet());
    let untracked = OpenedAndClosed::new();
    let mut ec2: Vec<&Rule> = vec![
        &instances,
        &groups,
        &change_groups,
        &exemption,
        &attributes,
        &modify,
        &tags,
        &snapshots,
        &snapshot,
    ];
    ec2.extend(untracked.rules());

    let report = handler(&ec2, &[&not_in_a_group])
        .handle(event("guardduty-bitcoin-tool-high.json"))
        .await
        .expect("the event is handled");

    let steps = outcomes(&report);
    let Outcome::Failed { why, retryable, .. } = steps[0].1 else {
        panic!("the record must fail whole: {steps:#?}")
    };
    assert!(!retryable);
    assert!(
        why.contains(&format!(
            "the previous groups of {PRIMARY_ENI} (16 groups) do not fit"
        )),
        "{why}"
    );
    // Only the quarantine's own tags were written, never a cut list.
    assert_eq!(
        tags.num_calls(),
        1,
        "the reason and time of quarantine only"
    );
    // The isolation keeps every group in its undo.
    let Outcome::Done { undo, .. } = steps[1].1 else {
        panic!("{steps:#?}")
    };
    let undo = undo.as_ref().expect("an undo");
    assert!(undo.is_command(), "{undo}");
    for g in &many {
        assert!(undo.contains(g.as_str()), "{g}: {undo}");
    }
}
