//! End to end against the emulator: seed IAM, replay the attacker's call, run the real revoke
//! handler on the sample event, then read the end state and the SNS report back.

use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_shared::Outcome;
use reflex_shared::guard::{EventSkip, Mode};
use reflex_shared::report::{ActionReport, Report, Status};
use reflex_tests::account::{ADMIN, APP_POLICY, READ_ONLY, REFLEX_SESSION};
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

/// A fresh emulator with the sample account seeded.
async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    account.seed().await;
    (emulator, account)
}

/// Replay the sample event's call, then hand the event to revoke in `mode`.
async fn run(account: &Account, file: &str, mode: &str, extra: &[(&str, &str)]) -> Report {
    let event = account.replay(sample(file)).await;
    let handler = account.handler::<Revoke>(mode, extra).await;
    handler.handle(event).await.expect("handled")
}

fn user(n: &str) -> Identity {
    Identity::User(n.into())
}

fn outcome(report: &Report, finding: usize, action: usize) -> &Outcome {
    &report.findings[finding].actions[action].outcome
}

#[tokio::test]
async fn privileged_policy_attached_to_a_user_is_detached_and_reported() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "revoke/attach-admin-to-user.json", "enforce", &[]).await;

    assert!(
        !acct
            .attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    assert_eq!(report.status, Status::Remediated);

    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "one report per event");
    let d = &delivered[0];
    assert_eq!(
        d.subject,
        "[Reflex HIGH] Remediated: iam:AttachUserPolicy by mallory in 123456789012"
    );
    assert_eq!(
        d.report.event.actor,
        "arn:aws:iam::123456789012:user/mallory"
    );
    assert_eq!(
        d.report.findings[0].rule_id,
        "revoke.privileged-policy-attached"
    );
    let outcome = outcome(&d.report, 0, 0);
    assert_eq!(outcome.status(), "done");
    assert_eq!(
        outcome.undo(),
        Some(
            "aws --region us-east-1 iam attach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/AdministratorAccess"
        )
    );
    assert_eq!(d.attributes["reflex_severity"]["Value"], "HIGH");
}

#[tokio::test]
async fn privileged_policy_on_a_role_and_a_group_is_detached() {
    let (_emu, acct) = account().await;
    let full = "arn:aws:iam::aws:policy/IAMFullAccess".to_string();
    run(
        &acct,
        "revoke/attach-iam-full-access-to-role.json",
        "enforce",
        &[],
    )
    .await;
    assert!(
        !acct
            .attached_policies(&Identity::Role("app-role".into()))
            .await
            .contains(&full)
    );
    run(&acct, "revoke/attach-admin-to-group.json", "enforce", &[]).await;
    assert!(
        !acct
            .attached_policies(&Identity::Group("developers".into()))
            .await
            .contains(&ADMIN.to_string())
    );
    // A standard queue does not keep order: look the reports up by subject.
    let mut subjects: Vec<String> = acct
        .reports()
        .await
        .into_iter()
        .map(|d| d.subject)
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "[Reflex HIGH] Remediated: iam:AttachGroupPolicy by mallory in 123456789012",
            "[Reflex HIGH] Remediated: iam:AttachRolePolicy by ci-deployer/build-4711 in 123456789012",
        ]
    );
}

#[tokio::test]
async fn a_harmless_managed_policy_stays_attached_and_nobody_is_paged() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "revoke/attach-readonly-to-user.json", "enforce", &[]).await;
    assert_eq!(report.status, Status::NothingToDo);
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&READ_ONLY.to_string())
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn escalating_inline_policies_are_deleted_with_their_document_kept_for_undo() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/put-user-policy-allow-all.json",
        "enforce",
        &[],
    )
    .await;
    assert!(acct.inline_policies(&user("alice")).await.is_empty());
    let done = outcome(&report, 0, 0);
    assert_eq!(done.status(), "done");
    let kept: Value = serde_json::from_str(
        done.prior_state().unwrap()["policy_document"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(kept["Statement"][0]["Action"], "*");
    assert!(done.undo().unwrap().starts_with(
        "aws --region us-east-1 iam put-user-policy --user-name alice --policy-name debug-access"
    ));

    run(
        &acct,
        "revoke/put-role-policy-passrole.json",
        "enforce",
        &[],
    )
    .await;
    assert!(
        acct.inline_policies(&Identity::Role("app-role".into()))
            .await
            .is_empty()
    );
    run(
        &acct,
        "revoke/put-group-policy-iam-star.json",
        "enforce",
        &[],
    )
    .await;
    assert!(
        acct.inline_policies(&Identity::Group("developers".into()))
            .await
            .is_empty()
    );
    let subjects: Vec<String> = acct
        .reports()
        .await
        .into_iter()
        .map(|d| d.subject)
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
}

#[tokio::test]
async fn a_harmless_inline_policy_is_kept() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "revoke/put-user-policy-s3-read.json", "enforce", &[]).await;
    assert_eq!(report.status, Status::NothingToDo);
    assert_eq!(
        acct.inline_policies(&user("alice")).await,
        vec!["reports-read".to_string()]
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn an_escalating_default_version_is_rolled_back_to_the_previous_one() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/create-policy-version-escalating-default.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(acct.default_version(APP_POLICY).await, "v1");
    let done = outcome(&report, 0, 0);
    assert_eq!(done.prior_state().unwrap()["default_version"], "v2");
    assert!(done.undo().unwrap().contains("set-default-policy-version"));
    assert_eq!(acct.reports().await.len(), 1);
}

#[tokio::test]
async fn set_default_policy_version_to_an_escalating_version_is_rolled_back() {
    let (_emu, acct) = account().await;
    // The rule reads v2's document from IAM: it is not in the event.
    run(
        &acct,
        "revoke/set-default-policy-version-escalating.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(acct.default_version(APP_POLICY).await, "v1");
}

#[tokio::test]
async fn a_new_version_that_is_not_the_default_is_left_alone() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/create-policy-version-not-default.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(report.status, Status::NothingToDo);
    assert_eq!(acct.policy_versions(APP_POLICY).await.len(), 2);
    assert_eq!(acct.default_version(APP_POLICY).await, "v1");
}

#[tokio::test]
async fn an_access_key_created_for_another_user_is_deactivated() {
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/create-access-key-for-another-user.json"))
        .await;
    let key = event["detail"]["responseElements"]["accessKey"]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        acct.access_key_status("alice", &key).await.as_deref(),
        Some("Active")
    );
    acct.handler::<Revoke>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(
        acct.access_key_status("alice", &key).await.as_deref(),
        Some("Inactive")
    );
    let d = acct.reports().await;
    assert!(
        outcome(&d[0].report, 0, 0)
            .undo()
            .unwrap()
            .contains(&format!("--access-key-id {key} --status Active"))
    );
}

#[tokio::test]
async fn an_access_key_created_for_yourself_stays_active() {
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/create-access-key-for-self.json"))
        .await;
    let key = event["detail"]["responseElements"]["accessKey"]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let report = acct
        .handler::<Revoke>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(report.status, Status::NothingToDo);
    assert_eq!(
        acct.access_key_status("mallory", &key).await.as_deref(),
        Some("Active")
    );
}

#[tokio::test]
async fn a_login_profile_created_for_another_user_is_deleted_but_your_own_is_kept() {
    let (_emu, acct) = account().await;
    run(
        &acct,
        "revoke/create-login-profile-for-another-user.json",
        "enforce",
        &[],
    )
    .await;
    assert!(!acct.has_login_profile("alice").await);
    run(
        &acct,
        "revoke/create-login-profile-for-self.json",
        "enforce",
        &[],
    )
    .await;
    assert!(acct.has_login_profile("mallory").await);
    assert_eq!(acct.reports().await.len(), 1);
}

#[tokio::test]
async fn a_user_added_to_a_privileged_group_is_removed() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "revoke/add-user-to-admin-group.json", "enforce", &[]).await;
    assert!(
        !acct
            .groups_of("mallory")
            .await
            .contains(&"admins".to_string())
    );
    assert!(
        report.findings[0]
            .reason
            .contains("holds AdministratorAccess")
    );
}

#[tokio::test]
async fn a_user_added_to_a_harmless_group_stays() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/add-user-to-readers-group.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(report.status, Status::NothingToDo);
    assert_eq!(acct.groups_of("mallory").await, vec!["readers".to_string()]);
}

#[tokio::test]
async fn containment_deactivates_the_escalating_users_keys_and_revokes_a_roles_sessions() {
    let (_emu, acct) = account().await;
    let contain = [("REFLEX_CONTAIN_ACTOR", "true")];
    assert_eq!(acct.active_access_keys("mallory").await, 1);
    let report = run(
        &acct,
        "revoke/attach-admin-to-user.json",
        "enforce",
        &contain,
    )
    .await;
    assert_eq!(report.findings[1].rule_id, "revoke.contain-actor");
    assert_eq!(acct.active_access_keys("mallory").await, 0);

    run(
        &acct,
        "revoke/put-role-policy-passrole.json",
        "enforce",
        &contain,
    )
    .await;
    let ci = acct
        .inline_policies(&Identity::Role("ci-deployer".into()))
        .await;
    assert_eq!(ci, vec!["reflex-revoke-older-sessions".to_string()]);
    // The policy denies everything to sessions issued before the escalating call (the second
    // after it: CloudTrail's times are to the second).
    assert_eq!(
        acct.session_cutoff("ci-deployer").await,
        "2026-11-20T10:23:08Z"
    );
}

/// The containment policy's name proves nothing: the caller (or an earlier incident) may have
/// left a policy of that name on the role, and it must not stop the containment.
#[tokio::test]
async fn a_policy_already_named_like_the_containment_does_not_stop_it() {
    let (_emu, acct) = account().await;
    let planted = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    acct.iam
        .put_role_policy()
        .role_name("ci-deployer")
        .policy_name("reflex-revoke-older-sessions")
        .policy_document(planted)
        .send()
        .await
        .unwrap();
    let report = run(
        &acct,
        "revoke/put-role-policy-passrole.json",
        "enforce",
        &[("REFLEX_CONTAIN_ACTOR", "true")],
    )
    .await;
    let contained = outcome(&report, 1, 0);
    assert_eq!(contained.status(), "done", "{contained:?}");
    // What was there is kept for a person to see.
    let kept = contained.prior_state().unwrap()["inline_policy"]
        .as_str()
        .expect("the planted document");
    assert_eq!(
        reflex_revoke::policy::parse_document_str(kept).unwrap()["Statement"][0]["Action"],
        "s3:GetObject"
    );
    // Replaced by the whole containment: every action on every resource denied to the
    // sessions issued before the escalating call.
    assert_eq!(
        acct.session_cutoff("ci-deployer").await,
        "2026-11-20T10:23:08Z"
    );
}

#[tokio::test]
async fn containment_is_off_by_default() {
    let (_emu, acct) = account().await;
    let report = run(&acct, "revoke/attach-admin-to-user.json", "enforce", &[]).await;
    assert_eq!(report.findings.len(), 1);
    assert_eq!(acct.active_access_keys("mallory").await, 1);
}

#[tokio::test]
async fn loop_guard_leaves_reflex_own_calls_alone() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/attach-admin-to-user-by-reflex.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(report.status, Status::Skipped);
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("loop-guard")
    );
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn loop_guard_learns_reflex_identity_from_sts_when_not_configured() {
    let emulator = Emulator::start();
    let acct = Account::new(&emulator).await;
    acct.seed().await;
    // Run as the reflex-revoke role, as in Lambda: STS tells the handler who it is.
    let sts = aws_sdk_sts::Client::new(&acct.sdk);
    let creds = sts
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/reflex-revoke")
        .role_session_name("reflex-revoke")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let as_reflex = acct
        .sdk
        .to_builder()
        .credentials_provider(aws_sdk_iam::config::SharedCredentialsProvider::new(
            aws_sdk_iam::config::Credentials::new(
                creds.access_key_id,
                creds.secret_access_key,
                Some(creds.session_token),
                None,
                "assumed",
            ),
        ))
        .build();
    let env = acct.env("enforce", &[]);
    let without_self_arn = move |k: &str| if k == "REFLEX_SELF_ARN" { None } else { env(k) };
    let handler =
        reflex_shared::pipeline::handler_from_env::<Revoke>(&without_self_arn, &as_reflex)
            .await
            .unwrap();
    assert_eq!(
        handler.guards.self_identity,
        Some(reflex_shared::identity::SelfIdentity::from_arn(
            REFLEX_SESSION
        ))
    );
    let event = acct
        .replay(sample("revoke/attach-admin-to-user-by-reflex.json"))
        .await;
    let report = handler.handle(event).await.unwrap();
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("loop-guard")
    );
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
}

#[tokio::test]
async fn a_failed_call_is_not_remediated() {
    let (_emu, acct) = account().await;
    // Give alice the policy some other, legitimate way: the failed call must not touch it.
    acct.iam
        .attach_user_policy()
        .user_name("alice")
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
    let report = run(
        &acct,
        "revoke/attach-admin-to-user-access-denied.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("failed-call")
    );
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn an_exempt_principal_is_left_alone() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/attach-admin-to-user-by-break-glass.json",
        "enforce",
        &[],
    )
    .await;
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("exempt-actor")
    );
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
}

#[tokio::test]
async fn an_exemption_tag_on_the_target_user_holds_the_action_back_and_says_so() {
    let (_emu, acct) = account().await;
    acct.tag_user("alice", "reflex:exempt", "true").await;
    let report = run(&acct, "revoke/attach-admin-to-user.json", "enforce", &[]).await;
    assert_eq!(report.status, Status::Exempt);
    match outcome(&report, 0, 0) {
        Outcome::Exempt { why } => assert_eq!(
            why,
            "user alice carries the exemption tag reflex:exempt=true"
        ),
        other => panic!("the detach must be held back as exempt: {other:?}"),
    }
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    // An exemption is never silent: the report goes out, and says which tag held it back.
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].subject.contains("Exempt"),
        "{}",
        delivered[0].subject
    );
    assert_eq!(delivered[0].attributes["reflex_status"]["Value"], "exempt");
    // With the finding's own severity (what an attach of AdministratorAccess deserves) and a
    // status of its own: visible in the audit stream, and filterable by status from email.
    assert_eq!(delivered[0].attributes["reflex_severity"]["Value"], "HIGH");
    assert_eq!(delivered[0].report.status, Status::Exempt);
    assert_eq!(
        delivered[0].subject,
        "[Reflex HIGH] Exempt, not acted on: iam:AttachUserPolicy by mallory in 123456789012"
    );
}

#[tokio::test]
async fn an_exemption_tag_on_the_actor_holds_back_every_step_and_is_reported() {
    let (_emu, acct) = account().await;
    // Tagged by someone: a self-granted tag not yet removed looks the same.
    acct.tag_user("mallory", "reflex:exempt", "true").await;
    let report = run(&acct, "revoke/attach-admin-to-user.json", "enforce", &[]).await;
    assert_eq!(report.skipped, None);
    assert_eq!(report.status, Status::Exempt);
    let steps: Vec<&Outcome> = report.actions().map(|a| &a.outcome).collect();
    assert!(!steps.is_empty());
    for outcome in steps {
        assert!(
            matches!(outcome, Outcome::Exempt { why } if why.contains("mallory") && why.contains("reflex:exempt=true")),
            "{outcome:?}"
        );
    }
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    let delivered = acct.reports().await;
    assert_eq!(delivered.len(), 1, "an exemption is never silent");
    assert_eq!(delivered[0].report.status, Status::Exempt);
}

/// Every positive sample, in dry-run: nothing changes and the report says what would be done.
#[tokio::test]
async fn dry_run_changes_nothing_and_reports_the_plan() {
    let emulator = Emulator::start();
    let positives = [
        "revoke/attach-admin-to-user.json",
        "revoke/attach-iam-full-access-to-role.json",
        "revoke/attach-admin-to-group.json",
        "revoke/put-user-policy-allow-all.json",
        "revoke/put-role-policy-passrole.json",
        "revoke/put-group-policy-iam-star.json",
        "revoke/create-policy-version-escalating-default.json",
        "revoke/set-default-policy-version-escalating.json",
        "revoke/create-access-key-for-another-user.json",
        "revoke/create-login-profile-for-another-user.json",
        "revoke/add-user-to-admin-group.json",
    ];
    for file in positives {
        emulator.reset();
        let acct = Account::new(&emulator).await;
        acct.seed().await;
        let event = acct.replay(sample(file)).await;
        let before = snapshot(&acct).await;
        let report = acct
            .handler::<Revoke>("dry-run", &[])
            .await
            .handle(event)
            .await
            .unwrap();
        assert_eq!(report.status, Status::DryRun, "{file}");
        assert_eq!(outcome(&report, 0, 0).status(), "would-do", "{file}");
        assert_eq!(
            snapshot(&acct).await,
            before,
            "{file}: dry-run changed the account"
        );
        let delivered = acct.reports().await;
        assert_eq!(delivered.len(), 1, "{file}");
        assert!(
            delivered[0].subject.contains("Dry-run (would remediate)"),
            "{file}: {}",
            delivered[0].subject
        );
        assert_eq!(delivered[0].report.findings[0].mode, Mode::DryRun);
    }
}

/// Everything revoke could change, as text, to compare before and after.
async fn snapshot(acct: &Account) -> String {
    let mut out = String::new();
    for id in [
        user("alice"),
        user("mallory"),
        Identity::Group("developers".into()),
        Identity::Group("admins".into()),
        Identity::Role("app-role".into()),
    ] {
        out += &format!(
            "{id}: {:?} {:?}\n",
            acct.attached_policies(&id).await,
            acct.inline_policies(&id).await
        );
    }
    for u in ["alice", "mallory"] {
        let keys = acct
            .iam
            .list_access_keys()
            .user_name(u)
            .send()
            .await
            .unwrap()
            .access_key_metadata;
        let keys: Vec<String> = keys.iter().map(|k| format!("{:?}", k.status)).collect();
        out += &format!(
            "{u}: keys {keys:?} login {} groups {:?}\n",
            acct.has_login_profile(u).await,
            acct.groups_of(u).await
        );
    }
    out += &format!("app-policy: {:?}\n", acct.policy_versions(APP_POLICY).await);
    out
}

#[tokio::test]
async fn mode_off_for_a_rule_leaves_it_alone() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/attach-admin-to-user.json",
        "enforce",
        &[("REFLEX_RULE_MODES", "revoke.privileged-policy-attached=off")],
    )
    .await;
    assert_eq!(report.status, Status::NoAction);
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn the_same_event_twice_leaves_the_same_end_state_and_reports_already_done() {
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/add-user-to-admin-group.json"))
        .await;
    // Without the ledger: the executor itself must make the second run harmless.
    let handler = acct
        .handler::<Revoke>("enforce", &[("REFLEX_LEDGER_TABLE", "")])
        .await;
    let first = handler.handle(event.clone()).await.unwrap();
    let second = handler.handle(event).await.unwrap();
    assert_eq!(outcome(&first, 0, 0).status(), "done");
    assert_eq!(outcome(&second, 0, 0).status(), "already-done");
    assert_eq!(second.status, Status::Remediated);
    assert!(
        !acct
            .groups_of("mallory")
            .await
            .contains(&"admins".to_string())
    );
}

#[tokio::test]
async fn blast_radius_runs_at_most_n_actions_and_reports_the_rest() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/attach-admin-to-user.json",
        "enforce",
        &[
            ("REFLEX_CONTAIN_ACTOR", "true"),
            ("REFLEX_MAX_ACTIONS", "1"),
        ],
    )
    .await;
    assert_eq!(outcome(&report, 0, 0).status(), "done");
    let skipped = outcome(&report, 1, 0);
    assert_eq!(skipped.status(), "skipped");
    assert!(skipped.explanation().unwrap().contains("blast radius"));
    assert_eq!(
        acct.active_access_keys("mallory").await,
        1,
        "the capped action did not run"
    );
    let delivered = acct.reports().await;
    assert!(
        delivered[0]
            .report
            .to_json()
            .to_string()
            .contains("blast radius")
    );
}

#[tokio::test]
async fn bad_events_are_refused_clearly_with_nothing_changed() {
    let (_emu, acct) = account().await;
    acct.iam
        .attach_user_policy()
        .user_name("alice")
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
    let handler = acct.handler::<Revoke>("enforce", &[]).await;
    let cases = [
        (
            "invalid/missing-event-name.json",
            "Permanent.BadEvent.MissingField",
            "detail.eventName",
        ),
        (
            "invalid/attach-policy-without-policy-arn.json",
            "Permanent.BadEvent.MissingField",
            "policyArn",
        ),
        (
            "invalid/alarm-state-change-for-revoke.json",
            "Permanent.BadEvent.UnsupportedEvent",
            "CloudWatch Alarm State Change",
        ),
    ];
    for (file, error_type, mentions) in cases {
        let err = handler.handle(sample(file)).await.unwrap_err();
        assert_eq!(err.error_type(), error_type, "{file}");
        assert!(err.to_string().contains(mentions), "{file}: {err}");
    }
    let text = reflex_testkit::sample_text("invalid/not-json.txt");
    let err = reflex_shared::event::parse_str(&text).unwrap_err();
    assert_eq!(err.error_type(), "MalformedJson");
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    assert!(acct.reports().await.is_empty());
}

#[tokio::test]
async fn a_redelivered_event_is_reported_as_already_handled_from_the_ledger() {
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    let handler = acct.handler::<Revoke>("enforce", &[]).await;
    let first = handler.handle(event.clone()).await.unwrap();
    // Someone attaches it again by hand: a redelivery of the old event must not touch it.
    acct.iam
        .attach_user_policy()
        .user_name("alice")
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
    let second = handler.handle(event).await.unwrap();

    assert_eq!(first.status, Status::Remediated);
    assert_eq!(second.status, Status::AlreadyHandled);
    assert!(
        outcome(&second, 0, 0)
            .explanation()
            .unwrap()
            .starts_with("already handled")
    );
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    assert_eq!(
        acct.reports().await.len(),
        1,
        "one report, not one per delivery"
    );

    let entries = acct.claims().await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let claim = &entries[0];
    assert_eq!(claim["state"], "done");
    assert_eq!(claim["rule_id"], "revoke.privileged-policy-attached");
    assert_eq!(claim["reported"], true);
    let recorded: Vec<ActionReport> =
        serde_json::from_str(claim["steps"].as_str().unwrap()).unwrap();
    assert_eq!(recorded[0].outcome.status(), "done");
    assert!(
        recorded[0]
            .outcome
            .undo()
            .unwrap()
            .contains("attach-user-policy")
    );
    assert!(claim["expires_at"].as_i64().unwrap() > claim["claimed_epoch"].as_i64().unwrap());
}

#[tokio::test]
async fn five_concurrent_deliveries_act_exactly_once() {
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/create-access-key-for-another-user.json"))
        .await;
    let handler = acct.handler::<Revoke>("enforce", &[]).await;
    let statuses = reflex_tests::deliver_five_at_once(&handler, &event).await;
    reflex_tests::acted_once(&statuses, Status::Remediated);
    // The ones told to come back are retried by Lambda, and find the event handled.
    let retry = handler
        .handle(event.clone())
        .await
        .expect("the retry is handled");
    assert_eq!(retry.status, Status::AlreadyHandled);
    assert_eq!(acct.reports().await.len(), 1);
}

/// A run that crashed (or timed out) mid-way leaves its claim in the ledger. Lambda's retry,
/// about a minute later, must finish the job, not answer "already handled" and leave
/// AdministratorAccess attached.
#[tokio::test]
async fn a_claim_left_by_a_crashed_run_is_taken_over_once_its_lease_ends() {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    let key = format!(
        "event#{}#revoke.privileged-policy-attached",
        event["id"].as_str().unwrap()
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The claim as the crashed run left it: its lease ran to just past its deadline.
    let claimed_until = |lease_until: i64| {
        acct.dynamodb
            .put_item()
            .table_name(reflex_tests::account::LEDGER_TABLE)
            .item("pk", S(key.clone()))
            .item("state", S("claimed".into()))
            .item("claimed_at", S("the crashed run".into()))
            .item("claimed_epoch", N((lease_until - 45).to_string()))
            .item("lease_until", N(lease_until.to_string()))
            .send()
    };
    let handler = acct.handler::<Revoke>("enforce", &[]).await;

    // While the lease holds, the run may still be working: this delivery must not act, and
    // must not succeed either, so Lambda retries it.
    claimed_until(now + 30).await.unwrap();
    let err = handler.handle(event.clone()).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient.InProgress");
    assert!(
        acct.attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string())
    );
    assert!(acct.reports().await.is_empty());

    // Lambda's retry comes after the lease ran out: it takes the claim over and finishes.
    claimed_until(now - 1).await.unwrap();
    let report = handler.handle(event).await.unwrap();
    assert_eq!(report.status, Status::Remediated);
    assert!(
        !acct
            .attached_policies(&user("alice"))
            .await
            .contains(&ADMIN.to_string()),
        "AdministratorAccess is detached after the redelivery"
    );
    assert_eq!(acct.reports().await.len(), 1, "exactly one report");
    let claim = &acct.ledger_entries().await[0];
    assert_eq!(claim["state"], "done");
    assert_eq!(claim["attempts"], 1, "one delivery took it over");
}

#[tokio::test]
async fn an_interrupted_claim_is_resumed_after_the_steps_it_recorded() {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/attach-admin-to-user.json"))
        .await;
    let contain = [("REFLEX_CONTAIN_ACTOR", "true")];
    // An earlier delivery detached the policy, recorded that step (with its undo), and was
    // interrupted before containing mallory.
    acct.iam
        .detach_user_policy()
        .user_name("alice")
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
    let detached = serde_json::json!([{
        "step": "detach-managed-policy user alice",
        "description": "detach AdministratorAccess from user alice",
        "action": {"type": "detach-managed-policy"},
        "outcome": {"status": "done", "detail": "detached by the earlier delivery",
                    "undo": "aws --region us-east-1 iam attach-user-policy --user-name alice --policy-arn arn:aws:iam::aws:policy/AdministratorAccess"}
    }]);
    acct.dynamodb
        .put_item()
        .table_name(reflex_tests::account::LEDGER_TABLE)
        .item(
            "pk",
            S(format!(
                "event#{}#revoke.privileged-policy-attached",
                event["id"].as_str().unwrap()
            )),
        )
        .item("state", S("interrupted".into()))
        .item("steps", S(detached.to_string()))
        .send()
        .await
        .unwrap();

    let report = acct
        .handler::<Revoke>("enforce", &contain)
        .await
        .handle(event)
        .await
        .unwrap();
    // The recorded step is kept as it was (its undo included), not redone as "already done".
    let detach = outcome(&report, 0, 0);
    assert_eq!(
        detach.explanation(),
        Some("detached by the earlier delivery")
    );
    assert!(detach.undo().unwrap().contains("attach-user-policy"));
    // The rest is done now.
    assert_eq!(outcome(&report, 1, 0).status(), "done");
    assert_eq!(acct.active_access_keys("mallory").await, 0);
    assert_eq!(report.status, Status::Remediated);
    assert!(
        report.notes.iter().any(|n| n.contains("stopped part way")),
        "{:?}",
        report.notes
    );
}

#[tokio::test]
async fn events_with_nothing_to_do_leave_no_claim() {
    let (_emu, acct) = account().await;
    run(&acct, "revoke/attach-readonly-to-user.json", "enforce", &[]).await;
    run(
        &acct,
        "revoke/attach-admin-to-user-by-reflex.json",
        "enforce",
        &[],
    )
    .await;
    assert!(acct.ledger_entries().await.is_empty());
}

#[tokio::test]
async fn without_a_ledger_the_report_says_duplicate_protection_is_off() {
    let (_emu, acct) = account().await;
    let report = run(
        &acct,
        "revoke/attach-admin-to-user.json",
        "enforce",
        &[("REFLEX_LEDGER_TABLE", "")],
    )
    .await;
    assert_eq!(report.status, Status::Remediated);
    let notes = report.notes.join("\n");
    assert!(notes.contains("duplicate protection is off"), "{notes}");
}
