//! One CloudTrail record, read into Reflex's record type (`ApiCall`, the `detail` of an "AWS API
//! Call via CloudTrail" event, which is the record CloudTrail writes), without the EventBridge
//! envelope around it. Reflex has no reader of CloudTrail log files yet (`{"Records": [...]}` in
//! S3); when it has one, its entry point belongs here.
//!
//! Checks beyond "no panic": a record written back and read again is the same record; the
//! caller's description, principal, account and role hold together.

#![no_main]

use libfuzzer_sys::fuzz_target;
use reflex_shared::ApiCall;
use reflex_shared::identity::is_account_id;

fuzz_target!(|data: &[u8]| {
    let Ok(call) = serde_json::from_slice::<ApiCall>(data) else {
        return;
    };
    let written = serde_json::to_value(&call).expect("a record can be written");
    let again: ApiCall = serde_json::from_value(written).expect("a written record reads again");
    assert_eq!(again, call, "a record written and read again differs");

    let caller = &call.user_identity;
    let _ = (
        caller.describe(),
        caller.principal(),
        caller.iam_user_name(),
        caller.role_name(),
    );
    if let Some(account) = caller.account() {
        assert!(!account.is_empty());
    }
    if let Some(role) = caller.issuer_role() {
        assert!(is_account_id(role.account), "{role:?}: not an account id");
        assert!(!role.name.is_empty(), "{role:?}: no name");
        assert_eq!(caller.role_arn(), Some(role.arn));
        assert!(
            caller.arns().contains(&role.arn),
            "{role:?} is not among the caller's ARNs"
        );
        assert_eq!(caller.role_name(), Some(role.name));
    }
    for key in [
        "userName",
        "policyArn",
        "groupId",
        "name",
        "trailName",
        "logGroupName",
    ] {
        let _ = (call.request_str(key), call.request_bool(key));
        if call.request_str(key).is_none() {
            let error = call.require_request_str(key).unwrap_err();
            reflex_fuzz::check_error(&error);
        }
    }
    let _ = call.response_str("/accessKey/accessKeyId");
});
