//! Event parsing and interpretation: raw bytes as the Lambda runtime would hand them over, parsed
//! into a typed event, then interpreted (and judged by the rules) by every function that takes it.
//!
//! Checks beyond "no panic": parsing text and parsing the decoded value agree; an accepted event
//! names a region Reflex may build clients for, and so does the place it acts in; errors have a
//! type and a message; interpretation is deterministic (see `reflex_fuzz::interpret_everywhere`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use reflex_shared::event::{self, Event, is_region_name};
use reflex_shared::identity::is_account_id;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = event::parse_str(text);
    // The Lambda runtime hands over a decoded value: the same answer either way.
    if let Ok(value) = serde_json::from_str(text) {
        let again = event::parse(value);
        assert_eq!(
            format!("{parsed:?}"),
            format!("{again:?}"),
            "parse_str and parse disagree"
        );
    }
    match parsed {
        Ok(event) => check(&event),
        Err(error) => reflex_fuzz::check_error(&error),
    }
});

fn check(event: &Event) {
    let envelope = event.envelope();
    assert!(
        is_region_name(&envelope.region),
        "an event was accepted from region {:?}",
        envelope.region
    );
    let (account, region) = event.place();
    assert!(
        is_region_name(region),
        "an event would be acted on in region {region:?}"
    );
    assert!(
        account == envelope.account || is_account_id(account),
        "an event would be acted on in account {account:?}"
    );
    let _ = (event.id(), event.kind(), event.api_call());
    if let Some(call) = event.api_call() {
        let _ = (
            call.user_identity.describe(),
            call.user_identity.principal(),
        );
    }
    reflex_fuzz::interpret_everywhere(event);
}
