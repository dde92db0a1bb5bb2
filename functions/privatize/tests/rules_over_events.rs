//! Every privatize rule and guard over the sample events in `events/privatize/`: pure, no
//! emulator. Each negative sample is checked for its own reason.

use std::collections::BTreeMap;

use reflex_privatize::{Privatize, PrivatizeAction, Settings, Trigger, rules};
use reflex_shared::event;
use reflex_shared::exemption::ExemptPrincipals;
use reflex_shared::guard::{EventSkip, Guards, Mode};
use reflex_shared::identity::SelfIdentity;
use reflex_shared::{
    Action, ApiCall, EventError, Finding, Function, Interpreted, Resource, Severity,
};
use reflex_testkit::{sample, sample_event, sample_files};
use serde_json::{Value, json};

fn raw(name: &str) -> Value {
    sample(&format!("privatize/{name}"))
}

fn call(name: &str) -> ApiCall {
    sample_event(&format!("privatize/{name}"))
        .api_call()
        .cloned()
        .unwrap_or_else(|| panic!("{name}: not an API call"))
}

fn interpret(value: Value) -> Result<Interpreted<Trigger>, EventError> {
    let event = event::parse(value).expect("a well-formed event");
    Privatize::interpret(&event, &Settings::default())
}

fn findings_of(value: Value) -> Vec<Finding<PrivatizeAction>> {
    match interpret(value).expect("a valid event") {
        Interpreted::Trigger(trigger) => rules::decide(&trigger, &(), &Settings::default()),
        Interpreted::Ignored(why) => panic!("ignored: {why}"),
    }
}

fn findings(name: &str) -> Vec<Finding<PrivatizeAction>> {
    findings_of(raw(name))
}

fn only_finding(name: &str) -> Finding<PrivatizeAction> {
    let mut f = findings(name);
    assert_eq!(f.len(), 1, "{name}: {f:?}");
    f.remove(0)
}

fn ignored(value: Value) -> String {
    match interpret(value) {
        Ok(Interpreted::Ignored(why)) => why,
        other => panic!("not ignored: {other:?}"),
    }
}

const BUCKET: &str = "acme-reports";

#[test]
fn a_public_bucket_policy_is_found_naming_the_statement() {
    let f = only_finding("put-bucket-policy-public.json");
    assert_eq!(f.rule_id, rules::PUBLIC_BUCKET_POLICY);
    assert_eq!(f.severity, Severity::High);
    assert!(
        f.reason.contains("arn:aws:iam::123456789012:user/mallory"),
        "{}",
        f.reason
    );
    assert!(
        f.reason
            .contains("statement PublicRead allows s3:GetObject to everyone"),
        "{}",
        f.reason
    );
    assert!(
        !f.reason.contains("PartnerList"),
        "the partner's grant is not public"
    );
    assert_eq!(
        f.actions,
        [PrivatizeAction::RemovePublicPolicyStatements {
            bucket: BUCKET.into()
        }]
    );
    assert_eq!(f.actions[0].resource(), Resource::Bucket(BUCKET.into()));
}

#[test]
fn any_aws_account_is_everyone_and_secure_transport_narrows_nothing() {
    let f = only_finding("put-bucket-policy-aws-star.json");
    assert_eq!(f.rule_id, rules::PUBLIC_BUCKET_POLICY);
    assert!(f.reason.contains("statement AnyAccount"), "{}", f.reason);
}

#[test]
fn a_policy_pinned_to_a_vpc_endpoint_or_naming_an_account_is_not_public() {
    assert_eq!(
        findings("put-bucket-policy-restricted-to-vpc-endpoint.json"),
        []
    );
    assert_eq!(findings("put-bucket-policy-cross-account.json"), []);
}

#[test]
fn the_policy_may_be_recorded_as_a_json_string() {
    let mut e = raw("put-bucket-policy-public.json");
    let doc = e["detail"]["requestParameters"]["bucketPolicy"].to_string();
    e["detail"]["requestParameters"]["bucketPolicy"] = Value::String(doc);
    assert_eq!(findings_of(e)[0].rule_id, rules::PUBLIC_BUCKET_POLICY);
}

/// Some us-east-1 buckets still carry names of the legacy rules (upper case, `_`).
#[test]
fn a_legacy_bucket_name_is_taken() {
    let mut e = raw("put-bucket-policy-public.json");
    e["detail"]["requestParameters"]["bucketName"] = json!("Legacy_Reports");
    let f = findings_of(e);
    assert_eq!(
        f[0].actions,
        [PrivatizeAction::RemovePublicPolicyStatements {
            bucket: "Legacy_Reports".into()
        }]
    );
}

#[test]
fn public_acls_canned_or_granted_are_found() {
    let f = only_finding("put-bucket-acl-public-read.json");
    assert_eq!(f.rule_id, rules::PUBLIC_BUCKET_ACL);
    assert!(
        f.reason.contains("the canned ACL public-read"),
        "{}",
        f.reason
    );
    let f = only_finding("put-bucket-acl-grant-all-users.json");
    assert_eq!(f.rule_id, rules::PUBLIC_BUCKET_ACL);
    assert!(
        f.reason.contains("READ to everyone (AllUsers)"),
        "{}",
        f.reason
    );
    assert_eq!(
        f.actions,
        [PrivatizeAction::RemovePublicAclGrants {
            bucket: BUCKET.into()
        }]
    );
}

#[test]
fn acl_grants_in_headers_and_a_lone_grant_are_read() {
    let mut e = raw("put-bucket-acl-private.json");
    let req = &mut e["detail"]["requestParameters"];
    req.as_object_mut().unwrap().remove("x-amz-acl");
    req["x-amz-grant-write"] = json!([
        "id=\"75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a\", uri=\"http://acs.amazonaws.com/groups/global/AuthenticatedUsers\""
    ]);
    let f = findings_of(e);
    assert!(
        f[0].reason.contains("WRITE to every AWS account"),
        "{}",
        f[0].reason
    );

    let mut e = raw("put-bucket-acl-grant-all-users.json");
    let grants =
        e["detail"]["requestParameters"]["AccessControlPolicy"]["AccessControlList"]["Grant"]
            .clone();
    e["detail"]["requestParameters"]["AccessControlPolicy"]["AccessControlList"]["Grant"] =
        grants[1].clone();
    assert_eq!(findings_of(e)[0].rule_id, rules::PUBLIC_BUCKET_ACL);
}

#[test]
fn a_private_acl_or_a_log_delivery_grant_is_not_public() {
    assert_eq!(findings("put-bucket-acl-private.json"), []);
    let mut e = raw("put-bucket-acl-grant-all-users.json");
    e["detail"]["requestParameters"]["AccessControlPolicy"]["AccessControlList"]["Grant"][1]["Grantee"]
        ["URI"] = json!("http://acs.amazonaws.com/groups/s3/LogDelivery");
    assert_eq!(findings_of(e), []);
}

#[test]
fn a_public_access_block_turned_off_or_deleted_is_turned_back_on() {
    let f = only_finding("put-public-access-block-off.json");
    assert_eq!(f.rule_id, rules::PUBLIC_ACCESS_BLOCK_REMOVED);
    assert_eq!(f.severity, Severity::Medium);
    assert!(
        f.reason
            .contains("turned off BlockPublicAcls, BlockPublicPolicy in the public access block of bucket acme-reports"),
        "{}",
        f.reason
    );
    let f = only_finding("delete-public-access-block.json");
    assert_eq!(f.rule_id, rules::PUBLIC_ACCESS_BLOCK_REMOVED);
    assert!(
        f.reason.contains("deleted the public access block"),
        "{}",
        f.reason
    );
    assert_eq!(
        f.actions,
        [PrivatizeAction::BlockPublicAccess {
            bucket: BUCKET.into()
        }]
    );
    assert_eq!(findings("put-public-access-block-all-on.json"), []);
}

#[test]
fn a_setting_the_call_leaves_out_is_off_and_text_booleans_are_read() {
    let mut e = raw("put-public-access-block-all-on.json");
    let config = &mut e["detail"]["requestParameters"]["PublicAccessBlockConfiguration"];
    config
        .as_object_mut()
        .unwrap()
        .remove("RestrictPublicBuckets");
    config["BlockPublicAcls"] = json!("true");
    let f = findings_of(e);
    assert!(
        f[0].reason.contains("turned off RestrictPublicBuckets"),
        "{}",
        f[0].reason
    );
}

#[test]
fn snapshots_and_images_shared_with_everyone_are_found() {
    let f = only_finding("modify-snapshot-attribute-public.json");
    assert_eq!(f.rule_id, rules::PUBLIC_SNAPSHOT);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(
        f.actions[0].resource(),
        Resource::Snapshot("snap-0a1b2c3d4e5f60001".into())
    );
    let f = only_finding("modify-image-attribute-public.json");
    assert_eq!(f.rule_id, rules::PUBLIC_IMAGE);
    assert_eq!(
        f.actions[0].resource(),
        Resource::Image("ami-0a1b2c3d4e5f60001".into())
    );
}

#[test]
fn sharing_with_named_accounts_is_ignored_saying_so() {
    let why = ignored(raw("modify-snapshot-attribute-share-with-account.json"));
    assert_eq!(
        why,
        "snapshot snap-0a1b2c3d4e5f60001: shared with account(s) 210987654321 only, which does \
         not make it public"
    );
    let why = ignored(raw("modify-image-attribute-share-with-account.json"));
    assert!(why.contains("account(s) 210987654321 only"), "{why}");
    // Removing the public group is what privatize itself does.
    let mut e = raw("modify-image-attribute-public.json");
    let lp = &mut e["detail"]["requestParameters"]["launchPermission"];
    *lp = json!({ "remove": { "items": [{ "group": "all" }] } });
    assert!(ignored(e).contains("adds nobody"));
}

#[test]
fn malformed_events_are_refused_naming_the_field() {
    let err = interpret(raw("invalid-put-bucket-policy-without-bucket-name.json")).unwrap_err();
    assert_eq!(
        err,
        EventError::missing("detail.requestParameters.bucketName (in PutBucketPolicy)")
    );
    let cases: &[(&str, &str, Value, &str)] = &[
        (
            "put-bucket-policy-public.json",
            "bucketName",
            json!("Acme/../x"),
            "bucketName",
        ),
        (
            "put-bucket-policy-public.json",
            "bucketPolicy",
            json!(42),
            "bucketPolicy",
        ),
        (
            "put-bucket-policy-public.json",
            "bucketPolicy",
            json!("{not json"),
            "bucketPolicy",
        ),
        (
            "modify-snapshot-attribute-public.json",
            "snapshotId",
            json!("snap-$(id)"),
            "snapshotId",
        ),
        (
            "modify-image-attribute-public.json",
            "imageId",
            json!("snap-0a1b"),
            "imageId",
        ),
        (
            "put-public-access-block-off.json",
            "PublicAccessBlockConfiguration",
            json!({ "BlockPublicAcls": 1 }),
            "PublicAccessBlockConfiguration.BlockPublicAcls",
        ),
    ];
    for (file, key, value, field) in cases {
        let mut e = raw(file);
        e["detail"]["requestParameters"][*key] = value.clone();
        let err = interpret(e).unwrap_err();
        assert_eq!(err.error_type(), "InvalidField", "{file} {key}: {err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    let mut e = raw("put-public-access-block-off.json");
    e["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("PublicAccessBlockConfiguration");
    assert_eq!(interpret(e).unwrap_err().error_type(), "MissingField");
}

#[test]
fn every_sample_is_interpreted_without_panicking() {
    for file in sample_files("privatize") {
        let _ = interpret(raw(&file));
    }
}

#[test]
fn calls_privatize_has_no_rule_for_are_ignored() {
    let mut e = raw("put-bucket-policy-public.json");
    e["detail"]["eventName"] = json!("GetBucketPolicy");
    assert_eq!(ignored(e), "privatize has no rule for s3:GetBucketPolicy");
}

// ---- guards over the same sample events ----

fn guards() -> Guards {
    Guards {
        self_identity: Some(SelfIdentity::from_arn(
            "arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex-revoke",
        )),
        exempt: ExemptPrincipals::new("TEST", &["arn:aws:iam::*:role/break-glass".to_string()])
            .unwrap(),
        default_mode: Mode::Enforce,
        rule_modes: BTreeMap::new(),
        max_actions: 10,
    }
}

#[test]
fn loop_guard_skips_reflex_own_calls() {
    let skip = guards().screen(&call("put-bucket-policy-by-reflex.json"));
    assert!(
        matches!(skip, Some(EventSkip::LoopGuard { .. })),
        "{skip:?}"
    );
    assert_eq!(
        guards().screen(&call("put-bucket-policy-public.json")),
        None
    );
}

#[test]
fn failed_calls_are_not_remediated() {
    let skip = guards().screen(&call("put-bucket-policy-access-denied.json"));
    assert_eq!(
        skip,
        Some(EventSkip::FailedCall {
            error_code: "AccessDenied".into()
        })
    );
}

// ---- the exemption tag, self-granted ----

#[test]
fn the_exemption_tag_on_a_bucket_is_removed_that_key_only() {
    let f = only_finding("exemption-tag-on-bucket.json");
    assert_eq!(f.rule_id, rules::EXEMPTION_TAG);
    assert_eq!(f.severity, Severity::High);
    assert!(
        f.reason.contains("arn:aws:iam::123456789012:user/mallory")
            && f.reason
                .contains("reflex:exempt=true on bucket acme-reports")
            && f.reason.contains("REFLEX_EXEMPT_PRINCIPALS"),
        "{}",
        f.reason
    );
    assert_eq!(
        f.actions,
        vec![PrivatizeAction::RemoveBucketExemptionTag {
            bucket: BUCKET.into(),
            key: "reflex:exempt".into(),
            value: "true".into(),
        }],
        "the tag only: the caller is not contained, the other tag (team) is not named"
    );
    assert!(f.actions[0].lifts_exemption());
    assert_eq!(f.actions[0].resource(), Resource::Bucket(BUCKET.into()));
}

#[test]
fn the_exemption_tag_on_a_snapshot_or_an_image_is_removed() {
    for (name, id, resource) in [
        (
            "exemption-tag-on-snapshot.json",
            "snap-0a1b2c3d4e5f60001",
            Resource::Snapshot("snap-0a1b2c3d4e5f60001".into()),
        ),
        (
            "exemption-tag-on-image.json",
            "ami-0a1b2c3d4e5f60001",
            Resource::Image("ami-0a1b2c3d4e5f60001".into()),
        ),
    ] {
        let f = only_finding(name);
        assert_eq!(f.rule_id, rules::EXEMPTION_TAG, "{name}");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(
            f.actions,
            vec![PrivatizeAction::RemoveExemptionTag {
                resource_id: id.into(),
                key: "reflex:exempt".into(),
                value: "true".into(),
            }],
            "{name}"
        );
        assert!(f.actions[0].lifts_exemption());
        assert_eq!(f.actions[0].resource(), resource);
    }
    // Every other action is held back by the tag on its resource, as always.
    assert!(
        !PrivatizeAction::UnshareSnapshot {
            snapshot_id: "snap-0a1b2c3d4e5f60001".into()
        }
        .lifts_exemption()
    );
}

#[test]
fn a_lone_tag_is_read_and_its_value_compared_as_the_exemption_compares_it() {
    // XML with one element is recorded as an object, not a list.
    let mut event = raw("exemption-tag-on-bucket.json");
    event["detail"]["requestParameters"]["Tagging"]["TagSet"]["Tag"] =
        json!({ "Key": "reflex:exempt", "Value": "TRUE" });
    let f = findings_of(event);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(matches!(
        &f[0].actions[0],
        PrivatizeAction::RemoveBucketExemptionTag { value, .. } if value == "TRUE"
    ));
}

#[test]
fn another_key_or_a_value_that_does_not_exempt_is_ignored_saying_so() {
    for name in [
        "bucket-tagging-other-key.json",
        "exemption-tag-value-not-exempting-on-bucket.json",
    ] {
        let why = ignored(raw(name));
        assert!(
            why.contains("bucket acme-reports: no tag written exempts it")
                && why.contains("reflex:exempt with the value true"),
            "{name}: {why}"
        );
    }
    // Keys are case-sensitive, as everywhere.
    let mut event = raw("exemption-tag-on-snapshot.json");
    event["detail"]["requestParameters"]["tagSet"]["items"][0]["key"] = json!("Reflex:Exempt");
    assert!(ignored(event).contains("no tag written exempts anything"));
}

#[test]
fn the_exemption_tag_on_instances_and_volumes_is_left_to_quarantine_or_nobody() {
    for other in [
        "i-0a1b2c3d4e5f60001",
        "sg-0a1b2c3d4e5f60001",
        "vol-0a1b2c3d4e5f60001",
    ] {
        let mut event = raw("exemption-tag-on-snapshot.json");
        event["detail"]["requestParameters"]["resourcesSet"]["items"][0]["resourceId"] =
            json!(other);
        let why = ignored(event);
        assert!(
            why.contains("written on no snapshot or image"),
            "{other}: {why}"
        );
    }
    // One call tagging an instance and a snapshot: privatize takes the snapshot only (quarantine,
    // which sees the same event, the instance).
    let mut event = raw("exemption-tag-on-snapshot.json");
    event["detail"]["requestParameters"]["resourcesSet"]["items"] = json!([
        { "resourceId": "i-0a1b2c3d4e5f60001" },
        { "resourceId": "snap-0a1b2c3d4e5f60001" },
        { "resourceId": "ami-0a1b2c3d4e5f60001" }
    ]);
    let f = findings_of(event);
    let on: Vec<Resource> = f[0].actions.iter().map(Action::resource).collect();
    assert_eq!(
        on,
        vec![
            Resource::Snapshot("snap-0a1b2c3d4e5f60001".into()),
            Resource::Image("ami-0a1b2c3d4e5f60001".into())
        ]
    );
    assert!(
        f[0].reason
            .contains("snapshot snap-0a1b2c3d4e5f60001, image ami-0a1b2c3d4e5f60001")
    );
}

#[test]
fn a_configured_exemption_tag_is_the_one_refused() {
    let settings = Settings {
        exempt_tag: reflex_shared::exemption::ExemptTag {
            key: "security:exempt".into(),
            value: "yes".into(),
        },
    };
    let interpret_with = |event: Value| {
        let event = event::parse(event).expect("a well-formed event");
        Privatize::interpret(&event, &settings).expect("a valid event")
    };
    assert!(matches!(
        interpret_with(raw("exemption-tag-on-bucket.json")),
        Interpreted::Ignored(_)
    ));
    let mut event = raw("exemption-tag-on-bucket.json");
    event["detail"]["requestParameters"]["Tagging"]["TagSet"]["Tag"] =
        json!([{ "Key": "security:exempt", "Value": "YES" }]);
    let Interpreted::Trigger(trigger) = interpret_with(event) else {
        panic!("not a trigger");
    };
    let f = rules::decide(&trigger, &(), &settings);
    assert!(matches!(
        &f[0].actions[0],
        PrivatizeAction::RemoveBucketExemptionTag { key, value, .. }
            if key == "security:exempt" && value == "YES"
    ));
}

#[test]
fn malformed_tag_writes_are_refused_naming_the_field() {
    let cases: [(&str, &str, Value, &str); 4] = [
        (
            "exemption-tag-on-bucket.json",
            "/detail/requestParameters/Tagging",
            Value::Null,
            "requestParameters.Tagging",
        ),
        (
            "exemption-tag-on-bucket.json",
            "/detail/requestParameters/bucketName",
            json!("acme reports; rm -rf ~"),
            "bucketName",
        ),
        (
            "exemption-tag-on-snapshot.json",
            "/detail/requestParameters/resourcesSet/items/0/resourceId",
            json!("snap-$(id)"),
            "resourcesSet.items[0].resourceId",
        ),
        (
            "exemption-tag-on-snapshot.json",
            "/detail/requestParameters/tagSet",
            json!("reflex:exempt=true"),
            "tagSet.items",
        ),
    ];
    for (name, pointer, value, field) in cases {
        let mut event = raw(name);
        *event.pointer_mut(pointer).unwrap() = value;
        let err = interpret(event).expect_err(pointer);
        assert!(err.to_string().contains(field), "{pointer}: {err}");
    }
}

#[test]
fn a_refused_tag_holds_back_no_step_on_its_resource() {
    // The guard over this event's finding: the bucket carries the tag (that is why the action
    // exists), and the removal still runs.
    let f = findings("exemption-tag-on-bucket.json");
    let exempt = BTreeMap::from([(
        Resource::Bucket(BUCKET.into()),
        "carries the exemption tag reflex:exempt=true".to_string(),
    )]);
    let guarded = guards().apply(f, &exempt);
    let steps: Vec<String> = guarded
        .iter()
        .flat_map(|g| &g.steps)
        .map(|(_, d)| format!("{d:?}"))
        .collect();
    assert_eq!(steps, vec!["Run".to_string()], "{steps:?}");
    // A public policy on an exempt bucket in an event without a refused tag stays exempt.
    let f = findings("put-bucket-policy-public.json");
    let guarded = guards().apply(f, &exempt);
    let steps: Vec<String> = guarded
        .iter()
        .flat_map(|g| &g.steps)
        .map(|(_, d)| format!("{d:?}"))
        .collect();
    assert!(steps[0].starts_with("Exempt"), "{steps:?}");
}

#[test]
fn an_exempt_principal_may_tag() {
    let mut event = raw("exemption-tag-on-bucket.json");
    event["detail"]["userIdentity"] = json!({
        "type": "AssumedRole",
        "principalId": "AROABREAKGLASSEXAMPLE:alice",
        "arn": "arn:aws:sts::123456789012:assumed-role/break-glass/alice",
        "accountId": "123456789012",
        "sessionContext": { "sessionIssuer": { "type": "Role",
            "principalId": "AROABREAKGLASSEXAMPLE",
            "arn": "arn:aws:iam::123456789012:role/break-glass",
            "accountId": "123456789012", "userName": "break-glass" } }
    });
    let call = event::parse(event).unwrap().api_call().cloned().unwrap();
    assert!(
        matches!(guards().screen(&call), Some(EventSkip::ExemptActor { .. })),
        "screened before any rule"
    );
}
