//! Judging an S3 bucket policy: which of its statements let anyone in. Pure, and one judge for
//! both sides: the rule reads the policy the event put, the executor the policy the bucket has
//! when it acts, so the two can never disagree on what "public" means.
//!
//! A statement is public when it is an `Allow` to everyone (`Principal: "*"`, `{"AWS": "*"}`,
//! or `NotPrincipal`, which allows all but a few) and no condition of it narrows who can use it.
//! A condition narrows when it pins one of [`RESTRICTING_KEYS`] to fixed values (no `*`, `?` or
//! policy variable) with a positive operator (`StringEquals`, `StringLike`, `ArnEquals`,
//! `ArnLike`, `IpAddress`, their `ForAnyValue:` forms): the keys S3 Block Public Access itself
//! counts as making a policy non-public, plus the organization keys. A negated operator
//! (`StringNotEquals`), an `...IfExists` one (an anonymous request carries no such key) or
//! `ForAllValues:` (true of an empty set) narrows nothing; neither does an IP range wider than
//! an IPv4 /8 or an IPv6 /32, which S3 counts as public too.

use serde_json::Value;

/// Condition keys that, pinned to fixed values, keep a `Principal: "*"` statement from being
/// public (compared case-insensitively, as IAM compares keys).
pub const RESTRICTING_KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:VpcSourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceOwner",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:userid",
    "s3:DataAccessPointArn",
    "s3:DataAccessPointAccount",
];

/// Operators that narrow when their key is restricting (before `IfExists` or a set prefix).
const NARROWING_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "IpAddress",
];

/// A bucket policy as CloudTrail records it (`bucketPolicy`, an object) or as S3 returns it (a
/// JSON string); `None` when it is neither.
pub fn parse(raw: &Value) -> Option<Value> {
    match raw {
        Value::Object(_) => Some(raw.clone()),
        Value::String(text) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object),
        _ => None,
    }
}

/// One public statement, for the reason a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatement {
    pub sid: Option<String>,
    /// What it allows: its actions, or "every action except ..." for `NotAction`.
    pub allows: String,
}

impl PublicStatement {
    pub fn describe(&self) -> String {
        match &self.sid {
            Some(sid) => format!("statement {sid} allows {} to everyone", self.allows),
            None => format!("a statement allows {} to everyone", self.allows),
        }
    }
}

/// The public statements of a policy document, in order.
pub fn public_statements(doc: &Value) -> Vec<PublicStatement> {
    statements(doc)
        .into_iter()
        .filter(|st| is_public(st))
        .map(|st| PublicStatement {
            sid: st
                .get("Sid")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(String::from),
            allows: allows(st),
        })
        .collect()
}

/// The document without its public statements; `None` when no statement remains (the policy
/// is then deleted rather than put back empty, which S3 refuses).
pub fn without_public(doc: &Value) -> Option<Value> {
    let kept: Vec<Value> = statements(doc)
        .into_iter()
        .filter(|st| !is_public(st))
        .cloned()
        .collect();
    if kept.is_empty() {
        return None;
    }
    let mut out = doc.clone();
    out["Statement"] = Value::Array(kept);
    Some(out)
}

/// Statements as a list: IAM takes one statement object in place of a list.
fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

pub fn is_public(st: &Value) -> bool {
    let allow = st
        .get("Effect")
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("Allow"));
    allow && grants_everyone(st) && !narrowed(st.get("Condition"))
}

/// `Principal: "*"`, `*` among its `AWS` (or `CanonicalUser`) principals, or any `NotPrincipal`
/// (an `Allow` to all but a few).
fn grants_everyone(st: &Value) -> bool {
    if st.get("NotPrincipal").is_some() {
        return true;
    }
    match st.get("Principal") {
        Some(Value::String(p)) => p.trim() == "*",
        Some(Value::Object(by_kind)) => ["AWS", "CanonicalUser"]
            .iter()
            .filter_map(|kind| by_kind.get(*kind))
            .any(|ids| strings(ids).iter().any(|id| id.trim() == "*")),
        _ => false,
    }
}

/// Whether some condition block pins a restricting key to fixed values.
fn narrowed(condition: Option<&Value>) -> bool {
    let Some(Value::Object(blocks)) = condition else {
        return false;
    };
    blocks.iter().any(|(operator, block)| {
        let Some(op) = narrowing_operator(operator) else {
            return false;
        };
        let Value::Object(keys) = block else {
            return false;
        };
        keys.iter().any(|(key, values)| {
            let restricting = RESTRICTING_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key));
            let values = strings(values);
            restricting
                && !values.is_empty()
                && values.iter().all(|v| fixed(v))
                && (!op.eq_ignore_ascii_case("IpAddress") || values.iter().all(|v| narrow_cidr(v)))
        })
    })
}

/// The base operator when it can narrow: `ForAnyValue:StringEquals` is `StringEquals`;
/// `...IfExists`, `ForAllValues:...` and negated operators cannot.
fn narrowing_operator(operator: &str) -> Option<&'static str> {
    let lower = operator.to_ascii_lowercase();
    if lower.ends_with("ifexists") || lower.starts_with("forallvalues:") {
        return None;
    }
    let base = lower.strip_prefix("foranyvalue:").unwrap_or(&lower);
    NARROWING_OPERATORS
        .iter()
        .find(|op| op.eq_ignore_ascii_case(base))
        .copied()
}

/// A value with no wildcard and no policy variable.
fn fixed(value: &str) -> bool {
    !value.trim().is_empty() && !value.contains(['*', '?']) && !value.contains("${")
}

/// A CIDR no wider than an IPv4 /8 or an IPv6 /32 (a bare address is a /32 or /128).
fn narrow_cidr(value: &str) -> bool {
    let (address, prefix) = match value.trim().split_once('/') {
        Some((a, p)) => match p.parse::<u8>() {
            Ok(p) => (a, Some(p)),
            Err(_) => return false,
        },
        None => (value.trim(), None),
    };
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix.is_none_or(|p| (8..=32).contains(&p)),
        Ok(std::net::IpAddr::V6(_)) => prefix.is_none_or(|p| (32..=128).contains(&p)),
        Err(_) => false,
    }
}

/// What a statement allows, for people.
fn allows(st: &Value) -> String {
    if let Some(except) = st.get("NotAction") {
        return format!("every action except {}", strings(except).join(", "));
    }
    let actions = st.get("Action").map(strings).unwrap_or_default();
    if actions.is_empty() {
        "nothing named".into()
    } else {
        actions.join(", ")
    }
}

/// A string, a number (account ids), or a list of them, as strings.
fn strings(v: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Value::Array(list) => list.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(statement: Value) -> Value {
        json!({ "Version": "2012-10-17", "Statement": [statement] })
    }

    fn public(statement: Value) -> bool {
        !public_statements(&doc(statement)).is_empty()
    }

    fn read_to(principal: Value) -> Value {
        json!({
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::data/*"
        })
    }

    fn with_condition(condition: Value) -> Value {
        let mut st = read_to(json!("*"));
        st["Condition"] = condition;
        st
    }

    #[test]
    fn everyone_in_every_spelling_is_public() {
        assert!(public(read_to(json!("*"))));
        assert!(public(read_to(json!({ "AWS": "*" }))));
        assert!(public(read_to(
            json!({ "AWS": ["arn:aws:iam::111122223333:root", "*"] })
        )));
        assert!(public(read_to(json!({ "CanonicalUser": "*" }))));
        let mut not_principal = read_to(json!("*"));
        not_principal.as_object_mut().unwrap().remove("Principal");
        not_principal["NotPrincipal"] = json!({ "AWS": "arn:aws:iam::111122223333:root" });
        assert!(public(not_principal), "an Allow to all but one account");
        let mut lower = read_to(json!("*"));
        lower["Effect"] = json!("allow");
        assert!(public(lower));
    }

    #[test]
    fn named_principals_and_denies_are_not_public() {
        assert!(!public(read_to(
            json!({ "AWS": "arn:aws:iam::111122223333:root" })
        )));
        assert!(!public(read_to(
            json!({ "Service": "cloudtrail.amazonaws.com" })
        )));
        let mut deny = read_to(json!("*"));
        deny["Effect"] = json!("Deny");
        assert!(!public(deny), "a deny to everyone is a guardrail");
    }

    #[test]
    fn a_condition_pinning_who_or_where_to_fixed_values_narrows() {
        for condition in [
            json!({ "IpAddress": { "aws:SourceIp": ["203.0.113.0/24", "198.51.100.7"] } }),
            json!({ "StringEquals": { "aws:SourceVpce": "vpce-1a2b3c4d" } }),
            json!({ "StringEquals": { "aws:sourcevpc": "vpc-111bbb22" } }),
            json!({ "StringEquals": { "aws:PrincipalOrgID": "o-abcdefghij" } }),
            json!({ "StringEquals": { "aws:PrincipalAccount": 111122223333u64 } }),
            json!({ "ArnLike": { "aws:SourceArn": "arn:aws:cloudfront::111122223333:distribution/E1" } }),
            json!({ "ForAnyValue:StringEquals": { "aws:SourceAccount": ["111122223333"] } }),
            json!({
                "Bool": { "aws:SecureTransport": "true" },
                "StringEquals": { "aws:SourceAccount": "111122223333" }
            }),
        ] {
            assert!(!public(with_condition(condition.clone())), "{condition}");
        }
    }

    #[test]
    fn a_condition_that_lets_anyone_through_does_not_narrow() {
        for condition in [
            json!({ "Bool": { "aws:SecureTransport": "true" } }),
            json!({ "StringNotEquals": { "aws:SourceVpce": "vpce-1a2b3c4d" } }),
            json!({ "NotIpAddress": { "aws:SourceIp": "203.0.113.0/24" } }),
            json!({ "StringEqualsIfExists": { "aws:SourceVpce": "vpce-1a2b3c4d" } }),
            json!({ "ForAllValues:StringEquals": { "aws:SourceAccount": ["111122223333"] } }),
            json!({ "StringLike": { "aws:PrincipalOrgID": "o-*" } }),
            json!({ "StringEquals": { "aws:PrincipalAccount": "${aws:PrincipalAccount}" } }),
            json!({ "IpAddress": { "aws:SourceIp": "0.0.0.0/0" } }),
            json!({ "IpAddress": { "aws:SourceIp": ["203.0.113.0/24", "0.0.0.0/1"] } }),
            json!({ "IpAddress": { "aws:SourceIp": "::/0" } }),
            json!({ "StringEquals": { "s3:prefix": "public/" } }),
            json!({ "StringEquals": { "aws:SourceVpce": [] } }),
            json!("not an object"),
        ] {
            assert!(public(with_condition(condition.clone())), "{condition}");
        }
    }

    #[test]
    fn removing_public_statements_keeps_the_others_or_leaves_nothing() {
        let private = json!({
            "Sid": "Replication",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111122223333:role/replication" },
            "Action": "s3:ReplicateObject",
            "Resource": "arn:aws:s3:::data/*"
        });
        let mut open = read_to(json!("*"));
        open["Sid"] = json!("PublicRead");
        let both = json!({ "Version": "2012-10-17", "Id": "p1", "Statement": [open.clone(), private.clone()] });
        let found = public_statements(&both);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].describe(),
            "statement PublicRead allows s3:GetObject to everyone"
        );
        assert_eq!(
            without_public(&both),
            Some(json!({ "Version": "2012-10-17", "Id": "p1", "Statement": [private] }))
        );
        assert_eq!(without_public(&doc(open.clone())), None);
        // One statement object in place of a list.
        assert_eq!(public_statements(&json!({ "Statement": open })).len(), 1);
    }

    #[test]
    fn the_document_comes_as_an_object_or_a_json_string() {
        let d = doc(read_to(json!("*")));
        assert_eq!(parse(&d), Some(d.clone()));
        assert_eq!(parse(&Value::String(d.to_string())), Some(d));
        assert_eq!(parse(&json!("not json")), None);
        assert_eq!(parse(&json!("[1]")), None);
        assert_eq!(parse(&json!(7)), None);
    }

    #[test]
    fn not_action_says_what_it_leaves_out() {
        let st = json!({ "Effect": "Allow", "Principal": "*", "NotAction": ["s3:DeleteBucket"], "Resource": "*" });
        assert_eq!(
            public_statements(&doc(st))[0].allows,
            "every action except s3:DeleteBucket"
        );
    }
}
