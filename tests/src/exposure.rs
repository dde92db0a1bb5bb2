//! Public exposure in the emulator, for privatize's samples (`events/privatize/`): the bucket,
//! snapshot and image the samples name, the exposing call each records replayed through the
//! real SDK, and read-back helpers. S3 is reached with path-style addressing (the emulator
//! serves every bucket on one host), as the function's own client does with an endpoint set.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    ImageAttributeName, LaunchPermission, LaunchPermissionModifications, OperationType,
    PermissionGroup, ResourceType, SnapshotAttributeName, Tag, TagSpecification,
};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, Permission,
    PublicAccessBlockConfiguration, Tagging, Type,
};
use serde_json::Value;

use crate::Account;

/// The bucket the samples name.
pub const BUCKET: &str = "acme-reports";
/// The AMI moto's catalogue has, to launch the instance an image is made from.
const BASE_AMI: &str = "ami-12c6146b";

pub fn s3(acct: &Account) -> aws_sdk_s3::Client {
    reflex_privatize::Privatize::s3_client(&acct.sdk)
}

pub fn ec2(acct: &Account) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&acct.sdk)
}

/// A private bucket, as it was before the call (created if it is not there yet).
pub async fn seed_bucket(acct: &Account, name: &str) {
    let s3 = s3(acct);
    if s3.head_bucket().bucket(name).send().await.is_ok() {
        return;
    }
    s3.create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {name}: {e:?}"));
}

/// Make the emulator's state what it is right after the call the event records (a failed call
/// changed nothing), and return the event pointed at the snapshot or image the emulator made.
pub async fn replay(acct: &Account, mut event: Value) -> Value {
    let d = &event["detail"];
    if d.get("errorCode").is_some_and(|c| !c.is_null()) {
        return event;
    }
    let name = d["eventName"].as_str().unwrap_or_default().to_string();
    let req = d["requestParameters"].clone();
    let bucket = req["bucketName"].as_str().unwrap_or(BUCKET).to_string();
    let s3 = s3(acct);
    match name.as_str() {
        "PutBucketPolicy" => {
            seed_bucket(acct, &bucket).await;
            let doc = reflex_privatize::policy::parse(&req["bucketPolicy"]).expect("a policy");
            s3.put_bucket_policy()
                .bucket(&bucket)
                .policy(doc.to_string())
                .send()
                .await
                .expect("replay PutBucketPolicy");
        }
        "PutBucketAcl" => {
            seed_bucket(acct, &bucket).await;
            let request = s3.put_bucket_acl().bucket(&bucket);
            let request = match req["x-amz-acl"][0].as_str() {
                Some(canned) => request.acl(BucketCannedAcl::from(canned)),
                None => request.access_control_policy(acl_from(&req, &owner(acct, &bucket).await)),
            };
            request.send().await.expect("replay PutBucketAcl");
        }
        "PutBucketPublicAccessBlock" => {
            seed_bucket(acct, &bucket).await;
            let c = &req["PublicAccessBlockConfiguration"];
            let on = |k: &str| c[k].as_bool().unwrap_or(false);
            put_block(
                acct,
                &bucket,
                [
                    on("BlockPublicAcls"),
                    on("IgnorePublicAcls"),
                    on("BlockPublicPolicy"),
                    on("RestrictPublicBuckets"),
                ],
            )
            .await;
        }
        "DeleteBucketPublicAccessBlock" => {
            // The premise: the bucket had a block, every setting on.
            seed_bucket(acct, &bucket).await;
            put_block(acct, &bucket, [true; 4]).await;
            s3.delete_public_access_block()
                .bucket(&bucket)
                .send()
                .await
                .expect("replay DeleteBucketPublicAccessBlock");
        }
        "ModifySnapshotAttribute" => {
            let id = seed_snapshot(acct).await;
            let (groups, users) = added(&req["createVolumePermission"]);
            share_snapshot(acct, &id, groups, users).await;
            event["detail"]["requestParameters"]["snapshotId"] = id.into();
        }
        "ModifyImageAttribute" => {
            let id = seed_image(acct).await;
            let (groups, users) = added(&req["launchPermission"]);
            let mut change = LaunchPermissionModifications::builder();
            for g in groups {
                change = change.add(
                    LaunchPermission::builder()
                        .group(PermissionGroup::from(g.as_str()))
                        .build(),
                );
            }
            for u in users {
                change = change.add(LaunchPermission::builder().user_id(u).build());
            }
            ec2(acct)
                .modify_image_attribute()
                .image_id(&id)
                .launch_permission(change.build())
                .send()
                .await
                .expect("replay ModifyImageAttribute");
            event["detail"]["requestParameters"]["imageId"] = id.into();
        }
        "PutBucketTagging" => {
            seed_bucket(acct, &bucket).await;
            let tags = reflex_shared::exemption::written_tags(&req);
            let mut set = Tagging::builder();
            for (key, value) in tags {
                set = set.tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                        .expect("a tag"),
                );
            }
            s3.put_bucket_tagging()
                .bucket(&bucket)
                .tagging(set.build().expect("tagging"))
                .send()
                .await
                .expect("replay PutBucketTagging");
        }
        "CreateTags" => {
            // The snapshot or image the call tagged: one of the emulator's own, the event pointed
            // at it.
            let named = req["resourcesSet"]["items"][0]["resourceId"]
                .as_str()
                .unwrap_or_default();
            let id = match named.starts_with("ami-") {
                true => seed_image(acct).await,
                false => seed_snapshot(acct).await,
            };
            let mut call = ec2(acct).create_tags().resources(&id);
            for (key, value) in reflex_shared::exemption::written_tags(&req) {
                call = call.tags(Tag::builder().key(key).value(value).build());
            }
            call.send().await.expect("replay CreateTags");
            event["detail"]["requestParameters"]["resourcesSet"]["items"] =
                serde_json::json!([{ "resourceId": id }]);
        }
        other => panic!("no replay for {other}"),
    }
    event
}

/// The groups and accounts a permission change adds (`{"add": {"items": [...]}}`).
fn added(change: &Value) -> (Vec<String>, Vec<String>) {
    let items = change["add"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of = |key: &str| {
        items
            .iter()
            .filter_map(|i| i[key].as_str().map(String::from))
            .collect()
    };
    (of("group"), of("userId"))
}

/// Share a snapshot: EC2's operation-type form, the one the emulator honours for snapshots.
pub async fn share_snapshot(acct: &Account, id: &str, groups: Vec<String>, users: Vec<String>) {
    ec2(acct)
        .modify_snapshot_attribute()
        .snapshot_id(id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .operation_type(OperationType::Add)
        .set_group_names((!groups.is_empty()).then_some(groups))
        .set_user_ids((!users.is_empty()).then_some(users))
        .send()
        .await
        .expect("share the snapshot");
}

/// The bucket owner, as the emulator has it.
async fn owner(acct: &Account, bucket: &str) -> aws_sdk_s3::types::Owner {
    s3(acct)
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .expect("get bucket acl")
        .owner
        .expect("an owner")
}

/// The access control policy an event's body records.
fn acl_from(req: &Value, owner: &aws_sdk_s3::types::Owner) -> AccessControlPolicy {
    let grants = match &req["AccessControlPolicy"]["AccessControlList"]["Grant"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    let mut policy = AccessControlPolicy::builder().owner(owner.clone());
    for g in grants {
        let who = &g["Grantee"];
        let grantee = match who["URI"].as_str() {
            Some(uri) => Grantee::builder().r#type(Type::Group).uri(uri),
            None => Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id(who["ID"].as_str().unwrap_or_default()),
        };
        policy = policy.grants(
            Grant::builder()
                .grantee(grantee.build().expect("a grantee"))
                .permission(Permission::from(g["Permission"].as_str().unwrap_or("READ")))
                .build(),
        );
    }
    policy.build()
}

pub async fn put_block(acct: &Account, bucket: &str, settings: [bool; 4]) {
    s3(acct)
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(settings[0])
                .ignore_public_acls(settings[1])
                .block_public_policy(settings[2])
                .restrict_public_buckets(settings[3])
                .build(),
        )
        .send()
        .await
        .expect("put public access block");
}

pub async fn tag_bucket(acct: &Account, bucket: &str, key: &str, value: &str) {
    s3(acct)
        .put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                        .expect("a tag"),
                )
                .build()
                .expect("tagging"),
        )
        .send()
        .await
        .expect("tag the bucket");
}

/// A new snapshot (of a new volume), its id.
pub async fn seed_snapshot(acct: &Account) -> String {
    let ec2 = ec2(acct);
    let volume = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(8)
        .send()
        .await
        .expect("create volume")
        .volume_id
        .expect("volume id");
    ec2.create_snapshot()
        .volume_id(volume)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Snapshot)
                .tags(Tag::builder().key("Name").value("db-backup").build())
                .build(),
        )
        .send()
        .await
        .expect("create snapshot")
        .snapshot_id
        .expect("snapshot id")
}

/// A new image (of a new instance), its id.
pub async fn seed_image(acct: &Account) -> String {
    let ec2 = ec2(acct);
    let instance = ec2
        .run_instances()
        .image_id(BASE_AMI)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .expect("run instance")
        .instances
        .and_then(|i| i.into_iter().next())
        .and_then(|i| i.instance_id)
        .expect("instance id");
    ec2.create_image()
        .instance_id(instance)
        .name("golden-image")
        .send()
        .await
        .expect("create image")
        .image_id
        .expect("image id")
}

/// What a bucket exposes, read back: its policy, its grants to groups, its public access block.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketState {
    pub policy: Option<Value>,
    /// `PERMISSION URI` of each grant to a group.
    pub group_grants: Vec<String>,
    /// The four settings, in S3's order, when the bucket has a block.
    pub block: Option<[bool; 4]>,
}

pub async fn bucket_state(acct: &Account, bucket: &str) -> BucketState {
    let s3 = s3(acct);
    let policy = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => out.policy.map(|p| serde_json::from_str(&p).expect("JSON")),
        Err(e) if e.code() == Some("NoSuchBucketPolicy") => None,
        Err(e) => panic!("get bucket policy: {e:?}"),
    };
    let acl = s3
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .expect("get bucket acl");
    let group_grants = acl
        .grants()
        .iter()
        .filter_map(|g| {
            let uri = g.grantee()?.uri()?;
            Some(format!(
                "{} {uri}",
                g.permission().map(|p| p.as_str()).unwrap_or("?")
            ))
        })
        .collect();
    let block = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => out.public_access_block_configuration.map(|c| {
            [
                c.block_public_acls.unwrap_or(false),
                c.ignore_public_acls.unwrap_or(false),
                c.block_public_policy.unwrap_or(false),
                c.restrict_public_buckets.unwrap_or(false),
            ]
        }),
        Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => None,
        Err(e) => panic!("get public access block: {e:?}"),
    };
    BucketState {
        policy,
        group_grants,
        block,
    }
}

/// Who may create volumes from a snapshot: `group:all`, `user:111122223333`.
pub async fn snapshot_sharing(acct: &Account, id: &str) -> Vec<String> {
    let out = ec2(acct)
        .describe_snapshot_attribute()
        .snapshot_id(id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .expect("describe snapshot attribute");
    listed(
        out.create_volume_permissions()
            .iter()
            .map(|p| (p.group(), p.user_id())),
    )
}

/// Who may launch an image: `group:all`, `user:111122223333`.
pub async fn image_sharing(acct: &Account, id: &str) -> Vec<String> {
    let out = ec2(acct)
        .describe_image_attribute()
        .image_id(id)
        .attribute(ImageAttributeName::LaunchPermission)
        .send()
        .await
        .expect("describe image attribute");
    listed(
        out.launch_permissions()
            .iter()
            .map(|p| (p.group(), p.user_id())),
    )
}

/// Permissions (a group, or an account) as sorted text: `group:all`, `user:111122223333`.
fn listed<'a>(
    permissions: impl Iterator<Item = (Option<&'a PermissionGroup>, Option<&'a str>)>,
) -> Vec<String> {
    let mut who: Vec<String> = permissions
        .map(|(group, user)| match (group, user) {
            (Some(g), _) => format!("group:{}", g.as_str()),
            (None, Some(u)) => format!("user:{u}"),
            _ => "?".into(),
        })
        .collect();
    who.sort();
    who
}

/// Everything privatize could change about the samples' bucket and one snapshot and image, as
/// text, to compare before and after.
pub async fn state_text(acct: &Account, snapshot: Option<&str>, image: Option<&str>) -> String {
    let exists = s3(acct).head_bucket().bucket(BUCKET).send().await.is_ok();
    let mut out = String::new();
    if exists {
        out += &format!("{BUCKET}: {:?}\n", bucket_state(acct, BUCKET).await);
    }
    if let Some(id) = snapshot {
        out += &format!("{id}: {:?}\n", snapshot_sharing(acct, id).await);
    }
    if let Some(id) = image {
        out += &format!("{id}: {:?}\n", image_sharing(acct, id).await);
    }
    out
}

/// The tags the samples' bucket carries.
pub async fn bucket_tags(acct: &Account, bucket: &str) -> BTreeMap<String, String> {
    match s3(acct).get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}
