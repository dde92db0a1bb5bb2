//! Taking back privatize's changes from what the ledger recorded: a bucket's policy, ACL or
//! public access block put back as it was, a snapshot or image shared with everyone again. Each
//! is put back only while the resource is still as Reflex left it: a change made since is
//! someone's, and is not overwritten. An exemption tag Reflex removed is not put back: undo
//! grants no exemption.
//!
//! Everything a reversal carries comes from the ledger's record, whose values an attacker chose
//! (a policy, grantee names): it is rebuilt into typed values here, and refused when it does not
//! have the shape S3 or EC2 gives, before any call.

use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{
    ImageAttributeName, LaunchPermission, LaunchPermissionModifications, OperationType,
    PermissionGroup, SnapshotAttributeName,
};
use aws_sdk_s3::Client as S3;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AccessControlPolicy, Grant, Grantee, Owner, Permission, PublicAccessBlockConfiguration, Type,
};
use reflex_shared::aws;
use reflex_shared::outcome::settle;
use reflex_shared::report::ActionReport;
use reflex_shared::reverse::{Irreversible, Reverse};
use reflex_shared::{AwsCli, Outcome, Step, Undo};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::Privatize;
use crate::actions::PrivatizeAction;
use crate::executor::{NO_BUCKET, NO_IMAGE, NO_SNAPSHOT};
use crate::trigger::BLOCK_SETTINGS;
use crate::{acl, policy, undo};

/// S3 refuses a bucket policy larger than this.
const MAX_POLICY: usize = 20 * 1024;
/// S3 takes at most this many grants in an ACL.
const MAX_GRANTS: usize = 100;
const PERMISSIONS: &[&str] = &["FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP"];
const GROUPS: &str = "http://acs.amazonaws.com/groups/";

/// One change that takes back one of privatize's.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PrivatizeReversal {
    /// The bucket's policy put back, while it is still what Reflex left (`left`: `None`, Reflex
    /// deleted it).
    PolicyBack {
        bucket: String,
        policy: Value,
        left: Option<Value>,
    },
    /// The bucket's ACL put back, while its grants are still those Reflex kept.
    AclBack { bucket: String, acl: Acl },
    /// The bucket's public access block put back (`None`: it had none, deleted), while every
    /// setting is still on.
    AccessBlockBack {
        bucket: String,
        before: Option<[bool; 4]>,
    },
    /// The snapshot shared with everyone again.
    ShareSnapshot { snapshot_id: String },
    /// The image launchable by everyone again.
    ShareImage { image_id: String },
}

/// A bucket ACL as recorded: its owner and grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acl {
    pub owner: Option<AclOwner>,
    pub grants: Vec<AclGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclOwner {
    pub id: String,
    pub display_name: Option<String>,
}

/// One grant: to whom (`CanonicalUser` by id, `Group` by URI, `AmazonCustomerByEmail` by
/// address) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AclGrant {
    pub kind: String,
    pub who: String,
    pub display_name: Option<String>,
    pub permission: String,
}

impl AclGrant {
    /// What tells grants apart (a display name is S3's decoration).
    fn key(&self) -> (String, String, String) {
        (self.kind.clone(), self.who.clone(), self.permission.clone())
    }

    fn is_public(&self) -> bool {
        self.kind == "Group" && acl::public_group(&self.who).is_some()
    }
}

// ---- the reversal of a recorded step (pure) ----

pub fn reversal(step: &ActionReport) -> Result<PrivatizeReversal, Irreversible> {
    let Outcome::Done { prior_state, .. } = &step.outcome else {
        return Err(Irreversible(format!(
            "this step changed nothing (its outcome was {}): there is nothing to reverse",
            step.outcome.status()
        )));
    };
    let prior = prior_state.as_ref().unwrap_or(&Value::Null);
    match recorded(step)? {
        PrivatizeAction::RemovePublicPolicyStatements { bucket } => {
            let bucket = bucket_name(&bucket)?;
            let policy = prior
                .get("policy")
                .filter(|p| p.is_object())
                .cloned()
                .ok_or_else(|| refused("the recorded prior state has no bucket policy document"))?;
            if policy.to_string().len() > MAX_POLICY {
                return Err(refused(
                    "the recorded bucket policy is larger than S3 takes (20 KB)",
                ));
            }
            if policy::public_statements(&policy).is_empty() {
                return Err(refused(
                    "the recorded bucket policy has no public statement: it is not the policy Reflex changed",
                ));
            }
            Ok(PrivatizeReversal::PolicyBack {
                bucket,
                left: policy::without_public(&policy),
                policy,
            })
        }
        PrivatizeAction::RemovePublicAclGrants { bucket } => {
            let bucket = bucket_name(&bucket)?;
            let acl = recorded_acl(prior.get("acl"))?;
            if !acl.grants.iter().any(AclGrant::is_public) {
                return Err(refused(
                    "the recorded ACL has no public grant: it is not the ACL Reflex changed",
                ));
            }
            Ok(PrivatizeReversal::AclBack { bucket, acl })
        }
        PrivatizeAction::BlockPublicAccess { bucket } => {
            let bucket = bucket_name(&bucket)?;
            let before = match prior.get("public_access_block") {
                Some(Value::Null) => None,
                Some(Value::Object(settings)) => Some(block_settings(settings)?),
                _ => {
                    return Err(refused(
                        "the recorded prior state does not say which public access block the bucket had",
                    ));
                }
            };
            if before == Some([true; 4]) {
                return Err(refused(
                    "the recorded public access block had every setting on: Reflex changed nothing there",
                ));
            }
            Ok(PrivatizeReversal::AccessBlockBack { bucket, before })
        }
        PrivatizeAction::UnshareSnapshot { snapshot_id } => Ok(PrivatizeReversal::ShareSnapshot {
            snapshot_id: shaped_id(&snapshot_id, "snap-")?,
        }),
        PrivatizeAction::UnshareImage { image_id } => Ok(PrivatizeReversal::ShareImage {
            image_id: shaped_id(&image_id, "ami-")?,
        }),
        PrivatizeAction::RemoveBucketExemptionTag { .. }
        | PrivatizeAction::RemoveExemptionTag { .. } => Err(refused(
            "Reflex removed an exemption tag set by a caller not allowed to grant exemptions: undo grants no exemption; someone allowed to grant it must tag the resource again",
        )),
    }
}

/// The recorded action, rebuilt from the ledger's JSON.
pub fn recorded(step: &ActionReport) -> Result<PrivatizeAction, Irreversible> {
    serde_json::from_value(step.action.clone()).map_err(|e| {
        Irreversible(format!(
            "the recorded action is not a privatize action Reflex knows ({e})"
        ))
    })
}

fn refused(why: &str) -> Irreversible {
    Irreversible(why.to_string())
}

/// A bucket name as the trigger accepts one (see `trigger::bucket`).
fn bucket_name(name: &str) -> Result<String, Irreversible> {
    let shaped = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if shaped {
        Ok(name.to_string())
    } else {
        Err(refused("the recorded bucket name is not an S3 bucket name"))
    }
}

/// `snap-…` or `ami-…` and hex digits.
fn shaped_id(id: &str, prefix: &str) -> Result<String, Irreversible> {
    let shaped = id.strip_prefix(prefix).is_some_and(|hex| {
        !hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if shaped {
        Ok(id.to_string())
    } else {
        Err(Irreversible(format!(
            "the recorded id is not of the form {prefix}…"
        )))
    }
}

fn block_settings(settings: &Map<String, Value>) -> Result<[bool; 4], Irreversible> {
    let mut out = [false; 4];
    for (i, key) in BLOCK_SETTINGS.iter().enumerate() {
        out[i] = settings.get(*key).and_then(Value::as_bool).ok_or_else(|| {
            refused("the recorded public access block does not give its four settings as booleans")
        })?;
    }
    Ok(out)
}

/// The ACL as `acl_json` in the executor recorded it: `{"Owner": {...}, "Grants": [...]}`.
fn recorded_acl(raw: Option<&Value>) -> Result<Acl, Irreversible> {
    let bad = || refused("the recorded ACL is not an S3 access control policy");
    let raw = raw.and_then(Value::as_object).ok_or_else(bad)?;
    let text = |v: Option<&Value>| -> Result<Option<String>, Irreversible> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= 1024 && !s.chars().any(char::is_control) => {
                Ok(Some(s.clone()))
            }
            Some(_) => Err(bad()),
        }
    };
    let owner = match raw.get("Owner") {
        None | Some(Value::Null) => None,
        Some(o) => {
            let id = text(o.get("ID"))?.filter(|id| is_canonical_id(id));
            Some(AclOwner {
                id: id.ok_or_else(bad)?,
                display_name: text(o.get("DisplayName"))?,
            })
        }
    };
    let list = raw
        .get("Grants")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    if list.len() > MAX_GRANTS {
        return Err(refused(
            "the recorded ACL has more grants than S3 takes (100)",
        ));
    }
    let grants = list
        .iter()
        .map(|g| {
            let grantee = g.get("Grantee").ok_or_else(bad)?;
            let kind = text(grantee.get("Type"))?.ok_or_else(bad)?;
            let who = match kind.as_str() {
                "CanonicalUser" => text(grantee.get("ID"))?.filter(|id| is_canonical_id(id)),
                "Group" => text(grantee.get("URI"))?.filter(|uri| {
                    uri.strip_prefix(GROUPS).is_some_and(|rest| {
                        !rest.is_empty()
                            && rest.bytes().all(|b| b.is_ascii_alphabetic() || b == b'/')
                    })
                }),
                "AmazonCustomerByEmail" => text(grantee.get("EmailAddress"))?
                    .filter(|a| a.contains('@') && a.len() <= 254 && !a.contains(' ')),
                _ => None,
            }
            .ok_or_else(bad)?;
            let permission = text(g.get("Permission"))?
                .filter(|p| PERMISSIONS.contains(&p.as_str()))
                .ok_or_else(bad)?;
            Ok(AclGrant {
                kind,
                who,
                display_name: text(grantee.get("DisplayName"))?,
                permission,
            })
        })
        .collect::<Result<Vec<_>, Irreversible>>()?;
    Ok(Acl { owner, grants })
}

/// A canonical user id: hex digits (64 in S3).
fn is_canonical_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn describe(r: &PrivatizeReversal) -> String {
    match r {
        PrivatizeReversal::PolicyBack { bucket, .. } => format!(
            "put the policy of bucket {bucket} back as it was, its public statements included"
        ),
        PrivatizeReversal::AclBack { bucket, acl } => {
            let public: Vec<String> = acl
                .grants
                .iter()
                .filter(|g| g.is_public())
                .filter_map(|g| {
                    acl::GroupGrant {
                        uri: g.who.clone(),
                        permission: g.permission.clone(),
                    }
                    .describe_public()
                })
                .collect();
            format!(
                "put the ACL of bucket {bucket} back as it was, granting {} again",
                public.join(", ")
            )
        }
        PrivatizeReversal::AccessBlockBack {
            bucket,
            before: None,
        } => format!("delete the public access block of bucket {bucket} again (it had none)"),
        PrivatizeReversal::AccessBlockBack {
            bucket,
            before: Some(settings),
        } => format!(
            "put the public access block of bucket {bucket} back as it was ({})",
            shown(settings)
        ),
        PrivatizeReversal::ShareSnapshot { snapshot_id } => {
            format!("share snapshot {snapshot_id} with everyone again")
        }
        PrivatizeReversal::ShareImage { image_id } => {
            format!("make image {image_id} launchable by everyone again")
        }
    }
}

/// `BlockPublicAcls on, IgnorePublicAcls off, ...`
fn shown(settings: &[bool; 4]) -> String {
    BLOCK_SETTINGS
        .iter()
        .zip(settings)
        .map(|(k, on)| format!("{k} {}", if *on { "on" } else { "off" }))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- carrying a reversal out ----

pub async fn reverse(s3: &S3, ec2: &Ec2, r: &PrivatizeReversal) -> Outcome {
    settle(match r {
        PrivatizeReversal::PolicyBack {
            bucket,
            policy,
            left,
        } => policy_back(s3, bucket, policy, left.as_ref()).await,
        PrivatizeReversal::AclBack { bucket, acl } => acl_back(s3, bucket, acl).await,
        PrivatizeReversal::AccessBlockBack { bucket, before } => {
            access_block_back(s3, bucket, *before).await
        }
        PrivatizeReversal::ShareSnapshot { snapshot_id } => share_snapshot(ec2, snapshot_id).await,
        PrivatizeReversal::ShareImage { image_id } => share_image(ec2, image_id).await,
    })
}

fn bucket_gone(bucket: &str) -> Outcome {
    Outcome::skipped(format!(
        "bucket {bucket} no longer exists: there is nothing to put back"
    ))
}

/// A change made since Reflex's, which the reversal would overwrite.
fn changed_since(what: &str) -> Outcome {
    Outcome::failed(
        format!(
            "{what} changed since Reflex's change: putting the recorded state back would overwrite that change, so it is left as it is; a person must decide"
        ),
        None,
    )
}

async fn policy_back(s3: &S3, bucket: &str, before: &Value, left: Option<&Value>) -> Step {
    let gone = || bucket_gone(bucket);
    let current = match s3.get_bucket_policy().bucket(bucket).send().await {
        // A policy that is not a JSON document is not the one Reflex left either.
        Ok(out) => match out.policy {
            Some(text) => Some(
                policy::parse(&Value::String(text))
                    .ok_or_else(|| changed_since(&format!("the policy of bucket {bucket}")))?,
            ),
            None => None,
        },
        Err(e) if e.code() == Some("NoSuchBucketPolicy") => None,
        Err(e) => return Err(aws::fault("s3:GetBucketPolicy", &e, NO_BUCKET).or_gone(gone)),
    };
    if current.as_ref() == Some(before) {
        return Ok(Outcome::already_done(format!(
            "the policy of bucket {bucket} is already the one it had"
        )));
    }
    if current.as_ref() != left {
        return Err(changed_since(&format!("the policy of bucket {bucket}")));
    }
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(before.to_string())
        .send()
        .await
        .map_err(|e| aws::fault("s3:PutBucketPolicy", &e, NO_BUCKET).or_gone(gone))?;
    let public: Vec<String> = policy::public_statements(before)
        .iter()
        .map(|s| s.describe())
        .collect();
    let undo = match left {
        Some(rest) => undo::put_policy_back(bucket, rest),
        None => Undo::run(AwsCli::new("s3api", "delete-bucket-policy").arg("--bucket", bucket)),
    };
    Ok(Outcome::done(
        format!(
            "the policy of bucket {bucket} is back as it was; public again: {}",
            public.join("; ")
        ),
        Some(json!({ "policy": left })),
        undo,
    ))
}

async fn acl_back(s3: &S3, bucket: &str, before: &Acl) -> Step {
    let gone = || bucket_gone(bucket);
    let current = s3
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| aws::fault("s3:GetBucketAcl", &e, NO_BUCKET).or_gone(gone))?;
    let mut now: Vec<_> = current.grants().iter().filter_map(grant_key).collect();
    now.sort();
    let keys = |public: Option<bool>| {
        let mut k: Vec<_> = before
            .grants
            .iter()
            .filter(|g| public.is_none_or(|p| p || !g.is_public()))
            .map(AclGrant::key)
            .collect();
        k.sort();
        k
    };
    if now == keys(None) {
        return Ok(Outcome::already_done(format!(
            "the ACL of bucket {bucket} already has the grants it had"
        )));
    }
    if now != keys(Some(false)) {
        return Err(changed_since(&format!("the ACL of bucket {bucket}")));
    }
    let policy = access_control_policy(before)
        .map_err(|e| Outcome::failed(format!("the recorded ACL of bucket {bucket}: {e}"), None))?;
    s3.put_bucket_acl()
        .bucket(bucket)
        .access_control_policy(policy)
        .send()
        .await
        .map_err(|e| aws::fault("s3:PutBucketAcl", &e, NO_BUCKET).or_gone(gone))?;
    let kept = Acl {
        owner: before.owner.clone(),
        grants: before
            .grants
            .iter()
            .filter(|g| !g.is_public())
            .cloned()
            .collect(),
    };
    Ok(Outcome::done(
        format!("the ACL of bucket {bucket} is back as it was, its public grants included"),
        Some(json!({ "acl": acl_json(&kept) })),
        undo::put_acl_back(bucket, &acl_json(&kept)),
    ))
}

/// A grant as S3 returns it, compared as [`AclGrant::key`].
fn grant_key(g: &Grant) -> Option<(String, String, String)> {
    let who = g.grantee()?;
    let name = match who.r#type() {
        Type::CanonicalUser => who.id()?,
        Type::Group => who.uri()?,
        Type::AmazonCustomerByEmail => who.email_address()?,
        _ => return None,
    };
    Some((
        who.r#type().as_str().to_string(),
        name.to_string(),
        g.permission()?.as_str().to_string(),
    ))
}

/// The ACL as `get-bucket-acl` prints it and `put-bucket-acl --access-control-policy` takes it.
fn acl_json(acl: &Acl) -> Value {
    let grants: Vec<Value> = acl
        .grants
        .iter()
        .map(|g| {
            let field = match g.kind.as_str() {
                "CanonicalUser" => "ID",
                "Group" => "URI",
                _ => "EmailAddress",
            };
            let mut grantee = json!({ "Type": g.kind, field: g.who });
            if let Some(name) = &g.display_name {
                grantee["DisplayName"] = name.clone().into();
            }
            json!({ "Grantee": grantee, "Permission": g.permission })
        })
        .collect();
    let mut out = json!({ "Grants": grants });
    if let Some(o) = &acl.owner {
        out["Owner"] = json!({ "ID": o.id });
        if let Some(name) = &o.display_name {
            out["Owner"]["DisplayName"] = name.clone().into();
        }
    }
    out
}

fn access_control_policy(acl: &Acl) -> Result<AccessControlPolicy, String> {
    let grants = acl
        .grants
        .iter()
        .map(|g| {
            let mut who = Grantee::builder()
                .r#type(Type::from(g.kind.as_str()))
                .set_display_name(g.display_name.clone());
            who = match g.kind.as_str() {
                "CanonicalUser" => who.id(&g.who),
                "Group" => who.uri(&g.who),
                _ => who.email_address(&g.who),
            };
            Ok(Grant::builder()
                .grantee(who.build().map_err(|e| e.to_string())?)
                .permission(Permission::from(g.permission.as_str()))
                .build())
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut policy = AccessControlPolicy::builder().set_grants(Some(grants));
    if let Some(o) = &acl.owner {
        policy = policy.owner(
            Owner::builder()
                .id(&o.id)
                .set_display_name(o.display_name.clone())
                .build(),
        );
    }
    Ok(policy.build())
}

async fn access_block_back(s3: &S3, bucket: &str, before: Option<[bool; 4]>) -> Step {
    let gone = || bucket_gone(bucket);
    let current = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => out.public_access_block_configuration.map(|c| {
            [
                c.block_public_acls().unwrap_or(false),
                c.ignore_public_acls().unwrap_or(false),
                c.block_public_policy().unwrap_or(false),
                c.restrict_public_buckets().unwrap_or(false),
            ]
        }),
        Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => None,
        Err(e) => return Err(aws::fault("s3:GetPublicAccessBlock", &e, NO_BUCKET).or_gone(gone)),
    };
    if current == before {
        return Ok(Outcome::already_done(format!(
            "the public access block of bucket {bucket} is already as it was"
        )));
    }
    if current != Some([true; 4]) {
        return Err(changed_since(&format!(
            "the public access block of bucket {bucket}"
        )));
    }
    let detail = match before {
        None => {
            s3.delete_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| {
                    aws::fault("s3:DeletePublicAccessBlock", &e, NO_BUCKET).or_gone(gone)
                })?;
            format!("bucket {bucket} has no public access block again, as before")
        }
        Some([acls, ignore, policy, restrict]) => {
            s3.put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(acls)
                        .ignore_public_acls(ignore)
                        .block_public_policy(policy)
                        .restrict_public_buckets(restrict)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws::fault("s3:PutPublicAccessBlock", &e, NO_BUCKET).or_gone(gone))?;
            format!(
                "the public access block of bucket {bucket} is back as it was ({})",
                shown(&[acls, ignore, policy, restrict])
            )
        }
    };
    let all_on: Map<String, Value> = BLOCK_SETTINGS
        .iter()
        .map(|k| (k.to_string(), Value::Bool(true)))
        .collect();
    Ok(Outcome::done(
        detail,
        Some(json!({ "public_access_block": all_on })),
        undo::access_block_back(bucket, Some(&Value::Object(all_on.clone()))),
    ))
}

async fn share_snapshot(ec2: &Ec2, snapshot_id: &str) -> Step {
    let gone = || {
        Outcome::skipped(format!(
            "snapshot {snapshot_id} no longer exists: there is nothing to share again"
        ))
    };
    let current = ec2
        .describe_snapshot_attribute()
        .snapshot_id(snapshot_id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .map_err(|e| aws::fault("ec2:DescribeSnapshotAttribute", &e, NO_SNAPSHOT).or_gone(gone))?;
    if current
        .create_volume_permissions()
        .iter()
        .any(|p| p.group() == Some(&PermissionGroup::All))
    {
        return Ok(Outcome::already_done(format!(
            "snapshot {snapshot_id} is already shared with everyone"
        )));
    }
    ec2.modify_snapshot_attribute()
        .snapshot_id(snapshot_id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .operation_type(OperationType::Add)
        .group_names("all")
        .send()
        .await
        .map_err(|e| aws::fault("ec2:ModifySnapshotAttribute", &e, NO_SNAPSHOT).or_gone(gone))?;
    Ok(Outcome::done(
        format!("snapshot {snapshot_id} is shared with everyone again"),
        None,
        Undo::run(
            AwsCli::new("ec2", "modify-snapshot-attribute")
                .arg("--snapshot-id", snapshot_id)
                .arg("--attribute", "createVolumePermission")
                .arg("--operation-type", "remove")
                .list("--group-names", &["all"]),
        ),
    ))
}

async fn share_image(ec2: &Ec2, image_id: &str) -> Step {
    let gone = || {
        Outcome::skipped(format!(
            "image {image_id} no longer exists: there is nothing to share again"
        ))
    };
    let current = ec2
        .describe_image_attribute()
        .image_id(image_id)
        .attribute(ImageAttributeName::LaunchPermission)
        .send()
        .await
        .map_err(|e| aws::fault("ec2:DescribeImageAttribute", &e, NO_IMAGE).or_gone(gone))?;
    if current
        .launch_permissions()
        .iter()
        .any(|p| p.group() == Some(&PermissionGroup::All))
    {
        return Ok(Outcome::already_done(format!(
            "image {image_id} is already launchable by everyone"
        )));
    }
    ec2.modify_image_attribute()
        .image_id(image_id)
        .launch_permission(
            LaunchPermissionModifications::builder()
                .add(
                    LaunchPermission::builder()
                        .group(PermissionGroup::All)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws::fault("ec2:ModifyImageAttribute", &e, NO_IMAGE).or_gone(gone))?;
    Ok(Outcome::done(
        format!("image {image_id} is launchable by everyone again"),
        None,
        Undo::run(
            AwsCli::new("ec2", "modify-image-attribute")
                .arg("--image-id", image_id)
                .json(
                    "--launch-permission",
                    &json!({ "Remove": [{ "Group": "all" }] }),
                ),
        ),
    ))
}

impl Reverse for Privatize {
    type Reversal = PrivatizeReversal;

    fn reversal(step: &ActionReport) -> Result<PrivatizeReversal, Irreversible> {
        reversal(step)
    }

    fn describe_reversal(reversal: &PrivatizeReversal) -> String {
        describe(reversal)
    }

    async fn reverse(&self, reversal: &PrivatizeReversal) -> Outcome {
        reverse(&self.s3, &self.ec2, reversal).await
    }

    fn recorded_action(step: &ActionReport) -> Result<PrivatizeAction, Irreversible> {
        recorded(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWNER: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";

    fn step(action: Value, prior: Option<Value>) -> ActionReport {
        let undo = Undo::none("x");
        ActionReport {
            step: String::new(),
            description: "d".into(),
            action,
            outcome: Outcome::Done {
                detail: "d".into(),
                prior_state: prior,
                undo: Some(undo),
            },
        }
    }

    fn public_policy() -> Value {
        json!({ "Version": "2012-10-17", "Statement": [
            { "Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::acme-reports/*" },
            { "Sid": "Ci", "Effect": "Allow",
              "Principal": { "AWS": "arn:aws:iam::123456789012:role/ci" },
              "Action": "s3:PutObject", "Resource": "arn:aws:s3:::acme-reports/*" } ] })
    }

    fn public_acl() -> Value {
        json!({ "Owner": { "ID": OWNER, "DisplayName": "webfile" }, "Grants": [
            { "Grantee": { "Type": "CanonicalUser", "ID": OWNER, "DisplayName": "webfile" },
              "Permission": "FULL_CONTROL" },
            { "Grantee": { "Type": "Group", "URI": acl::ALL_USERS }, "Permission": "READ" } ] })
    }

    #[test]
    fn a_policy_is_put_back_whole_and_what_reflex_left_is_known() {
        let r = reversal(&step(
            json!({ "type": "remove-public-policy-statements", "bucket": "acme-reports" }),
            Some(json!({ "policy": public_policy() })),
        ))
        .unwrap();
        let PrivatizeReversal::PolicyBack {
            bucket,
            policy,
            left,
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!(
            (bucket.as_str(), policy),
            ("acme-reports", &public_policy())
        );
        assert_eq!(left.as_ref().unwrap()["Statement"][0]["Sid"], "Ci");
        assert_eq!(
            describe(&r),
            "put the policy of bucket acme-reports back as it was, its public statements included"
        );
    }

    #[test]
    fn an_acl_is_put_back_with_its_public_grants() {
        let r = reversal(&step(
            json!({ "type": "remove-public-acl-grants", "bucket": "acme-reports" }),
            Some(json!({ "acl": public_acl() })),
        ))
        .unwrap();
        let PrivatizeReversal::AclBack { acl, .. } = &r else {
            panic!("{r:?}")
        };
        assert_eq!(acl.grants.len(), 2);
        assert_eq!(acl.owner.as_ref().unwrap().id, OWNER);
        assert_eq!(acl_json(acl), public_acl(), "rebuilt as recorded");
        assert!(
            describe(&r).ends_with("granting READ to everyone (AllUsers) again"),
            "{}",
            describe(&r)
        );
    }

    #[test]
    fn the_access_block_goes_back_to_what_it_was_or_to_none() {
        let block = |prior: Value| {
            reversal(&step(
                json!({ "type": "block-public-access", "bucket": "acme-reports" }),
                Some(json!({ "public_access_block": prior })),
            ))
        };
        assert_eq!(
            block(Value::Null).unwrap(),
            PrivatizeReversal::AccessBlockBack {
                bucket: "acme-reports".into(),
                before: None
            }
        );
        let some = block(json!({ "BlockPublicAcls": true, "IgnorePublicAcls": true,
            "BlockPublicPolicy": false, "RestrictPublicBuckets": false }))
        .unwrap();
        assert_eq!(
            some,
            PrivatizeReversal::AccessBlockBack {
                bucket: "acme-reports".into(),
                before: Some([true, true, false, false])
            }
        );
        assert!(
            describe(&some).contains("BlockPublicPolicy off"),
            "{}",
            describe(&some)
        );
        // Every setting on before: Reflex changed nothing there.
        assert!(
            block(json!({ "BlockPublicAcls": true, "IgnorePublicAcls": true,
            "BlockPublicPolicy": true, "RestrictPublicBuckets": true }))
            .is_err()
        );
    }

    #[test]
    fn sharing_is_given_back_to_a_well_formed_id() {
        assert_eq!(
            reversal(&step(
                json!({ "type": "unshare-snapshot", "snapshot_id": "snap-0123456789abcdef0" }),
                Some(json!({ "create_volume_permissions": [{ "Group": "all" }] })),
            ))
            .unwrap(),
            PrivatizeReversal::ShareSnapshot {
                snapshot_id: "snap-0123456789abcdef0".into()
            }
        );
        assert_eq!(
            reversal(&step(
                json!({ "type": "unshare-image", "image_id": "ami-0123456789abcdef0" }),
                None,
            ))
            .unwrap(),
            PrivatizeReversal::ShareImage {
                image_id: "ami-0123456789abcdef0".into()
            }
        );
        for id in ["snap-", "snap-xyz", "ami-0123", "snap-0123 --dry-run"] {
            assert!(
                reversal(&step(
                    json!({ "type": "unshare-snapshot", "snapshot_id": id }),
                    None
                ))
                .is_err(),
                "{id}"
            );
        }
    }

    #[test]
    fn a_removed_exemption_tag_is_not_granted_again() {
        for action in [
            json!({ "type": "remove-bucket-exemption-tag", "bucket": "acme-reports",
                    "key": "reflex:exempt", "value": "true" }),
            json!({ "type": "remove-exemption-tag", "resource_id": "snap-0123456789abcdef0",
                    "key": "reflex:exempt", "value": "true" }),
        ] {
            let why = reversal(&step(action, Some(json!({ "tags": {} })))).unwrap_err();
            assert!(why.0.contains("undo grants no exemption"), "{why:?}");
        }
    }

    #[test]
    fn a_malformed_prior_state_is_refused() {
        let policy = json!({ "type": "remove-public-policy-statements", "bucket": "acme-reports" });
        for prior in [
            None,
            Some(json!({})),
            Some(json!({ "policy": "not a document" })),
            // No public statement: not the policy Reflex changed.
            Some(json!({ "policy": { "Statement": [] } })),
            Some(
                json!({ "policy": { "Statement": [{ "Effect": "Allow", "Principal": "*",
                "Action": "s3:GetObject", "Resource": "x".repeat(MAX_POLICY) }] } }),
            ),
        ] {
            assert!(
                reversal(&step(policy.clone(), prior.clone())).is_err(),
                "{prior:?}"
            );
        }
        let acl = json!({ "type": "remove-public-acl-grants", "bucket": "acme-reports" });
        let grant = |grantee: Value, permission: &str| {
            Some(json!({ "acl": { "Grants": [
                { "Grantee": { "Type": "Group", "URI": acl::ALL_USERS }, "Permission": "READ" },
                { "Grantee": grantee, "Permission": permission } ] } }))
        };
        for prior in [
            Some(json!({ "acl": { "Grants": "all" } })),
            grant(json!({ "Type": "CanonicalUser", "ID": "not hex" }), "READ"),
            grant(
                json!({ "Type": "Group", "URI": "http://evil.example/groups/x" }),
                "READ",
            ),
            grant(
                json!({ "Type": "CanonicalUser", "ID": OWNER }),
                "EVERYTHING",
            ),
            grant(json!({ "Type": "Robot", "ID": OWNER }), "READ"),
            // No public grant: not the ACL Reflex changed.
            Some(json!({ "acl": { "Grants": [] } })),
        ] {
            assert!(
                reversal(&step(acl.clone(), prior.clone())).is_err(),
                "{prior:?}"
            );
        }
        let block = json!({ "type": "block-public-access", "bucket": "acme-reports" });
        for prior in [
            None,
            Some(json!({ "public_access_block": { "BlockPublicAcls": "yes" } })),
        ] {
            assert!(
                reversal(&step(block.clone(), prior.clone())).is_err(),
                "{prior:?}"
            );
        }
        let bad_bucket = json!({ "type": "block-public-access", "bucket": "a b; rm -rf /" });
        assert!(
            reversal(&step(
                bad_bucket,
                Some(json!({ "public_access_block": null }))
            ))
            .is_err()
        );
        assert!(reversal(&step(json!({ "type": "delete-everything" }), None)).is_err());
    }

    #[test]
    fn a_step_that_changed_nothing_is_not_reversed() {
        let mut s = step(
            json!({ "type": "unshare-image", "image_id": "ami-01" }),
            None,
        );
        s.outcome = Outcome::already_done("not shared");
        assert!(reversal(&s).unwrap_err().0.contains("changed nothing"));
    }

    #[test]
    fn the_recorded_action_is_rebuilt_for_the_undo_of_an_undo() {
        let s = step(
            json!({ "type": "block-public-access", "bucket": "acme-reports" }),
            None,
        );
        assert_eq!(
            recorded(&s).unwrap(),
            PrivatizeAction::BlockPublicAccess {
                bucket: "acme-reports".into()
            }
        );
    }

    #[test]
    fn every_action_round_trips_through_the_ledgers_json() {
        for action in [
            PrivatizeAction::RemovePublicPolicyStatements { bucket: "b".into() },
            PrivatizeAction::RemovePublicAclGrants { bucket: "b".into() },
            PrivatizeAction::BlockPublicAccess { bucket: "b".into() },
            PrivatizeAction::UnshareSnapshot {
                snapshot_id: "snap-01".into(),
            },
            PrivatizeAction::UnshareImage {
                image_id: "ami-01".into(),
            },
            PrivatizeAction::RemoveBucketExemptionTag {
                bucket: "b".into(),
                key: "k".into(),
                value: "v".into(),
            },
            PrivatizeAction::RemoveExemptionTag {
                resource_id: "snap-01".into(),
                key: "k".into(),
                value: "v".into(),
            },
        ] {
            let s = step(serde_json::to_value(&action).unwrap(), None);
            assert_eq!(recorded(&s).unwrap(), action);
        }
    }
}
