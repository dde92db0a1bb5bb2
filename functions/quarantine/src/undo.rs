//! The commands that reverse quarantine's changes, as its reports give them (pure, so that
//! tests run them with any value: Auto Scaling group names take any character, line breaks
//! included). Every value goes through the core's [`AwsCli`], which quotes it.

use reflex_shared::{AwsCli, Undo};
use serde_json::{Value, json};

use crate::actions::Interface;

/// Undo of revoking world-open rules: authorize them again (EC2's `IpPermission` JSON).
pub fn authorize_again(group_id: &str, ip_permissions: &[Value]) -> Undo {
    Undo::run(
        AwsCli::new("ec2", "authorize-security-group-ingress")
            .arg("--group-id", group_id)
            .json("--ip-permissions", &Value::Array(ip_permissions.to_vec())),
    )
}

/// Undo of isolating an instance with one interface: its groups back.
pub fn instance_groups_back(instance_id: &str, groups: &[String]) -> Undo {
    Undo::run(
        AwsCli::new("ec2", "modify-instance-attribute")
            .arg("--instance-id", instance_id)
            .list("--groups", groups),
    )
}

/// Undo of isolating several interfaces: each one's groups back.
pub fn interface_groups_back(interfaces: &[&Interface]) -> Undo {
    Undo::all(interfaces.iter().map(|i| {
        AwsCli::new("ec2", "modify-network-interface-attribute")
            .arg("--network-interface-id", &i.id)
            .list("--groups", &i.groups)
    }))
}

/// Undo of tagging an instance: those tags deleted.
pub fn delete_tags(instance_id: &str, keys: &[String]) -> Undo {
    let tags: Vec<Value> = keys.iter().map(|k| json!({ "Key": k })).collect();
    Undo::run(
        AwsCli::new("ec2", "delete-tags")
            .list("--resources", &[instance_id])
            .json("--tags", &Value::Array(tags)),
    )
}

/// Undo of removing an exemption tag: the instance or security group tagged again with `key` =
/// `value` (`--tags` as EC2's JSON).
pub fn tag_again(resource_id: &str, key: &str, value: &str) -> Undo {
    Undo::run(
        AwsCli::new("ec2", "create-tags")
            .list("--resources", &[resource_id])
            .json("--tags", &json!([{ "Key": key, "Value": value }])),
    )
}

/// Undo of detaching an instance from its Auto Scaling group: attach it again.
pub fn attach_again(group: &str, instance_id: &str) -> Undo {
    Undo::run(
        AwsCli::new("autoscaling", "attach-instances")
            .arg("--auto-scaling-group-name", group)
            .list("--instance-ids", &[instance_id]),
    )
}

/// Undo of turning termination protection on.
pub fn termination_protection_off(instance_id: &str) -> Undo {
    Undo::run(
        AwsCli::new("ec2", "modify-instance-attribute")
            .arg("--instance-id", instance_id)
            .switch("--no-disable-api-termination"),
    )
}

/// Undo of making a shutdown from inside stop the instance: the behaviour it had.
pub fn shutdown_behavior_back(instance_id: &str, before: &str) -> Undo {
    Undo::run(
        AwsCli::new("ec2", "modify-instance-attribute")
            .arg("--instance-id", instance_id)
            .arg("--instance-initiated-shutdown-behavior", before),
    )
}

/// Undo of a forensic snapshot: delete it (once the investigation no longer needs it).
pub fn delete_snapshot(snapshot_id: &str) -> Undo {
    Undo::run(AwsCli::new("ec2", "delete-snapshot").arg("--snapshot-id", snapshot_id))
}
