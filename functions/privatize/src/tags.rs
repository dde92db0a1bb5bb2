//! The tags of the buckets, snapshots and images privatize changes, for exemptions. One that no
//! longer exists has no tags: the action on it then reports that nothing is exposed.

use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_s3::Client as S3;
use reflex_shared::aws::CallError;
use reflex_shared::exemption::Tags;

use crate::executor::{NO_BUCKET, NO_IMAGE, NO_SNAPSHOT};

/// A bucket's tags (`GetBucketTagging`); a bucket without any answers `NoSuchTagSet`.
pub async fn bucket(s3: &S3, bucket: &str) -> Result<Tags, CallError> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()),
        Err(e) if e.code() == Some("NoSuchTagSet") || gone(e.code(), NO_BUCKET) => Ok(Tags::new()),
        Err(e) => Err(e.into()),
    }
}

/// A snapshot's tags, as `DescribeSnapshots` gives them.
pub async fn snapshot(ec2: &Ec2, snapshot_id: &str) -> Result<Tags, CallError> {
    match ec2
        .describe_snapshots()
        .snapshot_ids(snapshot_id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .snapshots()
            .iter()
            .filter(|s| s.snapshot_id() == Some(snapshot_id))
            .flat_map(|s| s.tags())
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect()),
        Err(e) if gone(e.code(), NO_SNAPSHOT) => Ok(Tags::new()),
        Err(e) => Err(e.into()),
    }
}

/// An image's tags, as `DescribeImages` gives them.
pub async fn image(ec2: &Ec2, image_id: &str) -> Result<Tags, CallError> {
    match ec2.describe_images().image_ids(image_id).send().await {
        Ok(out) => Ok(out
            .images()
            .iter()
            .filter(|i| i.image_id() == Some(image_id))
            .flat_map(|i| i.tags())
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect()),
        Err(e) if gone(e.code(), NO_IMAGE) => Ok(Tags::new()),
        Err(e) => Err(e.into()),
    }
}

fn gone(code: Option<&str>, codes: &[&str]) -> bool {
    code.is_some_and(|c| codes.contains(&c))
}
