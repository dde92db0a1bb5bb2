//! End to end against the emulator: make a bucket, a snapshot or an image public in moto with the
//! call the sample event records, run the real privatize handler on the event, then read the
//! end state, the ledger and the SNS report back.

use reflex_privatize::Privatize;
use reflex_shared::guard::{EventSkip, Mode};
use reflex_shared::report::{ActionReport, Report, Status};
use reflex_shared::{Outcome, Severity};
use reflex_tests::exposure::{self, BUCKET, BucketState};
use reflex_tests::{Account, Emulator, deliver_five_at_once, sample};
use serde_json::{Value, json};

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const PARTNER: &str = "210987654321";

async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    (emulator, acct)
}

/// The sample's call replayed in the emulator: the event, pointed at what the emulator made.
async fn replayed(acct: &Account, file: &str) -> Value {
    exposure::replay(acct, sample(&format!("privatize/{file}"))).await
}

async fn handle(acct: &Account, mode: &str, event: Value) -> Report {
    acct.handler::<Privatize>(mode, &[])
        .await
        .handle(event)
        .await
        .expect("handled")
}

async fn run(acct: &Account, file: &str) -> Report {
    let event = replayed(acct, file).await;
    handle(acct, "enforce", event).await
}

fn only_outcome(report: &Report) -> &Outcome {
    let actions: Vec<_> = report.actions().collect();
    assert_eq!(actions.len(), 1, "{report:#?}");
    &actions[0].outcome
}

async fn bucket(acct: &Account) -> BucketState {
    exposure::bucket_state(acct, BUCKET).await
}

/// The single-quoted JSON argument after `flag` in an undo command.
fn json_argument(undo: &str, flag: &str) -> Value {
    let start = undo.find(&format!("{flag} '")).expect(flag) + flag.len() + 2;
    let end = undo[start..].find('\'').expect("closing quote") + start;
    serde_json::from_str(&undo[start..end]).expect("JSON")
}

/// The steps recorded in the ledger's claims, with their outcomes.
async fn ledger_steps(acct: &Account) -> Vec<ActionReport> {
    acct.claims()
        .await
        .iter()
        .flat_map(|claim| {
            serde_json::from_str::<Vec<ActionReport>>(claim["steps"].as_str().unwrap_or("[]"))
                .expect("the recorded steps")
        })
        .collect()
}

#[tokio::test]
async fn a_public_bucket_policy_loses_its_public_statement_and_the_prior_policy_is_recorded() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "put-bucket-policy-public.json").await;
    let public = bucket(&acct).await.policy.expect("the replay put a policy");
    assert_eq!(public["Statement"].as_array().unwrap().len(), 2);

    let report = handle(&acct, "enforce", event).await;

    assert_eq!(report.status, Status::Remediated);
    assert_eq!(report.findings[0].rule_id, "privatize.public-bucket-policy");
    assert_eq!(report.findings[0].severity, Severity::High);
    // The partner's statement is kept; the public one is gone.
    let now = bucket(&acct).await.policy.expect("a policy is left");
    let sids: Vec<&str> = now["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert_eq!(sids, ["PartnerList"]);
    let done = only_outcome(&report);
    assert_eq!(done.status(), "done");
    assert_eq!(done.prior_state().unwrap()["policy"], public);
    let undo = done.undo().unwrap();
    assert!(
        undo.starts_with(
            "aws --region us-east-1 s3api put-bucket-policy --bucket acme-reports --policy '"
        ),
        "{undo}"
    );
    assert_eq!(json_argument(undo, "--policy"), public);

    // The ledger keeps the prior policy, for undo after the report is gone.
    let steps = ledger_steps(&acct).await;
    assert_eq!(steps.len(), 1, "{steps:#?}");
    assert_eq!(steps[0].outcome.prior_state().unwrap()["policy"], public);
    assert_eq!(acct.finished_steps_once().await, 1);

    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0]
            .subject
            .contains("Remediated: s3:PutBucketPolicy by mallory in 123456789012"),
        "{}",
        delivered[0].subject
    );

    // The undo, carried out, puts the very policy back.
    exposure::s3(&acct)
        .put_bucket_policy()
        .bucket(BUCKET)
        .policy(json_argument(undo, "--policy").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(bucket(&acct).await.policy, Some(public));
}

#[tokio::test]
async fn a_policy_whose_every_statement_is_public_is_deleted() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "put-bucket-policy-aws-star.json").await;
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(bucket(&acct).await.policy, None);
    let done = only_outcome(&report);
    assert!(
        done.explanation()
            .unwrap()
            .contains("its policy was deleted"),
        "{done:?}"
    );
    assert_eq!(
        done.prior_state().unwrap()["policy"]["Statement"][0]["Sid"],
        "AnyAccount"
    );
}

#[tokio::test]
async fn a_policy_narrowed_to_an_endpoint_or_naming_an_account_is_left_alone_and_nobody_is_paged() {
    for file in [
        "put-bucket-policy-restricted-to-vpc-endpoint.json",
        "put-bucket-policy-cross-account.json",
    ] {
        let (_emu, acct) = account().await;
        let event = replayed(&acct, file).await;
        let before = bucket(&acct).await;
        assert!(before.policy.is_some());
        let report = handle(&acct, "enforce", event).await;
        assert_eq!(report.status, Status::NothingToDo, "{file}");
        assert_eq!(bucket(&acct).await, before, "{file}");
        assert!(acct.reports().await.is_empty(), "{file}");
    }
}

#[tokio::test]
async fn a_public_canned_acl_loses_its_public_grant_and_the_owner_keeps_full_control() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "put-bucket-acl-public-read.json").await;
    assert_eq!(
        bucket(&acct).await.group_grants,
        [format!("READ {ALL_USERS}")]
    );
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(report.findings[0].rule_id, "privatize.public-bucket-acl");
    assert_eq!(bucket(&acct).await.group_grants, Vec::<String>::new());
    let acl = exposure::s3(&acct)
        .get_bucket_acl()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(
        acl.grants()[0].permission().map(|p| p.as_str()),
        Some("FULL_CONTROL")
    );
    let done = only_outcome(&report);
    let prior = &done.prior_state().unwrap()["acl"];
    assert_eq!(prior["Grants"].as_array().unwrap().len(), 2, "{prior}");
    let undo = done.undo().unwrap();
    assert!(
        undo.starts_with(
            "aws --region us-east-1 s3api put-bucket-acl --bucket acme-reports --access-control-policy '"
        ),
        "{undo}"
    );
    assert_eq!(&json_argument(undo, "--access-control-policy"), prior);
}

#[tokio::test]
async fn a_grant_to_all_users_in_the_body_is_removed() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "put-bucket-acl-grant-all-users.json").await;
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(bucket(&acct).await.group_grants, Vec::<String>::new());
    assert!(
        only_outcome(&report)
            .explanation()
            .unwrap()
            .contains("READ to everyone (AllUsers)"),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_private_acl_is_nothing_to_do() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "put-bucket-acl-private.json").await;
    assert_eq!(report.status, Status::NothingToDo);
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_public_access_block_turned_off_is_turned_back_on_and_its_settings_recorded() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "put-public-access-block-off.json").await;
    assert_eq!(bucket(&acct).await.block, Some([false, true, false, true]));
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(
        report.findings[0].rule_id,
        "privatize.public-access-block-removed"
    );
    assert_eq!(bucket(&acct).await.block, Some([true; 4]));
    let done = only_outcome(&report);
    let prior = json!({
        "BlockPublicAcls": false,
        "IgnorePublicAcls": true,
        "BlockPublicPolicy": false,
        "RestrictPublicBuckets": true,
    });
    assert_eq!(done.prior_state().unwrap()["public_access_block"], prior);
    assert_eq!(
        json_argument(done.undo().unwrap(), "--public-access-block-configuration"),
        prior
    );
}

#[tokio::test]
async fn a_deleted_public_access_block_is_put_back_and_its_undo_deletes_it() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "delete-public-access-block.json").await;
    assert_eq!(bucket(&acct).await.block, None);
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(bucket(&acct).await.block, Some([true; 4]));
    let done = only_outcome(&report);
    assert_eq!(
        done.prior_state().unwrap()["public_access_block"],
        Value::Null
    );
    assert_eq!(
        done.undo(),
        Some("aws --region us-east-1 s3api delete-public-access-block --bucket acme-reports")
    );
}

#[tokio::test]
async fn a_public_access_block_with_every_setting_on_is_nothing_to_do() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "put-public-access-block-all-on.json").await;
    assert_eq!(report.status, Status::NothingToDo);
    assert_eq!(bucket(&acct).await.block, Some([true; 4]));
}

#[tokio::test]
async fn a_snapshot_shared_with_everyone_is_private_again_and_named_accounts_keep_their_share() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "modify-snapshot-attribute-public.json").await;
    let id = event["detail"]["requestParameters"]["snapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    // A partner's share from before, which is not public.
    exposure::share_snapshot(&acct, &id, vec![], vec![PARTNER.into()]).await;
    assert_eq!(
        exposure::snapshot_sharing(&acct, &id).await,
        ["group:all", &format!("user:{PARTNER}")]
    );
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(report.findings[0].rule_id, "privatize.public-snapshot");
    assert_eq!(
        exposure::snapshot_sharing(&acct, &id).await,
        [format!("user:{PARTNER}")]
    );
    let done = only_outcome(&report);
    assert_eq!(
        done.prior_state().unwrap()["create_volume_permissions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        done.undo().map(String::from),
        Some(format!(
            "aws --region us-east-1 ec2 modify-snapshot-attribute --snapshot-id {id} \
             --attribute createVolumePermission --operation-type add --group-names all"
        ))
    );
    assert_eq!(ledger_steps(&acct).await.len(), 1);
}

#[tokio::test]
async fn an_image_shared_with_everyone_is_private_again() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "modify-image-attribute-public.json").await;
    let id = event["detail"]["requestParameters"]["imageId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(exposure::image_sharing(&acct, &id).await, ["group:all"]);
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(report.status, Status::Remediated);
    assert_eq!(report.findings[0].rule_id, "privatize.public-image");
    assert_eq!(
        exposure::image_sharing(&acct, &id).await,
        Vec::<String>::new()
    );
    let done = only_outcome(&report);
    assert_eq!(
        done.prior_state().unwrap()["launch_permissions"][0]["Group"],
        "all"
    );
    assert!(
        done.undo().unwrap().contains(&format!(
            "modify-image-attribute --image-id {id} --launch-permission"
        )),
        "{done:?}"
    );
}

#[tokio::test]
async fn sharing_with_a_named_account_is_ignored_and_left_as_it_is() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "modify-snapshot-attribute-share-with-account.json").await;
    let id = event["detail"]["requestParameters"]["snapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(report.status, Status::NothingToDo);
    assert!(report.findings.is_empty());
    assert_eq!(
        exposure::snapshot_sharing(&acct, &id).await,
        [format!("user:{PARTNER}")]
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_second_delivery_is_already_handled_and_without_a_ledger_already_done() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "put-bucket-policy-public.json").await;
    let handler = acct.handler::<Privatize>("enforce", &[]).await;
    assert_eq!(
        handler.handle(event.clone()).await.unwrap().status,
        Status::Remediated
    );
    let after = bucket(&acct).await;
    assert_eq!(
        handler.handle(event.clone()).await.unwrap().status,
        Status::AlreadyHandled
    );
    assert_eq!(
        deliver_five_at_once(&handler, &event).await,
        vec![Ok(Status::AlreadyHandled); 5]
    );
    // Without a ledger the executor still reads before it writes: nothing public is left.
    let no_ledger = acct
        .handler::<Privatize>("enforce", &[("REFLEX_LEDGER_TABLE", "")])
        .await;
    for file in [
        "put-bucket-policy-public.json",
        "put-public-access-block-off.json",
        "put-bucket-acl-public-read.json",
    ] {
        let event = replayed(&acct, file).await;
        let report = no_ledger.handle(event.clone()).await.unwrap();
        assert_eq!(only_outcome(&report).status(), "done", "{file}");
        let fixed = bucket(&acct).await;
        let report = no_ledger.handle(event).await.unwrap();
        assert_eq!(only_outcome(&report).status(), "already-done", "{file}");
        assert_eq!(
            bucket(&acct).await,
            fixed,
            "{file}: the second delivery changed it"
        );
    }
    let end = bucket(&acct).await;
    assert_eq!(end.policy, after.policy);
    assert_eq!(end.block, Some([true; 4]));
    assert!(
        end.group_grants.iter().all(|g| !g.contains("AllUsers")),
        "{end:?}"
    );

    let event = replayed(&acct, "modify-snapshot-attribute-public.json").await;
    let id = event["detail"]["requestParameters"]["snapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    for expected in ["done", "already-done"] {
        let report = no_ledger.handle(event.clone()).await.unwrap();
        assert_eq!(only_outcome(&report).status(), expected);
        assert!(
            !exposure::snapshot_sharing(&acct, &id)
                .await
                .contains(&"group:all".to_string())
        );
    }
}

/// Every sample with an action, in dry-run: nothing changes and the report says what would be
/// done.
#[tokio::test]
async fn dry_run_changes_nothing_and_reports_the_plan() {
    let emulator = Emulator::start();
    for file in [
        "put-bucket-policy-public.json",
        "put-bucket-policy-aws-star.json",
        "put-bucket-acl-public-read.json",
        "put-bucket-acl-grant-all-users.json",
        "put-public-access-block-off.json",
        "delete-public-access-block.json",
        "modify-snapshot-attribute-public.json",
        "modify-image-attribute-public.json",
    ] {
        emulator.reset();
        let acct = Account::new(&emulator).await;
        let event = replayed(&acct, file).await;
        let snapshot = event["detail"]["requestParameters"]["snapshotId"].as_str();
        let image = event["detail"]["requestParameters"]["imageId"].as_str();
        let state = || exposure::state_text(&acct, snapshot, image);
        let before = state().await;
        let report = handle(&acct, "dry-run", event.clone()).await;
        assert_eq!(report.status, Status::DryRun, "{file}");
        assert_eq!(only_outcome(&report), &Outcome::WouldDo, "{file}");
        assert_eq!(report.findings[0].mode, Mode::DryRun, "{file}");
        assert_eq!(state().await, before, "{file}: dry-run changed the account");
        let delivered = acct.reports().await;
        assert_eq!(delivered.len(), 1, "{file}");
        assert!(
            delivered[0].subject.contains("Dry-run (would remediate)"),
            "{file}: {}",
            delivered[0].subject
        );
    }
}

#[tokio::test]
async fn a_bucket_exempt_by_tag_is_left_public_and_the_exemption_reported() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "put-bucket-policy-public.json").await;
    exposure::tag_bucket(&acct, BUCKET, "reflex:exempt", "true").await;
    let before = bucket(&acct).await;
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(report.status, Status::Exempt);
    assert!(matches!(only_outcome(&report), Outcome::Exempt { .. }));
    assert_eq!(
        bucket(&acct).await,
        before,
        "the exempt bucket is untouched"
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "an exemption is never silent");
    assert_eq!(delivered[0].report.status, Status::Exempt);
    // The same key with a value that does not exempt: the bucket is made private.
    exposure::tag_bucket(&acct, BUCKET, "reflex:exempt", "false").await;
    let event = replayed(&acct, "put-bucket-policy-public.json").await;
    let report = acct
        .handler::<Privatize>("enforce", &[("REFLEX_LEDGER_TABLE", "")])
        .await
        .handle(event)
        .await
        .expect("handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_ne!(bucket(&acct).await, before);
}

#[tokio::test]
async fn a_snapshot_exempt_by_tag_stays_shared() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "modify-snapshot-attribute-public.json").await;
    let id = event["detail"]["requestParameters"]["snapshotId"]
        .as_str()
        .unwrap()
        .to_string();
    exposure::ec2(&acct)
        .create_tags()
        .resources(&id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("reflex:exempt")
                .value("true")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(report.status, Status::Exempt);
    assert_eq!(exposure::snapshot_sharing(&acct, &id).await, ["group:all"]);
}

#[tokio::test]
async fn loop_guard_leaves_reflex_own_policy_alone_and_a_failed_call_is_not_remediated() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "put-bucket-policy-by-reflex.json").await;
    let before = bucket(&acct).await;
    assert!(before.policy.is_some());
    let report = handle(&acct, "enforce", event).await;
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("loop-guard")
    );
    assert_eq!(bucket(&acct).await, before, "left as it is");

    let report = run(&acct, "put-bucket-policy-access-denied.json").await;
    assert_eq!(
        report.skipped,
        Some(EventSkip::FailedCall {
            error_code: "AccessDenied".into()
        })
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_bucket_deleted_or_fixed_before_privatize_acts_is_already_done() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "put-bucket-policy-public.json").await;
    // Someone removed the policy first.
    exposure::s3(&acct)
        .delete_bucket_policy()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let report = handle(&acct, "enforce", event.clone()).await;
    let outcome = only_outcome(&report);
    assert_eq!(outcome.status(), "already-done");
    assert_eq!(report.status, Status::Remediated);
    // Then the bucket itself.
    exposure::s3(&acct)
        .delete_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let no_ledger = acct
        .handler::<Privatize>("enforce", &[("REFLEX_LEDGER_TABLE", "")])
        .await;
    let report = no_ledger.handle(event).await.unwrap();
    match only_outcome(&report) {
        Outcome::AlreadyDone { detail } => {
            assert!(detail.contains("no longer exists"), "{detail}")
        }
        other => panic!("a bucket that is gone exposes nothing: {other:?}"),
    }
}

/// An event from a member account: privatize acts there through its own member role
/// (`infra/member.yaml`'s, created as onboarding creates it), on that account's bucket, with
/// the S3 client of the member's session.
#[tokio::test]
async fn a_public_bucket_in_a_member_account_is_made_private_through_privatizes_member_role() {
    use reflex_tests::member;
    use reflex_tests::proxy::FaultProxy;
    let emulator = Emulator::start();
    let home = Account::new(&emulator).await;
    let member = member::admin(&home, "us-east-1").await;
    member::create_remediation_roles(&member).await;
    let event = member::in_member(
        sample("privatize/put-bucket-policy-public.json"),
        "us-east-1",
    );
    let event = exposure::replay(&member, event).await;
    assert!(
        exposure::bucket_state(&member, BUCKET)
            .await
            .policy
            .is_some()
    );

    let proxy = FaultProxy::start(&emulator.endpoint);
    let handler = home
        .handler_via::<Privatize>(
            &proxy,
            "enforce",
            &[(
                "REFLEX_MEMBER_ROLE_ARN",
                &member::member_role_arn("privatize"),
            )],
        )
        .await;
    let report = handler.handle(event).await.expect("handled");
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    let assumed = proxy.requests("sts:AssumeRole");
    assert!(
        !assumed.is_empty()
            && assumed.iter().all(|r| r.param("RoleArn").as_deref()
                == Some("arn:aws:iam::222222222222:role/reflex/reflex-remediation-privatize")),
        "privatize's own member role: {assumed:?}"
    );
    assert_eq!(proxy.requests("s3:PutBucketPolicy").len(), 1);
    let now = exposure::bucket_state(&member, BUCKET)
        .await
        .policy
        .expect("the partner's statement is kept");
    assert_eq!(now["Statement"][0]["Sid"], "PartnerList");
    assert_eq!(now["Statement"].as_array().map(Vec::len), Some(1));
}

// ---- the exemption tag, self-granted ----
//
// The playbook: a caller who may tag a bucket (or a snapshot, an image) writes the exemption tag
// on it, then makes it public. Each test replays the calls in order and checks that the tag is
// gone, a HIGH report names who tried, and the exposure that follows is made private.

const EXEMPT_KEY: &str = "reflex:exempt";

/// The one finding of a report that refused an exemption tag, its one step done.
fn refused_tag(report: &Report) -> &Outcome {
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(report.findings.len(), 1, "{report:#?}");
    assert_eq!(report.findings[0].rule_id, "privatize.exemption-tag");
    assert_eq!(report.findings[0].severity, Severity::High);
    let done = only_outcome(report);
    assert_eq!(done.status(), "done", "{report:#?}");
    done
}

#[tokio::test]
async fn a_bucket_tagged_exempt_by_a_caller_not_exempt_loses_the_tag_and_is_then_made_private() {
    let (_emu, acct) = account().await;
    // Step 1: mallory tags the bucket exempt (with a tag of the team's beside it).
    let report = run(&acct, "exemption-tag-on-bucket.json").await;
    let done = refused_tag(&report);
    assert!(
        report.findings[0].reason.contains("mallory")
            && report.findings[0]
                .reason
                .contains("reflex:exempt=true on bucket acme-reports"),
        "{}",
        report.findings[0].reason
    );
    let tags = exposure::bucket_tags(&acct, BUCKET).await;
    assert_eq!(
        tags,
        [("team".to_string(), "reports".to_string())].into(),
        "that key only: the other tag of the same call stays"
    );
    let prior = json!({ "reflex:exempt": "true", "team": "reports" });
    assert_eq!(done.prior_state().unwrap()["tags"], prior);
    let undo = done.undo().unwrap();
    assert!(
        undo.starts_with(
            "aws --region us-east-1 s3api put-bucket-tagging --bucket acme-reports --tagging '"
        ),
        "{undo}"
    );
    assert_eq!(
        json_argument(undo, "--tagging"),
        json!({ "TagSet": [{ "Key": "reflex:exempt", "Value": "true" },
            { "Key": "team", "Value": "reports" }] })
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "a person is told");
    assert!(
        delivered[0]
            .subject
            .contains("s3:PutBucketTagging by mallory"),
        "{}",
        delivered[0].subject
    );

    // Step 2: mallory makes it public; the bucket no longer carries the tag, so it is private
    // again.
    let report = run(&acct, "put-bucket-policy-public.json").await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(report.findings[0].rule_id, "privatize.public-bucket-policy");
    let policy = bucket(&acct).await.policy.expect("the partner's statement");
    assert_eq!(policy["Statement"].as_array().unwrap().len(), 1);

    // The undo of step 1, carried out, puts the very tag set back.
    let tagging = json_argument(undo, "--tagging");
    let mut set = aws_sdk_s3::types::Tagging::builder();
    for t in tagging["TagSet"].as_array().unwrap() {
        set = set.tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key(t["Key"].as_str().unwrap())
                .value(t["Value"].as_str().unwrap())
                .build()
                .unwrap(),
        );
    }
    exposure::s3(&acct)
        .put_bucket_tagging()
        .bucket(BUCKET)
        .tagging(set.build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(exposure::bucket_tags(&acct, BUCKET).await).unwrap(),
        prior
    );
}

#[tokio::test]
async fn the_exemption_tag_alone_goes_with_the_tag_set_and_a_redelivery_is_already_done() {
    let (_emu, acct) = account().await;
    // One tag alone, recorded as an object, its value in capitals (it exempts all the same).
    let mut event = sample("privatize/exemption-tag-on-bucket.json");
    event["detail"]["requestParameters"]["Tagging"]["TagSet"]["Tag"] =
        json!({ "Key": EXEMPT_KEY, "Value": "TRUE" });
    let event = exposure::replay(&acct, event).await;
    let report = handle(&acct, "enforce", event.clone()).await;
    let done = refused_tag(&report);
    assert!(
        done.explanation()
            .unwrap()
            .contains("removed the exemption tag reflex:exempt=TRUE from bucket acme-reports"),
        "{done:?}"
    );
    assert!(exposure::bucket_tags(&acct, BUCKET).await.is_empty());
    // Lambda's retry of the same event: the ledger has it.
    let again = handle(&acct, "enforce", event.clone()).await;
    assert_eq!(again.status, Status::AlreadyHandled, "{again:#?}");
    // The same event with another id (a copy), or the tag changed to a value that does not
    // exempt since: already done, nothing changed.
    exposure::tag_bucket(&acct, BUCKET, EXEMPT_KEY, "false").await;
    let mut copy = event;
    copy["id"] = json!("0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d");
    copy["detail"]["eventID"] = json!("0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4e");
    let report = handle(&acct, "enforce", copy).await;
    let outcome = only_outcome(&report);
    assert_eq!(outcome.status(), "already-done", "{report:#?}");
    assert_eq!(
        exposure::bucket_tags(&acct, BUCKET)
            .await
            .get(EXEMPT_KEY)
            .map(String::as_str),
        Some("false")
    );
}

#[tokio::test]
async fn a_snapshot_tagged_exempt_loses_the_tag_and_is_then_unshared() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "exemption-tag-on-snapshot.json").await;
    let id = event["detail"]["requestParameters"]["resourcesSet"]["items"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_string();
    let report = handle(&acct, "enforce", event).await;
    let done = refused_tag(&report);
    assert_eq!(
        done.undo().unwrap(),
        format!(
            "aws --region us-east-1 ec2 create-tags --resources {id} --tags \
             '[{{\"Key\":\"reflex:exempt\",\"Value\":\"true\"}}]'"
        )
    );
    let ec2 = exposure::ec2(&acct);
    let tags = reflex_privatize::tags::snapshot(&ec2, &id).await.unwrap();
    assert!(!tags.contains_key(EXEMPT_KEY), "{tags:?}");
    assert_eq!(
        tags.get("Name").map(String::as_str),
        Some("db-backup"),
        "its other tags stay"
    );

    // Then shared with everyone: no longer exempt, unshared.
    exposure::share_snapshot(&acct, &id, vec!["all".into()], vec![]).await;
    let mut share = sample("privatize/modify-snapshot-attribute-public.json");
    share["detail"]["requestParameters"]["snapshotId"] = json!(id);
    let report = handle(&acct, "enforce", share).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert_eq!(
        exposure::snapshot_sharing(&acct, &id).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn an_image_tagged_exempt_loses_the_tag() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "exemption-tag-on-image.json").await;
    let id = event["detail"]["requestParameters"]["resourcesSet"]["items"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_string();
    let report = handle(&acct, "enforce", event).await;
    refused_tag(&report);
    let ec2 = exposure::ec2(&acct);
    let tags = reflex_privatize::tags::image(&ec2, &id).await.unwrap();
    assert!(!tags.contains_key(EXEMPT_KEY), "{tags:?}");
}

#[tokio::test]
async fn a_caller_carrying_the_tag_itself_cannot_spread_it_to_a_bucket() {
    let (_emu, acct) = account().await;
    // mallory got the tag somehow (before Reflex): it covers her other calls, not the writing of
    // the exemption tag on a bucket.
    acct.iam
        .tag_user()
        .user_name("mallory")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key(EXEMPT_KEY)
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("tag mallory");
    let report = run(&acct, "exemption-tag-on-bucket.json").await;
    refused_tag(&report);
    assert!(
        !exposure::bucket_tags(&acct, BUCKET)
            .await
            .contains_key(EXEMPT_KEY)
    );
}

#[tokio::test]
async fn an_exempt_principal_may_exempt_a_bucket_which_then_stays_public() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "exemption-tag-on-bucket.json").await;
    let exempt = [(
        "REFLEX_EXEMPT_PRINCIPALS",
        "arn:aws:iam::123456789012:user/mallory",
    )];
    let report = acct
        .handler::<Privatize>("enforce", &exempt)
        .await
        .handle(event)
        .await
        .expect("handled");
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("exempt-actor"),
        "{report:#?}"
    );
    assert_eq!(
        exposure::bucket_tags(&acct, BUCKET)
            .await
            .get(EXEMPT_KEY)
            .map(String::as_str),
        Some("true")
    );
    // The exemption holds: a public policy by anyone (not exempt) is left, and reported.
    let report = run(&acct, "put-bucket-policy-public.json").await;
    assert_eq!(report.status, Status::Exempt, "{report:#?}");
    assert_eq!(
        bucket(&acct).await.policy.unwrap()["Statement"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn another_key_or_a_value_that_does_not_exempt_changes_nothing() {
    let (_emu, acct) = account().await;
    for file in [
        "bucket-tagging-other-key.json",
        "exemption-tag-value-not-exempting-on-bucket.json",
    ] {
        let event = replayed(&acct, file).await;
        let before = exposure::bucket_tags(&acct, BUCKET).await;
        let report = handle(&acct, "enforce", event).await;
        assert_eq!(report.status, Status::NothingToDo, "{file}: {report:#?}");
        assert_eq!(exposure::bucket_tags(&acct, BUCKET).await, before, "{file}");
        assert!(acct.reports().await.is_empty(), "{file}: nobody is paged");
    }
}

#[tokio::test]
async fn dry_run_plans_the_removal_and_leaves_the_tag() {
    let (_emu, acct) = account().await;
    let event = replayed(&acct, "exemption-tag-on-bucket.json").await;
    let report = handle(&acct, "dry-run", event).await;
    assert_eq!(report.findings[0].rule_id, "privatize.exemption-tag");
    assert_eq!(only_outcome(&report).status(), "would-do", "{report:#?}");
    assert_eq!(
        exposure::bucket_tags(&acct, BUCKET)
            .await
            .get(EXEMPT_KEY)
            .map(String::as_str),
        Some("true")
    );
}
