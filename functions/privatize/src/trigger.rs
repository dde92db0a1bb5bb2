//! What privatize reads in an S3 or EC2 API call: the exposure it made, typed and validated
//! once. Pure: a field the trigger needs that is missing or malformed is an `EventError` here,
//! before any AWS call, and nothing after this parses the event again. Every field is the
//! caller's choice, so nothing in it is trusted beyond its shape.

use chrono::{DateTime, Utc};
use reflex_shared::event::ApiCall;
use reflex_shared::exemption::ExemptTag;
use reflex_shared::identity::UserIdentity;
use reflex_shared::{Event, EventError, Interpreted};
use serde_json::Value;

use crate::acl::GroupGrant;
use crate::policy;

const S3: &str = "s3.amazonaws.com";
const EC2: &str = "ec2.amazonaws.com";

/// The settings of a public access block, in S3's order.
pub const BLOCK_SETTINGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// An exposure, who made it, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The caller: named in every reason.
    pub actor: UserIdentity,
    pub change: Change,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `PutBucketPolicy`, with the policy it put.
    BucketPolicyPut { bucket: String, policy: Value },
    /// `PutBucketAcl`: the canned ACL (`x-amz-acl`) if one was given, and the grants to groups
    /// it made, from the access control policy in the body or the `x-amz-grant-*` headers.
    BucketAclPut {
        bucket: String,
        canned: Option<String>,
        group_grants: Vec<GroupGrant>,
    },
    /// `PutBucketPublicAccessBlock`: the settings it left off. The call replaces the whole
    /// configuration, so a setting it does not name is off too.
    PublicAccessBlockPut {
        bucket: String,
        off: Vec<&'static str>,
    },
    /// `DeleteBucketPublicAccessBlock`.
    PublicAccessBlockDeleted { bucket: String },
    /// `ModifySnapshotAttribute` adding the group `all` to who may create volumes from it.
    SnapshotMadePublic { snapshot_id: String },
    /// `ModifyImageAttribute` adding the group `all` to who may launch it.
    ImageMadePublic { image_id: String },
    /// The exemption tag written, with a value that exempts, on a bucket (`PutBucketTagging`) or
    /// on snapshots and images (`CreateTags`): self-granted, since a caller exempt by ARN never
    /// reaches the rules.
    ExemptionTagSet {
        on: Vec<Tagged>,
        /// The value written, as written (`TRUE` exempts as `true` does).
        value: String,
    },
}

/// What an exemption tag was written on: the kinds privatize acts on. Instances and security
/// groups are quarantine's, users and roles revoke's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    Bucket(String),
    Snapshot(String),
    Image(String),
}

impl Tagged {
    /// `bucket acme-reports`, `snapshot snap-…`, for people.
    pub fn describe(&self) -> String {
        match self {
            Tagged::Bucket(name) => format!("bucket {name}"),
            Tagged::Snapshot(id) => format!("snapshot {id}"),
            Tagged::Image(id) => format!("image {id}"),
        }
    }
}

impl Change {
    /// The bucket, snapshot or image the change is about.
    pub fn subject(&self) -> &str {
        match self {
            Change::BucketPolicyPut { bucket, .. }
            | Change::BucketAclPut { bucket, .. }
            | Change::PublicAccessBlockPut { bucket, .. }
            | Change::PublicAccessBlockDeleted { bucket } => bucket,
            Change::SnapshotMadePublic { snapshot_id } => snapshot_id,
            Change::ImageMadePublic { image_id } => image_id,
            Change::ExemptionTagSet { on, .. } => match on.first() {
                Some(Tagged::Bucket(id) | Tagged::Snapshot(id) | Tagged::Image(id)) => id,
                None => "",
            },
        }
    }
}

/// The call as privatize's trigger, or why privatize has nothing to judge in it. `exempt_tag`
/// is the core's exemption tag, whose writes privatize refuses on what it acts on.
pub fn interpret(
    event: &Event,
    exempt_tag: &ExemptTag,
) -> Result<Interpreted<Trigger>, EventError> {
    let Some(call) = event.api_call() else {
        return Ok(Interpreted::Ignored("not an S3 or EC2 API call".into()));
    };
    let change = match (call.event_source.as_str(), call.event_name.as_str()) {
        (S3, "PutBucketPolicy") => bucket_policy(call)?,
        (S3, "PutBucketAcl") => bucket_acl(call)?,
        (S3, "PutBucketPublicAccessBlock") => public_access_block(call)?,
        (S3, "DeleteBucketPublicAccessBlock") => Change::PublicAccessBlockDeleted {
            bucket: bucket(call)?,
        },
        (S3, "PutBucketTagging") => {
            let bucket = bucket(call)?;
            match bucket_tag_written(call, exempt_tag)? {
                Some(value) => Change::ExemptionTagSet {
                    on: vec![Tagged::Bucket(bucket)],
                    value,
                },
                None => {
                    return Ok(Interpreted::Ignored(format!(
                        "bucket {bucket}: no tag written exempts it (the key {} with the value {})",
                        exempt_tag.key, exempt_tag.value
                    )));
                }
            }
        }
        (EC2, "CreateTags") => match tags_created(call, exempt_tag)? {
            Ok(change) => change,
            Err(why) => return Ok(Interpreted::Ignored(why)),
        },
        (EC2, "ModifySnapshotAttribute") => {
            let snapshot_id = id(call, "snapshotId")?;
            match shared_with_all(call, "createVolumePermission")? {
                Sharing::All => Change::SnapshotMadePublic { snapshot_id },
                Sharing::Not(how) => {
                    return Ok(Interpreted::Ignored(format!(
                        "snapshot {snapshot_id}: {how}, which does not make it public"
                    )));
                }
            }
        }
        (EC2, "ModifyImageAttribute") => {
            let image_id = id(call, "imageId")?;
            match shared_with_all(call, "launchPermission")? {
                Sharing::All => Change::ImageMadePublic { image_id },
                Sharing::Not(how) => {
                    return Ok(Interpreted::Ignored(format!(
                        "image {image_id}: {how}, which does not make it public"
                    )));
                }
            }
        }
        (source, name) => {
            let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
            return Ok(Interpreted::Ignored(format!(
                "privatize has no rule for {service}:{name}"
            )));
        }
    };
    Ok(Interpreted::Trigger(Trigger {
        actor: call.user_identity.clone(),
        change,
        at: reflex_shared::iam::incident_time(event),
    }))
}

/// `bucketName`: required, and shaped like a bucket name, so that nothing else reaches an API
/// call or a command line: today's rules (3 to 63 characters of lower-case letters, digits, `.`
/// and `-`) and the legacy ones some us-east-1 buckets still carry (up to 255 characters,
/// upper-case letters and `_` too).
fn bucket(call: &ApiCall) -> Result<String, EventError> {
    let name = call.require_request_str("bucketName")?;
    let shaped = (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !shaped {
        return Err(EventError::invalid(
            "detail.requestParameters.bucketName",
            format!("`{}` is not an S3 bucket name", name.escape_default()),
        ));
    }
    Ok(name.to_string())
}

fn bucket_policy(call: &ApiCall) -> Result<Change, EventError> {
    let bucket = bucket(call)?;
    let request = call.require_request()?;
    // CloudTrail records the document as `bucketPolicy` (an object); some records carry it as a
    // JSON string. Older records also hold an empty `policy: [""]` beside it: the query string
    // parameter, not the document.
    let raw = request.get("bucketPolicy").ok_or_else(|| {
        EventError::missing("detail.requestParameters.bucketPolicy (in PutBucketPolicy)")
    })?;
    let policy = policy::parse(raw).ok_or_else(|| {
        EventError::invalid(
            "detail.requestParameters.bucketPolicy",
            "not a policy document (a JSON object)",
        )
    })?;
    Ok(Change::BucketPolicyPut { bucket, policy })
}

/// The grant headers, each with the permission it grants.
const GRANT_HEADERS: &[(&str, &str)] = &[
    ("x-amz-grant-read", "READ"),
    ("x-amz-grant-write", "WRITE"),
    ("x-amz-grant-read-acp", "READ_ACP"),
    ("x-amz-grant-write-acp", "WRITE_ACP"),
    ("x-amz-grant-full-control", "FULL_CONTROL"),
];

fn bucket_acl(call: &ApiCall) -> Result<Change, EventError> {
    let bucket = bucket(call)?;
    let request = call.require_request()?;
    // Headers are recorded as lists of one string (`"x-amz-acl": ["public-read"]`).
    let canned = request
        .get("x-amz-acl")
        .and_then(first_string)
        .filter(|acl| !acl.trim().is_empty());
    let mut group_grants = Vec::new();
    // The body: `AccessControlPolicy.AccessControlList.Grant`, a list, or one grant alone (as
    // XML with one element is recorded).
    if let Some(grants) = request.pointer("/AccessControlPolicy/AccessControlList/Grant") {
        let grants = match grants {
            Value::Array(list) => list.iter().collect(),
            one => vec![one],
        };
        for grant in grants {
            let uri = grant.pointer("/Grantee/URI").and_then(Value::as_str);
            let permission = grant.get("Permission").and_then(Value::as_str);
            if let (Some(uri), Some(permission)) = (uri, permission) {
                group_grants.push(GroupGrant {
                    uri: uri.to_string(),
                    permission: permission.to_string(),
                });
            }
        }
    }
    // The headers: `uri="http://acs.amazonaws.com/groups/global/AllUsers", id="..."`.
    for (header, permission) in GRANT_HEADERS {
        let Some(value) = request.get(*header) else {
            continue;
        };
        for text in all_strings(value) {
            for grantee in text.split(',') {
                let Some((kind, who)) = grantee.split_once('=') else {
                    continue;
                };
                if kind.trim().eq_ignore_ascii_case("uri") {
                    group_grants.push(GroupGrant {
                        uri: who.trim().trim_matches('"').to_string(),
                        permission: permission.to_string(),
                    });
                }
            }
        }
    }
    Ok(Change::BucketAclPut {
        bucket,
        canned,
        group_grants,
    })
}

fn public_access_block(call: &ApiCall) -> Result<Change, EventError> {
    let bucket = bucket(call)?;
    let field = "detail.requestParameters.PublicAccessBlockConfiguration";
    let config = call
        .require_request()?
        .get("PublicAccessBlockConfiguration")
        .ok_or_else(|| EventError::missing(format!("{field} (in PutBucketPublicAccessBlock)")))?;
    if !config.is_object() {
        return Err(EventError::invalid(field, "not an object"));
    }
    let mut off = Vec::new();
    for setting in BLOCK_SETTINGS {
        // Booleans, or their text (CloudTrail renders some XML booleans as strings).
        let on = match config.get(setting) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
            Some(other) => {
                return Err(EventError::invalid(
                    format!("{field}.{setting}"),
                    format!("`{other}` is not a boolean"),
                ));
            }
        };
        if !on {
            off.push(setting);
        }
    }
    Ok(Change::PublicAccessBlockPut { bucket, off })
}

/// A snapshot or image id: required, and shaped like one (a prefix, `-`, hex digits).
fn id(call: &ApiCall, key: &str) -> Result<String, EventError> {
    let id = call.require_request_str(key)?;
    let prefix = if key == "snapshotId" { "snap-" } else { "ami-" };
    shaped_id(id, prefix, &format!("detail.requestParameters.{key}"))
}

fn shaped_id(id: &str, prefix: &str, field: &str) -> Result<String, EventError> {
    let shaped = id.strip_prefix(prefix).is_some_and(|hex| {
        !hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if !shaped {
        return Err(EventError::invalid(
            field,
            format!(
                "`{}` is not an id of the form {prefix}…",
                id.escape_default()
            ),
        ));
    }
    Ok(id.to_string())
}

/// The exempting value a `PutBucketTagging` call writes under the exemption key. The body
/// (`Tagging`, an object) must be there; its tags are read as the exemption tag's are everywhere
/// (`written_tags`, which knows S3's shape: one tag alone is an object, not a list).
fn bucket_tag_written(
    call: &ApiCall,
    exempt_tag: &ExemptTag,
) -> Result<Option<String>, EventError> {
    let request = call.require_request()?;
    let field = "detail.requestParameters.Tagging";
    match request.get("Tagging") {
        None | Some(Value::Null) => {
            return Err(EventError::missing(format!(
                "{field} (in PutBucketTagging)"
            )));
        }
        Some(Value::Object(_)) => {}
        Some(_) => return Err(EventError::invalid(field, "not an object")),
    }
    Ok(exempt_tag.written_in(Some(request)))
}

/// A `CreateTags` call writing the exemption tag, with a value that exempts, on snapshots or
/// images; `Err` with why not. Both lists must be there and every resource must have an id,
/// whatever the tags (as quarantine reads the same call); a snapshot or image id must be shaped
/// like one. Instances and security groups in the same call are quarantine's, which sees the
/// same event: each function removes the tag from its own kinds only.
fn tags_created(
    call: &ApiCall,
    exempt_tag: &ExemptTag,
) -> Result<Result<Change, String>, EventError> {
    let params = call.require_request()?;
    let items = |list: &str| -> Result<&Vec<Value>, EventError> {
        params
            .get(list)
            .and_then(|l| l.get("items"))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                EventError::missing(format!(
                    "detail.requestParameters.{list}.items (in CreateTags)"
                ))
            })
    };
    let mut on = Vec::new();
    for (i, r) in items("resourcesSet")?.iter().enumerate() {
        let field = format!("detail.requestParameters.resourcesSet.items[{i}].resourceId");
        let id = r
            .get("resourceId")
            .and_then(Value::as_str)
            .ok_or_else(|| EventError::missing(format!("{field} (in CreateTags)")))?;
        if id.starts_with("snap-") {
            on.push(Tagged::Snapshot(shaped_id(id, "snap-", &field)?));
        } else if id.starts_with("ami-") {
            on.push(Tagged::Image(shaped_id(id, "ami-", &field)?));
        }
    }
    items("tagSet")?;
    let Some(value) = exempt_tag.written_in(Some(params)) else {
        return Ok(Err(format!(
            "no tag written exempts anything (the key {} with the value {})",
            exempt_tag.key, exempt_tag.value
        )));
    };
    if on.is_empty() {
        return Ok(Err(
            "the exemption tag was written on no snapshot or image (instances and security \
             groups are quarantine's)"
                .into(),
        ));
    }
    Ok(Ok(Change::ExemptionTagSet { on, value }))
}

enum Sharing {
    All,
    /// Not with everyone: how, for the reason.
    Not(String),
}

/// Whether a permission change (`createVolumePermission` or `launchPermission`, as EC2 records
/// it: `{"add": {"items": [{"group": "all"}, {"userId": "..."}]}, "remove": {...}}`) adds the
/// group `all`.
fn shared_with_all(call: &ApiCall, attribute: &str) -> Result<Sharing, EventError> {
    let request = call.require_request()?;
    let Some(change) = request.get(attribute) else {
        return Ok(Sharing::Not(format!("the call changes no {attribute}")));
    };
    let items = |op: &str| -> Vec<&Value> {
        match change.pointer(&format!("/{op}/items")) {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        }
    };
    let added = items("add");
    if added
        .iter()
        .any(|i| i.get("group").and_then(Value::as_str) == Some("all"))
    {
        return Ok(Sharing::All);
    }
    let accounts: Vec<&str> = added
        .iter()
        .filter_map(|i| i.get("userId").and_then(Value::as_str))
        .collect();
    Ok(Sharing::Not(if !accounts.is_empty() {
        format!(
            "shared with account(s) {} only",
            accounts
                .iter()
                .map(|a| a.escape_default().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if added.is_empty() {
        format!("the call adds nobody to its {attribute}")
    } else {
        "shared with an organization or organizational unit only".to_string()
    }))
}

fn first_string(v: &Value) -> Option<String> {
    all_strings(v).into_iter().next()
}

fn all_strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}
