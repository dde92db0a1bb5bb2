//! Reading IAM policy documents: does this document grant a privilege escalation?

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// A policy document as CloudTrail or IAM hands it over: a JSON object, a JSON string, or a
/// URL-encoded JSON string (the IAM API encodes documents in responses).
pub fn parse_document(raw: &Value) -> Option<Value> {
    match raw {
        Value::Object(_) => Some(raw.clone()),
        Value::String(s) => parse_document_str(s),
        _ => None,
    }
}

pub fn parse_document_str(s: &str) -> Option<Value> {
    let trimmed = s.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).ok();
    }
    let decoded = percent_decode_str(trimmed).decode_utf8().ok()?;
    // Read as the same text unencoded is: leading whitespace of any kind skipped.
    serde_json::from_str(decoded.trim_start()).ok()
}

/// Why the document escalates privileges, or `None` if it does not.
///
/// Escalating: an `Allow` of every action (`*`), of all of IAM (`iam:*`), of everything but a
/// few actions (`NotAction`), or of `iam:PassRole` / `sts:AssumeRole` on every resource (`*`).
pub fn escalation(doc: &Value) -> Option<String> {
    statements(doc).into_iter().find_map(statement_escalation)
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statement_escalation(st: &Value) -> Option<String> {
    if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return None;
    }
    let sid = st
        .get("Sid")
        .and_then(Value::as_str)
        .map(|s| format!(" (statement {s})"))
        .unwrap_or_default();
    if st.get("NotAction").is_some() {
        let except = strings(st.get("NotAction")).join(", ");
        return Some(format!("allows every action except {except}{sid}"));
    }
    let actions = strings(st.get("Action"));
    if let Some(a) = actions.iter().find(|a| matches!(a.trim(), "*" | "*:*")) {
        return Some(format!("allows every action (`{a}`){sid}"));
    }
    if let Some(a) = actions
        .iter()
        .find(|a| a.trim().eq_ignore_ascii_case("iam:*"))
    {
        return Some(format!("allows all of IAM (`{a}`){sid}"));
    }
    let on_every_resource =
        strings(st.get("Resource")).contains(&"*") || st.get("NotResource").is_some();
    if on_every_resource {
        for dangerous in ["iam:PassRole", "sts:AssumeRole"] {
            if let Some(a) = actions.iter().find(|a| wildcard_match(a, dangerous)) {
                return Some(format!("allows {dangerous} (`{a}`) on every resource{sid}"));
            }
        }
    }
    None
}

/// IAM action matching: case-insensitive, `*` any run of characters, `?` one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.trim().to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        // A `*` in the pattern is a wildcard even where the text holds a `*` too.
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn allow(action: Value, resource: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
    }

    #[test]
    fn escalating_documents_are_recognised() {
        assert!(
            escalation(&allow(json!("*"), json!("*")))
                .unwrap()
                .contains("every action")
        );
        assert!(
            escalation(&allow(
                json!(["s3:GetObject", "IAM:*"]),
                json!("arn:aws:s3:::b/*")
            ))
            .unwrap()
            .contains("all of IAM")
        );
        assert!(
            escalation(&allow(json!("iam:PassRole"), json!("*")))
                .unwrap()
                .contains("iam:PassRole")
        );
        assert!(escalation(&allow(json!("iam:Pass*"), json!(["*"]))).is_some());
        assert!(
            escalation(&allow(json!("sts:AssumeRole"), json!("*")))
                .unwrap()
                .contains("sts:AssumeRole")
        );
        let not_action =
            json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}});
        assert!(
            escalation(&not_action)
                .unwrap()
                .contains("every action except iam:*")
        );
    }

    #[test]
    fn harmless_documents_are_not() {
        assert_eq!(
            escalation(&allow(json!(["s3:GetObject", "s3:ListBucket"]), json!("*"))),
            None
        );
        assert_eq!(
            escalation(&allow(
                json!("iam:PassRole"),
                json!("arn:aws:iam::123456789012:role/app")
            )),
            None
        );
        assert_eq!(escalation(&allow(json!("iam:GetUser"), json!("*"))), None);
        let deny = json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]});
        assert_eq!(escalation(&deny), None);
        assert_eq!(escalation(&json!({})), None);
    }

    #[test]
    fn documents_parse_from_every_encoding() {
        let doc = json!({"Statement": []});
        assert_eq!(parse_document(&doc), Some(doc.clone()));
        assert_eq!(
            parse_document(&json!("{\"Statement\": []}")),
            Some(doc.clone())
        );
        assert_eq!(
            parse_document_str("%7B%22Statement%22%3A%20%5B%5D%7D"),
            Some(doc)
        );
        assert_eq!(parse_document(&json!("not a policy")), None);
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard_match("iam:*", "iam:PassRole"));
        assert!(wildcard_match("*", "sts:AssumeRole"));
        assert!(wildcard_match("iam:?assRole", "IAM:PASSROLE"));
        assert!(wildcard_match("*Role", "iam:PassRole"));
        assert!(!wildcard_match("iam:Get*", "iam:PassRole"));
        assert!(!wildcard_match("sts:AssumeRoleWith*", "sts:AssumeRole"));
    }
}
