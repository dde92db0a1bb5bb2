//! What an action touches, or who made a call: one name for every kind of resource Reflex
//! changes, so exemptions, reports and the loop guard speak about them the same way.

use serde::{Deserialize, Serialize};

/// A resource Reflex may change. Each action names the one it touches; an exemption tag on it
/// (where the kind carries tags) turns the action into a skipped step.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "kebab-case")]
pub enum Resource {
    /// An IAM user, by name.
    User(String),
    /// An IAM role, by name.
    Role(String),
    /// An IAM group, by name. IAM groups carry no tags, so none is exempt by tag.
    Group(String),
    /// A managed IAM policy, by ARN.
    Policy(String),
    /// An EC2 instance, by id.
    Instance(String),
    /// An EC2 security group, by id.
    SecurityGroup(String),
    /// A CloudTrail trail, by the name or ARN the event used.
    Trail(String),
    /// A CloudWatch Logs log group, by name.
    LogGroup(String),
    /// An Auto Scaling group, by name.
    AutoScalingGroup(String),
    /// An S3 bucket, by name.
    Bucket(String),
    /// An EBS snapshot, by id.
    Snapshot(String),
    /// An AMI, by id.
    Image(String),
}

impl Resource {
    /// The name, id or ARN.
    pub fn id(&self) -> &str {
        match self {
            Resource::User(id)
            | Resource::Role(id)
            | Resource::Group(id)
            | Resource::Policy(id)
            | Resource::Instance(id)
            | Resource::SecurityGroup(id)
            | Resource::Trail(id)
            | Resource::LogGroup(id)
            | Resource::AutoScalingGroup(id)
            | Resource::Bucket(id)
            | Resource::Snapshot(id)
            | Resource::Image(id) => id,
        }
    }

    /// For people: `user`, `security group`, `Auto Scaling group`.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::User(_) => "user",
            Resource::Role(_) => "role",
            Resource::Group(_) => "group",
            Resource::Policy(_) => "policy",
            Resource::Instance(_) => "instance",
            Resource::SecurityGroup(_) => "security group",
            Resource::Trail(_) => "trail",
            Resource::LogGroup(_) => "log group",
            Resource::AutoScalingGroup(_) => "Auto Scaling group",
            Resource::Bucket(_) => "bucket",
            Resource::Snapshot(_) => "snapshot",
            Resource::Image(_) => "image",
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind(), self.id())
    }
}
