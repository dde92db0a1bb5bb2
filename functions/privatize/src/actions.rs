//! The changes `privatize` knows how to make, and the resource each touches. Each reads the
//! current state first, changes only what is public in it, and records what it replaced.

use reflex_shared::{Action, Resource};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PrivatizeAction {
    /// Remove the bucket policy's public statements (delete the policy if none other remains).
    RemovePublicPolicyStatements { bucket: String },
    /// Remove the bucket ACL's grants to `AllUsers` and `AuthenticatedUsers`.
    RemovePublicAclGrants { bucket: String },
    /// Turn all four settings of the bucket's public access block on.
    BlockPublicAccess { bucket: String },
    /// Remove the group `all` from who may create volumes from the snapshot.
    UnshareSnapshot { snapshot_id: String },
    /// Remove the group `all` from who may launch the image.
    UnshareImage { image_id: String },
    /// Remove the exemption tag `key` a caller not allowed to grant it set (to `value`) on a
    /// bucket, and that key only.
    RemoveBucketExemptionTag {
        bucket: String,
        key: String,
        value: String,
    },
    /// Remove the exemption tag `key` a caller not allowed to grant it set (to `value`) on a
    /// snapshot (`snap-...`) or an image (`ami-...`).
    RemoveExemptionTag {
        resource_id: String,
        key: String,
        value: String,
    },
}

/// `snapshot snap-...` or `image ami-...`, for people.
pub fn kind_and_id(resource_id: &str) -> String {
    if resource_id.starts_with("snap-") {
        format!("snapshot {resource_id}")
    } else {
        format!("image {resource_id}")
    }
}

impl Action for PrivatizeAction {
    fn describe(&self) -> String {
        match self {
            PrivatizeAction::RemovePublicPolicyStatements { bucket } => {
                format!("remove the public statements from the policy of bucket {bucket}")
            }
            PrivatizeAction::RemovePublicAclGrants { bucket } => {
                format!("remove the public grants from the ACL of bucket {bucket}")
            }
            PrivatizeAction::BlockPublicAccess { bucket } => {
                format!("turn every public access block setting of bucket {bucket} back on")
            }
            PrivatizeAction::UnshareSnapshot { snapshot_id } => {
                format!("stop sharing snapshot {snapshot_id} with everyone")
            }
            PrivatizeAction::UnshareImage { image_id } => {
                format!("stop sharing image {image_id} with everyone")
            }
            PrivatizeAction::RemoveBucketExemptionTag { bucket, key, .. } => {
                format!("remove the exemption tag {key} from bucket {bucket}")
            }
            PrivatizeAction::RemoveExemptionTag {
                resource_id, key, ..
            } => format!(
                "remove the exemption tag {key} from {}",
                kind_and_id(resource_id)
            ),
        }
    }

    fn resource(&self) -> Resource {
        match self {
            PrivatizeAction::RemovePublicPolicyStatements { bucket }
            | PrivatizeAction::RemovePublicAclGrants { bucket }
            | PrivatizeAction::BlockPublicAccess { bucket }
            | PrivatizeAction::RemoveBucketExemptionTag { bucket, .. } => {
                Resource::Bucket(bucket.clone())
            }
            PrivatizeAction::UnshareSnapshot { snapshot_id } => {
                Resource::Snapshot(snapshot_id.clone())
            }
            PrivatizeAction::UnshareImage { image_id } => Resource::Image(image_id.clone()),
            PrivatizeAction::RemoveExemptionTag { resource_id, .. }
                if resource_id.starts_with("snap-") =>
            {
                Resource::Snapshot(resource_id.clone())
            }
            PrivatizeAction::RemoveExemptionTag { resource_id, .. } => {
                Resource::Image(resource_id.clone())
            }
        }
    }

    /// The resource carries the tag this action removes: see [`Action::lifts_exemption`].
    fn lifts_exemption(&self) -> bool {
        matches!(
            self,
            PrivatizeAction::RemoveBucketExemptionTag { .. }
                | PrivatizeAction::RemoveExemptionTag { .. }
        )
    }
}
