//! Carrying out privatize's plans through the S3 and EC2 APIs. Every action first reads the
//! current state and judges it with the rule's own judge (`policy`, `acl`), so a repeated
//! delivery, or a fix someone made first, reports "already done"; every change records what it
//! replaced and the command that puts it back.
//!
//! Each step returns a `Step`: `?` on a failed call stops it with that call's outcome (a
//! bucket, snapshot or image that no longer exists exposes nothing: already done).

use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{
    ImageAttributeName, LaunchPermission, LaunchPermissionModifications, OperationType,
    PermissionGroup, SnapshotAttributeName, Tag,
};
use aws_sdk_s3::Client as S3;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AccessControlPolicy, Grant, Owner, PublicAccessBlockConfiguration, Tagging,
};
use reflex_shared::aws;
use reflex_shared::outcome::settle;
use reflex_shared::{Outcome, Step};
use serde_json::{Map, Value, json};

use crate::actions::PrivatizeAction;
use crate::trigger::BLOCK_SETTINGS;
use crate::{acl, policy, tags, undo};

/// The bucket is gone.
pub const NO_BUCKET: &[&str] = &["NoSuchBucket"];
/// The snapshot or image is gone.
pub const NO_SNAPSHOT: &[&str] = &["InvalidSnapshot.NotFound"];
pub const NO_IMAGE: &[&str] = &["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"];

pub async fn execute(s3: &S3, ec2: &Ec2, action: &PrivatizeAction) -> Outcome {
    settle(match action {
        PrivatizeAction::RemovePublicPolicyStatements { bucket } => {
            remove_public_statements(s3, bucket).await
        }
        PrivatizeAction::RemovePublicAclGrants { bucket } => remove_public_grants(s3, bucket).await,
        PrivatizeAction::BlockPublicAccess { bucket } => block_public_access(s3, bucket).await,
        PrivatizeAction::UnshareSnapshot { snapshot_id } => {
            unshare_snapshot(ec2, snapshot_id).await
        }
        PrivatizeAction::UnshareImage { image_id } => unshare_image(ec2, image_id).await,
        PrivatizeAction::RemoveBucketExemptionTag { bucket, key, value } => {
            remove_bucket_exemption_tag(s3, bucket, key, value).await
        }
        PrivatizeAction::RemoveExemptionTag {
            resource_id,
            key,
            value,
        } => remove_exemption_tag(ec2, resource_id, key, value).await,
    })
}

fn bucket_gone(bucket: &str) -> Outcome {
    Outcome::already_done(format!(
        "bucket {bucket} no longer exists: nothing is exposed"
    ))
}

async fn remove_public_statements(s3: &S3, bucket: &str) -> Step {
    let gone = || bucket_gone(bucket);
    let current = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => out.policy,
        Err(e) if e.code() == Some("NoSuchBucketPolicy") => None,
        Err(e) => return Err(aws::fault("s3:GetBucketPolicy", &e, NO_BUCKET).or_gone(gone)),
    };
    let Some(text) = current else {
        return Ok(Outcome::already_done(format!(
            "bucket {bucket} has no policy"
        )));
    };
    let Some(doc) = policy::parse(&Value::String(text)) else {
        return Err(Outcome::failed(
            format!("the policy of bucket {bucket} is not a JSON document: a person must read it"),
            None,
        ));
    };
    let public = policy::public_statements(&doc);
    if public.is_empty() {
        return Ok(Outcome::already_done(format!(
            "the policy of bucket {bucket} has no public statement"
        )));
    }
    let removed: Vec<String> = public.iter().map(|s| s.describe()).collect();
    let detail = match policy::without_public(&doc) {
        Some(rest) => {
            s3.put_bucket_policy()
                .bucket(bucket)
                .policy(rest.to_string())
                .send()
                .await
                .map_err(|e| aws::fault("s3:PutBucketPolicy", &e, NO_BUCKET).or_gone(gone))?;
            format!(
                "bucket {bucket} is private again: removed from its policy: {}; its other \
                 statements are kept",
                removed.join("; ")
            )
        }
        None => {
            s3.delete_bucket_policy()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| aws::fault("s3:DeleteBucketPolicy", &e, NO_BUCKET).or_gone(gone))?;
            format!(
                "bucket {bucket} is private again: its policy was deleted, every statement of \
                 it was public ({})",
                removed.join("; ")
            )
        }
    };
    Ok(Outcome::done(
        detail,
        Some(json!({ "policy": doc })),
        undo::put_policy_back(bucket, &doc),
    ))
}

async fn remove_public_grants(s3: &S3, bucket: &str) -> Step {
    let gone = || bucket_gone(bucket);
    let current = s3
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| aws::fault("s3:GetBucketAcl", &e, NO_BUCKET).or_gone(gone))?;
    let grants = current.grants();
    let (public, kept): (Vec<&Grant>, Vec<&Grant>) = grants.iter().partition(|g| is_public(g));
    if public.is_empty() {
        return Ok(Outcome::already_done(format!(
            "the ACL of bucket {bucket} grants nothing to the public"
        )));
    }
    let removed: Vec<String> = public.iter().filter_map(|g| describe_public(g)).collect();
    let mut request =
        AccessControlPolicy::builder().set_grants(Some(kept.into_iter().cloned().collect()));
    if let Some(owner) = current.owner() {
        request = request.owner(owner.clone());
    }
    s3.put_bucket_acl()
        .bucket(bucket)
        .access_control_policy(request.build())
        .send()
        .await
        .map_err(|e| aws::fault("s3:PutBucketAcl", &e, NO_BUCKET).or_gone(gone))?;
    let before = acl_json(current.owner(), grants);
    Ok(Outcome::done(
        format!(
            "bucket {bucket} is private again: removed from its ACL: {}",
            removed.join(", ")
        ),
        Some(json!({ "acl": before })),
        undo::put_acl_back(bucket, &before),
    ))
}

fn is_public(grant: &Grant) -> bool {
    describe_public(grant).is_some()
}

fn describe_public(grant: &Grant) -> Option<String> {
    let uri = grant.grantee()?.uri()?;
    acl::GroupGrant {
        uri: uri.to_string(),
        permission: grant
            .permission()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
    }
    .describe_public()
}

/// The ACL as `aws s3api get-bucket-acl` prints it and `put-bucket-acl --access-control-policy`
/// takes it.
fn acl_json(owner: Option<&Owner>, grants: &[Grant]) -> Value {
    let mut out = Map::new();
    if let Some(owner) = owner {
        let mut o = Map::new();
        if let Some(name) = owner.display_name() {
            o.insert("DisplayName".into(), name.into());
        }
        if let Some(id) = owner.id() {
            o.insert("ID".into(), id.into());
        }
        out.insert("Owner".into(), Value::Object(o));
    }
    let grants: Vec<Value> = grants
        .iter()
        .map(|g| {
            let mut grantee = Map::new();
            if let Some(who) = g.grantee() {
                grantee.insert("Type".into(), who.r#type().as_str().into());
                for (key, value) in [
                    ("ID", who.id()),
                    ("DisplayName", who.display_name()),
                    ("URI", who.uri()),
                    ("EmailAddress", who.email_address()),
                ] {
                    if let Some(v) = value {
                        grantee.insert(key.into(), v.into());
                    }
                }
            }
            json!({
                "Grantee": grantee,
                "Permission": g.permission().map(|p| p.as_str()),
            })
        })
        .collect();
    out.insert("Grants".into(), Value::Array(grants));
    Value::Object(out)
}

async fn block_public_access(s3: &S3, bucket: &str) -> Step {
    let gone = || bucket_gone(bucket);
    let current = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => out.public_access_block_configuration,
        Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => None,
        Err(e) => {
            return Err(aws::fault("s3:GetPublicAccessBlock", &e, NO_BUCKET).or_gone(gone));
        }
    };
    let before = current.as_ref().map(|c| {
        let values = [
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets(),
        ];
        let map: Map<String, Value> = BLOCK_SETTINGS
            .iter()
            .zip(values)
            .map(|(k, v)| (k.to_string(), Value::Bool(v.unwrap_or(false))))
            .collect();
        Value::Object(map)
    });
    let off: Vec<&str> = BLOCK_SETTINGS
        .iter()
        .filter(|k| before.as_ref().and_then(|b| b[**k].as_bool()) != Some(true))
        .copied()
        .collect();
    if off.is_empty() {
        return Ok(Outcome::already_done(format!(
            "every public access block setting of bucket {bucket} is on"
        )));
    }
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws::fault("s3:PutPublicAccessBlock", &e, NO_BUCKET).or_gone(gone))?;
    let detail = match &before {
        Some(_) => format!(
            "bucket {bucket} blocks public access again: turned {} back on",
            off.join(", ")
        ),
        None => format!("bucket {bucket} has a public access block again, every setting on"),
    };
    Ok(Outcome::done(
        detail,
        Some(json!({ "public_access_block": before })),
        undo::access_block_back(bucket, before.as_ref()),
    ))
}

async fn unshare_snapshot(ec2: &Ec2, snapshot_id: &str) -> Step {
    let gone = || {
        Outcome::already_done(format!(
            "snapshot {snapshot_id} no longer exists: nothing is shared"
        ))
    };
    let current = ec2
        .describe_snapshot_attribute()
        .snapshot_id(snapshot_id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .map_err(|e| aws::fault("ec2:DescribeSnapshotAttribute", &e, NO_SNAPSHOT).or_gone(gone))?;
    let permissions = current.create_volume_permissions();
    if !permissions
        .iter()
        .any(|p| p.group() == Some(&PermissionGroup::All))
    {
        return Ok(Outcome::already_done(format!(
            "snapshot {snapshot_id} is not shared with everyone"
        )));
    }
    // The operation-type form: both forms are EC2's, and this one is also the one the emulator
    // honours for snapshots.
    ec2.modify_snapshot_attribute()
        .snapshot_id(snapshot_id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .operation_type(OperationType::Remove)
        .group_names("all")
        .send()
        .await
        .map_err(|e| aws::fault("ec2:ModifySnapshotAttribute", &e, NO_SNAPSHOT).or_gone(gone))?;
    let before: Vec<Value> = permissions
        .iter()
        .map(|p| {
            json!({
                "Group": p.group().map(|g| g.as_str()),
                "UserId": p.user_id(),
            })
        })
        .collect();
    Ok(Outcome::done(
        format!(
            "snapshot {snapshot_id} is no longer shared with everyone (sharing with named \
             accounts is kept)"
        ),
        Some(json!({ "create_volume_permissions": before })),
        undo::share_snapshot_again(snapshot_id),
    ))
}

async fn unshare_image(ec2: &Ec2, image_id: &str) -> Step {
    let gone = || {
        Outcome::already_done(format!(
            "image {image_id} no longer exists: nothing is shared"
        ))
    };
    let current = ec2
        .describe_image_attribute()
        .image_id(image_id)
        .attribute(ImageAttributeName::LaunchPermission)
        .send()
        .await
        .map_err(|e| aws::fault("ec2:DescribeImageAttribute", &e, NO_IMAGE).or_gone(gone))?;
    let permissions = current.launch_permissions();
    if !permissions
        .iter()
        .any(|p| p.group() == Some(&PermissionGroup::All))
    {
        return Ok(Outcome::already_done(format!(
            "image {image_id} is not shared with everyone"
        )));
    }
    ec2.modify_image_attribute()
        .image_id(image_id)
        .launch_permission(
            LaunchPermissionModifications::builder()
                .remove(
                    LaunchPermission::builder()
                        .group(PermissionGroup::All)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws::fault("ec2:ModifyImageAttribute", &e, NO_IMAGE).or_gone(gone))?;
    let before: Vec<Value> = permissions
        .iter()
        .map(|p| {
            json!({
                "Group": p.group().map(|g| g.as_str()),
                "UserId": p.user_id(),
                "OrganizationArn": p.organization_arn(),
                "OrganizationalUnitArn": p.organizational_unit_arn(),
            })
        })
        .collect();
    Ok(Outcome::done(
        format!(
            "image {image_id} is no longer launchable by everyone (sharing with named accounts \
             and organizations is kept)"
        ),
        Some(json!({ "launch_permissions": before })),
        undo::share_image_again(image_id),
    ))
}

// ---- an exemption tag self-granted ----

/// Remove the exemption tag from a bucket's current tag set, unless it no longer exempts
/// (removed, or set to another value since the event: someone fixed it already). S3 replaces a
/// bucket's tags as one set: the rest is put back as read, or the set deleted when nothing else
/// remains.
async fn remove_bucket_exemption_tag(s3: &S3, bucket: &str, key: &str, value: &str) -> Step {
    let gone = || {
        Outcome::already_done(format!(
            "bucket {bucket} no longer carries the exemption tag {key}"
        ))
    };
    // A bucket without tags, or gone, has none: nothing to remove.
    let before = tags::bucket(s3, bucket)
        .await
        .map_err(|e| e.outcome("s3:GetBucketTagging"))?;
    // The value compared as the exemption compares it: `TRUE` exempts as `true` does.
    let Some(current) = before
        .get(key)
        .filter(|v| v.eq_ignore_ascii_case(value))
        .cloned()
    else {
        return Ok(gone());
    };
    // Every other tag is put back, or nothing is written: S3 replaces the set whole, so a tag
    // dropped here would be erased from the bucket.
    let rest = before
        .iter()
        .filter(|(k, _)| k.as_str() != key)
        .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Outcome::failed(format!("the tags of bucket {bucket}: {e}"), None))?;
    if rest.is_empty() {
        s3.delete_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| aws::fault("s3:DeleteBucketTagging", &e, NO_BUCKET).or_gone(gone))?;
    } else {
        let tagging = Tagging::builder()
            .set_tag_set(Some(rest))
            .build()
            .map_err(|e| Outcome::failed(format!("the tags of bucket {bucket}: {e}"), None))?;
        s3.put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| aws::fault("s3:PutBucketTagging", &e, NO_BUCKET).or_gone(gone))?;
    }
    Ok(Outcome::done(
        format!(
            "removed the exemption tag {key}={current} from bucket {bucket}; its other tags are \
             kept"
        ),
        Some(json!({ "tags": before })),
        undo::bucket_tags_back(bucket, &before),
    ))
}

/// Remove the exemption tag from a snapshot or an image, unless it no longer exempts. Deleted
/// with the value read, so that a value written in between (by someone allowed to) is not
/// deleted with it.
async fn remove_exemption_tag(ec2: &Ec2, id: &str, key: &str, value: &str) -> Step {
    let what = crate::actions::kind_and_id(id);
    let gone =
        || Outcome::already_done(format!("{what} no longer carries the exemption tag {key}"));
    let snapshot = id.starts_with("snap-");
    // A snapshot or image that is gone has no tags.
    let tags = if snapshot {
        tags::snapshot(ec2, id)
            .await
            .map_err(|e| e.outcome("ec2:DescribeSnapshots"))?
    } else {
        tags::image(ec2, id)
            .await
            .map_err(|e| e.outcome("ec2:DescribeImages"))?
    };
    let Some(current) = tags
        .get(key)
        .filter(|v| v.eq_ignore_ascii_case(value))
        .cloned()
    else {
        return Ok(gone());
    };
    let missing = if snapshot { NO_SNAPSHOT } else { NO_IMAGE };
    ec2.delete_tags()
        .resources(id)
        .tags(Tag::builder().key(key).value(&current).build())
        .send()
        .await
        .map_err(|e| aws::fault("ec2:DeleteTags", &e, missing).or_gone(gone))?;
    Ok(Outcome::done(
        format!("removed the exemption tag {key}={current} from {what}"),
        Some(json!({ "tags": { key: current } })),
        undo::tag_again(id, key, &current),
    ))
}
