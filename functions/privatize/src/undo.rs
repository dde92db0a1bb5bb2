//! The commands that reverse privatize's changes, as its reports give them (pure, so that tests
//! run them with any policy an attacker may write: a statement id or a condition value may hold
//! quotes, `$()` or line breaks). Every value goes through the core's [`AwsCli`], which quotes
//! it; documents are written as ASCII-only JSON.

use reflex_shared::exemption::Tags;
use reflex_shared::{AwsCli, Undo};
use serde_json::{Value, json};

/// Undo of rewriting or deleting a bucket policy: the policy it had, put back.
pub fn put_policy_back(bucket: &str, policy: &Value) -> Undo {
    Undo::run(
        AwsCli::new("s3api", "put-bucket-policy")
            .arg("--bucket", bucket)
            .json("--policy", policy),
    )
}

/// Undo of removing public ACL grants: the ACL it had (`{"Owner": ..., "Grants": [...]}`, as
/// `get-bucket-acl` prints it and `--access-control-policy` takes it), put back.
pub fn put_acl_back(bucket: &str, access_control_policy: &Value) -> Undo {
    Undo::run(
        AwsCli::new("s3api", "put-bucket-acl")
            .arg("--bucket", bucket)
            .json("--access-control-policy", access_control_policy),
    )
}

/// Undo of turning the public access block on: the settings it had put back, or the block
/// deleted when the bucket had none.
pub fn access_block_back(bucket: &str, before: Option<&Value>) -> Undo {
    match before {
        Some(config) => Undo::run(
            AwsCli::new("s3api", "put-public-access-block")
                .arg("--bucket", bucket)
                .json("--public-access-block-configuration", config),
        ),
        None => {
            Undo::run(AwsCli::new("s3api", "delete-public-access-block").arg("--bucket", bucket))
        }
    }
}

/// Undo of unsharing a snapshot: shared with everyone again.
pub fn share_snapshot_again(snapshot_id: &str) -> Undo {
    Undo::run(
        AwsCli::new("ec2", "modify-snapshot-attribute")
            .arg("--snapshot-id", snapshot_id)
            .arg("--attribute", "createVolumePermission")
            .arg("--operation-type", "add")
            .list("--group-names", &["all"]),
    )
}

/// Undo of unsharing an image: launchable by everyone again.
pub fn share_image_again(image_id: &str) -> Undo {
    Undo::run(
        AwsCli::new("ec2", "modify-image-attribute")
            .arg("--image-id", image_id)
            .json(
                "--launch-permission",
                &serde_json::json!({ "Add": [{ "Group": "all" }] }),
            ),
    )
}

/// Undo of removing the exemption tag from a bucket: the whole tag set it had put back
/// (`put-bucket-tagging` replaces the set, so the set is what it takes).
pub fn bucket_tags_back(bucket: &str, tags: &Tags) -> Undo {
    let set: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Undo::run(
        AwsCli::new("s3api", "put-bucket-tagging")
            .arg("--bucket", bucket)
            .json("--tagging", &json!({ "TagSet": set })),
    )
}

/// Undo of removing the exemption tag from a snapshot or an image: tagged again with `key` =
/// `value` (`--tags` as EC2's JSON).
pub fn tag_again(resource_id: &str, key: &str, value: &str) -> Undo {
    Undo::run(
        AwsCli::new("ec2", "create-tags")
            .list("--resources", &[resource_id])
            .json("--tags", &json!([{ "Key": key, "Value": value }])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_policy_is_put_back_as_one_quoted_word() {
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{ "Sid": "x'; rm -rf ~; echo '$(id)`id`", "Effect": "Allow",
                "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
                "Condition": { "StringEquals": { "aws:Referer": "line\nbreak\u{202e}" } } }]
        });
        let undo = put_policy_back("pub-data", &policy);
        assert!(undo.is_command(), "{undo}");
        let text = undo.as_str();
        assert!(
            text.starts_with("aws s3api put-bucket-policy --bucket pub-data --policy '{"),
            "{text}"
        );
        assert!(!text.contains('\n') && !text.contains('\u{202e}'), "{text}");
        assert!(
            text.contains(r"'\''"),
            "the quote is closed and escaped: {text}"
        );
        assert!(text.contains(r"\u202e"), "{text}");
    }

    #[test]
    fn the_access_block_undo_restores_what_was_there() {
        assert_eq!(
            access_block_back("pub-data", None).as_str(),
            "aws s3api delete-public-access-block --bucket pub-data"
        );
        let before = json!({ "BlockPublicAcls": false, "IgnorePublicAcls": true,
            "BlockPublicPolicy": false, "RestrictPublicBuckets": true });
        let undo = access_block_back("pub-data", Some(&before));
        let prefix = "aws s3api put-public-access-block --bucket pub-data \
                      --public-access-block-configuration '";
        let document = undo
            .as_str()
            .strip_prefix(prefix)
            .unwrap()
            .strip_suffix('\'')
            .unwrap();
        assert_eq!(serde_json::from_str::<Value>(document).unwrap(), before);
    }

    #[test]
    fn exemption_tag_undos_put_back_what_was_there() {
        let tags = Tags::from([
            ("reflex:exempt".to_string(), "true".to_string()),
            ("team".to_string(), "it's $(id)".to_string()),
        ]);
        let undo = bucket_tags_back("acme-reports", &tags);
        let prefix = "aws s3api put-bucket-tagging --bucket acme-reports --tagging '";
        let document = undo
            .as_str()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{undo}"));
        assert!(
            document.contains(r"'\''"),
            "the quote is closed and escaped: {undo}"
        );
        let document = document.replace(r"'\''", "'");
        let document: Value = serde_json::from_str(document.strip_suffix('\'').unwrap()).unwrap();
        assert_eq!(
            document,
            json!({ "TagSet": [{ "Key": "reflex:exempt", "Value": "true" },
                { "Key": "team", "Value": "it's $(id)" }] })
        );
        assert_eq!(
            tag_again("snap-0123456789abcdef0", "reflex:exempt", "TRUE").as_str(),
            "aws ec2 create-tags --resources snap-0123456789abcdef0 --tags \
             '[{\"Key\":\"reflex:exempt\",\"Value\":\"TRUE\"}]'"
        );
    }

    #[test]
    fn sharing_undos() {
        assert_eq!(
            share_snapshot_again("snap-0123456789abcdef0").as_str(),
            "aws ec2 modify-snapshot-attribute --snapshot-id snap-0123456789abcdef0 --attribute \
             createVolumePermission --operation-type add --group-names all"
        );
        assert_eq!(
            share_image_again("ami-0123456789abcdef0").as_str(),
            "aws ec2 modify-image-attribute --image-id ami-0123456789abcdef0 --launch-permission \
             '{\"Add\":[{\"Group\":\"all\"}]}'"
        );
    }
}
