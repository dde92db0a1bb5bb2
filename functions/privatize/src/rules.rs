//! The privatize rules: pure decisions from a trigger to findings. No AWS call, no failure;
//! `executor.rs` reads the current state and acts on the plans with the same judges
//! (`policy`, `acl`).

use reflex_shared::{Finding, Severity};

use crate::acl;
use crate::actions::PrivatizeAction;
use crate::facts::Facts;
use crate::policy;
use crate::settings::Settings;
use crate::trigger::{Change, Tagged, Trigger};

pub const PUBLIC_BUCKET_POLICY: &str = "privatize.public-bucket-policy";
pub const PUBLIC_BUCKET_ACL: &str = "privatize.public-bucket-acl";
pub const PUBLIC_ACCESS_BLOCK_REMOVED: &str = "privatize.public-access-block-removed";
pub const PUBLIC_SNAPSHOT: &str = "privatize.public-snapshot";
pub const PUBLIC_IMAGE: &str = "privatize.public-image";
/// The exemption tag written on a bucket, a snapshot or an image by a caller not exempt by ARN
/// (an exempt one never gets this far): removed, and a person told.
pub const EXEMPTION_TAG: &str = "privatize.exemption-tag";

pub const RULE_IDS: &[&str] = &[
    PUBLIC_BUCKET_POLICY,
    PUBLIC_BUCKET_ACL,
    PUBLIC_ACCESS_BLOCK_REMOVED,
    PUBLIC_SNAPSHOT,
    PUBLIC_IMAGE,
    EXEMPTION_TAG,
];

/// Every rule over one trigger: at most one finding, the one of the call's kind.
pub fn decide(
    trigger: &Trigger,
    _facts: &Facts,
    settings: &Settings,
) -> Vec<Finding<PrivatizeAction>> {
    let who = trigger.actor.describe();
    let finding = match &trigger.change {
        Change::BucketPolicyPut { bucket, policy } => public_bucket_policy(&who, bucket, policy),
        Change::BucketAclPut {
            bucket,
            canned,
            group_grants,
        } => public_bucket_acl(&who, bucket, canned.as_deref(), group_grants),
        Change::PublicAccessBlockPut { bucket, off } => (!off.is_empty()).then(|| {
            access_block_removed(
                bucket,
                format!(
                    "{who} turned off {} in the public access block of bucket {bucket}",
                    off.join(", ")
                ),
            )
        }),
        Change::PublicAccessBlockDeleted { bucket } => Some(access_block_removed(
            bucket,
            format!("{who} deleted the public access block of bucket {bucket}"),
        )),
        Change::SnapshotMadePublic { snapshot_id } => Some(Finding {
            rule_id: PUBLIC_SNAPSHOT,
            severity: Severity::High,
            reason: format!(
                "{who} shared EBS snapshot {snapshot_id} with everyone: any AWS account can \
                 create a volume from it and read its data"
            ),
            actions: vec![PrivatizeAction::UnshareSnapshot {
                snapshot_id: snapshot_id.clone(),
            }],
        }),
        Change::ImageMadePublic { image_id } => Some(Finding {
            rule_id: PUBLIC_IMAGE,
            severity: Severity::High,
            reason: format!(
                "{who} shared AMI {image_id} with everyone: any AWS account can launch it and \
                 read what its volumes hold"
            ),
            actions: vec![PrivatizeAction::UnshareImage {
                image_id: image_id.clone(),
            }],
        }),
        Change::ExemptionTagSet { on, value } => Some(exemption_tag(&who, on, value, settings)),
    };
    finding.into_iter().collect()
}

/// The exemption tag self-granted on a bucket, snapshots or images: removed from each (that key
/// only), HIGH so that a person hears of it. The caller is not contained: a colleague who tagged
/// by mistake loses only the tag, and the next exposure of the resource is judged as any other.
fn exemption_tag(
    who: &str,
    on: &[Tagged],
    value: &str,
    settings: &Settings,
) -> Finding<PrivatizeAction> {
    let key = &settings.exempt_tag.key;
    let what: Vec<String> = on.iter().map(Tagged::describe).collect();
    Finding {
        rule_id: EXEMPTION_TAG,
        severity: Severity::High,
        reason: format!(
            "{who} set the exemption tag {key}={value} on {}, which would make Reflex leave {} \
             alone, public or not; only a principal exempt by configuration (REFLEX_EXEMPT_PRINCIPALS) may \
             grant an exemption",
            what.join(", "),
            if on.len() > 1 { "them" } else { "it" },
        ),
        actions: on
            .iter()
            .map(|tagged| match tagged {
                Tagged::Bucket(bucket) => PrivatizeAction::RemoveBucketExemptionTag {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    value: value.to_string(),
                },
                Tagged::Snapshot(id) | Tagged::Image(id) => PrivatizeAction::RemoveExemptionTag {
                    resource_id: id.clone(),
                    key: key.clone(),
                    value: value.to_string(),
                },
            })
            .collect(),
    }
}

/// A policy with a statement that lets anyone in, with nothing in its conditions narrowing who.
fn public_bucket_policy(
    who: &str,
    bucket: &str,
    doc: &serde_json::Value,
) -> Option<Finding<PrivatizeAction>> {
    let public = policy::public_statements(doc);
    if public.is_empty() {
        return None;
    }
    let what: Vec<String> = public.iter().map(|s| s.describe()).collect();
    Some(Finding {
        rule_id: PUBLIC_BUCKET_POLICY,
        severity: Severity::High,
        reason: format!(
            "{who} put a policy on bucket {bucket} that makes it public: {} (no condition \
             narrows it to known accounts, networks or endpoints)",
            what.join("; ")
        ),
        actions: vec![PrivatizeAction::RemovePublicPolicyStatements {
            bucket: bucket.to_string(),
        }],
    })
}

/// A public canned ACL, or a grant to `AllUsers` or `AuthenticatedUsers`.
fn public_bucket_acl(
    who: &str,
    bucket: &str,
    canned: Option<&str>,
    grants: &[acl::GroupGrant],
) -> Option<Finding<PrivatizeAction>> {
    let mut what: Vec<String> = grants.iter().filter_map(|g| g.describe_public()).collect();
    if let Some(canned) = canned.filter(|c| acl::is_public_canned(c)) {
        what.insert(0, format!("the canned ACL {canned}"));
    }
    if what.is_empty() {
        return None;
    }
    Some(Finding {
        rule_id: PUBLIC_BUCKET_ACL,
        severity: Severity::High,
        reason: format!(
            "{who} gave bucket {bucket} an ACL that makes it public: {}",
            what.join(", ")
        ),
        actions: vec![PrivatizeAction::RemovePublicAclGrants {
            bucket: bucket.to_string(),
        }],
    })
}

/// Medium: no data is exposed by this alone, but the guard against a public policy or ACL on
/// the bucket is gone.
fn access_block_removed(bucket: &str, reason: String) -> Finding<PrivatizeAction> {
    Finding {
        rule_id: PUBLIC_ACCESS_BLOCK_REMOVED,
        severity: Severity::Medium,
        reason: format!("{reason}: a public policy or ACL on it would now take effect"),
        actions: vec![PrivatizeAction::BlockPublicAccess {
            bucket: bucket.to_string(),
        }],
    }
}
