//! The EC2 and Auto Scaling changes `quarantine` knows how to make, and the tags Reflex puts on
//! what it quarantines. Each change reads the current state first, is recorded, and says how to
//! undo it (see `executor`).

use reflex_shared::{Action, Resource};
use serde::{Deserialize, Serialize};

use crate::ingress::OpenedRule;

/// The tag Reflex puts on the quarantine security group it creates (value `true`), for people:
/// Reflex finds the group by its name, which is unique in a VPC (anyone may tag a group).
pub const QUARANTINE_GROUP_TAG: &str = "reflex:quarantine-group";
/// The name of the quarantine security group Reflex creates in a VPC.
pub const QUARANTINE_GROUP_NAME: &str = "reflex-quarantine";
/// The name of the untracked-connections group Reflex creates in a VPC: opened to all traffic in
/// and out, from and to anywhere, only while an isolation moves through it, so that EC2 stops
/// tracking the instance's connections (and the move to the quarantine group cuts them); closed
/// again (no rules) right after.
pub const UNTRACKED_GROUP_NAME: &str = "reflex-untracked";
/// The tag Reflex creates the untracked-connections group with (value `true`): Reflex's role may
/// add rules only to a group carrying it, and Reflex opens no group named like it without it.
pub const UNTRACKED_GROUP_TAG: &str = "reflex:untracked-group";
/// Reflex's own groups: never recorded as an instance's previous groups.
pub const REFLEX_GROUP_NAMES: &[&str] = &[QUARANTINE_GROUP_NAME, UNTRACKED_GROUP_NAME];
/// On a quarantined instance: when Reflex quarantined it.
pub const QUARANTINED_AT_TAG: &str = "reflex:quarantined-at";
/// On a quarantined instance: why.
pub const QUARANTINE_REASON_TAG: &str = "reflex:quarantine-reason";
/// On a quarantined instance, one per network interface (`reflex:previous-groups:eni-...`): the
/// interface's security groups before quarantine, comma-separated.
pub const PREVIOUS_GROUPS_TAG_PREFIX: &str = "reflex:previous-groups:";
/// On a forensic snapshot: the instance it was taken from.
pub const SNAPSHOT_INSTANCE_TAG: &str = "reflex:quarantined-instance";
/// On a forensic snapshot: the finding behind it.
pub const SNAPSHOT_FINDING_TAG: &str = "reflex:finding";
/// On a forensic snapshot: the id of the event behind it.
pub const SNAPSHOT_EVENT_TAG: &str = "reflex:event-id";
/// EC2 refuses tag values longer than this.
pub const MAX_TAG_VALUE: usize = 256;

/// A network interface of an instance and its security groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub id: String,
    /// 0 is the primary interface.
    pub device_index: i32,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum QuarantineAction {
    /// Revoke the world-open rules an `AuthorizeSecurityGroupIngress` call added.
    RevokeIngress {
        group_id: String,
        rules: Vec<OpenedRule>,
    },
    /// Make the VPC's quarantine group (no ingress, no egress; created if missing) the only
    /// group of every network interface of the instance, through the untracked-connections
    /// group first, so that connections EC2 already tracks (an SSH session, a C2 channel) are
    /// cut too. One step, two moves: a guard (blast radius, mode) can never run the first move
    /// without the second and leave the instance open to all traffic.
    Isolate {
        instance_id: String,
        vpc_id: String,
        /// The quarantine group when it already exists; `None`: it will be created.
        quarantine_group: Option<String>,
        /// The interfaces and their groups when the plan was made.
        interfaces: Vec<Interface>,
    },
    /// Tag the instance with each interface's groups before quarantine.
    RecordPreviousGroups {
        instance_id: String,
        interfaces: Vec<Interface>,
    },
    /// Detach from the Auto Scaling group without lowering desired capacity, so the group
    /// launches a replacement and does not terminate the quarantined instance.
    DetachFromAutoScalingGroup {
        instance_id: String,
        group: String,
    },
    EnableTerminationProtection {
        instance_id: String,
    },
    /// Shutdown from inside the instance stops it instead of terminating it (evidence kept).
    StopOnShutdown {
        instance_id: String,
    },
    /// Tag the instance with the reason and the time of quarantine.
    TagQuarantined {
        instance_id: String,
        reason: String,
        /// The instance's `reflex:quarantined-at` when the plan found it isolated already (an
        /// earlier quarantine in place): that tag is kept, any other replaced. `None` when it
        /// was not isolated: whoever may tag the instance may have set the tag.
        earlier_quarantine: Option<String>,
    },
    /// Remove the exemption tag `key` a caller not allowed to grant it set (to `value`) on an
    /// instance (`i-...`) or a security group (`sg-...`).
    RemoveExemptionTag {
        resource_id: String,
        key: String,
        value: String,
    },
    /// Snapshot one attached EBS volume, tagged with the finding.
    SnapshotVolume {
        instance_id: String,
        volume_id: String,
        device: String,
        finding: String,
        event_id: String,
        /// As for `TagQuarantined`: a snapshot of the volume taken for this event, or for this
        /// earlier quarantine, is kept instead of taking another.
        earlier_quarantine: Option<String>,
    },
}

impl Action for QuarantineAction {
    fn describe(&self) -> String {
        match self {
            QuarantineAction::RevokeIngress { group_id, rules } => {
                let list: Vec<String> = rules
                    .iter()
                    .map(|r| format!("{} from {}", r.ports(), r.source()))
                    .collect();
                format!("revoke {} on security group {group_id}", list.join(", "))
            }
            QuarantineAction::Isolate {
                instance_id,
                vpc_id,
                quarantine_group,
                interfaces,
            } => {
                let group = match quarantine_group {
                    Some(id) => format!("quarantine group {id}"),
                    None => format!("a new quarantine group {QUARANTINE_GROUP_NAME}"),
                };
                let enis: Vec<&str> = interfaces.iter().map(|i| i.id.as_str()).collect();
                format!(
                    "isolate instance {instance_id}: {group} in {vpc_id} (no ingress, no egress) becomes the only security group of {}, after a moment in the untracked-connections group {UNTRACKED_GROUP_NAME} (opened to all traffic for the move and closed again: EC2 stops tracking the open connections, so the isolation cuts them)",
                    if enis.is_empty() {
                        "its network interfaces".to_string()
                    } else {
                        enis.join(", ")
                    }
                )
            }
            QuarantineAction::RecordPreviousGroups {
                instance_id,
                interfaces,
            } => {
                let groups: Vec<String> = interfaces
                    .iter()
                    .map(|i| format!("{}: {}", i.id, i.groups.join(" ")))
                    .collect();
                format!(
                    "record the previous security groups of instance {instance_id} on it ({})",
                    groups.join("; ")
                )
            }
            QuarantineAction::DetachFromAutoScalingGroup { instance_id, group } => format!(
                "detach instance {instance_id} from Auto Scaling group {group} (desired capacity unchanged: the group replaces it)"
            ),
            QuarantineAction::EnableTerminationProtection { instance_id } => {
                format!("turn on termination protection of instance {instance_id}")
            }
            QuarantineAction::StopOnShutdown { instance_id } => {
                format!(
                    "make a shutdown from inside instance {instance_id} stop it, not terminate it"
                )
            }
            QuarantineAction::TagQuarantined { instance_id, .. } => {
                format!("tag instance {instance_id} with the reason and time of quarantine")
            }
            QuarantineAction::SnapshotVolume {
                instance_id,
                volume_id,
                device,
                ..
            } => format!(
                "snapshot volume {volume_id} ({device}) of instance {instance_id} for forensics"
            ),
            QuarantineAction::RemoveExemptionTag {
                resource_id, key, ..
            } => format!(
                "remove the exemption tag {key} from {}",
                kind_and_id(resource_id)
            ),
        }
    }

    /// The security group or the instance: an exemption tag on it holds the step back.
    /// Several snapshots of one instance are told apart by their volume.
    fn step(&self) -> String {
        match self {
            QuarantineAction::SnapshotVolume {
                instance_id,
                volume_id,
                ..
            } => format!("snapshot-volume {volume_id} of instance {instance_id}"),
            other => reflex_shared::plan::step_of(other),
        }
    }

    fn resource(&self) -> Resource {
        match self {
            QuarantineAction::RevokeIngress { group_id, .. } => {
                Resource::SecurityGroup(group_id.clone())
            }
            QuarantineAction::Isolate { instance_id, .. }
            | QuarantineAction::RecordPreviousGroups { instance_id, .. }
            | QuarantineAction::DetachFromAutoScalingGroup { instance_id, .. }
            | QuarantineAction::EnableTerminationProtection { instance_id }
            | QuarantineAction::StopOnShutdown { instance_id }
            | QuarantineAction::TagQuarantined { instance_id, .. }
            | QuarantineAction::SnapshotVolume { instance_id, .. } => {
                Resource::Instance(instance_id.clone())
            }
            QuarantineAction::RemoveExemptionTag { resource_id, .. }
                if resource_id.starts_with("sg-") =>
            {
                Resource::SecurityGroup(resource_id.clone())
            }
            QuarantineAction::RemoveExemptionTag { resource_id, .. } => {
                Resource::Instance(resource_id.clone())
            }
        }
    }

    /// The resource carries the tag this action removes: see [`Action::lifts_exemption`].
    fn lifts_exemption(&self) -> bool {
        matches!(self, QuarantineAction::RemoveExemptionTag { .. })
    }
}

/// `security group sg-...` or `instance i-...`, for people.
pub fn kind_and_id(resource_id: &str) -> String {
    if resource_id.starts_with("sg-") {
        format!("security group {resource_id}")
    } else {
        format!("instance {resource_id}")
    }
}

/// Cut a tag value to what EC2 accepts, on a character boundary.
pub fn tag_value(text: &str) -> String {
    if text.len() <= MAX_TAG_VALUE {
        return text.to_string();
    }
    let mut end = MAX_TAG_VALUE - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
