//! Exemptions, one mechanism for every function: callers exempt by ARN pattern, and any resource
//! (IAM user or role, instance, security group, trail, log group, Auto Scaling group) exempt by
//! the exemption tag. The pipeline screens an exempt caller before any fact is gathered, and
//! turns each action on an exempt resource into an `exempt` step with the reason.

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};

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
}

/// ARN glob patterns (`*` and `?`, `*` also crossing `/`) of callers Reflex leaves alone.
#[derive(Debug, Clone)]
pub struct ExemptPrincipals {
    patterns: Vec<String>,
    set: GlobSet,
}

impl ExemptPrincipals {
    pub fn new(variable: &str, patterns: &[String]) -> Result<Self, ConfigError> {
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            let glob = Glob::new(p)
                .map_err(|e| ConfigError::new(variable, format!("pattern `{p}`: {e}")))?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| ConfigError::new(variable, e.to_string()))?;
        Ok(Self {
            patterns: patterns.to_vec(),
            set,
        })
    }

    pub fn none() -> Self {
        Self::new("", &[]).expect("an empty pattern set always builds")
    }

    /// The first pattern that matches any of the ARNs.
    pub fn matching(&self, arns: &[&str]) -> Option<&str> {
        arns.iter().find_map(|arn| {
            self.set
                .matches(arn)
                .first()
                .map(|&i| self.patterns[i].as_str())
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
    fn patterns_match_callers_by_arn() {
        let p =
            ExemptPrincipals::new("X", &["arn:aws:iam::*:role/break-glass".to_string()]).unwrap();
        assert_eq!(
            p.matching(&["arn:aws:iam::123456789012:role/break-glass"]),
            Some("arn:aws:iam::*:role/break-glass")
        );
        assert_eq!(p.matching(&["arn:aws:iam::123456789012:role/other"]), None);
        assert!(ExemptPrincipals::new("X", &["[".to_string()]).is_err());
    }
}
