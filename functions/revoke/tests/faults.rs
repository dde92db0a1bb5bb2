//! How revoke handles AWS faults: a refused call, an entity that is already gone, throttling.
//!
//! The moto emulator behind the end-to-end tests cannot produce these faults on demand: it
//! does not refuse one chosen call with `AccessDenied` or throttle a call and then let the retry
//! through. So these tests mock the IAM client with the AWS SDK's own `aws-smithy-mocks`.
//! Nothing is sent over the network. The mocks answer the way IAM answers on the wire: an
//! awsQuery `<ErrorResponse>` body with an HTTP status. So the SDK's own error parsing and retry
//! classification run, and the executor sees the same `SdkError` it would see in production.
//!
//! The full pipeline runs (`Handler::handle` on a sample event from `events/revoke/`), and the
//! tests read the returned `Report`.

use aws_sdk_iam::Client;
use aws_sdk_iam::operation::detach_user_policy::{
    DetachUserPolicyError, DetachUserPolicyInput, DetachUserPolicyOutput,
};
use aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput;
use aws_sdk_iam::operation::list_user_tags::ListUserTagsOutput;
use aws_sdk_iam::operation::update_access_key::UpdateAccessKeyOutput;
use aws_sdk_iam::types::{AccessKeyMetadata, StatusType};
use aws_smithy_mocks::{Rule, RuleBuilder, mock};
use reflex_revoke::{Revoke, Settings};
use reflex_shared::Outcome;
use reflex_shared::pipeline::Handler;
use reflex_shared::report::{Report, Status};
use reflex_testkit::MAX_ATTEMPTS;
use serde_json::Value;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
/// The key mallory used in `attach-admin-to-user.json`.
const MALLORY_KEY: &str = "AKIAMALLORYEXAMPLE01";

fn event(name: &str) -> Value {
    reflex_testkit::sample(&format!("revoke/{name}"))
}

/// An IAM client that answers only from `rules` (see `reflex_testkit::mocked!`).
fn mocked_iam(rules: &[&Rule]) -> Client {
    reflex_testkit::mocked!(aws_sdk_iam, rules)
}

fn handler(settings: Settings, iam: Client) -> Handler<Revoke> {
    reflex_testkit::enforcing(Revoke::new(iam), settings)
}

/// An IAM error response as IAM sends it (the awsQuery protocol).
fn iam_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>4b1e9a2c-0000-4000-8000-faultstest01</RequestId>\
         </ErrorResponse>"
    )
}

/// ListUserTags for any user: no tags, so no one is exempt. Answers every time.
fn no_tags() -> Rule {
    mock!(Client::list_user_tags).then_output(|| {
        ListUserTagsOutput::builder()
            .set_tags(Some(Vec::new()))
            .build()
            .expect("tags are set")
    })
}

/// A rule for DetachUserPolicy of AdministratorAccess from alice, still to be given its answers.
fn detach_admin_from_alice()
-> RuleBuilder<DetachUserPolicyInput, DetachUserPolicyOutput, DetachUserPolicyError> {
    mock!(Client::detach_user_policy)
        .match_requests(|r| r.user_name() == Some("alice") && r.policy_arn() == Some(ADMIN))
}

/// The outcomes of every action in the report, in order.
fn outcomes(report: &Report) -> Vec<&Outcome> {
    report.actions().map(|a| &a.outcome).collect()
}

#[tokio::test]
async fn access_denied_is_reported_as_failed_and_other_actions_still_run() {
    let tags = no_tags();
    // One answer only: a second DetachUserPolicy (an SDK retry of AccessDenied) would be counted.
    let detach = detach_admin_from_alice()
        .sequence()
        .http_status(
            403,
            Some(iam_error(
                "AccessDenied",
                "User: arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex is not \
                 authorized to perform: iam:DetachUserPolicy on resource: user alice",
            )),
        )
        .build();
    let list_keys = mock!(Client::list_access_keys)
        .match_requests(|r| r.user_name() == Some("mallory"))
        .then_output(|| {
            ListAccessKeysOutput::builder()
                .access_key_metadata(
                    AccessKeyMetadata::builder()
                        .user_name("mallory")
                        .access_key_id(MALLORY_KEY)
                        .status(StatusType::Active)
                        .build(),
                )
                .is_truncated(false)
                .build()
                .expect("access key metadata is set")
        });
    let deactivate = mock!(Client::update_access_key)
        .match_requests(|r| {
            r.user_name() == Some("mallory")
                && r.access_key_id() == Some(MALLORY_KEY)
                && r.status() == Some(&StatusType::Inactive)
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let iam = mocked_iam(&[&tags, &detach, &list_keys, &deactivate]);
    let settings = Settings {
        contain_actor: true,
        ..Settings::default()
    };

    let report = handler(settings, iam)
        .handle(event("attach-admin-to-user.json"))
        .await
        .expect("the event is handled");

    let outcomes = outcomes(&report);
    assert_eq!(outcomes.len(), 2, "{report:#?}");
    match outcomes[0] {
        Outcome::Failed {
            why, error_code, ..
        } => {
            assert_eq!(error_code.as_deref(), Some("AccessDenied"));
            assert!(why.contains("AccessDenied"), "{why}");
            assert!(why.contains("iam:DetachUserPolicy"), "{why}");
        }
        other => panic!("detaching from alice should have failed: {other:?}"),
    }
    match outcomes[1] {
        Outcome::Done { detail, .. } => assert!(detail.contains(MALLORY_KEY), "{detail}"),
        other => panic!("containing mallory should have run and succeeded: {other:?}"),
    }
    assert_eq!(report.status, Status::PartiallyFailed);
    assert!(report.text().contains("FAILED"), "{}", report.text());
    // The exemption check read the tags of the actor (mallory) and the target (alice).
    assert_eq!(tags.num_calls(), 2);
    // AccessDenied is not retried.
    assert_eq!(detach.num_calls(), 1);
    assert_eq!(deactivate.num_calls(), 1);
}

#[tokio::test]
async fn no_such_entity_on_revoke_means_already_done() {
    let tags = no_tags();
    let detach = detach_admin_from_alice()
        .sequence()
        .http_status(
            404,
            Some(iam_error(
                "NoSuchEntity",
                "Policy arn:aws:iam::aws:policy/AdministratorAccess was not found.",
            )),
        )
        .build();
    let iam = mocked_iam(&[&tags, &detach]);

    let report = handler(Settings::default(), iam)
        .handle(event("attach-admin-to-user.json"))
        .await
        .expect("the event is handled");

    let outcomes = outcomes(&report);
    assert_eq!(outcomes.len(), 1, "{report:#?}");
    assert!(
        matches!(outcomes[0], Outcome::AlreadyDone { .. }),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(detach.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let tags = no_tags();
    let detach = detach_admin_from_alice()
        .sequence()
        .http_status(400, Some(iam_error("Throttling", "Rate exceeded")))
        .output(|| DetachUserPolicyOutput::builder().build())
        .build();
    let iam = mocked_iam(&[&tags, &detach]);

    let report = handler(Settings::default(), iam)
        .handle(event("attach-admin-to-user.json"))
        .await
        .expect("the event is handled");

    let outcomes = outcomes(&report);
    assert_eq!(outcomes.len(), 1, "{report:#?}");
    assert!(
        matches!(outcomes[0], Outcome::Done { .. }),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(report.status, Status::Remediated);
    // Throttled once, then the SDK's retry succeeded: one DetachUserPolicy call, two attempts.
    assert_eq!(detach.num_calls(), 2);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_fails_the_invocation_and_the_retry_finishes() {
    let tags = no_tags();
    // Throttled on every attempt of the first delivery, then IAM recovers.
    let detach = detach_admin_from_alice()
        .sequence()
        .http_status(400, Some(iam_error("Throttling", "Rate exceeded")))
        .times(MAX_ATTEMPTS as usize)
        .output(|| DetachUserPolicyOutput::builder().build())
        .build();
    let iam = mocked_iam(&[&tags, &detach]);
    let handler = handler(Settings::default(), iam);

    // The fault may pass: the invocation fails, so Lambda retries the event, instead of
    // succeeding with the escalation still in place.
    let err = reflex_testkit::fails_for_now(
        &handler,
        &event("attach-admin-to-user.json"),
        "Transient.Interrupted",
    )
    .await;
    let message = err.to_string();
    assert!(message.contains("Throttling"), "{message}");
    assert!(
        message.contains("detach AdministratorAccess from user alice"),
        "{message}"
    );
    assert_eq!(detach.num_calls(), MAX_ATTEMPTS as usize);

    // Lambda's retry: the call goes through now.
    let report = handler
        .handle(event("attach-admin-to-user.json"))
        .await
        .expect("the retry is handled");
    assert_eq!(report.status, Status::Remediated);
    assert!(matches!(outcomes(&report)[0], Outcome::Done { .. }));
    assert_eq!(detach.num_calls(), MAX_ATTEMPTS as usize + 1);
}

#[tokio::test]
async fn a_server_error_that_outlasts_the_retries_is_retried_with_the_event() {
    let tags = no_tags();
    let detach = detach_admin_from_alice()
        .sequence()
        .http_status(503, None)
        .times(MAX_ATTEMPTS as usize)
        .build();
    let iam = mocked_iam(&[&tags, &detach]);
    let err = handler(Settings::default(), iam)
        .handle(event("attach-admin-to-user.json"))
        .await
        .expect_err("a 503 on every attempt fails the invocation");
    assert_eq!(err.error_type(), "Transient.Interrupted");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
}

/// A custom managed policy of a group, whose default version allows everything.
const OPS_ALL: &str = "arn:aws:iam::123456789012:policy/ops-all";

#[tokio::test]
async fn a_group_policy_that_cannot_be_read_for_now_is_retried_not_judged_harmless() {
    use aws_sdk_iam::operation::get_policy::GetPolicyOutput;
    use aws_sdk_iam::operation::get_policy_version::GetPolicyVersionOutput;
    use aws_sdk_iam::operation::list_attached_group_policies::ListAttachedGroupPoliciesOutput;
    use aws_sdk_iam::operation::list_group_policies::ListGroupPoliciesOutput;
    use aws_sdk_iam::operation::list_groups_for_user::ListGroupsForUserOutput;
    use aws_sdk_iam::operation::remove_user_from_group::RemoveUserFromGroupOutput;
    use aws_sdk_iam::types::{AttachedPolicy, Group, Policy, PolicyVersion};

    let tags = no_tags();
    let attached = mock!(Client::list_attached_group_policies)
        .match_requests(|r| r.group_name() == Some("admins"))
        .then_output(|| {
            ListAttachedGroupPoliciesOutput::builder()
                .attached_policies(AttachedPolicy::builder().policy_arn(OPS_ALL).build())
                .is_truncated(false)
                .build()
        });
    // Throttled on every attempt of the first delivery, then IAM answers.
    let get_policy = mock!(Client::get_policy)
        .match_requests(|r| r.policy_arn() == Some(OPS_ALL))
        .sequence()
        .http_status(400, Some(iam_error("Throttling", "Rate exceeded")))
        .times(MAX_ATTEMPTS as usize)
        .output(|| {
            GetPolicyOutput::builder()
                .policy(
                    Policy::builder()
                        .arn(OPS_ALL)
                        .default_version_id("v1")
                        .build(),
                )
                .build()
        })
        .build();
    let version = mock!(Client::get_policy_version).then_output(|| {
        GetPolicyVersionOutput::builder()
            .policy_version(
                PolicyVersion::builder()
                    .version_id("v1")
                    .document(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
                    .build(),
            )
            .build()
    });
    let inline = mock!(Client::list_group_policies).then_output(|| {
        ListGroupPoliciesOutput::builder()
            .set_policy_names(Some(Vec::new()))
            .is_truncated(false)
            .build()
            .expect("names are set")
    });
    let groups = mock!(Client::list_groups_for_user).then_output(|| {
        let admins = Group::builder()
            .path("/")
            .group_name("admins")
            .group_id("AGPAADMINSEXAMPLE001")
            .arn("arn:aws:iam::123456789012:group/admins")
            .create_date(aws_sdk_iam::primitives::DateTime::from_secs(0))
            .build()
            .expect("group fields are set");
        ListGroupsForUserOutput::builder()
            .groups(admins)
            .is_truncated(false)
            .build()
            .expect("groups are set")
    });
    let remove = mock!(Client::remove_user_from_group)
        .match_requests(|r| r.user_name() == Some("mallory") && r.group_name() == Some("admins"))
        .then_output(|| RemoveUserFromGroupOutput::builder().build());
    let iam = mocked_iam(&[
        &tags,
        &attached,
        &get_policy,
        &version,
        &inline,
        &groups,
        &remove,
    ]);
    let handler = handler(Settings::default(), iam);

    // Unread, ops-all would look harmless and mallory would stay an admin: the lookup fails
    // the invocation instead, before anything is decided.
    let err = reflex_testkit::fails_for_now(
        &handler,
        &event("add-user-to-admin-group.json"),
        "Transient.Lookup",
    )
    .await;
    assert!(err.to_string().contains("Throttling"), "{err}");
    assert_eq!(remove.num_calls(), 0);

    // Lambda's retry reads the document, and removes mallory from the group.
    let report = handler
        .handle(event("add-user-to-admin-group.json"))
        .await
        .expect("the retry is handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(
        report.findings[0].reason.contains("ops-all"),
        "{}",
        report.findings[0].reason
    );
    assert_eq!(remove.num_calls(), 1);
}

#[tokio::test]
async fn a_version_that_vanishes_while_restoring_is_not_reported_done() {
    use aws_sdk_iam::operation::list_policy_tags::ListPolicyTagsOutput;
    use aws_sdk_iam::operation::list_policy_versions::ListPolicyVersionsOutput;
    use aws_sdk_iam::types::PolicyVersion;

    const APP_POLICY: &str = "arn:aws:iam::123456789012:policy/app-policy";
    let tags = no_tags();
    let policy_tags = mock!(Client::list_policy_tags).then_output(|| {
        ListPolicyTagsOutput::builder()
            .set_tags(Some(Vec::new()))
            .build()
            .expect("tags are set")
    });
    // v2 (the escalating one) is still the default; v1 is deleted between the listing and
    // the read.
    let versions = mock!(Client::list_policy_versions)
        .match_requests(|r| r.policy_arn() == Some(APP_POLICY))
        .then_output(|| {
            ListPolicyVersionsOutput::builder()
                .versions(
                    PolicyVersion::builder()
                        .version_id("v2")
                        .is_default_version(true)
                        .build(),
                )
                .versions(
                    PolicyVersion::builder()
                        .version_id("v1")
                        .is_default_version(false)
                        .build(),
                )
                .is_truncated(false)
                .build()
        });
    let v1 = mock!(Client::get_policy_version)
        .match_requests(|r| r.version_id() == Some("v1"))
        .sequence()
        .http_status(
            404,
            Some(iam_error(
                "NoSuchEntity",
                "Policy arn:aws:iam::123456789012:policy/app-policy version v1 does not exist.",
            )),
        )
        .build();
    let iam = mocked_iam(&[&tags, &policy_tags, &versions, &v1]);

    let err = handler(Settings::default(), iam)
        .handle(event("create-policy-version-escalating-default.json"))
        .await
        .expect_err("the escalating default is still in place: the event is retried");
    assert_eq!(err.error_type(), "Transient.Interrupted");
    assert!(err.to_string().contains("vanished"), "{err}");
}

#[tokio::test]
async fn a_key_deleted_during_containment_does_not_spare_the_others() {
    const SECOND_KEY: &str = "AKIAMALLORYEXAMPLE02";
    let tags = no_tags();
    let detach =
        detach_admin_from_alice().then_output(|| DetachUserPolicyOutput::builder().build());
    let list_keys = mock!(Client::list_access_keys)
        .match_requests(|r| r.user_name() == Some("mallory"))
        .then_output(|| {
            let key = |id: &str| {
                AccessKeyMetadata::builder()
                    .user_name("mallory")
                    .access_key_id(id)
                    .status(StatusType::Active)
                    .build()
            };
            ListAccessKeysOutput::builder()
                .access_key_metadata(key(MALLORY_KEY))
                .access_key_metadata(key(SECOND_KEY))
                .is_truncated(false)
                .build()
                .expect("access key metadata is set")
        });
    // Mallory deletes her first key between the listing and its deactivation.
    let first = mock!(Client::update_access_key)
        .match_requests(|r| r.access_key_id() == Some(MALLORY_KEY))
        .sequence()
        .http_status(
            404,
            Some(iam_error(
                "NoSuchEntity",
                "The Access Key with id AKIAMALLORYEXAMPLE01 cannot be found.",
            )),
        )
        .build();
    let second = mock!(Client::update_access_key)
        .match_requests(|r| {
            r.access_key_id() == Some(SECOND_KEY) && r.status() == Some(&StatusType::Inactive)
        })
        .then_output(|| UpdateAccessKeyOutput::builder().build());
    let iam = mocked_iam(&[&tags, &detach, &list_keys, &first, &second]);
    let settings = Settings {
        contain_actor: true,
        ..Settings::default()
    };

    let report = handler(settings, iam)
        .handle(event("attach-admin-to-user.json"))
        .await
        .expect("the event is handled");

    assert_eq!(second.num_calls(), 1, "the second key is deactivated too");
    match outcomes(&report)[1] {
        Outcome::Done { detail, undo, .. } => {
            assert!(detail.contains(SECOND_KEY), "{detail}");
            // Only the key that was deactivated can be made active again.
            let undo = undo.as_deref().unwrap();
            assert!(
                undo.contains(SECOND_KEY) && !undo.contains(MALLORY_KEY),
                "{undo}"
            );
        }
        other => panic!("containing mallory should have succeeded: {other:?}"),
    }
    assert_eq!(report.status, Status::Remediated);
}

// ---- revoke.exemption-tag: removing the tag mallory wrote on herself ----

/// ListUserTags of mallory: she carries `reflex:exempt` = `value`. Answers every time.
fn mallory_tagged(value: &'static str) -> Rule {
    mock!(Client::list_user_tags)
        .match_requests(|r| r.user_name() == Some("mallory"))
        .then_output(move || mallory_tags(value))
}

fn mallory_tags(value: &str) -> ListUserTagsOutput {
    ListUserTagsOutput::builder()
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("reflex:exempt")
                .value(value)
                .build()
                .expect("key and value are set"),
        )
        .build()
        .expect("tags are set")
}

fn untag_mallory() -> RuleBuilder<
    aws_sdk_iam::operation::untag_user::UntagUserInput,
    aws_sdk_iam::operation::untag_user::UntagUserOutput,
    aws_sdk_iam::operation::untag_user::UntagUserError,
> {
    mock!(Client::untag_user).match_requests(|r| {
        r.user_name() == Some("mallory") && r.tag_keys() == ["reflex:exempt".to_string()]
    })
}

#[tokio::test]
async fn access_denied_on_untag_user_is_reported_as_failed() {
    let tags = mallory_tagged("true");
    let untag = untag_mallory()
        .sequence()
        .http_status(
            403,
            Some(iam_error(
                "AccessDenied",
                "User: arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex is not \
                 authorized to perform: iam:UntagUser on resource: user mallory",
            )),
        )
        .build();
    let report = handler(Settings::default(), mocked_iam(&[&tags, &untag]))
        .handle(event("tag-user-exempt-self.json"))
        .await
        .expect("a final failure is reported, not retried");

    match outcomes(&report)[..] {
        [
            Outcome::Failed {
                why,
                error_code,
                retryable: false,
            },
        ] => {
            assert_eq!(error_code.as_deref(), Some("AccessDenied"));
            assert!(why.contains("iam:UntagUser"), "{why}");
        }
        ref other => panic!("removing the tag should have failed: {other:?}"),
    }
    assert_eq!(report.status, Status::Failed);
    let text = report.text();
    assert!(
        text.contains("FAILED") && text.contains("AccessDenied"),
        "{text}"
    );
    assert_eq!(untag.num_calls(), 1, "AccessDenied is not retried");
}

#[tokio::test]
async fn a_throttled_read_of_the_tags_fails_for_now_and_the_retry_removes_the_tag() {
    // The pipeline's exemption check reads them first; then the step's own read is throttled on
    // every attempt, and IAM recovers for Lambda's retry.
    let tags = mock!(Client::list_user_tags)
        .match_requests(|r| r.user_name() == Some("mallory"))
        .sequence()
        .output(|| mallory_tags("true"))
        .http_status(400, Some(iam_error("Throttling", "Rate exceeded")))
        .times(MAX_ATTEMPTS as usize)
        .output(|| mallory_tags("true"))
        .times(2)
        .build();
    let untag = untag_mallory()
        .then_output(|| aws_sdk_iam::operation::untag_user::UntagUserOutput::builder().build());
    let handler = handler(Settings::default(), mocked_iam(&[&tags, &untag]));

    let err = reflex_testkit::fails_for_now(
        &handler,
        &event("tag-user-exempt-self.json"),
        "Transient.Interrupted",
    )
    .await;
    assert!(err.to_string().contains("iam:ListUserTags"), "{err}");
    assert!(err.to_string().contains("Throttling"), "{err}");
    assert_eq!(untag.num_calls(), 0, "not removed blind");

    let report = handler
        .handle(event("tag-user-exempt-self.json"))
        .await
        .expect("the retry is handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(untag.num_calls(), 1);
}

#[tokio::test]
async fn a_user_gone_before_or_during_the_removal_means_already_done() {
    let no_such_user = || {
        Some(iam_error(
            "NoSuchEntity",
            "The user with name mallory cannot be found.",
        ))
    };
    // Gone before: her tags cannot be listed (by the exemption check, nor by the step).
    let tags = mock!(Client::list_user_tags)
        .sequence()
        .http_status(404, no_such_user())
        .times(2)
        .build();
    let report = handler(Settings::default(), mocked_iam(&[&tags]))
        .handle(event("tag-user-exempt-self.json"))
        .await
        .expect("handled");
    assert!(
        matches!(outcomes(&report)[..], [Outcome::AlreadyDone { .. }]),
        "{report:#?}"
    );
    assert_eq!(tags.num_calls(), 2);

    // Gone between the listing and the removal.
    let tags = mallory_tagged("true");
    let untag = untag_mallory()
        .sequence()
        .http_status(404, no_such_user())
        .build();
    let report = handler(Settings::default(), mocked_iam(&[&tags, &untag]))
        .handle(event("tag-user-exempt-self.json"))
        .await
        .expect("handled");
    match outcomes(&report)[..] {
        [Outcome::AlreadyDone { detail }] => assert!(
            detail.contains("user mallory no longer carries the exemption tag reflex:exempt"),
            "{detail}"
        ),
        ref other => panic!("{other:?}"),
    }
    assert_eq!(untag.num_calls(), 1);
}

#[tokio::test]
async fn a_tag_set_since_to_a_value_that_does_not_exempt_is_left_alone() {
    let tags = mallory_tagged("false");
    let report = handler(Settings::default(), mocked_iam(&[&tags]))
        .handle(event("tag-user-exempt-self.json"))
        .await
        .expect("handled");
    assert!(
        matches!(outcomes(&report)[..], [Outcome::AlreadyDone { .. }]),
        "no UntagUser (no rule answers one): {report:#?}"
    );
}

#[tokio::test]
async fn a_value_differing_only_in_case_still_exempts_and_is_removed_and_restorable() {
    use aws_sdk_iam::operation::list_role_tags::ListRoleTagsOutput;
    use aws_sdk_iam::operation::untag_role::UntagRoleOutput;

    // The event wrote `TRUE`; the role now carries `True`: the same exemption.
    let tags = mock!(Client::list_role_tags)
        .match_requests(|r| r.role_name() == Some("app-role"))
        .then_output(|| {
            ListRoleTagsOutput::builder()
                .tags(
                    aws_sdk_iam::types::Tag::builder()
                        .key("reflex:exempt")
                        .value("True")
                        .build()
                        .expect("key and value are set"),
                )
                .build()
                .expect("tags are set")
        });
    let untag = mock!(Client::untag_role)
        .match_requests(|r| {
            r.role_name() == Some("app-role") && r.tag_keys() == ["reflex:exempt".to_string()]
        })
        .then_output(|| UntagRoleOutput::builder().build());
    let report = handler(Settings::default(), mocked_iam(&[&tags, &untag]))
        .handle(event("tag-role-exempt.json"))
        .await
        .expect("handled");

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(untag.num_calls(), 1);
    let outcome = outcomes(&report)[0];
    assert_eq!(
        outcome.prior_state(),
        Some(&serde_json::json!({ "tags": { "reflex:exempt": "True" } }))
    );
    // The undo puts back the tag as it was, not as the event wrote it.
    let undo = outcome.undo().expect("an undo command");
    assert!(
        undo.starts_with("aws ")
            && undo.ends_with(
                r#" iam tag-role --role-name app-role --tags '[{"Key":"reflex:exempt","Value":"True"}]'"#
            ),
        "{undo}"
    );
}

#[tokio::test]
async fn a_tag_call_without_its_tags_is_a_bad_event_and_calls_nothing() {
    let mut raw = event("tag-user-exempt-self.json");
    raw["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("tags");
    // No rule: any IAM call would fail the test.
    let err = handler(Settings::default(), mocked_iam(&[]))
        .handle(raw)
        .await
        .expect_err("a malformed record is refused");
    assert_eq!(err.error_type(), "Permanent.BadEvent.MissingField");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("requestParameters.tags"), "{err}");
}

/// A role IAM protects (IAM Identity Center's, a service-linked role) is known by IAM refusing
/// the change, never by its name or path: the refusal is reported as final, for a person, and the
/// invocation succeeds (a retry would be refused the same way).
#[tokio::test]
async fn a_trust_iam_refuses_to_change_is_reported_for_a_person() {
    use aws_sdk_iam::operation::get_role::GetRoleOutput;
    use aws_sdk_iam::operation::list_role_tags::ListRoleTagsOutput;
    use aws_sdk_iam::types::Role;

    let open = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    let tags = no_tags();
    let role_tags = mock!(Client::list_role_tags).then_output(|| {
        ListRoleTagsOutput::builder()
            .set_tags(Some(Vec::new()))
            .build()
            .expect("tags are set")
    });
    let get_role = mock!(Client::get_role).then_output(move || {
        GetRoleOutput::builder()
            .role(
                Role::builder()
                    .role_name("app-role")
                    .path("/aws-reserved/sso.amazonaws.com/")
                    .role_id("AROAEXAMPLEPROTECTED1")
                    .arn("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/app-role")
                    .create_date(aws_sdk_iam::primitives::DateTime::from_secs(0))
                    .assume_role_policy_document(open)
                    .build()
                    .expect("a role"),
            )
            .build()
    });
    let refused = mock!(Client::update_assume_role_policy)
        .sequence()
        .http_status(
            400,
            Some(iam_error(
                "UnmodifiableEntity",
                "Cannot perform the operation on the protected role 'app-role'",
            )),
        )
        .build();
    let iam = mocked_iam(&[&tags, &role_tags, &get_role, &refused]);
    let report = handler(Settings::default(), iam)
        .handle(event("update-assume-role-policy-to-everyone.json"))
        .await
        .expect("handled: a refusal for good is reported, not retried");
    match outcomes(&report)[..] {
        [
            Outcome::Failed {
                why,
                error_code,
                retryable,
            },
        ] => {
            assert_eq!(error_code.as_deref(), Some("UnmodifiableEntity"));
            assert!(!retryable);
            assert!(why.contains("a person must review its trust"), "{why}");
        }
        ref other => panic!("{other:?}"),
    }
    assert_eq!(report.status, Status::Failed);
}
