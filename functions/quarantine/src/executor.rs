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
    AttributeBooleanValue, Filter, Instance, InstanceAttributeName, IpPermission, IpRange,
    Ipv6Range, NetworkInterface, ResourceType, SecurityGroup, SecurityGroupRule, Tag,
    TagSpecification,
};
use chrono::{SecondsFormat, Utc};
use reflex_shared::aws::{self, CallError, failure};
use reflex_shared::outcome::settle;
use reflex_shared::{Outcome, Step, Undo};
use serde_json::{Value, json};

use crate::actions::{
    Interface, MAX_TAG_VALUE, PREVIOUS_GROUPS_TAG_PREFIX, QUARANTINE_GROUP_NAME,
    QUARANTINE_GROUP_TAG, QUARANTINE_REASON_TAG, QUARANTINED_AT_TAG, QuarantineAction,
    SNAPSHOT_EVENT_TAG, SNAPSHOT_FINDING_TAG, SNAPSHOT_INSTANCE_TAG, UNTRACKED_GROUP_NAME,
    UNTRACKED_GROUP_TAG, tag_value,
};
use crate::facts::{self, MISSING_INSTANCE, describe_instance, find_group};
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
        QuarantineAction::RemoveExemptionTag {
            resource_id,
            key,
            value,
        } => remove_exemption_tag(ec2, resource_id, key, value).await,
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

fn explained(outcome: Outcome) -> String {
    outcome.explanation().unwrap_or("?").to_string()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

// ---- an exemption tag self-granted ----

/// Remove the exemption tag, unless it no longer exempts (removed, or set to another value since
/// the event: someone fixed it already). Deleted with the value read, so that a value written
/// in between (by someone allowed to) is not deleted with it.
async fn remove_exemption_tag(ec2: &Client, id: &str, key: &str, value: &str) -> Step {
    let what = crate::actions::kind_and_id(id);
    let gone =
        || Outcome::already_done(format!("{what} no longer carries the exemption tag {key}"));
    // A resource that is gone has no tags: the filter finds none.
    let tags = facts::resource_tags(ec2, id)
        .await
        .map_err(|e| e.outcome("ec2:DescribeTags"))?;
    // The value compared as the exemption compares it: `TRUE` exempts as `true` does.
    let Some(current) = tags
        .get(key)
        .filter(|v| v.eq_ignore_ascii_case(value))
        .cloned()
    else {
        return Ok(gone());
    };
    ec2.delete_tags()
        .resources(id)
        .tags(tag(key, &current))
        .send()
        .await
        .map_err(|e| {
            aws::fault(
                "ec2:DeleteTags",
                &e,
                &["InvalidInstanceID.NotFound", "InvalidGroup.NotFound"],
            )
            .or_gone(gone)
        })?;
    Ok(Outcome::done(
        format!("removed the exemption tag {key}={current} from {what}"),
        Some(json!({ "tags": { key: current } })),
        undo::tag_again(id, key, &current),
    ))
}

// ---- a security group opened to the world ----

async fn revoke_ingress(ec2: &Client, group_id: &str, rules: &[OpenedRule]) -> Step {
    // A group that is gone has no rules left: the filter finds none.
    let current = facts::describe_group_rules(ec2, group_id)
        .await
        .map_err(|e| e.outcome("ec2:DescribeSecurityGroupRules"))?;
    // Each opened rule still on the group as it was judged: by its id and what it allows (a rule
    // changed since is not the rule judged: its change has an event of its own) or, without an
    // id, by what it allows.
    let inbound: Vec<_> = current
        .iter()
        .filter(|c| c.is_egress() != Some(true))
        .collect();
    let allows = |r: &OpenedRule, c: &SecurityGroupRule| {
        r.same_rule(
            c.ip_protocol().unwrap_or(""),
            c.from_port(),
            c.to_port(),
            c.cidr_ipv4()
                .or(c.cidr_ipv6())
                .or(c.prefix_list_id())
                .unwrap_or(""),
        )
    };
    let mut changed = Vec::new();
    let present: Vec<(String, &OpenedRule)> = rules
        .iter()
        .filter_map(|r| {
            let found = match r.rule_id.as_deref() {
                Some(id) => {
                    let c = inbound
                        .iter()
                        .find(|c| c.security_group_rule_id() == Some(id))?;
                    if !allows(r, c) {
                        changed.push(format!("{id} was changed since"));
                        return None;
                    }
                    c
                }
                None => inbound.iter().find(|c| allows(r, c))?,
            };
            Some((found.security_group_rule_id()?.to_string(), r))
        })
        .collect();
    if present.is_empty() {
        let since = match changed.as_slice() {
            [] => String::new(),
            c => format!(" ({})", c.join(", ")),
        };
        return Ok(Outcome::already_done(format!(
            "none of the opened rules remain on security group {group_id}{since}"
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
        .map(|(id, r)| format!("{id} ({} from {})", r.ports(), r.source()))
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
//
// Changing an instance's security groups does not cut the connections EC2 already tracks (an
// SSH session, a C2 channel): they stay open until they go idle. AWS's guidance is to move the
// instance first to a group whose rules allow all traffic in and out, from and to anywhere
// (0.0.0.0/0 and ::/0), which makes its connections untracked, and then to the isolation group
// with no rules, which then stops them:
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html#untracked-connections
// and the AWSSupport-ContainEC2Instance runbook (a temporary "all access" group, then the
// containment group):
// https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-awssupport-containec2instance.html
//
// Both moves are one step, so that no guard runs the first without the second. Both groups are
// made ready before the instance moves, so that only the move itself can fail in between.
//
// The untracked group is open only while the moves last: left open, anyone allowed to change an
// instance's groups could put theirs in it and have every port open, with no Authorize call for
// world-open to see. It is opened only when it is Reflex's (created with Reflex's tag) and no
// one else's interface is in it (opening it opens them), and closed again after the moves,
// however they ended. A run that dies between the two moves leaves the step started, not done,
// in the ledger: Lambda's retry runs it again, finds the instance in the untracked group and
// finishes the move; one that dies after the last move finds the instance isolated and closes
// the group.

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
    let (quarantine, created) = find_or_create(ec2, &vpc, &QUARANTINE).await?;
    set_rules(ec2, &quarantine, &QUARANTINE).await?;
    let group = quarantine.group_id().unwrap_or_default().to_string();
    let mut notes = Vec::new();
    if created {
        notes.push(format!(
            "created quarantine group {group} ({QUARANTINE_GROUP_NAME}) in {vpc}"
        ));
    }
    if interfaces.iter().all(|i| i.groups == [group.clone()]) {
        notes.push(format!(
            "instance {instance_id} already has quarantine group {group} as its only security group"
        ));
        return match left_open(ec2, &vpc, instance_id).await {
            Ok(closed) => {
                notes.extend(closed);
                Ok(Outcome::already_done(notes.join("; ")))
            }
            Err(open) => Err(reworded(open, &notes.join("; "), "", false)),
        };
    }
    let untracked = match open_untracked(ec2, &vpc, instance_id).await {
        Ok(Untracked::Open { id, created }) => {
            if created {
                notes.push(format!(
                    "created untracked-connections group {id} ({UNTRACKED_GROUP_NAME}) in {vpc}"
                ));
            }
            Some(id)
        }
        // Isolated all the same (new connections are cut); what stays open is said.
        Ok(Untracked::Unused(why)) => {
            notes.push(format!(
                "{why}: connections EC2 already tracks may stay open until they go idle"
            ));
            None
        }
        // Nothing has moved yet: Lambda's retry isolates through the group.
        Err(failed) => {
            let lead = notes.join("; ");
            return Err(reworded(failed, &lead, "nothing moved yet", false));
        }
    };
    let previous = previous_groups(&instance, &interfaces);
    let moves = Moves {
        instance_id,
        untracked: untracked.as_deref(),
        group: &group,
        notes: notes.join("; "),
    };
    let moved = match interfaces.as_slice() {
        [only] => moves.instance(ec2, only, &previous).await,
        several => moves.interfaces(ec2, several, &previous).await,
    };
    // Closed again however the moves ended.
    let (closed, still_open) = match &untracked {
        Some(id) => match close_untracked(ec2, id, instance_id).await {
            Ok(note) => (Some(note), None),
            Err(open) => (None, Some(open)),
        },
        None => (None, None),
    };
    let moved = match moved {
        Ok(moved) => moved,
        Err(failed) => {
            let retry = still_open.as_ref().is_some_and(Outcome::is_retryable);
            let more = closed.or(still_open.map(explained)).unwrap_or_default();
            return Err(reworded(failed, "", &more, retry));
        }
    };
    let moved_back: Vec<&Interface> = previous.iter().filter(|i| moved.contains(&i.id)).collect();
    // No record and only Reflex's groups on it: `--groups` of nothing would not restore it.
    let undo = if moved_back.iter().any(|i| i.groups.is_empty()) {
        Undo::none(
            "the security groups an interface had before quarantine are not known (it held only Reflex's groups and no record of its own groups is on the instance)",
        )
    } else {
        match (interfaces.as_slice(), moved_back.as_slice()) {
            ([_], [only]) => undo::instance_groups_back(instance_id, &only.groups),
            _ => undo::interface_groups_back(&moved_back),
        }
    };
    let was: Vec<String> = previous
        .iter()
        .map(|i| match i.groups.as_slice() {
            [] => format!("{} had groups not known", i.id),
            groups => format!("{} had {}", i.id, groups.join(" ")),
        })
        .collect();
    let path = match &untracked {
        Some(u) => format!(
            "connections made untracked (untracked-connections group {u}, open to all traffic for the moves), then isolated: "
        ),
        None => "isolated without making connections untracked first: ".to_string(),
    };
    let lead = if moves.notes.is_empty() {
        String::new()
    } else {
        format!("{}; ", moves.notes)
    };
    let detail = format!(
        "{lead}{path}quarantine group {group} is now the only security group of instance {instance_id} ({})",
        was.join("; ")
    );
    // Isolated, but the group that lets everything in is still open: not done.
    if let Some(open) = still_open {
        return Err(reworded(open, &detail, "", false));
    }
    Ok(Outcome::done(
        match closed {
            Some(note) => format!("{detail}; {note}"),
            None => detail,
        },
        Some(json!({
            "interfaces": previous,
            "quarantine_group": group,
            "created_quarantine_group": created,
            "untracked_group": untracked,
        })),
        undo,
    ))
}

/// `failed` with `lead` before its reason and `more` after it; retryable also when `retry`.
fn reworded(failed: Outcome, lead: &str, more: &str, retry: bool) -> Outcome {
    let Outcome::Failed {
        why,
        error_code,
        retryable,
    } = failed
    else {
        return failed;
    };
    let lead = if lead.is_empty() {
        String::new()
    } else {
        format!("{lead}; ")
    };
    let more = if more.is_empty() {
        String::new()
    } else {
        format!("; {more}")
    };
    Outcome::Failed {
        why: format!("{lead}{why}{more}"),
        error_code,
        retryable: retryable || retry,
    }
}

/// Each interface's groups before quarantine: its groups, or, for an interface that holds only
/// Reflex's groups (a run that died between the two moves), the groups recorded on the
/// instance before isolation; none when there is no record. The undo restores these, never
/// Reflex's groups.
fn previous_groups(instance: &Instance, interfaces: &[Interface]) -> Vec<Interface> {
    let reflex = facts::reflex_groups_of(instance);
    let tags = facts::tags(instance.tags());
    interfaces
        .iter()
        .map(|i| {
            let own: Vec<String> = i
                .groups
                .iter()
                .filter(|g| !reflex.contains(&g.as_str()))
                .cloned()
                .collect();
            let groups = if own.is_empty() {
                tags.get(&format!("{PREVIOUS_GROUPS_TAG_PREFIX}{}", i.id))
                    .map(|v| {
                        v.split(',')
                            .filter(|g| !g.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                own
            };
            Interface {
                groups,
                ..i.clone()
            }
        })
        .collect()
}

/// Moving an instance's interfaces into the untracked group (when there is one), then the
/// quarantine group.
struct Moves<'a> {
    instance_id: &'a str,
    untracked: Option<&'a str>,
    group: &'a str,
    /// What was done before the moves (groups created), for a failure's report.
    notes: String,
}

impl Moves<'_> {
    /// One interface: its groups are the instance's. (With several interfaces EC2 refuses this
    /// call: "There are multiple interfaces attached to instance".) The interfaces moved.
    async fn instance(
        &self,
        ec2: &Client,
        only: &Interface,
        previous: &[Interface],
    ) -> Step<Vec<String>> {
        let set = |group: &str| {
            ec2.modify_instance_attribute()
                .instance_id(self.instance_id)
                .groups(group)
                .send()
        };
        if let Some(untracked) = self.untracked
            && only.groups != [untracked]
        {
            set(untracked)
                .await
                .map_err(|e| on_instance("ec2:ModifyInstanceAttribute", self.instance_id, &e))?;
        }
        if let Err(e) = set(self.group).await {
            let failed = on_instance("ec2:ModifyInstanceAttribute", self.instance_id, &e);
            return Err(self.stuck(ec2, failed, only, previous).await);
        }
        Ok(vec![only.id.clone()])
    }

    /// Several interfaces: each not yet isolated, the primary one included, moved on its own
    /// (untracked, then isolated, one after the other). The interfaces moved.
    async fn interfaces(
        &self,
        ec2: &Client,
        interfaces: &[Interface],
        previous: &[Interface],
    ) -> Step<Vec<String>> {
        let mut done: Vec<String> = Vec::new();
        for eni in interfaces.iter().filter(|i| i.groups != [self.group]) {
            let set = |group: &str| {
                ec2.modify_network_interface_attribute()
                    .network_interface_id(&eni.id)
                    .groups(group)
                    .send()
            };
            let call = "ec2:ModifyNetworkInterfaceAttribute";
            if let Some(untracked) = self.untracked
                && eni.groups != [untracked]
            {
                set(untracked).await.map_err(|e| {
                    let failed = on_instance(call, self.instance_id, &e);
                    partly_isolated(failed, &self.notes, &eni.id, &done)
                })?;
            }
            if let Err(e) = set(self.group).await {
                let failed = on_instance(call, self.instance_id, &e);
                let failed = partly_isolated(failed, &self.notes, &eni.id, &done);
                return Err(self.stuck(ec2, failed, eni, previous).await);
            }
            done.push(eni.id.clone());
        }
        Ok(done)
    }

    /// The move to the quarantine group failed after the move to the untracked group, open to
    /// all traffic: the interface is put back in its previous groups, never left there. For
    /// good (denied), a person must isolate it; for now (throttling, a 5xx), the failure stays
    /// retryable and Lambda's retry makes both moves again from there, guards included.
    async fn stuck(
        &self,
        ec2: &Client,
        failed: Outcome,
        eni: &Interface,
        previous: &[Interface],
    ) -> Outcome {
        let Some(untracked) = self.untracked else {
            return failed;
        };
        let Outcome::Failed {
            why,
            error_code,
            retryable,
        } = failed
        else {
            return failed;
        };
        let before: Vec<String> = previous
            .iter()
            .find(|p| p.id == eni.id)
            .map(|p| p.groups.clone())
            .unwrap_or_default();
        let restored = if before.is_empty() {
            Err("no record of its previous groups".to_string())
        } else if eni.device_index == 0 && previous.len() == 1 {
            ec2.modify_instance_attribute()
                .instance_id(self.instance_id)
                .set_groups(Some(before.clone()))
                .send()
                .await
                .map(drop)
                .map_err(|e| explained(failure("ec2:ModifyInstanceAttribute", &e)))
        } else {
            ec2.modify_network_interface_attribute()
                .network_interface_id(&eni.id)
                .set_groups(Some(before.clone()))
                .send()
                .await
                .map(drop)
                .map_err(|e| explained(failure("ec2:ModifyNetworkInterfaceAttribute", &e)))
        };
        let after = match restored {
            Ok(()) if retryable => format!(
                "{} was put back in its previous groups ({}), not left in untracked-connections group {untracked}: the retry isolates it again",
                eni.id,
                before.join(" ")
            ),
            Ok(()) => format!(
                "{} was put back in its previous groups ({}), not left in untracked-connections group {untracked}: NOT ISOLATED, a person must act",
                eni.id,
                before.join(" ")
            ),
            Err(e) => format!(
                "{} is in untracked-connections group {untracked} and could not be put back ({e}): a person must isolate it now",
                eni.id
            ),
        };
        Outcome::Failed {
            why: format!("{why}; {after}"),
            error_code,
            retryable,
        }
    }
}

/// A failure part-way through the interfaces says which were isolated already.
fn partly_isolated(failed: Outcome, notes: &str, eni: &str, done: &[String]) -> Outcome {
    let done = if done.is_empty() {
        "none".to_string()
    } else {
        done.join(", ")
    };
    let more = format!("that was on {eni}; already isolated: {done}");
    reworded(failed, notes, &more, false)
}

/// One of Reflex's groups: its name, what it is for, the tag it is created with, and the exact
/// rules it has in each direction when in use (`-1` from and to the CIDRs listed; none for the
/// quarantine group).
struct ReflexGroup {
    name: &'static str,
    kind: &'static str,
    description: &'static str,
    tag: &'static str,
    allow_all_from: &'static [&'static str],
}

const QUARANTINE: ReflexGroup = ReflexGroup {
    name: QUARANTINE_GROUP_NAME,
    kind: "quarantine group",
    description: "Reflex quarantine: no inbound and no outbound traffic",
    tag: QUARANTINE_GROUP_TAG,
    allow_all_from: &[],
};

const UNTRACKED: ReflexGroup = ReflexGroup {
    name: UNTRACKED_GROUP_NAME,
    kind: "untracked-connections group",
    description: "Reflex: all traffic while an instance moves to quarantine, so that connections become untracked",
    tag: UNTRACKED_GROUP_TAG,
    allow_all_from: &["0.0.0.0/0", "::/0"],
};

/// The VPC's group of that kind as EC2 has it now, created (with its tag) if missing; and
/// whether it was created now. Its rules are not set here.
async fn find_or_create(
    ec2: &Client,
    vpc: &str,
    kind: &ReflexGroup,
) -> Step<(SecurityGroup, bool)> {
    let name = kind.name;
    let lookup_failed = |e: CallError| e.outcome("ec2:DescribeSecurityGroups");
    if let Some(existing) = find_group(ec2, vpc, name).await.map_err(lookup_failed)? {
        return Ok((existing, false));
    }
    let created = ec2
        .create_security_group()
        .group_name(name)
        .description(kind.description)
        .vpc_id(vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(tag(kind.tag, "true"))
                .tags(tag("Name", name))
                .build(),
        )
        .send()
        .await;
    let id = match created {
        Ok(out) => out.group_id.unwrap_or_default(),
        // Another invocation created it first; EC2 may not list it yet.
        Err(e) if e.code() == Some("InvalidGroup.Duplicate") => {
            let found = find_group(ec2, vpc, name)
                .await
                .map_err(lookup_failed)?
                .ok_or_else(|| {
                    Outcome::failed_for_now(
                        format!(
                            "{name} exists in {vpc} (another invocation created it) but is not listed yet"
                        ),
                        Some("InvalidGroup.Duplicate".into()),
                    )
                })?;
            return Ok((found, false));
        }
        Err(e) => return Err(failure("ec2:CreateSecurityGroup", &e)),
    };
    // A new group allows all outbound traffic: its rules are set next. Not listed yet (EC2 is
    // eventually consistent), it is not used as it is: the retry finds it by its name.
    let group = facts::describe_group(ec2, &id)
        .await
        .map_err(lookup_failed)?
        .ok_or_else(|| {
            Outcome::failed_for_now(
                format!(
                    "{} {id} in {vpc} is not listed yet: its rules are not set",
                    kind.kind
                ),
                None,
            )
        })?;
    Ok((group, true))
}

/// The untracked-connections group of one isolation: opened, or why it is not used.
enum Untracked {
    /// Open to all traffic for the moves (and closed again after them); created now or not.
    Open { id: String, created: bool },
    /// Not used, and why: the isolation goes on without it.
    Unused(String),
}

/// The VPC's untracked-connections group, opened to all traffic for this instance's moves, or
/// why it is not used. A fault that may pass is `Err`, before any move: Lambda's retry isolates
/// through the group; a final one leaves the isolation to go on without it.
async fn open_untracked(ec2: &Client, vpc: &str, instance_id: &str) -> Step<Untracked> {
    match ready_untracked(ec2, vpc, instance_id).await {
        Err(failed) if !failed.is_retryable() => Ok(Untracked::Unused(format!(
            "the untracked-connections group could not be made ready ({})",
            explained(failed)
        ))),
        other => other,
    }
}

/// Only a group Reflex created (its tag; a namesake without it is someone else's, neither
/// tagged nor opened) and in which no other instance's interface is (opening it would open
/// them) is opened.
async fn ready_untracked(ec2: &Client, vpc: &str, instance_id: &str) -> Step<Untracked> {
    let (group, created) = find_or_create(ec2, vpc, &UNTRACKED).await?;
    let id = group.group_id().unwrap_or_default().to_string();
    if !carries(&group, UNTRACKED_GROUP_TAG) {
        return Ok(Untracked::Unused(format!(
            "security group {id} is named {UNTRACKED_GROUP_NAME} but does not carry Reflex's tag {UNTRACKED_GROUP_TAG}=true: someone else made it, and Reflex neither tags nor opens it"
        )));
    }
    let found = facts::interfaces_in_group(ec2, &id)
        .await
        .map_err(|e| e.outcome("ec2:DescribeNetworkInterfaces"))?;
    let others = others(&found, instance_id);
    if !others.is_empty() {
        return Ok(Untracked::Unused(format!(
            "untracked-connections group {id} holds network interfaces of others ({}): opening it would let all traffic in to them, so it is left as it is",
            others.join(", ")
        )));
    }
    if let Err(failed) = set_rules(ec2, &group, &UNTRACKED).await {
        // Perhaps opened in part: closed again before anything else.
        return Err(match close_untracked(ec2, &id, instance_id).await {
            Ok(_) => failed,
            Err(open) => reworded(failed, "", &explained(open), false),
        });
    }
    Ok(Untracked::Open { id, created })
}

/// Whether the group carries `key=true`.
fn carries(group: &SecurityGroup, key: &str) -> bool {
    group
        .tags()
        .iter()
        .any(|t| t.key() == Some(key) && t.value() == Some("true"))
}

/// The interfaces that are not the instance's: `eni-... (instance i-...)`, or `(no instance)`
/// for one attached to none (or to another service).
fn others(interfaces: &[NetworkInterface], instance_id: &str) -> Vec<String> {
    interfaces
        .iter()
        .filter_map(|n| {
            let owner = n.attachment().and_then(|a| a.instance_id());
            if owner == Some(instance_id) {
                return None;
            }
            let id = n.network_interface_id().unwrap_or("?");
            Some(match owner {
                Some(other) => format!("{id} (instance {other})"),
                None => format!("{id} (no instance)"),
            })
        })
        .collect()
}

/// After the moves: the untracked group closed again, as EC2 has it now. What was done.
async fn close_untracked(ec2: &Client, id: &str, instance_id: &str) -> Result<String, Outcome> {
    let group = facts::describe_group(ec2, id)
        .await
        .map_err(|e| closing_failed(id, e.outcome("ec2:DescribeSecurityGroups")))?;
    match group {
        Some(group) => close(ec2, &group, instance_id).await,
        None => Ok(format!("untracked-connections group {id} no longer exists")),
    }
}

/// For an instance found isolated: the VPC's untracked group closed, if Reflex's and still open
/// (a run that died after the last move). What was done, if anything.
async fn left_open(ec2: &Client, vpc: &str, instance_id: &str) -> Result<Option<String>, Outcome> {
    let found = find_group(ec2, vpc, UNTRACKED_GROUP_NAME)
        .await
        .map_err(|e| e.outcome("ec2:DescribeSecurityGroups"))?;
    match found {
        Some(group) if carries(&group, UNTRACKED_GROUP_TAG) && !is_closed(&group) => {
            close(ec2, &group, instance_id).await.map(Some)
        }
        _ => Ok(None),
    }
}

fn is_closed(group: &SecurityGroup) -> bool {
    group.ip_permissions().is_empty() && group.ip_permissions_egress().is_empty()
}

/// Strip the untracked group's rules. With another interface in it (an isolation under way, or
/// someone who put theirs there to keep every port open) it is not stripped and the close fails
/// for now: the step is not done while the group lets everything in, and the retry closes it
/// once the other isolation has ended, or a person is told when it never does.
async fn close(ec2: &Client, group: &SecurityGroup, instance_id: &str) -> Result<String, Outcome> {
    let id = group.group_id().unwrap_or_default();
    if is_closed(group) {
        return Ok(format!("untracked-connections group {id} has no rules"));
    }
    let found = facts::interfaces_in_group(ec2, id)
        .await
        .map_err(|e| closing_failed(id, e.outcome("ec2:DescribeNetworkInterfaces")))?;
    let others = others(&found, instance_id);
    if !others.is_empty() {
        return Err(closing_failed(
            id,
            Outcome::failed_for_now(
                format!(
                    "{} in it (an isolation under way closes it when it ends; if none is, a \
                     person must take them out)",
                    others.join(", ")
                ),
                None,
            ),
        ));
    }
    strip(ec2, group)
        .await
        .map_err(|failed| closing_failed(id, failed))?;
    Ok(format!(
        "untracked-connections group {id} closed again (no rules)"
    ))
}

fn closing_failed(id: &str, failed: Outcome) -> Outcome {
    reworded(
        failed,
        &format!("untracked-connections group {id} could not be closed again"),
        "it lets all traffic in to whatever is put in it until a person removes its rules",
        false,
    )
}

/// Give the group exactly its kind's rules: none for the quarantine group; for the untracked
/// group, all traffic from and to each of its CIDRs. A group that has anything else is stripped
/// first.
async fn set_rules(ec2: &Client, group: &SecurityGroup, kind: &ReflexGroup) -> Step<()> {
    let wanted: Vec<&str> = kind.allow_all_from.to_vec();
    let exact = |permissions: &[IpPermission]| {
        let mut have: Vec<String> = Vec::new();
        for p in permissions {
            if p.ip_protocol() != Some("-1")
                || !p.user_id_group_pairs().is_empty()
                || !p.prefix_list_ids().is_empty()
            {
                return false;
            }
            have.extend(
                p.ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip().map(String::from)),
            );
            have.extend(
                p.ipv6_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ipv6().map(String::from)),
            );
        }
        have.sort();
        let mut want: Vec<String> = wanted.iter().map(|c| c.to_string()).collect();
        want.sort();
        have == want
    };
    if exact(group.ip_permissions()) && exact(group.ip_permissions_egress()) {
        return Ok(());
    }
    strip(ec2, group).await?;
    let id = group.group_id().unwrap_or_default();
    for cidr in &wanted {
        let all = if cidr.contains(':') {
            IpPermission::builder()
                .ip_protocol("-1")
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6(*cidr).build())
                .build()
        } else {
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip(*cidr).build())
                .build()
        };
        ec2.authorize_security_group_ingress()
            .group_id(id)
            .ip_permissions(all.clone())
            .send()
            .await
            .map_err(|e| failure("ec2:AuthorizeSecurityGroupIngress", &e))?;
        ec2.authorize_security_group_egress()
            .group_id(id)
            .ip_permissions(all)
            .send()
            .await
            .map_err(|e| failure("ec2:AuthorizeSecurityGroupEgress", &e))?;
    }
    Ok(())
}

/// Remove every inbound and outbound rule of the group, by rule id: exactly the rules it has,
/// whatever their form (a permission listing IPv4 and IPv6 ranges together included).
async fn strip(ec2: &Client, group: &SecurityGroup) -> Step<()> {
    if is_closed(group) {
        return Ok(());
    }
    let id = group.group_id().unwrap_or_default();
    let rules = facts::describe_group_rules(ec2, id)
        .await
        .map_err(|e| e.outcome("ec2:DescribeSecurityGroupRules"))?;
    let ids = |egress: bool| -> Vec<String> {
        rules
            .iter()
            .filter(|r| (r.is_egress() == Some(true)) == egress)
            .filter_map(|r| r.security_group_rule_id().map(String::from))
            .collect()
    };
    let (ingress, egress) = (ids(false), ids(true));
    if !ingress.is_empty() {
        ec2.revoke_security_group_ingress()
            .group_id(id)
            .set_security_group_rule_ids(Some(ingress))
            .send()
            .await
            .map_err(|e| failure("ec2:RevokeSecurityGroupIngress", &e))?;
    }
    if !egress.is_empty() {
        ec2.revoke_security_group_egress()
            .group_id(id)
            .set_security_group_rule_ids(Some(egress))
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
    // Reflex's groups are never recorded as previous groups (the plan leaves them out when it
    // knew them; the instance's own description names them in any case).
    let quarantine = facts::reflex_groups_of(&instance);
    // A tag already there with other groups is not this record (a released quarantine's, or set
    // by whoever may tag the instance, to have groups of their choice restored): replaced.
    let (mut recorded, mut writes, mut too_long) = (Vec::new(), Vec::new(), Vec::new());
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
        let value = groups.join(",");
        // Cut short, the list would name a broken id and an undo that cannot work.
        if value.len() > MAX_TAG_VALUE {
            too_long.push(format!("{} ({} groups)", i.id, groups.len()));
            continue;
        }
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
    if !too_long.is_empty() {
        return Err(Outcome::failed(
            format!(
                "the previous groups of {} do not fit in one tag value ({MAX_TAG_VALUE} characters): nothing recorded on instance {instance_id}; the isolation step's prior state and undo keep them, but a retry after a crash between its two moves will not know them",
                too_long.join(", ")
            ),
            None,
        ));
    }
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
