//! `reflex undo`, the real binary, against the emulator, for revoke's and harden's reversible
//! action types: the real handler remediates, `reflex undo` takes it back, the original state
//! is read back and the ledger records both; a second undo changes nothing; the undo of the
//! undo remediates again; what cannot be reversed is refused with its reason.

mod common;

use common::{assert_undone_once, entry, made_statuses, reflex, reflex_with, remediate, undo};
use reflex_harden::Harden;
use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_shared::report::Status;
use reflex_tests::account::{ADMIN, APP_POLICY};
use reflex_tests::member::{self, MEMBER, MEMBER_ROLE_ARN};
use reflex_tests::proxy::Fault;
use reflex_tests::trail::{self, PAYMENTS, TRAIL};
use reflex_tests::{Account, Emulator, sample};
use serde_json::Value;

async fn account() -> (Emulator, Account) {
    let emulator = Emulator::start();
    let account = Account::new(&emulator).await;
    account.seed().await;
    (emulator, account)
}

/// Replay a revoke sample and remediate it; its event id.
async fn revoked(acct: &Account, file: &str, extra: &[(&str, &str)]) -> String {
    let event = acct.replay(sample(&format!("revoke/{file}"))).await;
    let id = event["id"].as_str().expect("an event id").to_string();
    let report = remediate::<Revoke>(acct, event, extra).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    id
}

/// The keys of the event's remediations that changed something.
async fn claims_of(acct: &Account, event_id: &str) -> Vec<String> {
    acct.claims()
        .await
        .into_iter()
        .filter(|c| c["event_id"] == event_id)
        .filter(|c| c["steps"].as_str().is_some_and(|s| s.contains("\"done\"")))
        .map(|c| c["pk"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn alice() -> Identity {
    Identity::User("alice".into())
}

#[tokio::test]
async fn a_detached_policy_is_attached_again_once_and_the_undo_of_the_undo_detaches_it() {
    let (emu, acct) = account().await;
    let event = revoked(&acct, "attach-admin-to-user.json", &[]).await;
    assert!(
        !acct
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    let [claim] = claims_of(&acct, &event)
        .await
        .try_into()
        .expect("one remediation");

    let first = undo(&emu, &acct, &event);
    assert_eq!(first.code, 2, "{first:#?}");
    assert_eq!(made_statuses(&first, 0), ["done"]);
    assert!(
        acct.attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    let undo_id = assert_undone_once(&acct, &claim).await;
    assert_eq!(first.json["made"][0]["id"], undo_id.as_str());

    // Again: already undone, nothing changes, nothing more is recorded.
    let again = undo(&emu, &acct, &event);
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(again.json["changed"], false);
    assert!(
        again.json["settled"][0]["why"]
            .as_str()
            .unwrap()
            .contains("already undone"),
        "{again:#?}"
    );
    assert_eq!(common::undo_entries(&acct).await.len(), 1);

    // The undo of the undo: the remediation again, recorded; the original can be undone again.
    let redo = undo(&emu, &acct, &undo_id);
    assert_eq!(redo.code, 2, "{redo:#?}");
    assert_eq!(redo.json["made"][0]["operation"], "redo");
    assert_eq!(made_statuses(&redo, 0), ["done"]);
    assert!(
        !acct
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    let redo_id = redo.json["made"][0]["id"].as_str().unwrap().to_string();
    let original = entry(&acct, &claim).await;
    assert_eq!(original["redone_by"], redo_id.as_str());
    assert!(original.get("undone_by").is_none(), "{original:#}");
    assert_eq!(entry(&acct, &undo_id).await["undone_by"], redo_id.as_str());
    let twice = undo(&emu, &acct, &undo_id);
    assert_eq!(twice.code, 0, "an undo is redone once: {twice:#?}");

    let third = undo(&emu, &acct, &claim);
    assert_eq!(third.code, 2, "{third:#?}");
    assert!(
        acct.attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    assert_eq!(
        common::undo_entries(&acct).await.len(),
        3,
        "undo, redo, undo"
    );
}

#[tokio::test]
async fn an_undo_step_that_fails_for_now_is_not_recorded_and_the_same_command_finishes_it() {
    let (emu, acct, proxy) = reflex_tests::seeded_behind_a_proxy().await;
    let event = revoked(&acct, "attach-admin-to-user.json", &[]).await;
    let [claim] = claims_of(&acct, &event)
        .await
        .try_into()
        .expect("one remediation");
    // IAM throttles the re-attach past the SDK's retries.
    proxy.fail("iam:AttachUserPolicy", Fault::Throttle, 100);
    let through_proxy = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
    let args = ["--json", "undo", "--yes", event.as_str()];

    let throttled = reflex_with(&emu, &acct, &through_proxy, &args);

    assert_eq!(throttled.code, 1, "{throttled:#?}");
    assert_eq!(
        throttled.json["made"][0]["unfinished"], true,
        "{throttled:#?}"
    );
    assert_eq!(
        throttled.json["made"][0]["recorded"], false,
        "{throttled:#?}"
    );
    assert!(proxy.faulted("iam:AttachUserPolicy") > 0);
    assert!(
        !acct
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    assert!(
        entry(&acct, &claim).await.get("undone_by").is_none(),
        "an unfinished undo does not mark the remediation undone"
    );

    proxy.clear();
    let finished = reflex_with(&emu, &acct, &through_proxy, &args);

    assert_eq!(finished.code, 2, "{finished:#?}");
    assert_eq!(made_statuses(&finished, 0), ["done"]);
    assert!(
        acct.attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    assert_undone_once(&acct, &claim).await;
}

#[tokio::test]
async fn a_deleted_inline_policy_is_put_back_with_its_document() {
    let (emu, acct) = account().await;
    let event = revoked(&acct, "put-user-policy-allow-all.json", &[]).await;
    assert!(acct.inline_policies(&alice()).await.is_empty());

    let run = undo(&emu, &acct, &event);

    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(acct.inline_policies(&alice()).await, ["debug-access"]);
    let [claim] = claims_of(&acct, &event).await.try_into().unwrap();
    assert_undone_once(&acct, &claim).await;
}

#[tokio::test]
async fn the_escalating_default_version_is_the_default_again() {
    let (emu, acct) = account().await;
    let event = revoked(&acct, "create-policy-version-escalating-default.json", &[]).await;
    assert_eq!(acct.default_version(APP_POLICY).await, "v1");

    let run = undo(&emu, &acct, &event);

    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(acct.default_version(APP_POLICY).await, "v2");
    let [claim] = claims_of(&acct, &event).await.try_into().unwrap();
    assert_undone_once(&acct, &claim).await;
}

#[tokio::test]
async fn a_deactivated_access_key_is_active_again() {
    let (emu, acct) = account().await;
    let event = acct
        .replay(sample("revoke/create-access-key-for-another-user.json"))
        .await;
    let key = event["detail"]["responseElements"]["accessKey"]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let id = event["id"].as_str().unwrap().to_string();
    remediate::<Revoke>(&acct, event, &[]).await;
    assert_eq!(
        acct.access_key_status("alice", &key).await.as_deref(),
        Some("Inactive")
    );

    let run = undo(&emu, &acct, &id);

    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        acct.access_key_status("alice", &key).await.as_deref(),
        Some("Active")
    );
    let [claim] = claims_of(&acct, &id).await.try_into().unwrap();
    assert_undone_once(&acct, &claim).await;
}

#[tokio::test]
async fn a_user_removed_from_a_group_is_in_it_again() {
    let (emu, acct) = account().await;
    let event = revoked(&acct, "add-user-to-admin-group.json", &[]).await;
    assert!(!acct.groups_of("mallory").await.contains(&"admins".into()));

    let run = undo(&emu, &acct, &event);

    assert_eq!(run.code, 2, "{run:#?}");
    assert!(acct.groups_of("mallory").await.contains(&"admins".into()));
    let [claim] = claims_of(&acct, &event).await.try_into().unwrap();
    assert_undone_once(&acct, &claim).await;
}

#[tokio::test]
async fn a_removed_exemption_tag_is_written_again() {
    let (emu, acct) = account().await;
    let mallory = Identity::User("mallory".into());
    let event = revoked(&acct, "tag-user-exempt-self.json", &[]).await;
    assert!(!acct.tags_of(&mallory).await.contains_key("reflex:exempt"));

    let run = undo(&emu, &acct, &event);

    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        acct.tags_of(&mallory)
            .await
            .get("reflex:exempt")
            .map(String::as_str),
        Some("true")
    );
    let [claim] = claims_of(&acct, &event).await.try_into().unwrap();
    assert_undone_once(&acct, &claim).await;
}

#[tokio::test]
async fn a_restricted_trust_policy_is_written_back_whole() {
    let (emu, acct) = account().await;
    let event = acct
        .replay(sample(
            "revoke/update-assume-role-policy-to-foreign-account.json",
        ))
        .await;
    let opened: Value = serde_json::from_str(
        event["detail"]["requestParameters"]["policyDocument"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let id = event["id"].as_str().unwrap().to_string();
    remediate::<Revoke>(&acct, event, &[]).await;
    assert_ne!(acct.trust_policy("app-role").await, opened);

    let run = undo(&emu, &acct, &id);

    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(acct.trust_policy("app-role").await, opened);
    let [claim] = claims_of(&acct, &id).await.try_into().unwrap();
    assert_undone_once(&acct, &claim).await;
}

#[tokio::test]
async fn containment_of_a_user_and_of_a_role_is_lifted() {
    let (emu, acct) = account().await;
    let contain = [("REFLEX_CONTAIN_ACTOR", "true")];
    let user_event = revoked(&acct, "attach-admin-to-user.json", &contain).await;
    assert_eq!(acct.active_access_keys("mallory").await, 0);
    let role_event = revoked(&acct, "put-role-policy-passrole.json", &contain).await;
    let ci = Identity::Role("ci-deployer".into());
    assert!(
        acct.inline_policies(&ci)
            .await
            .contains(&"reflex-revoke-older-sessions".into())
    );

    // The event's two remediations (the policy, the containment) at once.
    let run = undo(&emu, &acct, &user_event);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.json["made"].as_array().unwrap().len(), 2, "{run:#?}");
    assert_eq!(acct.active_access_keys("mallory").await, 1);
    assert!(
        acct.attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );

    let run = undo(&emu, &acct, &role_event);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        !acct
            .inline_policies(&ci)
            .await
            .contains(&"reflex-revoke-older-sessions".into()),
        "the cut-off is lifted"
    );
    for event in [user_event, role_event] {
        for claim in claims_of(&acct, &event).await {
            assert_undone_once(&acct, &claim).await;
        }
    }
}

#[tokio::test]
async fn a_deleted_login_profile_is_refused_with_its_reason_and_nothing_changes() {
    let (emu, acct) = account().await;
    let event = revoked(&acct, "create-login-profile-for-another-user.json", &[]).await;

    let run = undo(&emu, &acct, &event);

    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json["changed"], false);
    let why = run.json["planned"][0]["plan"][0]["why"].as_str().unwrap();
    assert!(why.contains("cannot be restored"), "{why}");
    assert!(common::undo_entries(&acct).await.is_empty());
}

#[tokio::test]
async fn harden_keeps_a_log_group_forever_again_and_never_stops_a_trail() {
    let emu = Emulator::start();
    let acct = Account::new(&emu).await;
    acct.seed().await;
    trail::seed(&acct).await;
    let contain = [("REFLEX_CONTAIN_ACTOR", "true")];

    let created = trail::replay(
        &acct,
        sample("harden/create-log-group-without-kms-key.json"),
    )
    .await;
    let created_id = created["id"].as_str().unwrap().to_string();
    remediate::<Harden>(&acct, created, &[]).await;
    let retention = || async {
        trail::log_group_state(&acct, PAYMENTS)
            .await
            .unwrap()
            .retention_days
    };
    assert_eq!(retention().await, Some(90));
    let run = undo(&emu, &acct, &created_id);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(retention().await, None, "kept forever, as before");
    for claim in claims_of(&acct, &created_id).await {
        assert_undone_once(&acct, &claim).await;
    }

    // The trail is logging again and mallory contained; the undo lifts only the containment.
    let stopped = trail::replay(&acct, sample("harden/stop-logging.json")).await;
    let stopped_id = stopped["id"].as_str().unwrap().to_string();
    remediate::<Harden>(&acct, stopped, &contain).await;
    assert_eq!(acct.active_access_keys("mallory").await, 0);
    let run = undo(&emu, &acct, &stopped_id);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(acct.active_access_keys("mallory").await, 1);
    assert!(trail::trail_state(&acct, TRAIL).await.unwrap().logging);
    let refused = run.json["planned"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|job| job["plan"].as_array().unwrap().clone())
        .filter(|p| p["plan"] == "refused")
        .map(|p| p["why"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(refused.len(), 1, "{run:#?}");
    assert!(refused[0].contains("audit trail"), "{refused:?}");
}

#[tokio::test]
async fn an_unknown_id_is_an_error_and_without_yes_nothing_is_done() {
    let (emu, acct) = account().await;
    let unknown = undo(&emu, &acct, "e-no-such-event");
    assert_eq!(unknown.code, 1, "{unknown:#?}");
    assert!(
        unknown.json["error"]
            .as_str()
            .unwrap()
            .contains("no ledger entry or event `e-no-such-event`")
    );

    let event = revoked(&acct, "attach-admin-to-user.json", &[]).await;
    let asked = reflex(&emu, &acct, &["undo", &event]);
    assert_eq!(asked.code, 1, "{asked:#?}");
    assert!(asked.stderr.contains("pass --yes"), "{asked:#?}");
    assert!(
        asked
            .stdout
            .contains("attach AdministratorAccess to user alice again")
    );
    assert!(
        !acct
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    assert!(common::undo_entries(&acct).await.is_empty());

    let listed = reflex(&emu, &acct, &["--json", "undo", "--list"]);
    assert_eq!(listed.code, 0, "{listed:#?}");
    let entries = listed.json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{listed:#?}");
    assert_eq!(entries[0]["event"], event.as_str());
    assert_eq!(entries[0]["function"], "revoke");
    assert_eq!(entries[0]["kind"], "remediation");
}

#[tokio::test]
async fn people_read_the_plan_what_was_done_and_the_list() {
    let (emu, acct) = account().await;
    let event = revoked(&acct, "attach-admin-to-user.json", &[]).await;
    let claim = format!("event#{event}#revoke.privileged-policy-attached");

    let run = reflex(&emu, &acct, &["undo", "--yes", &event]);

    println!("{}", run.stdout);
    assert_eq!(run.code, 2, "{run:#?}");
    let undo_id = assert_undone_once(&acct, &claim).await;
    for line in [
        format!("Undo {claim} (revoke / revoke.privileged-policy-attached, event {event}) in account 123456789012 in us-east-1"),
        "  1. attach AdministratorAccess to user alice again".to_string(),
        format!("Undid {claim} ({undo_id}):"),
        "  DONE: attach AdministratorAccess to user alice again — attached arn:aws:iam::aws:policy/AdministratorAccess to user alice again".to_string(),
        format!("  recorded as {undo_id}; `reflex undo {undo_id}` takes it back"),
    ] {
        assert!(run.stdout.lines().any(|l| l == line), "{line}\n{}", run.stdout);
    }

    let listed = reflex(&emu, &acct, &["undo", "--list"]);
    println!("{}", listed.stdout);
    assert_eq!(listed.code, 0, "{listed:#?}");
    assert!(
        listed
            .stdout
            .contains(&format!("{claim}  [undone by {undo_id}]"))
    );
    assert!(
        listed
            .stdout
            .contains(&format!("{undo_id}  undo of {claim}"))
    );

    let again = reflex(&emu, &acct, &["undo", "--yes", &event]);
    assert_eq!(again.code, 0, "{again:#?}");
    assert!(again.stdout.contains(&format!(
        "{claim}: already undone by {undo_id}: nothing changed"
    )));
}

/// A remediation in a member account is undone there, through the member role; the central
/// account's user of the same name is untouched, and the ledger (central) records the account.
#[tokio::test]
async fn a_member_accounts_remediation_is_undone_in_that_account() {
    let emu = Emulator::start();
    let home = Account::new(&emu).await;
    home.seed().await;
    let member = member::admin(&home, "us-east-1").await;
    member.seed().await;
    member::create_remediation_roles(&member).await;
    let role = [("REFLEX_MEMBER_ROLE_ARN", MEMBER_ROLE_ARN)];
    let event = member
        .replay(sample("revoke/attach-admin-to-user-in-member-account.json"))
        .await;
    let id = event["id"].as_str().unwrap().to_string();
    let report = remediate::<Revoke>(&home, event, &role).await;
    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(
        !member
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    let [claim] = claims_of(&home, &id).await.try_into().unwrap();
    assert_eq!(entry(&home, &claim).await["account"], MEMBER);

    let run = reflex_with(&emu, &home, &role, &["--json", "undo", "--yes", &id]);

    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.json["planned"][0]["account"], MEMBER);
    assert!(
        member
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    assert!(
        !home
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    let undo_id = assert_undone_once(&home, &claim).await;
    assert_eq!(entry(&home, &undo_id).await["account"], MEMBER);
}
