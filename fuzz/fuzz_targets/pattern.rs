//! The EventBridge pattern matcher (`routing/src/pattern.rs`, which the command line and the
//! wiring tests share), two ways:
//!
//! - `[pattern, event]`: any pattern, checked as `PutRule` would, against any event. Checks:
//!   checking is deterministic and a refusal says why; matching is deterministic, an
//!   event that is not an object matches as `{}` does, a field the pattern does not name changes
//!   nothing, and `{"$or": [P, P]}` matches where `P` does.
//! - anything else: the event, against every rule of `infra/template.yaml` and
//!   `infra/member.yaml` (parameters at their defaults). Check: an event a rule sends to a
//!   function, if it parses, is one that function takes (else it fails as unsupported, for ever).

#![no_main]

use libfuzzer_sys::fuzz_target;
use reflex_fuzz::pattern::{self, Pattern};
use reflex_fuzz::{accepts, template_rules};
use serde_json::{Value, json};

/// A field no sane pattern names: adding it to an event must not change a match.
const EXTRA: &str = "fuzz\u{0}extra";

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let event = match &input {
        Value::Array(pair) if pair.len() == 2 && pair[0].is_object() => {
            pair_of(&pair[0], &pair[1]);
            &pair[1]
        }
        event => event,
    };
    routed(event);
});

fn pair_of(pattern: &Value, event: &Value) {
    let checked = Pattern::parse(pattern);
    assert_eq!(
        checked,
        Pattern::parse(pattern),
        "checking is not deterministic"
    );
    let valid = match checked {
        Ok(p) => p,
        Err(e) => {
            assert!(
                !e.reason.trim().is_empty(),
                "a refusal without a reason: {e:?}"
            );
            assert!(
                !e.to_string().trim().is_empty(),
                "a refusal without a message"
            );
            return;
        }
    };
    let matched = valid.matches(event);
    assert_eq!(
        matched,
        valid.matches(event),
        "matching is not deterministic"
    );
    assert_eq!(pattern::matches(pattern, event), Ok(matched));

    match event {
        Value::Object(fields) => {
            if !fields.contains_key(EXTRA) && !names(pattern, EXTRA) {
                let mut more = fields.clone();
                more.insert(EXTRA.to_string(), json!({"a": [1, null, "x"]}));
                assert_eq!(
                    valid.matches(&Value::Object(more)),
                    matched,
                    "a field the pattern does not name changed the match"
                );
            }
        }
        _ => assert_eq!(
            valid.matches(&json!({})),
            matched,
            "an event that is not an object matches unlike {{}}"
        ),
    }

    if let Ok(twice) = Pattern::parse(&json!({"$or": [pattern, pattern]})) {
        assert_eq!(
            twice.matches(event),
            matched,
            "{{\"$or\": [P, P]}} is not P"
        );
    }
}

/// Whether `key` is a field name anywhere in `value`.
fn names(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(fields) => fields.iter().any(|(k, v)| k == key || names(v, key)),
        Value::Array(items) => items.iter().any(|v| names(v, key)),
        _ => false,
    }
}

fn routed(event: &Value) {
    let mut parsed = None;
    for rule in template_rules() {
        if !rule.pattern.matches(event) {
            continue;
        }
        let Some(function) = &rule.function else {
            continue;
        };
        let parsed = parsed.get_or_insert_with(|| reflex_shared::event::parse(event.clone()));
        if let Ok(parsed) = parsed
            && let Some(taken) = accepts(function, parsed)
        {
            assert!(
                taken,
                "{}: sends {function} an event it refuses as unsupported ({:?} from {:?})",
                rule.name,
                parsed.envelope().detail_type,
                parsed.envelope().source
            );
        }
    }
}
