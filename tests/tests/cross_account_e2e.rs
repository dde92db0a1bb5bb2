//! Cross-account remediation end to end against the emulator: a central deployment in account
//! 123456789012 receives an event forwarded from member account 222222222222, assumes the
//! member's remediation role through STS, and acts there (in the event's region), while the
//! report and the ledger stay central.

use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use reflex_quarantine::Quarantine;
use reflex_revoke::actions::Identity;
use reflex_revoke::{Facts, IamAction, Revoke, Settings, Trigger};
use reflex_shared::aws::CallError;
use reflex_shared::config::Env;
use reflex_shared::event::{Accepts, Event};
use reflex_shared::exemption::Tags;
use reflex_shared::guard::EventSkip;
use reflex_shared::pipeline::Places;
use reflex_shared::report::Status;
use reflex_shared::target::{MemberRole, Target};
use reflex_shared::{
    ConfigError, EventError, Finding, Function, Interpreted, Notes, Outcome, Place, Resource,
};
use reflex_tests::account::ADMIN;
use reflex_tests::member::{self, MEMBER, MEMBER_ROLE_ARN};
use reflex_tests::proxy::FaultProxy;
use reflex_tests::{Account, Emulator, ec2, sample};

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
    member::create_remediation_roles(&member).await;
    (home, member)
}

#[tokio::test]
async fn an_escalation_in_a_member_account_is_revoked_there_through_the_member_role() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    let event = member
        .replay(sample("revoke/attach-admin-to-user-in-member-account.json"))
        .await;
    assert!(
        member
            .attached_policies(&alice())
            .await
            .contains(&ADMIN.into())
    );

    let handler = home
        .handler::<Revoke>("enforce", &[("REFLEX_MEMBER_ROLE_ARN", MEMBER_ROLE_ARN)])
        .await;
    let report = handler.handle(event).await.expect("handled");

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
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
        report.notes.contains(&format!(
            "acting in account {MEMBER} in us-east-1: the undo commands are for that account and region"
        )),
        "{report:#?}"
    );
    // The undo command names no account: the note above says where it applies.
    assert_eq!(
        report.findings[0].actions[0].outcome.undo(),
        Some(&*format!(
            "aws --region us-east-1 iam attach-user-policy --user-name alice --policy-arn {ADMIN}"
        ))
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
        .replay(sample(
            "revoke/attach-admin-to-user-by-reflex-in-member-account.json",
        ))
        .await;
    let handler = home
        .handler::<Revoke>("enforce", &[("REFLEX_MEMBER_ROLE_ARN", MEMBER_ROLE_ARN)])
        .await;
    let report = handler.handle(event).await.expect("handled");
    assert_eq!(report.status, Status::Skipped, "{report:#?}");
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("loop-guard"),
        "{report:#?}"
    );
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
        .replay(sample("revoke/attach-admin-to-user-in-member-account.json"))
        .await;

    let handler = home.handler::<Revoke>("enforce", &[]).await;
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

/// The member role's credentials come from STS in Reflex's own region (an opt-in region the
/// member uses may be disabled in the central account, and its STS endpoint with it); only the
/// clients built with them act in the event's region. The proxy sees where each call was signed.
#[tokio::test]
async fn a_world_open_port_in_another_region_of_a_member_account_is_closed_in_that_region() {
    let emulator = Emulator::start();
    let home = Account::new(&emulator).await;
    let member = member::admin(&home, "eu-west-1").await;
    member::create_remediation_roles(&member).await;
    let web = ec2::seed_web_group(&member).await;
    let event = member::in_member(
        sample("quarantine/authorize-ssh-to-world.json"),
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

    let proxy = FaultProxy::start(&emulator.endpoint);
    let handler = home
        .handler_via::<Quarantine>(
            &proxy,
            "enforce",
            &[(
                "REFLEX_MEMBER_ROLE_ARN",
                &member::member_role_arn("quarantine"),
            )],
        )
        .await;
    let report = handler.handle(event).await.expect("handled");

    let signed_in = |call: &str| -> Vec<String> {
        proxy.requests(call).into_iter().map(|r| r.region).collect()
    };
    let assumed = proxy.requests("sts:AssumeRole");
    assert!(
        !assumed.is_empty()
            && assumed.iter().all(|r| r.param("RoleArn").as_deref()
                == Some("arn:aws:iam::222222222222:role/reflex/reflex-remediation-quarantine")),
        "quarantine's own member role: {assumed:?}"
    );
    let sts = signed_in("sts:AssumeRole");
    assert!(sts.iter().all(|r| r == "us-east-1"), "home's STS: {sts:?}");
    let revoked = signed_in("ec2:RevokeSecurityGroupIngress");
    assert!(
        !revoked.is_empty() && revoked.iter().all(|r| r == "eu-west-1"),
        "the event's region: {revoked:?}"
    );

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
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
        report.notes.contains(&format!(
            "acting in account {MEMBER} in eu-west-1: the undo commands are for that account and region"
        )),
        "the event's region, not the function's: {report:#?}"
    );
    // The undo line names that region: pasted in a shell whose default region is the home one,
    // it must not authorize the rules again in the wrong region.
    let undo = report.findings[0].actions[0]
        .outcome
        .undo()
        .expect("an undo");
    assert!(
        undo.starts_with("aws --region eu-west-1 ec2 authorize-security-group-ingress "),
        "{undo}"
    );
    assert_eq!(home.reports().await.len(), 1);
}

/// `handler_via` builds the handler from the account's own configuration, only its endpoint
/// changed: a member account's handler signs with the member's credentials, for its region.
#[tokio::test]
async fn a_handler_through_the_proxy_keeps_the_accounts_credentials_and_region() {
    let emulator = Emulator::start();
    let home = Account::new(&emulator).await;
    let admin = member::session(
        &home,
        &format!("arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole"),
        "reflex-tests",
        "eu-west-1",
    )
    .await;
    let member = admin.acct;
    member.seed().await;
    let event = member::in_member(sample("revoke/attach-admin-to-user.json"), "eu-west-1");
    let event = member.replay(event).await;
    assert!(member.is_admin(&alice()).await);

    let proxy = FaultProxy::start(&emulator.endpoint);
    let self_arn = format!("arn:aws:iam::{MEMBER}:role/reflex/reflex-revoke-eu-west-1");
    let handler = member
        .handler_via::<Revoke>(
            &proxy,
            "enforce",
            &[
                ("REFLEX_SELF_ARN", self_arn.as_str()),
                // The harness's ledger table and topic are in us-east-1: none here.
                ("REFLEX_LEDGER_TABLE", ""),
                ("REFLEX_TOPIC_ARN", ""),
            ],
        )
        .await;
    let report = handler.handle(event).await.expect("handled");

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(!member.is_admin(&alice()).await, "detached in the member");
    let calls = proxy.calls();
    assert!(
        calls.contains(&"iam:DetachUserPolicy".to_string()),
        "{calls:?}"
    );
    for call in &calls {
        for seen in proxy.requests(call) {
            assert_eq!(seen.access_key, admin.access_key_id, "{call}");
            assert_eq!(seen.region, "eu-west-1", "{call}");
        }
    }
}

/// Every place a [`Recorded`] revoke was connected for, in order.
static CONNECTED: Mutex<Vec<Place>> = Mutex::new(Vec::new());

/// Revoke, recording each place the pipeline connects it for: whose tags it reads tells which
/// account its clients are in.
struct Recorded(Revoke);

impl Function for Recorded {
    const NAME: &'static str = Revoke::NAME;
    const RULE_IDS: &'static [&'static str] = Revoke::RULE_IDS;
    const ACCEPTS: &'static [Accepts] = Revoke::ACCEPTS;
    type Settings = Settings;
    type Trigger = Trigger;
    type Facts = Facts;
    type Action = IamAction;

    fn settings(env: &Env<'_>) -> Result<Settings, ConfigError> {
        Revoke::settings(env)
    }
    fn connect(sdk: &SdkConfig, place: &Place) -> Self {
        CONNECTED.lock().unwrap().push(place.clone());
        Recorded(Revoke::connect(sdk, place))
    }
    fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
        Revoke::interpret(event, settings)
    }
    fn decide(trigger: &Trigger, facts: &Facts, settings: &Settings) -> Vec<Finding<IamAction>> {
        Revoke::decide(trigger, facts, settings)
    }
    async fn gather(&self, trigger: &Trigger, notes: &mut Notes) -> Facts {
        self.0.gather(trigger, notes).await
    }
    async fn tags(&self, resource: &Resource) -> Result<Option<Tags>, CallError> {
        self.0.tags(resource).await
    }
    async fn execute(&self, action: &IamAction) -> Outcome {
        self.0.execute(action).await
    }
}

#[tokio::test]
async fn clients_are_built_once_per_account_and_region_with_the_member_credentials() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    // Only the member's alice carries the exemption tag.
    member.tag_user("alice", "reflex:exempt", "true").await;
    let alice = Resource::User("alice".into());
    let exempt = |tags: Result<Option<Tags>, CallError>| {
        tags.expect("tags read")
            .expect("users carry tags")
            .contains_key("reflex:exempt")
    };

    let places = Places::<Recorded>::new(
        &home.sdk,
        "123456789012",
        Some(MemberRole::parse(MEMBER_ROLE_ARN).unwrap()),
        None,
    );
    let connected_to = || -> Vec<(Target, bool)> {
        CONNECTED
            .lock()
            .unwrap()
            .iter()
            .map(|p| (p.target.clone(), p.is_home))
            .collect()
    };
    let home_target = Target::new("123456789012", "us-east-1");
    assert_eq!(
        connected_to(),
        [(home_target.clone(), true)],
        "home is connected at cold start"
    );
    assert!(!exempt(places.home().tags(&alice).await));

    let in_member = Target::new(MEMBER, "us-east-1");
    let first = places.at(&in_member).await.expect("assumed");
    assert!(exempt(first.tags(&alice).await), "the member's alice");
    let again = places.at(&in_member).await.expect("cached");
    assert!(
        Arc::ptr_eq(&first, &again),
        "the same clients for the same account and region"
    );
    assert_eq!(
        connected_to(),
        [(home_target.clone(), true), (in_member.clone(), false)]
    );

    let other_region = Target::new(MEMBER, "eu-west-1");
    let regional = places.at(&other_region).await.expect("assumed");
    assert!(!Arc::ptr_eq(&first, &regional));
    assert!(exempt(regional.tags(&alice).await));
    assert_eq!(
        connected_to(),
        [
            (home_target.clone(), true),
            (in_member, false),
            (other_region, false)
        ],
        "one more for the new region"
    );

    let at_home = places.at(&home_target).await.expect("home");
    assert!(std::ptr::eq(&*at_home, places.home()));
    assert_eq!(connected_to().len(), 3, "home is never rebuilt");
}
