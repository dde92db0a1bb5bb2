//! Harden's executor and exemptions where the emulator cannot go: KMS association, refused
//! calls, AWS's own parameter rules, tags on trails and log groups.
//!
//! moto server does not implement CloudWatch Logs `AssociateKmsKey` (it answers HTTP 500), does
//! not refuse one chosen call with `AccessDenied`, and does not enforce that a multi-region trail
//! includes global service events (real CloudTrail refuses that combination with
//! `InvalidParameterCombinationException`). So these tests mock the clients with the AWS SDK's
//! own `aws-smithy-mocks`. Nothing is sent over the network. Errors are answered the way the
//! services answer on the wire (an awsJson 1.1 body with `__type` and an HTTP status), so the
//! SDK's own error parsing and retry classification run and the executor sees the same
//! `SdkError` it would see in production.
//!
//! The full pipeline runs (`Handler::handle` on a sample event from `events/harden/`), and the
//! tests read the returned `Report`. Before acting it reads the tags of the caller (IAM) and of
//! each trail (CloudTrail `GetTrail` for a trail named by name, then `ListTags`) and log group
//! (CloudWatch Logs `ListTagsLogGroup`) an action touches: every client answers those too.

use aws_sdk_cloudtrail::operation::get_trail::GetTrailOutput;
use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::operation::list_tags::ListTagsOutput;
use aws_sdk_cloudtrail::operation::start_logging::StartLoggingOutput;
use aws_sdk_cloudtrail::operation::update_trail::UpdateTrailOutput;
use aws_sdk_cloudtrail::types::{ResourceTag, Trail};
use aws_sdk_cloudwatchlogs::operation::associate_kms_key::AssociateKmsKeyOutput;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_iam::operation::list_role_tags::ListRoleTagsOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_smithy_mocks::{Rule, mock};
use reflex_harden::settings::LogKey;
use reflex_harden::{Harden, Settings};
use reflex_shared::Outcome;
use reflex_shared::guard::Mode;
use reflex_shared::pipeline::Handler;
use reflex_shared::report::{Report, Status};
use reflex_testkit::mocked;
use serde_json::{Value, json};

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/0000ffff-0000-ffff-0000-ffff0000ffff";
/// The trail the samples name: by ARN (`stop-logging.json`) or by name (`update-trail-*`).
const TRAIL: &str = "main";
const TRAIL_ARN: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/main";
/// The log group `create-log-group-without-kms-key.json` creates.
const GROUP: &str = "/app/payments";
/// The log group `delete-retention-policy.json` names.
const ORDERS: &str = "/app/orders";
/// The default exemption tag.
const EXEMPT: (&str, &str) = ("reflex:exempt", "true");

fn event(name: &str) -> Value {
    reflex_testkit::sample(&format!("harden/{name}"))
}

fn handler(
    settings: Settings,
    cloudtrail: aws_sdk_cloudtrail::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    iam: aws_sdk_iam::Client,
) -> Handler<Harden> {
    reflex_testkit::enforcing(Harden::new(cloudtrail, logs, iam), settings)
}

/// Run the sample `file` through the full pipeline, each client answering with its rules.
async fn run(
    file: &str,
    settings: Settings,
    cloudtrail: &[&Rule],
    logs: &[&Rule],
    iam: &[&Rule],
) -> Report {
    handler(
        settings,
        mocked!(aws_sdk_cloudtrail, cloudtrail),
        mocked!(aws_sdk_cloudwatchlogs, logs),
        mocked!(aws_sdk_iam, iam),
    )
    .handle(event(file))
    .await
    .expect("the event is handled")
}

/// A JSON-protocol error as CloudTrail and CloudWatch Logs send it.
fn json_error(code: &str, message: &str) -> String {
    json!({ "__type": code, "message": message }).to_string()
}

/// IAM that knows no exemption tags (the caller's tags are read before acting).
fn untagged_iam() -> (Rule, Rule) {
    let users = mock!(aws_sdk_iam::Client::list_user_tags).then_output(|| {
        ListUserTagsOutput::builder()
            .set_tags(Some(Vec::new()))
            .build()
            .expect("tags are set")
    });
    let roles = mock!(aws_sdk_iam::Client::list_role_tags).then_output(|| {
        ListRoleTagsOutput::builder()
            .set_tags(Some(Vec::new()))
            .build()
            .expect("tags are set")
    });
    (users, roles)
}

/// CloudTrail `ListTags` for the sample trail's ARN, answering with `tags`.
fn trail_tags(tags: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(aws_sdk_cloudtrail::Client::list_tags)
        .match_requests(|r| r.resource_id_list() == [TRAIL_ARN])
        .then_output(move || {
            let mut resource = ResourceTag::builder().resource_id(TRAIL_ARN);
            for (key, value) in tags {
                let tag = aws_sdk_cloudtrail::types::Tag::builder()
                    .key(*key)
                    .value(*value)
                    .build()
                    .expect("the key is set");
                resource = resource.tags_list(tag);
            }
            ListTagsOutput::builder()
                .resource_tag_list(resource.build())
                .build()
        })
}

/// CloudTrail `GetTrail` of the sample trail by name: its ARN (what the tag read needs) and
/// these settings (what the executor reads).
fn get_trail(multi_region: bool, global_events: bool) -> Rule {
    mock!(aws_sdk_cloudtrail::Client::get_trail)
        .match_requests(|r| r.name() == Some(TRAIL))
        .then_output(move || {
            GetTrailOutput::builder()
                .trail(
                    Trail::builder()
                        .name(TRAIL)
                        .trail_arn(TRAIL_ARN)
                        .is_multi_region_trail(multi_region)
                        .include_global_service_events(global_events)
                        .log_file_validation_enabled(true)
                        .build(),
                )
                .build()
        })
}

/// CloudWatch Logs `ListTagsLogGroup` for `group`, answering with `tags`.
// The SDK deprecates ListTagsLogGroup (see `reflex_harden::tags::log_group`).
#[allow(deprecated)]
fn log_group_tags(group: &'static str, tags: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(aws_sdk_cloudwatchlogs::Client::list_tags_log_group)
        .match_requests(move |r| r.log_group_name() == Some(group))
        .then_output(move || {
            aws_sdk_cloudwatchlogs::operation::list_tags_log_group::ListTagsLogGroupOutput::builder(
            )
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ))
            .build()
        })
}

/// DescribeLogGroups for the sample's group: it already keeps events 90 days (so only the KMS
/// action has anything to do), and carries `key` when given.
fn payments_group(key: Option<&'static str>) -> Rule {
    mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .match_requests(|r| r.log_group_name_prefix() == Some(GROUP))
        .then_output(move || {
            DescribeLogGroupsOutput::builder()
                .log_groups(
                    LogGroup::builder()
                        .log_group_name(GROUP)
                        .retention_in_days(90)
                        .set_kms_key_id(key.map(String::from))
                        .build(),
                )
                .build()
        })
}

fn outcomes(report: &Report) -> Vec<&Outcome> {
    report.actions().map(|a| &a.outcome).collect()
}

fn with_key() -> Settings {
    Settings {
        kms_keys: vec![LogKey::parse(KEY).expect("a key ARN")],
        ..Settings::default()
    }
}

/// Run `create-log-group-without-kms-key.json` with a key configured against these Logs rules
/// (the group's tags are answered: none). Returns the report and the tag rule.
async fn create_log_group(logs_rules: &[&Rule]) -> (Report, Rule) {
    let (users, roles) = untagged_iam();
    let tags = log_group_tags(GROUP, &[]);
    let logs_rules: Vec<&Rule> = logs_rules.iter().copied().chain([&tags]).collect();
    let report = run(
        "create-log-group-without-kms-key.json",
        with_key(),
        &[],
        &logs_rules,
        &[&users, &roles],
    )
    .await;
    (report, tags)
}

#[tokio::test]
async fn a_log_group_without_a_key_is_associated_with_the_configured_key() {
    let group = payments_group(None);
    let associate = mock!(aws_sdk_cloudwatchlogs::Client::associate_kms_key)
        .match_requests(|r| r.log_group_name() == Some(GROUP) && r.kms_key_id() == Some(KEY))
        .then_output(|| AssociateKmsKeyOutput::builder().build());

    let (report, tags) = create_log_group(&[&group, &associate]).await;

    let outcomes = outcomes(&report);
    assert_eq!(outcomes.len(), 2, "{report:#?}");
    assert!(
        matches!(outcomes[0], Outcome::AlreadyDone { detail } if detail.contains("90 days")),
        "the retention was already there: {:?}",
        outcomes[0]
    );
    match outcomes[1] {
        Outcome::Done {
            detail,
            prior_state,
            undo,
        } => {
            assert!(detail.contains(KEY), "{detail}");
            assert_eq!(prior_state.as_ref(), Some(&json!({ "kms_key_id": null })));
            assert_eq!(
                undo.as_deref(),
                Some(
                    "aws --region us-east-1 logs disassociate-kms-key --log-group-name /app/payments"
                )
            );
        }
        other => panic!("the key should have been associated: {other:?}"),
    }
    assert_eq!(report.findings[1].rule_id, "harden.log-encryption");
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(associate.num_calls(), 1);
    // Both actions touch the same group: its tags are read once.
    assert_eq!(tags.num_calls(), 1);
}

#[tokio::test]
async fn a_log_group_that_already_has_a_key_is_left_alone() {
    for key in [KEY, OTHER_KEY] {
        let group = payments_group(Some(key));
        let associate = mock!(aws_sdk_cloudwatchlogs::Client::associate_kms_key)
            .then_output(|| AssociateKmsKeyOutput::builder().build());

        let (report, _) = create_log_group(&[&group, &associate]).await;

        let outcomes = outcomes(&report);
        match outcomes[1] {
            Outcome::AlreadyDone { detail } => assert!(detail.contains(key), "{detail}"),
            other => panic!("{key}: the group's key should stand: {other:?}"),
        }
        assert_eq!(report.status, Status::Remediated);
        assert_eq!(
            associate.num_calls(),
            0,
            "{key}: AssociateKmsKey was called"
        );
    }
}

#[tokio::test]
async fn access_denied_on_associate_kms_key_is_reported_as_failed() {
    let group = payments_group(None);
    let associate = mock!(aws_sdk_cloudwatchlogs::Client::associate_kms_key)
        .sequence()
        .http_status(
            400,
            Some(json_error(
                "AccessDeniedException",
                "User: arn:aws:sts::123456789012:assumed-role/reflex-harden/reflex-harden is not \
                 authorized to perform: logs:AssociateKmsKey",
            )),
        )
        .build();

    let (report, _) = create_log_group(&[&group, &associate]).await;

    let outcomes = outcomes(&report);
    match outcomes[1] {
        Outcome::Failed {
            why, error_code, ..
        } => {
            assert_eq!(error_code.as_deref(), Some("AccessDeniedException"));
            assert!(why.contains("logs:AssociateKmsKey"), "{why}");
            assert!(why.contains("not authorized"), "{why}");
        }
        other => panic!("associating the key should have failed: {other:?}"),
    }
    // The retention held (already done), the key did not: partly failed, and it says so.
    assert_eq!(report.status, Status::PartiallyFailed);
    assert!(report.text().contains("FAILED"), "{}", report.text());
    // AccessDenied is not retried.
    assert_eq!(associate.num_calls(), 1);
}

#[tokio::test]
async fn a_log_group_deleted_before_reflex_acts_needs_nothing() {
    let group = payments_group(None);
    let associate = mock!(aws_sdk_cloudwatchlogs::Client::associate_kms_key)
        .sequence()
        .http_status(
            400,
            Some(json_error(
                "ResourceNotFoundException",
                "The specified log group does not exist.",
            )),
        )
        .build();

    let (report, _) = create_log_group(&[&group, &associate]).await;

    assert!(
        matches!(outcomes(&report)[1], Outcome::AlreadyDone { detail } if detail.contains("no longer exists")),
        "{report:#?}"
    );
    assert_eq!(report.status, Status::Remediated);
}

#[tokio::test]
async fn multi_region_comes_back_with_the_global_service_events_it_needs() {
    let get = get_trail(false, false);
    let update = mock!(aws_sdk_cloudtrail::Client::update_trail)
        .match_requests(|r| {
            r.name() == Some(TRAIL)
                && r.is_multi_region_trail() == Some(true)
                && r.include_global_service_events() == Some(true)
                && r.enable_log_file_validation().is_none()
        })
        .then_output(|| UpdateTrailOutput::builder().build());
    let tags = trail_tags(&[]);
    let (users, roles) = untagged_iam();

    let report = run(
        "update-trail-disables-multi-region.json",
        Settings::default(),
        &[&get, &update, &tags],
        &[],
        &[&users, &roles],
    )
    .await;

    match outcomes(&report)[0] {
        Outcome::Done {
            prior_state, undo, ..
        } => {
            assert_eq!(
                prior_state.as_ref(),
                Some(&json!({
                    "is_multi_region_trail": false,
                    "include_global_service_events": false
                }))
            );
            assert_eq!(
                undo.as_deref(),
                Some(
                    "aws --region us-east-1 cloudtrail update-trail --name main --no-is-multi-region-trail \
                     --no-include-global-service-events"
                )
            );
        }
        other => panic!("the trail should be multi-region again: {other:?}"),
    }
    assert_eq!(update.num_calls(), 1);
    // mallory's tags were read: exemption by tag works for harden's callers too.
    assert_eq!(users.num_calls(), 1);
    // The trail's tags were read through its ARN (GetTrail, then ListTags), and the executor
    // read its settings (GetTrail again).
    assert_eq!(tags.num_calls(), 1);
    assert_eq!(get.num_calls(), 2);
}

#[tokio::test]
async fn access_denied_on_start_logging_is_reported_as_failed() {
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(false).build());
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging)
        .sequence()
        .http_status(
            400,
            Some(json_error(
                "AccessDeniedException",
                "User is not authorized to perform: cloudtrail:StartLogging",
            )),
        )
        .build();
    let tags = trail_tags(&[]);
    let (users, roles) = untagged_iam();

    let report = run(
        "stop-logging.json",
        Settings::default(),
        &[&status, &start, &tags],
        &[],
        &[&users, &roles],
    )
    .await;

    match outcomes(&report)[0] {
        Outcome::Failed {
            why, error_code, ..
        } => {
            assert_eq!(error_code.as_deref(), Some("AccessDeniedException"));
            assert!(why.contains("cloudtrail:StartLogging"), "{why}");
        }
        other => panic!("starting the trail should have failed: {other:?}"),
    }
    assert_eq!(report.status, Status::Failed);
    assert_eq!(start.num_calls(), 1);
    // The event names the trail by ARN: its tags are read with no GetTrail first.
    assert_eq!(tags.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .sequence()
        .http_status(
            400,
            Some(json_error("ThrottlingException", "Rate exceeded")),
        )
        .output(|| GetTrailStatusOutput::builder().is_logging(true).build())
        .build();
    let tags = trail_tags(&[]);
    let (users, roles) = untagged_iam();

    let report = run(
        "stop-logging.json",
        Settings::default(),
        &[&status, &tags],
        &[],
        &[&users, &roles],
    )
    .await;

    // Someone started it again first: after the retried read, nothing is left to do.
    assert!(
        matches!(outcomes(&report)[0], Outcome::AlreadyDone { .. }),
        "{report:#?}"
    );
    assert_eq!(status.num_calls(), 2);
}

#[tokio::test]
async fn a_trail_carrying_the_exemption_tag_is_left_alone_and_reported() {
    let tags = trail_tags(&[EXEMPT, ("team", "security")]);
    let (users, roles) = untagged_iam();

    // No rule answers GetTrailStatus or StartLogging: touching the trail would fail the test.
    let report = run(
        "stop-logging.json",
        Settings::default(),
        &[&tags],
        &[],
        &[&users, &roles],
    )
    .await;

    match outcomes(&report)[..] {
        [Outcome::Exempt { why }] => {
            assert!(why.contains(&format!("trail {TRAIL_ARN}")), "{why}");
            assert!(why.contains("reflex:exempt=true"), "{why}");
        }
        ref other => panic!("the trail is exempt: {other:?}"),
    }
    assert_eq!(report.status, Status::Exempt);
    assert!(report.is_notifiable(), "an exemption is never silent");
    assert_eq!(tags.num_calls(), 1);
}

#[tokio::test]
async fn a_log_group_carrying_the_exemption_tag_is_left_alone_and_reported() {
    let tags = log_group_tags(ORDERS, &[EXEMPT]);
    let (users, roles) = untagged_iam();

    // No rule answers DescribeLogGroups or PutRetentionPolicy.
    let report = run(
        "delete-retention-policy.json",
        Settings::default(),
        &[],
        &[&tags],
        &[&users, &roles],
    )
    .await;

    match outcomes(&report)[..] {
        [Outcome::Exempt { why }] => {
            assert!(why.contains(&format!("log group {ORDERS}")), "{why}")
        }
        ref other => panic!("the log group is exempt: {other:?}"),
    }
    assert_eq!(report.status, Status::Exempt);
    assert_eq!(tags.num_calls(), 1);
}

#[tokio::test]
async fn a_trail_that_is_gone_has_no_tags_and_its_repair_fails_for_a_person() {
    // GetTrail answers TrailNotFoundException every time: for the tag read and the executor.
    let get = mock!(aws_sdk_cloudtrail::Client::get_trail)
        .match_requests(|r| r.name() == Some(TRAIL))
        .sequence()
        .http_status(
            400,
            Some(json_error("TrailNotFoundException", "Unknown trail: main")),
        )
        .times(2)
        .build();
    let (users, roles) = untagged_iam();

    let report = run(
        "update-trail-disables-multi-region.json",
        Settings::default(),
        &[&get],
        &[],
        &[&users, &roles],
    )
    .await;

    match outcomes(&report)[0] {
        Outcome::Failed {
            why, error_code, ..
        } => {
            assert_eq!(error_code.as_deref(), Some("TrailNotFoundException"));
            assert!(why.contains("a person must recreate the trail"), "{why}");
        }
        other => panic!("a trail that is gone cannot be repaired: {other:?}"),
    }
    // No tags is not a failure to read them: nothing to note.
    assert!(
        report
            .notes
            .iter()
            .all(|n| !n.contains("could not read the tags")),
        "{:?}",
        report.notes
    );
    assert_eq!(get.num_calls(), 2);
}

#[tokio::test]
async fn tags_that_cannot_be_read_are_noted_and_the_trail_is_repaired() {
    let denied = mock!(aws_sdk_cloudtrail::Client::list_tags)
        .sequence()
        .http_status(
            400,
            Some(json_error(
                "AccessDeniedException",
                "User is not authorized to perform: cloudtrail:ListTags",
            )),
        )
        .build();
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(false).build());
    let start = mock!(aws_sdk_cloudtrail::Client::start_logging)
        .match_requests(|r| r.name() == Some(TRAIL_ARN))
        .then_output(|| StartLoggingOutput::builder().build());
    let (users, roles) = untagged_iam();

    let report = run(
        "stop-logging.json",
        Settings::default(),
        &[&denied, &status, &start],
        &[],
        &[&users, &roles],
    )
    .await;

    // Fail toward remediation: an unreadable tag is not an exemption, and the report says so.
    assert!(
        matches!(outcomes(&report)[0], Outcome::Done { .. }),
        "{report:#?}"
    );
    assert_eq!(start.num_calls(), 1);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains(&format!("could not read the tags of trail {TRAIL_ARN}"))),
        "{:?}",
        report.notes
    );
    assert_eq!(status.num_calls(), 1);
}

#[tokio::test]
async fn events_of_other_services_are_refused_before_any_call() {
    let err = handler(
        Settings::default(),
        mocked!(aws_sdk_cloudtrail, &[]),
        mocked!(aws_sdk_cloudwatchlogs, &[]),
        mocked!(aws_sdk_iam, &[]),
    )
    .handle(reflex_testkit::sample("revoke/attach-admin-to-user.json"))
    .await
    .expect_err("harden does not take IAM calls");
    assert_eq!(err.error_type(), "Permanent.BadEvent.UnsupportedEvent");
}

/// With keys configured but none of the group's region and account, the verdict "left
/// unencrypted" is a `harden.log-encryption` finding of its own, with no action, that reaches a
/// person whatever becomes of the retention: already set, or its rule turned off.
#[tokio::test]
async fn with_no_key_of_its_region_the_unencrypted_verdict_reaches_a_person_on_its_own() {
    let eu_only = || Settings {
        kms_keys: vec![
            LogKey::parse("arn:aws:kms:eu-west-1:123456789012:key/5678abcd-12ab-34cd")
                .expect("a key ARN"),
        ],
        ..Settings::default()
    };
    for retention_mode in [Mode::Enforce, Mode::Off] {
        let (users, roles) = untagged_iam();
        let tags = log_group_tags(GROUP, &[]);
        // The group keeps its events 90 days already.
        let group = payments_group(None);
        let mut handler = handler(
            eu_only(),
            mocked!(aws_sdk_cloudtrail, &[]),
            mocked!(aws_sdk_cloudwatchlogs, &[&group, &tags]),
            mocked!(aws_sdk_iam, &[&users, &roles]),
        );
        handler
            .guards
            .rule_modes
            .insert("harden.log-retention".into(), retention_mode);
        let report = handler
            .handle(event("create-log-group-without-kms-key.json"))
            .await
            .expect("the event is handled");

        assert_eq!(report.status, Status::NeedsAttention, "{report:#?}");
        assert!(report.is_notifiable(), "{retention_mode:?}");
        let verdict = report
            .findings
            .iter()
            .find(|f| f.rule_id == "harden.log-encryption")
            .unwrap_or_else(|| panic!("{retention_mode:?}: no verdict: {report:#?}"));
        assert!(verdict.actions.is_empty(), "{verdict:#?}");
        assert!(
            verdict.reason.ends_with("it is left unencrypted"),
            "{}",
            verdict.reason
        );
        assert!(
            !report.findings[0].reason.contains("unencrypted"),
            "not in the retention's reason any more: {}",
            report.findings[0].reason
        );
    }
}
