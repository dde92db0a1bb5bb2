//! Inputs the fuzz targets (`fuzz/`, `make fuzz`) found to break a property, kept as tests.

use reflex_revoke::policy::{escalation, parse_document_str, wildcard_match};

/// `fuzz/fuzz_targets/policy.rs`, 2026-12-02, on its seed `fuzz/seeds/policy/url-encoded-star.txt`:
/// the pattern `*` did not match the action `*:*`. The `*` of the pattern was taken as the
/// literal star at the start of the text, which left `:*` with nothing to match it. Every text
/// holding a `*` the pattern's star lands on failed the same way (`iam:*` against `iam:*Role`).
#[test]
fn a_star_matches_text_that_holds_a_star() {
    assert!(wildcard_match("*", "*:*"));
    assert!(wildcard_match("*", "*"));
    assert!(wildcard_match("iam:*", "iam:*Role"));
    assert!(wildcard_match("a*", "a*b"));
    assert!(wildcard_match("*:*", "iam:*"));
    assert!(!wildcard_match("a*c", "a*b"));

    // The document it came in, URL-encoded as the IAM API returns documents.
    let document = parse_document_str(
        "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D",
    )
    .expect("a policy document");
    assert!(escalation(&document).is_some());
}

/// `fuzz/fuzz_targets/policy.rs`, 2026-12-02, after 36 thousand runs: a document with a form feed
/// before its `{` was read as plain text (any leading whitespace skipped) but not URL-encoded,
/// the form IAM returns stored documents in (`GetGroupPolicy`, `GetPolicyVersion`), where
/// `serde_json`, which only skips JSON's own whitespace, refused it. An unreadable group policy
/// is left out of the group's escalation check.
#[test]
fn a_document_reads_the_same_url_encoded() {
    assert_eq!(parse_document_str("\u{c}{}"), Some(serde_json::json!({})));
    assert_eq!(parse_document_str("%0C%7B%7D"), Some(serde_json::json!({})));
    let escalating = "\u{c}\u{b}{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}}";
    let encoded: String = escalating.bytes().map(|b| format!("%{b:02X}")).collect();
    let document = parse_document_str(&encoded).expect("the encoded document reads");
    assert_eq!(Some(&document), parse_document_str(escalating).as_ref());
    assert!(escalation(&document).is_some());
}
