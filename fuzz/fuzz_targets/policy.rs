//! Policy document analysis (revoke): a document as CloudTrail or IAM hands it over (JSON text or
//! URL-encoded JSON text), parsed, then judged: does it grant a privilege escalation?
//!
//! Checks beyond "no panic": JSON text parses the same URL-encoded (the IAM API encodes
//! documents); the verdict is deterministic and explained; a harmless statement added to
//! a document changes nothing, a statement allowing everything escalates unless a `Deny` is
//! there to cancel it, one denying everything leaves no escalation, and one statement reads
//! the same alone or in a list; IAM action matching is case-insensitive. Read as a role's trust
//! policy, what revoke would write back opens nothing more.

#![no_main]

use libfuzzer_sys::fuzz_target;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reflex_revoke::policy::{analyse, escalation, parse_document_str, wildcard_match};
use reflex_revoke::trust::{Trusted, judge};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(document) = parse_document_str(text) else {
        return;
    };
    // JSON text reads the same URL-encoded (as the IAM API returns documents).
    if text.trim_start().starts_with('{') {
        let encoded = utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
        assert_eq!(
            parse_document_str(&encoded).as_ref(),
            Some(&document),
            "the URL-encoded text parses differently: {encoded}"
        );
    }

    let verdict = escalation(&document);
    assert_eq!(
        verdict,
        escalation(&document),
        "the verdict is not deterministic"
    );
    if let Some(why) = &verdict {
        assert!(!why.trim().is_empty(), "an escalation without a reason");
    }

    // The same text as a role's trust policy (revoke's trust judge): what the executor writes
    // back opens nothing more, so a retry finds the job done.
    let trusted = Trusted {
        own_account: "123456789012",
        accounts: &[],
    };
    let judged = judge(&document, trusted);
    if judged.is_open() {
        let again = judge(&judged.restricted, trusted);
        assert!(
            !again.is_open(),
            "the restricted trust still opens: {:?}",
            again.openings
        );
    }

    if let Some(statement) = document.get("Statement") {
        let mut statements = match statement {
            Value::Array(list) => list.clone(),
            Value::Object(_) => vec![statement.clone()],
            _ => return,
        };
        if statement.is_object() {
            let listed = with_statements(&document, statements.clone());
            assert_eq!(
                escalation(&listed),
                verdict,
                "one statement judged differently alone and in a list"
            );
        }
        statements.push(json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}));
        let more = with_statements(&document, statements.clone());
        assert_eq!(
            escalation(&more),
            verdict,
            "a harmless statement added to a document changes the verdict"
        );
        // A `Deny` in the same document may cancel it (IAM's reading): only without one.
        let denies = statements
            .iter()
            .any(|s| s.get("Effect").and_then(Value::as_str) == Some("Deny"));
        let mut denied = statements.clone();
        statements.push(json!({"Effect": "Allow", "Action": "*", "Resource": "*"}));
        let all = with_statements(&document, statements);
        assert!(
            denies || escalation(&all).is_some(),
            "a document that also allows everything is not an escalation"
        );
        // And a document that also denies everything allows no escalation, unless too large
        // to be read at all.
        denied.push(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
        let none = analyse(&with_statements(&document, denied));
        assert!(
            none.too_large.is_some() || none.methods.is_empty(),
            "a document that also denies everything escalates: {:?}",
            none.reason()
        );
    }

    // IAM action matching, on the actions the document names.
    for action in actions(&document) {
        assert!(wildcard_match("*", action), "`*` does not match {action:?}");
        if !action.contains(['*', '?']) {
            assert!(
                wildcard_match(action, &action.trim().to_ascii_uppercase()),
                "{action:?} does not match itself in capitals"
            );
        }
    }
});

fn with_statements(document: &Value, statements: Vec<Value>) -> Value {
    let mut document = document.clone();
    document["Statement"] = Value::Array(statements);
    document
}

fn actions(document: &Value) -> Vec<&str> {
    let statements = match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    statements
        .into_iter()
        .flat_map(|s| match s.get("Action") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        })
        .collect()
}
