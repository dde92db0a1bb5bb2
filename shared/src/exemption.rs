//! Exemptions, one mechanism for every function: callers exempt by ARN pattern, and any resource
//! (IAM user or role, instance, security group, trail, log group, Auto Scaling group) exempt by
//! the exemption tag. The pipeline screens an exempt caller before any fact is gathered, and
//! turns each action on an exempt resource into an `exempt` step with the reason.
//!
//! The tag can be written by anyone with `iam:TagUser` or `ec2:CreateTags`, so it cannot be
//! self-granted unseen: a write of it is judged whatever tag its caller carries (only an ARN
//! pattern, which is configuration, exempts the writer), and the action that removes it
//! ([`crate::plan::Action::lifts_exemption`]) is never held back by the tag it removes.

use std::collections::BTreeMap;

use globset::{Glob, GlobMatcher};
use serde_json::Value;

use crate::config::{self, Env, TagSpec};
use crate::error::ConfigError;

/// A resource's tags, key to value.
pub type Tags = BTreeMap<String, String>;

/// The tag that exempts the resource carrying it (value compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemptTag {
    pub key: String,
    pub value: String,
}

pub const DEFAULT_EXEMPT_TAG_KEY: &str = "reflex:exempt";

impl Default for ExemptTag {
    /// `reflex:exempt=true`.
    fn default() -> Self {
        Self {
            key: DEFAULT_EXEMPT_TAG_KEY.into(),
            value: "true".into(),
        }
    }
}

impl ExemptTag {
    pub fn matches(&self, key: &str, value: &str) -> bool {
        key == self.key && value.eq_ignore_ascii_case(&self.value)
    }

    /// The exemption tag among `tags`, as `key=value`, if it is there.
    pub fn found_in(&self, tags: &Tags) -> Option<String> {
        tags.iter()
            .find(|(k, v)| self.matches(k, v))
            .map(|(k, v)| format!("{k}={v}"))
    }

    /// `REFLEX_EXEMPT_TAG` (`key=value`, `key` alone meaning `key=true`), or the default.
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(match config::tag(env, config::EXEMPT_TAG)? {
            None => ExemptTag::default(),
            Some(TagSpec { key, value }) => ExemptTag {
                key,
                value: value.unwrap_or_else(|| "true".into()),
            },
        })
    }

    /// The value an API call's request writes under the exemption key, when that value exempts.
    /// A tag write under the key with another value exempts nothing and is no finding.
    pub fn written_in(&self, request: Option<&Value>) -> Option<String> {
        written_tags(request?)
            .into_iter()
            .find(|(k, v)| self.matches(k, v))
            .map(|(_, v)| v)
    }
}

/// The tags a request writes, in the shapes CloudTrail records them: IAM (`TagUser`, `TagRole`,
/// `CreateUser`, `CreateRole`, ...) `tags: [{key, value}]`; EC2 (`CreateTags`)
/// `tagSet: {items: [{key, value}]}`; S3 (`PutBucketTagging`, its XML body)
/// `Tagging: {TagSet: {Tag: [{Key, Value}]}}`, where one tag alone is recorded as an object, not
/// a list. An entry without a string key is left out; a missing value is the empty string (as
/// IAM, EC2 and S3 store it).
pub fn written_tags(request: &Value) -> Vec<(String, String)> {
    let iam = request.get("tags");
    let ec2 = request.get("tagSet").and_then(|s| s.get("items"));
    let lower = iam
        .into_iter()
        .chain(ec2)
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|tag| tag_of(tag, "key", "value"));
    let s3 = match request.pointer("/Tagging/TagSet/Tag") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    lower
        .chain(s3.into_iter().filter_map(|tag| tag_of(tag, "Key", "Value")))
        .collect()
}

fn tag_of(tag: &Value, key: &str, value: &str) -> Option<(String, String)> {
    let key = tag.get(key)?.as_str()?;
    let value = tag.get(value).and_then(Value::as_str).unwrap_or("");
    Some((key.to_string(), value.to_string()))
}

/// ARN glob patterns (`*` and `?`, `*` also crossing `/`) of callers Reflex leaves alone.
#[derive(Debug, Clone)]
pub struct ExemptPrincipals {
    patterns: Vec<ArnPattern>,
}

/// One pattern, matched field by field (`arn:partition:service:region:account:resource`): a
/// `*` never reaches across a `:` into another field, so `arn:aws:iam::*:role/break-glass`
/// is not matched by a role or user whose path holds `:role/break-glass`. IAM paths accept
/// `:` and anyone allowed `iam:CreateRole` chooses them.
#[derive(Debug, Clone)]
struct ArnPattern {
    text: String,
    fields: Vec<GlobMatcher>,
}

/// An ARN's fields: six, the last one the resource (which may hold `:` itself).
fn arn_fields(arn: &str) -> Option<Vec<&str>> {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    (fields.len() == 6 && fields[0] == "arn").then_some(fields)
}

impl ExemptPrincipals {
    pub fn new(variable: &str, patterns: &[String]) -> Result<Self, ConfigError> {
        let patterns = patterns
            .iter()
            .map(|p| {
                let fields = arn_fields(p).ok_or_else(|| {
                    ConfigError::new(
                        variable,
                        format!(
                            "pattern `{p}` is not an ARN pattern \
                             (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)"
                        ),
                    )
                })?;
                let fields = fields
                    .into_iter()
                    .map(|f| Glob::new(f).map(|g| g.compile_matcher()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| ConfigError::new(variable, format!("pattern `{p}`: {e}")))?;
                Ok(ArnPattern {
                    text: p.clone(),
                    fields,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self { patterns })
    }

    pub fn none() -> Self {
        Self {
            patterns: Vec::new(),
        }
    }

    /// The first pattern that matches any of the ARNs.
    pub fn matching(&self, arns: &[&str]) -> Option<&str> {
        arns.iter().find_map(|arn| {
            let fields = arn_fields(arn)?;
            self.patterns
                .iter()
                .find(|p| p.fields.iter().zip(&fields).all(|(g, f)| g.is_match(f)))
                .map(|p| p.text.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exemption_tag_is_found_whatever_the_case_of_its_value() {
        let tag = ExemptTag::default();
        let tags = Tags::from([
            ("Name".into(), "web-1".into()),
            ("reflex:exempt".into(), "TRUE".into()),
        ]);
        assert_eq!(tag.found_in(&tags).as_deref(), Some("reflex:exempt=TRUE"));
        assert_eq!(tag.found_in(&Tags::new()), None);
        assert!(
            !tag.matches("Reflex:Exempt", "true"),
            "keys are case-sensitive"
        );
    }

    #[test]
    fn a_write_of_the_exemption_tag_is_seen_in_the_iam_and_the_ec2_shapes() {
        let tag = ExemptTag::default();
        let iam = serde_json::json!({
            "userName": "mallory",
            "tags": [{"key": "team", "value": "x"}, {"key": "reflex:exempt", "value": "True"}]
        });
        assert_eq!(tag.written_in(Some(&iam)).as_deref(), Some("True"));
        let ec2 = serde_json::json!({
            "resourcesSet": {"items": [{"resourceId": "sg-1"}]},
            "tagSet": {"items": [{"key": "reflex:exempt", "value": "true"}]}
        });
        assert_eq!(tag.written_in(Some(&ec2)).as_deref(), Some("true"));
        // S3's XML body: a list of tags, or one tag alone as an object.
        let s3 = serde_json::json!({
            "bucketName": "b",
            "Tagging": {"TagSet": {"Tag": [{"Key": "team", "Value": "x"},
                {"Key": "reflex:exempt", "Value": "TRUE"}]}, "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}
        });
        assert_eq!(tag.written_in(Some(&s3)).as_deref(), Some("TRUE"));
        let s3_one = serde_json::json!({
            "Tagging": {"TagSet": {"Tag": {"Key": "reflex:exempt", "Value": "true"}}}
        });
        assert_eq!(tag.written_in(Some(&s3_one)).as_deref(), Some("true"));
        for harmless in [
            serde_json::json!({"tags": [{"key": "reflex:exempt", "value": "no"}]}),
            serde_json::json!({"tags": [{"key": "Reflex:Exempt", "value": "true"}]}),
            serde_json::json!({"tags": [{"key": "reflex:exempt"}]}),
            serde_json::json!({"tags": "reflex:exempt=true"}),
            serde_json::json!({"tags": [null, 7, {"key": 1, "value": "true"}]}),
            serde_json::json!({"userName": "mallory"}),
            serde_json::json!({"Tagging": {"TagSet": {"Tag": {"Key": "reflex:exempt", "Value": "no"}}}}),
            serde_json::json!({"Tagging": {"TagSet": {"Tag": [{"key": "reflex:exempt", "value": "true"}]}}}),
            serde_json::json!({"Tagging": {"TagSet": {"Tag": "reflex:exempt=true"}}}),
        ] {
            assert_eq!(tag.written_in(Some(&harmless)), None, "{harmless}");
        }
        assert_eq!(tag.written_in(None), None);
    }

    #[test]
    fn patterns_match_callers_by_arn() {
        let p =
            ExemptPrincipals::new("X", &["arn:aws:iam::*:role/break-glass".to_string()]).unwrap();
        assert_eq!(
            p.matching(&["arn:aws:iam::123456789012:role/break-glass"]),
            Some("arn:aws:iam::*:role/break-glass")
        );
        assert_eq!(p.matching(&["arn:aws:iam::123456789012:role/other"]), None);
        assert!(ExemptPrincipals::new("X", &["[".to_string()]).is_err());
        assert!(ExemptPrincipals::new("X", &["*break-glass*".to_string()]).is_err());
    }

    #[test]
    fn a_star_never_reaches_across_a_colon_into_another_field() {
        let p =
            ExemptPrincipals::new("X", &["arn:aws:iam::*:role/break-glass".to_string()]).unwrap();
        // IAM paths accept `:`: a role or user of another name, its path chosen to end like
        // the pattern, is not break-glass.
        for lookalike in [
            "arn:aws:iam::123456789012:role/x:role/break-glass",
            "arn:aws:iam::123456789012:user/x:role/break-glass",
            "arn:aws:iam::123456789012:role/x/role/break-glass",
        ] {
            assert_eq!(p.matching(&[lookalike]), None, "{lookalike}");
        }
    }
}
