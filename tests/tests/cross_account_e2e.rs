//! Cross-account remediation end to end against the emulator: a central deployment in account
//! 123456789012 receives an event forwarded from member account 222222222222, assumes the
//! member's remediation role through STS, and acts there (in the event's region), while the
//! report and the ledger stay central.

use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use reflex_revoke::action::Identity;
use reflex_revoke::{Revoke, RuleSettings};
use reflex_shared::Principal;
use reflex_shared::config::ExemptTag;
use reflex_shared::pipeline::Remediator;
use reflex_shared::target::{MemberRole, Remediators, Target};
use reflex_tests::account::ADMIN;
use reflex_tests::member::{self, MEMBER, MEMBER_ROLE_ARN};
use reflex_tests::{Account, Emulator, ec2, load_event};

fn alice() -> Identity {
    Identity::User("alice".into())
}

/// The central account seeded, alice there legitimately an administrator; the member account
/// onboarded (its remediation role) with its own alice and mallory.
async fn organisation(emulator: &Emulator) -> (Account, Account) {
    let home = Account::new(emulator).await;
    home.seed().await;
    home.iam
        .attach_user_policy()
        .user_name("alice")
        .policy_arn(ADMIN)
        .send()
        .await
        .expect("alice is an administrator at home");
    let member = member::admin(&home, "us-east-1").await;
    assert_eq!(member::caller_account(&member).await, MEMBER);
    member.seed().await;
    member::create_remediation_role(&member).await;
    (home, member)
}

#[tokio::test]
async fn an_escalation_in_a_member_account_is_revoked_there_through_the_member_role() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    let event = member
        .replay(load_event(
            "revoke/attach-admin-to-user-in-member-account.json",
        ))
        .await;
    assert!(
        member
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );

    let handler = home
        .revoke("enforce", &[("REFLEX_MEMBER_ROLE_ARN", MEMBER_ROLE_ARN)])
        .await;
    let report = handler.handle(event).await.expect("handled").to_json();

    assert_eq!(report["status"], "remediated", "{report:#}");
    assert!(
        !member
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into()),
        "detached in the member account"
    );
    assert!(
        home.attached_policies(&alice())
            .await
            .contains(&ADMIN.into()),
        "the central account's alice of the same name is untouched"
    );
    assert!(
        report["notes"]
            .as_array()
            .unwrap()
            .contains(
                &format!(
                    "acting in account {MEMBER} in us-east-1: the undo commands are for that account and region"
                )
                .into()
            ),
        "{report:#}"
    );
    // The undo command names no account: the note above says where it applies.
    assert_eq!(
        report["findings"][0]["actions"][0]["outcome"]["undo"],
        format!("aws iam attach-user-policy --user-name alice --policy-arn {ADMIN}")
    );

    // The report reaches the central topic, naming the member account.
    let delivered = home.reports().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].subject.ends_with(&format!("in {MEMBER}")),
        "{}",
        delivered[0].subject
    );
    // The claim is in the central ledger.
    let entries = home.ledger_entries().await;
    assert!(
        entries
            .iter()
            .any(|e| e["pk"].as_str().unwrap_or("").starts_with("event#")),
        "{entries:?}"
    );
}

#[tokio::test]
async fn reflex_own_change_in_a_member_account_is_left_alone() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    let event = member
        .replay(load_event(
            "revoke/attach-admin-to-user-by-reflex-in-member-account.json",
        ))
        .await;
    let handler = home
        .revoke("enforce", &[("REFLEX_MEMBER_ROLE_ARN", MEMBER_ROLE_ARN)])
        .await;
    let report = handler.handle(event).await.expect("handled").to_json();
    assert_eq!(report["status"], "skipped", "{report:#}");
    assert_eq!(report["skipped"]["guard"], "loop-guard", "{report:#}");
    assert!(
        member
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
}

#[tokio::test]
async fn without_a_member_role_an_event_from_another_account_is_refused_and_nothing_changes() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    let event = member
        .replay(load_event(
            "revoke/attach-admin-to-user-in-member-account.json",
        ))
        .await;

    let handler = home.revoke("enforce", &[]).await;
    let err = handler.handle(event).await.expect_err("refused");

    assert_eq!(err.error_type(), "Permanent.ForeignAccount");
    let message = err.to_string();
    assert!(message.contains(MEMBER), "{message}");
    assert!(message.contains("REFLEX_MEMBER_ROLE_ARN"), "{message}");
    assert!(
        member
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    assert!(
        home.attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );
    assert!(home.reports().await.is_empty());
}

#[tokio::test]
async fn a_world_open_port_in_another_region_of_a_member_account_is_closed_in_that_region() {
    let emulator = Emulator::start();
    let home = Account::new(&emulator).await;
    let member = member::admin(&home, "eu-west-1").await;
    member::create_remediation_role(&member).await;
    let web = ec2::seed_web_group(&member).await;
    let event = member::in_member(
        load_event("quarantine/authorize-ssh-to-world.json"),
        "eu-west-1",
    );
    let event = ec2::replay_authorize_on(&aws_sdk_ec2::Client::new(&member.sdk), &web, event).await;
    assert_eq!(
        ec2::group_rules(&member, &web).await,
        [
            "in tcp 22 0.0.0.0/0",
            "in tcp 22 ::/0",
            "in tcp 443 0.0.0.0/0",
            "in tcp 80 0.0.0.0/0",
            "out -1 all 0.0.0.0/0"
        ]
    );

    let handler = ec2::quarantine(
        &home,
        "enforce",
        &[("REFLEX_MEMBER_ROLE_ARN", MEMBER_ROLE_ARN)],
    )
    .await;
    let report = handler.handle(event).await.expect("handled").to_json();

    assert_eq!(report["status"], "remediated", "{report:#}");
    assert_eq!(
        ec2::group_rules(&member, &web).await,
        [
            "in tcp 443 0.0.0.0/0",
            "in tcp 80 0.0.0.0/0",
            "out -1 all 0.0.0.0/0"
        ],
        "the SSH rules are revoked in the member's eu-west-1, HTTP and HTTPS stay"
    );
    assert!(
        report["notes"].as_array().unwrap().contains(
            &format!(
                "acting in account {MEMBER} in eu-west-1: the undo commands are for that account and region"
            )
            .into()
        ),
        "the event's region, not the function's: {report:#}"
    );
    assert_eq!(home.reports().await.len(), 1);
}

#[tokio::test]
async fn clients_are_built_once_per_account_and_region_with_the_member_credentials() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    // Only the member's alice carries the exemption tag: whose tags a remediator reads tells
    // which account its clients are in.
    member.tag_user("alice", "reflex:exempt", "true").await;
    let tag = ExemptTag {
        key: "reflex:exempt".into(),
        value: "true".into(),
    };

    // Every target a remediator was built for (`None`: home), in order.
    let built: Arc<Mutex<Vec<Option<Target>>>> = Arc::default();
    let record = built.clone();
    let remediators = Remediators::new(
        &home.sdk,
        "123456789012",
        Some(MemberRole::parse(MEMBER_ROLE_ARN).unwrap()),
        move |sdk: &SdkConfig, target: Option<&Target>| {
            record.lock().unwrap().push(target.cloned());
            Revoke::new(RuleSettings::default(), aws_sdk_iam::Client::new(sdk))
        },
    );
    let built_for = || built.lock().unwrap().clone();
    assert_eq!(built_for(), [None], "home is built at cold start");
    let alice = Principal::User("alice".into());
    assert_eq!(
        remediators.home().has_exempt_tag(&alice, &tag).await,
        Ok(false)
    );

    let in_member = Target::new(MEMBER, "us-east-1");
    let first = remediators.for_target(&in_member).await.expect("assumed");
    assert_eq!(first.has_exempt_tag(&alice, &tag).await, Ok(true));
    let again = remediators.for_target(&in_member).await.expect("cached");
    assert!(
        Arc::ptr_eq(&first, &again),
        "the same clients for the same account and region"
    );
    assert_eq!(built_for(), [None, Some(in_member.clone())]);

    let other_region = Target::new(MEMBER, "eu-west-1");
    let regional = remediators
        .for_target(&other_region)
        .await
        .expect("assumed");
    assert!(!Arc::ptr_eq(&first, &regional));
    assert_eq!(regional.has_exempt_tag(&alice, &tag).await, Ok(true));
    assert_eq!(
        built_for(),
        [None, Some(in_member), Some(other_region)],
        "one more for the new region"
    );

    let home_target = Target::new("123456789012", "us-east-1");
    let at_home = remediators.for_target(&home_target).await.expect("home");
    assert!(std::ptr::eq(&*at_home, remediators.home()));
    assert_eq!(built_for().len(), 3, "home is never rebuilt");
}
