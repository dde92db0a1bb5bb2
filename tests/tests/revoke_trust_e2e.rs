//! End to end against the emulator, for the escalations through a role's trust, another user's
//! console password and a customer-managed policy: the attacker's call replayed in the
//! emulator, the sample event handled by the real revoke handler, the end state read back; a
//! second delivery changes nothing more, and a dry run changes nothing at all.

use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_shared::Outcome;
use reflex_shared::report::{Report, Status};
use reflex_testkit::{MAX_ATTEMPTS, fails_for_now};
use reflex_tests::account::{APP_POLICY, OPS_TOOLING};
use reflex_tests::proxy::{Fault, FaultProxy};
use reflex_tests::{Account, Emulator, sample};
use serde_json::{Value, json};

/// The organization of `update-assume-role-policy-to-organization.json`.
const ORGANIZATION: &str = "o-a1b2c3d4e5";

const LAMBDA_TRUST: &str = r#"{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}"#;

async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    account.seed().await;
    (emulator, account)
}

fn outcome(report: &Report, finding: usize, action: usize) -> &Outcome {
    &report.findings[finding].actions[action].outcome
}

fn statements(document: &Value) -> Vec<Value> {
    document["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Replay the sample's call, then hand the event to revoke in `mode`, twice (the second time
/// without the ledger, so the executor itself must find the job done): the first report and the
/// second. The second delivery changes nothing in the account (checked here, for every caller).
async fn twice(acct: &Account, file: &str, mode: &str) -> (Report, Report) {
    let event = acct.replay(sample(file)).await;
    let no_ledger = [("REFLEX_LEDGER_TABLE", "")];
    let handler = acct.handler::<Revoke>(mode, &no_ledger).await;
    let first = handler.handle(event.clone()).await.expect("handled");
    let after_first = snapshot(acct).await;
    let second = handler.handle(event).await.expect("handled");
    assert_eq!(
        snapshot(acct).await,
        after_first,
        "{file}: the second delivery changed the account"
    );
    (first, second)
}

#[tokio::test]
async fn a_trust_opened_to_everyone_keeps_only_its_safe_statements() {
    let (_emu, acct) = account().await;
    let (first, second) = twice(
        &acct,
        "revoke/update-assume-role-policy-to-everyone.json",
        "enforce",
    )
    .await;
    assert_eq!(first.status, Status::Remediated);
    assert_eq!(
        first.findings[0].rule_id, "revoke.role-trust-opened",
        "{first:#?}"
    );
    // Only the service statement the role had before is left.
    let trust = acct.trust_policy("app-role").await;
    let lambda: Value = serde_json::from_str(LAMBDA_TRUST).unwrap();
    assert_eq!(statements(&trust), [lambda]);

    let done = outcome(&first, 0, 0);
    assert_eq!(done.status(), "done", "{done:?}");
    // The whole prior trust is kept, and the undo writes it back.
    let prior: Value = serde_json::from_str(
        done.prior_state().unwrap()["assume_role_policy_document"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(prior["Statement"][1]["Principal"]["AWS"], "*");
    let undo = done.undo().unwrap();
    assert!(
        undo.starts_with(
            "aws --region us-east-1 iam update-assume-role-policy --role-name app-role --policy-document "
        ),
        "{undo}"
    );
    assert!(undo.contains(r#""Sid":"Debug""#), "{undo}");

    // The second delivery finds nothing open (`twice` checked that it changed nothing).
    assert_eq!(outcome(&second, 0, 0).status(), "already-done");
    let delivered = acct.reports().await;
    assert!(
        delivered.iter().any(|d| d.subject
            == "[Reflex HIGH] Remediated: iam:UpdateAssumeRolePolicy by mallory in 123456789012"),
        "{:?}",
        delivered.iter().map(|d| &d.subject).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_foreign_account_is_removed_from_a_statement_and_its_other_principals_stay() {
    let (_emu, acct) = account().await;
    let (first, second) = twice(
        &acct,
        "revoke/update-assume-role-policy-to-foreign-account.json",
        "enforce",
    )
    .await;
    assert_eq!(outcome(&first, 0, 0).status(), "done");
    assert_eq!(
        statements(&acct.trust_policy("app-role").await),
        [json!({
            "Effect": "Allow",
            "Principal": {
                "Service": "lambda.amazonaws.com",
                "AWS": ["arn:aws:iam::123456789012:role/ci-deployer"]
            },
            "Action": "sts:AssumeRole"
        })]
    );
    assert_eq!(outcome(&second, 0, 0).status(), "already-done");
}

#[tokio::test]
async fn a_trusted_account_configured_is_left_in_the_trust() {
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample(
            "revoke/update-assume-role-policy-to-foreign-account.json",
        ))
        .await;
    let before = acct.trust_policy("app-role").await;
    let report = acct
        .handler::<Revoke>("enforce", &[("REFLEX_TRUSTED_ACCOUNTS", "444455556666")])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(report.status, Status::NothingToDo);
    assert_eq!(acct.trust_policy("app-role").await, before);
}

#[tokio::test]
async fn an_identity_provider_without_a_condition_or_github_without_a_subject_is_removed() {
    // GitHub Actions' provider pinned to its audience only lets every repository's workflows in.
    for (file, says) in [
        (
            "revoke/update-assume-role-policy-to-identity-provider-without-condition.json",
            "no condition on the statement",
        ),
        (
            "revoke/update-assume-role-policy-to-github-without-subject.json",
            "no condition pins token.actions.githubusercontent.com:sub",
        ),
    ] {
        let (_emu, acct) = account().await;
        let (first, second) = twice(&acct, file, "enforce").await;
        assert_eq!(outcome(&first, 0, 0).status(), "done", "{file}: {first:#?}");
        assert_eq!(outcome(&second, 0, 0).status(), "already-done", "{file}");
        assert!(
            first.findings[0].reason.contains(says),
            "{file}: {}",
            first.findings[0].reason
        );
        let lambda: Value = serde_json::from_str(LAMBDA_TRUST).unwrap();
        assert_eq!(
            statements(&acct.trust_policy("app-role").await),
            [lambda],
            "{file}"
        );
    }
}

/// Nothing safe left: IAM refuses a trust policy without statements, so one that denies
/// everyone is written, and the role can no longer be assumed.
#[tokio::test]
async fn a_role_created_open_to_everyone_is_left_assumable_by_no_one() {
    let (_emu, acct) = account().await;
    let (first, second) = twice(&acct, "revoke/create-role-open-to-everyone.json", "enforce").await;
    assert_eq!(outcome(&first, 0, 0).status(), "done", "{first:#?}");
    assert_eq!(
        statements(&acct.trust_policy("partner-access").await),
        [reflex_revoke::trust::deny_everyone()]
    );
    assert_eq!(outcome(&second, 0, 0).status(), "already-done");
}

#[tokio::test]
async fn a_trust_kept_to_a_service_the_own_account_or_the_organization_is_left_alone() {
    for (file, role) in [
        (
            "revoke/update-assume-role-policy-to-own-account.json",
            "app-role",
        ),
        (
            "revoke/update-assume-role-policy-to-organization.json",
            "app-role",
        ),
        ("revoke/create-role-for-a-service.json", "worker"),
    ] {
        let (_emu, acct) = account().await;
        let event = acct.replay(sample(file)).await;
        let before = acct.trust_policy(role).await;
        // The sample's organization is the deployment's own, configured as trusted.
        let report = acct
            .handler::<Revoke>("enforce", &[("REFLEX_TRUSTED_ACCOUNTS", ORGANIZATION)])
            .await
            .handle(event)
            .await
            .unwrap();
        assert_eq!(report.status, Status::NothingToDo, "{file}");
        assert_eq!(acct.trust_policy(role).await, before, "{file}");
        assert!(acct.reports().await.is_empty(), "{file}");
    }
}

#[tokio::test]
async fn another_users_password_reset_deletes_their_login_profile_but_your_own_is_kept() {
    let (_emu, acct) = account().await;
    let (first, second) = twice(
        &acct,
        "revoke/update-login-profile-for-another-user.json",
        "enforce",
    )
    .await;
    assert!(!acct.has_login_profile("alice").await);
    assert_eq!(
        first.findings[0].rule_id,
        "revoke.password-reset-for-another-user"
    );
    assert!(
        first.findings[0]
            .reason
            .contains("an administrator must issue alice a new password")
    );
    let done = outcome(&first, 0, 0);
    assert_eq!(done.status(), "done");
    assert!(
        done.undo().unwrap().contains("create-login-profile"),
        "{done:?}"
    );
    assert_eq!(outcome(&second, 0, 0).status(), "already-done");

    let event = acct
        .replay(sample("revoke/update-login-profile-for-self.json"))
        .await;
    let report = acct
        .handler::<Revoke>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(report.status, Status::NothingToDo, "{report:#?}");
    assert!(acct.has_login_profile("mallory").await);
}

#[tokio::test]
async fn a_login_profile_you_create_for_yourself_without_a_user_name_is_kept() {
    let (_emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/create-login-profile-for-self.json"))
        .await;
    assert!(acct.has_login_profile("mallory").await);
    let report = acct
        .handler::<Revoke>("enforce", &[])
        .await
        .handle(event)
        .await
        .expect("a valid call, not a bad event");
    assert_eq!(report.status, Status::NothingToDo);
    assert!(acct.has_login_profile("mallory").await);
}

#[tokio::test]
async fn an_escalating_customer_policy_is_detached_and_a_harmless_one_stays() {
    let (_emu, acct) = account().await;
    let alice = Identity::User("alice".into());
    let (first, second) = twice(
        &acct,
        "revoke/attach-escalating-customer-policy-to-user.json",
        "enforce",
    )
    .await;
    assert_eq!(
        first.findings[0].rule_id,
        "revoke.escalating-customer-policy-attached"
    );
    assert!(
        !acct
            .attached_policies(&alice)
            .await
            .contains(&OPS_TOOLING.to_string())
    );
    assert!(
        outcome(&first, 0, 0)
            .undo()
            .unwrap()
            .contains("attach-user-policy --user-name alice --policy-arn arn:aws:iam::123456789012:policy/ops-tooling")
    );
    assert_eq!(outcome(&second, 0, 0).status(), "already-done");

    let (harmless, _) = twice(
        &acct,
        "revoke/attach-harmless-customer-policy-to-role.json",
        "enforce",
    )
    .await;
    assert_eq!(harmless.status, Status::NothingToDo);
    assert!(
        acct.attached_policies(&Identity::Role("app-role".into()))
            .await
            .contains(&APP_POLICY.to_string())
    );
}

/// The policy's document could not be read for now: the event is retried, not judged harmless.
#[tokio::test]
async fn a_customer_policy_that_cannot_be_read_for_now_is_retried() {
    let (emulator, acct) = account().await;
    let proxy = FaultProxy::start(&emulator.endpoint);
    let event = acct
        .replay(sample(
            "revoke/attach-escalating-customer-policy-to-user.json",
        ))
        .await;
    proxy.fail("iam:GetPolicy", Fault::Throttle, MAX_ATTEMPTS as usize);
    let handler = acct.handler_via::<Revoke>(&proxy, "enforce", &[]).await;
    fails_for_now(&handler, &event, "Transient.Lookup").await;
    let alice = Identity::User("alice".into());
    assert!(
        acct.attached_policies(&alice)
            .await
            .contains(&OPS_TOOLING.to_string())
    );
    let report = handler.handle(event).await.unwrap();
    assert_eq!(report.status, Status::Remediated);
    assert!(
        !acct
            .attached_policies(&alice)
            .await
            .contains(&OPS_TOOLING.to_string())
    );
}

/// Every positive sample, in dry-run: the report says what would be done, the account is as
/// it was.
#[tokio::test]
async fn dry_run_changes_nothing() {
    let emulator = Emulator::start();
    for file in [
        "revoke/update-assume-role-policy-to-everyone.json",
        "revoke/update-assume-role-policy-to-foreign-account.json",
        "revoke/update-assume-role-policy-to-identity-provider-without-condition.json",
        "revoke/create-role-open-to-everyone.json",
        "revoke/update-login-profile-for-another-user.json",
        "revoke/attach-escalating-customer-policy-to-user.json",
    ] {
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
        assert_eq!(snapshot(&acct).await, before, "{file}");
    }
}

async fn snapshot(acct: &Account) -> String {
    let mut out = String::new();
    let roles = acct.iam.list_roles().send().await.unwrap().roles;
    for role in roles {
        out += &format!(
            "{}: {}\n",
            role.role_name,
            acct.trust_policy(&role.role_name).await
        );
    }
    for user in ["alice", "mallory"] {
        out += &format!(
            "{user}: login {} policies {:?}\n",
            acct.has_login_profile(user).await,
            acct.attached_policies(&Identity::User(user.into())).await
        );
    }
    out
}

/// A role under `/aws-reserved/` where IAM lets a caller put it (the emulator does) is no role
/// of IAM Identity Center: its path proves nothing, and its trust is restricted like any other.
/// (A role IAM really protects answers `UnmodifiableEntity`, reported: see revoke's `faults.rs`.)
#[tokio::test]
async fn a_role_whose_path_looks_like_identity_centers_is_restricted_all_the_same() {
    let (_emu, acct) = account().await;
    acct.iam
        .create_role()
        .role_name("legacy-admin")
        .path("/aws-reserved/sso.amazonaws.com/")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{LAMBDA_TRUST}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let mut event = sample("revoke/update-assume-role-policy-to-everyone.json");
    event["detail"]["requestParameters"]["roleName"] = json!("legacy-admin");
    let event = acct.replay(event).await;
    let report = acct
        .handler::<Revoke>("enforce", &[])
        .await
        .handle(event)
        .await
        .unwrap();
    assert_eq!(outcome(&report, 0, 0).status(), "done", "{report:#?}");
    let lambda: Value = serde_json::from_str(LAMBDA_TRUST).unwrap();
    assert_eq!(
        statements(&acct.trust_policy("legacy-admin").await),
        [lambda]
    );
}
