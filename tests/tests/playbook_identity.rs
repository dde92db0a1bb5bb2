//! The attacker's playbook against Reflex's identity, end to end against the emulator: someone
//! inside an account, allowed to create and assume roles, names a role like Reflex's to be taken
//! for Reflex (the loop guard would skip the escalation, and tell no one), or creates one under
//! `/reflex/`, where Reflex's own protection used to keep Reflex out.
//!
//! Each attacker here really creates the role, assumes it and escalates through the emulator;
//! the event is what CloudTrail records for that call: an `AssumedRole` caller whose
//! `sessionContext.sessionIssuer` names the role with its path (the session ARN,
//! `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`, has none), or the older, minimal form
//! without the issuer. The central revoke function runs as its deployed role,
//! `/reflex/reflex-revoke-us-east-1`, with its own member role
//! `/reflex/reflex-remediation-revoke`, as `infra/` configures them.

use std::sync::atomic::{AtomicUsize, Ordering};

use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_shared::guard::EventSkip;
use reflex_shared::pipeline::Handler;
use reflex_shared::report::Status;
use reflex_tests::account::ADMIN;
use reflex_tests::emulator::ACCOUNT;
use reflex_tests::member::{self, MEMBER, MEMBER_ROLE_ARN};
use reflex_tests::policy::{Deployment, allows};
use reflex_tests::proxy::{Fault, FaultProxy};
use reflex_tests::{Account, Emulator, sample};
use serde_json::{Value, json};

/// The central revoke function's role, as `infra/template.yaml` names it.
const CENTRAL_REVOKE_ROLE: &str = "arn:aws:iam::123456789012:role/reflex/reflex-revoke-us-east-1";
/// A member account onboarded for forwarding whose remediation roles were never created.
const UNFINISHED_MEMBER: &str = "333333333333";

const TRUST_LAMBDA: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn trust_account(account: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

/// The central account (alice and mallory, Reflex's revoke role) and member 222222222222,
/// onboarded as `infra/member.yaml` does, with its own alice and mallory.
async fn organisation(emulator: &Emulator) -> (Account, Account) {
    let home = Account::new(emulator).await;
    home.seed().await;
    home.iam
        .create_role()
        .path("/reflex/")
        .role_name("reflex-revoke-us-east-1")
        .assume_role_policy_document(TRUST_LAMBDA)
        .send()
        .await
        .expect("Reflex's revoke role");
    let member = member::admin(&home, "us-east-1").await;
    member.seed().await;
    member::create_remediation_roles(&member).await;
    (home, member)
}

/// revoke as deployed: enforcing, knowing itself by its role's exact ARN and acting in member
/// accounts through its own member role.
async fn revoke(home: &Account) -> Handler<Revoke> {
    home.handler::<Revoke>(
        "enforce",
        &[
            ("REFLEX_SELF_ARN", CENTRAL_REVOKE_ROLE),
            ("REFLEX_MEMBER_ROLE_ARN", MEMBER_ROLE_ARN),
        ],
    )
    .await
}

/// The attacker's role `path` `name` in `admin`'s account, which anyone there may assume.
async fn attackers_role(admin: &Account, path: &str, name: &str) -> String {
    let account = member::caller_account(admin).await;
    admin
        .iam
        .create_role()
        .path(path)
        .role_name(name)
        .assume_role_policy_document(trust_account(&account))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {path}{name}: {e:?}"))
        .role
        .expect("role")
        .arn
}

/// A session of `role_arn`: the harness with its credentials, and the caller CloudTrail records
/// for its calls, in full (`sessionContext.sessionIssuer`) or in the older, minimal form.
struct Session {
    acct: Account,
    identity: Value,
}

impl Session {
    async fn of(admin: &Account, role_arn: &str, name: &str) -> Self {
        // One session: the caller recorded is the one whose credentials make the calls.
        let session = member::session(admin, role_arn, name, "us-east-1").await;
        let role_name = role_arn.rsplit('/').next().expect("a name");
        let role = admin
            .iam
            .get_role()
            .role_name(role_name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {role_arn}: {e:?}"))
            .role
            .expect("the role");
        let account = role_arn.split(':').nth(4).expect("an account");
        let identity = json!({
            "type": "AssumedRole",
            "principalId": session.user.assumed_role_id,
            "arn": session.user.arn,
            "accountId": account,
            "accessKeyId": session.access_key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role.role_id,
                    "arn": role_arn,
                    "accountId": account,
                    "userName": role_name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": "2026-11-20T10:14:58Z", "mfaAuthenticated": "false"}
            }
        });
        Self {
            acct: session.acct,
            identity,
        }
    }

    /// The same caller as older CloudTrail records (and some services still do): no issuer.
    fn minimal(&self) -> Value {
        let mut identity = self.identity.clone();
        identity
            .as_object_mut()
            .expect("an object")
            .remove("sessionContext");
        identity
    }

    /// Attach AdministratorAccess to `target` as this session; the event CloudTrail records,
    /// with `identity` as its caller.
    async fn attach_admin(&self, target: &Identity, identity: Value) -> Value {
        let iam = &self.acct.iam;
        let (event_name, parameter) = match target {
            Identity::User(name) => {
                iam.attach_user_policy()
                    .user_name(name)
                    .policy_arn(ADMIN)
                    .send()
                    .await
                    .expect("attach to the user");
                (
                    "AttachUserPolicy",
                    json!({ "userName": name, "policyArn": ADMIN }),
                )
            }
            Identity::Role(name) => {
                iam.attach_role_policy()
                    .role_name(name)
                    .policy_arn(ADMIN)
                    .send()
                    .await
                    .expect("attach to the role");
                (
                    "AttachRolePolicy",
                    json!({ "roleName": name, "policyArn": ADMIN }),
                )
            }
            Identity::Group(_) => unreachable!("not in this playbook"),
        };
        recorded(&identity, event_name, parameter)
    }
}

/// An IAM call as CloudTrail records it and EventBridge delivers it, each with an id of its own.
fn recorded(caller: &Value, event_name: &str, parameters: Value) -> Value {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let account = caller["accountId"].as_str().expect("the caller's account");
    let mut event = sample("revoke/attach-admin-to-user.json");
    event["id"] = json!(format!("6f1c0d2e-0000-4000-8000-{n:012}"));
    event["account"] = json!(account);
    let detail = &mut event["detail"];
    detail["userIdentity"] = caller.clone();
    detail["eventName"] = json!(event_name);
    detail["requestParameters"] = parameters;
    detail["recipientAccountId"] = json!(account);
    detail["eventID"] = json!(format!("0b6f3c2e-0000-4000-8000-{n:012}"));
    event
}

fn alice() -> Identity {
    Identity::User("alice".into())
}

// ---------------------------------------------------------------------------------------------
// (a) In Reflex's own account, the member role's name is free: no member role exists there.

#[tokio::test]
async fn a_role_named_like_the_member_role_in_reflexs_own_account_is_remediated() {
    let emulator = Emulator::start();
    let (home, _member) = organisation(&emulator).await;
    let handler = revoke(&home).await;
    // The member role's very path and name, and the name it had before each function got its own.
    for (path, name, victim) in [
        ("/reflex/", "reflex-remediation-revoke", "alice"),
        ("/ops/", "reflex-remediation", "mallory"),
    ] {
        let role = attackers_role(&home, path, name).await;
        let session = Session::of(&home, &role, "reflex-revoke").await;
        let victim = Identity::User(victim.into());
        let event = session
            .attach_admin(&victim, session.identity.clone())
            .await;
        assert!(home.is_admin(&victim).await);

        let report = handler.handle(event).await.expect("handled");

        assert_eq!(
            report.status,
            Status::Remediated,
            "{path}{name}: {report:#?}"
        );
        assert_eq!(report.skipped, None, "{path}{name}");
        assert!(
            !home.is_admin(&victim).await,
            "{path}{name}: AdministratorAccess detached from {victim:?}"
        );
    }
    assert_eq!(home.reports().await.len(), 2, "people are told, twice");
}

// ---------------------------------------------------------------------------------------------
// (b) In a member account, the member role's name at another path: possible only where the
// member role is not (IAM role names are unique in an account), such as an account that forwards
// its events but whose remediation roles were never created.

#[tokio::test]
async fn a_role_named_like_the_member_role_at_another_path_is_not_taken_for_reflex() {
    let emulator = Emulator::start();
    let (home, _member) = organisation(&emulator).await;
    let admin_of_333 = member::as_role(
        &home,
        &format!("arn:aws:iam::{UNFINISHED_MEMBER}:role/OrganizationAccountAccessRole"),
        "reflex-tests",
        "us-east-1",
    )
    .await;
    admin_of_333.seed().await;
    let role = attackers_role(&admin_of_333, "/ops/", "reflex-remediation-revoke").await;
    let session = Session::of(&admin_of_333, &role, "reflex-revoke").await;
    let event = session
        .attach_admin(&alice(), session.identity.clone())
        .await;
    assert!(admin_of_333.is_admin(&alice()).await);

    // AWS refuses to assume a role that does not exist (moto would hand out credentials for
    // any role ARN): the proxy answers as AWS does.
    let proxy = FaultProxy::start(&emulator.endpoint);
    proxy.fail("sts:AssumeRole", Fault::AccessDenied, 10);
    let handler = home
        .handler_via::<Revoke>(
            &proxy,
            "enforce",
            &[
                ("REFLEX_SELF_ARN", CENTRAL_REVOKE_ROLE),
                ("REFLEX_MEMBER_ROLE_ARN", MEMBER_ROLE_ARN),
            ],
        )
        .await;
    let outcome = handler.handle(event).await;

    // Not skipped as Reflex's own call: Reflex tried to act there, and the failure is loud (Lambda
    // retries it, then the dead-letter queue and its alarm), naming the role it needs.
    let err = outcome.expect_err("not Reflex: acted upon, and the role to act with is missing");
    assert_eq!(err.error_type(), "Transient.AssumeRole");
    let message = err.to_string();
    assert!(
        message.contains("arn:aws:iam::333333333333:role/reflex/reflex-remediation-revoke"),
        "{message}"
    );
    assert!(
        proxy.seen("sts:AssumeRole") >= 1,
        "Reflex tried its member role there"
    );
}

#[tokio::test]
async fn a_session_cloudtrail_recorded_without_its_issuer_is_not_taken_for_reflex() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    let handler = revoke(&home).await;
    // The member role's own session, but recorded without the issuer: its session ARN has the
    // role's name and no path, which proves nothing.
    let genuine = MEMBER_ROLE_ARN.replace("{account}", MEMBER);
    let session = Session::of(&member, &genuine, "reflex-revoke").await;
    let event = session.attach_admin(&alice(), session.minimal()).await;
    assert!(member.is_admin(&alice()).await);

    let report = handler.handle(event).await.expect("handled");

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(!member.is_admin(&alice()).await);
}

// ---------------------------------------------------------------------------------------------
// (c) The loop guard still knows Reflex: the member role's own sessions, recorded in full.

#[tokio::test]
async fn the_member_roles_own_session_is_left_alone() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    let handler = revoke(&home).await;
    let genuine = MEMBER_ROLE_ARN.replace("{account}", MEMBER);
    let session = Session::of(&member, &genuine, "reflex-revoke").await;
    let event = session
        .attach_admin(&alice(), session.identity.clone())
        .await;

    let report = handler.handle(event).await.expect("handled");

    assert_eq!(report.status, Status::Skipped, "{report:#?}");
    assert_eq!(
        report.skipped.as_ref().map(EventSkip::name),
        Some("loop-guard"),
        "{report:#?}"
    );
    assert!(member.is_admin(&alice()).await, "left as it is");
    assert!(home.reports().await.is_empty());
}

#[tokio::test]
async fn another_functions_member_role_escalating_is_remediated() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    let handler = revoke(&home).await;
    // harden's member role, were its function compromised: it is not revoke, and revoke watches it.
    let harden = member::member_role_arn("harden").replace("{account}", MEMBER);
    let session = Session::of(&member, &harden, "reflex-harden").await;
    let event = session
        .attach_admin(&alice(), session.identity.clone())
        .await;

    let report = handler.handle(event).await.expect("handled");

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(!member.is_admin(&alice()).await);
}

// ---------------------------------------------------------------------------------------------
// (d) A role under /reflex/ with a name that is not Reflex's.

#[tokio::test]
async fn a_role_created_under_reflex_escalating_itself_is_remediated() {
    let emulator = Emulator::start();
    let (home, member) = organisation(&emulator).await;
    let handler = revoke(&home).await;
    let role = attackers_role(&member, "/reflex/", "ops").await;
    let session = Session::of(&member, &role, "ops").await;
    let ops = Identity::Role("ops".into());
    let event = session.attach_admin(&ops, session.identity.clone()).await;
    assert!(member.is_admin(&ops).await);

    let report = handler.handle(event).await.expect("handled");

    assert_eq!(report.status, Status::Remediated, "{report:#?}");
    assert!(!member.is_admin(&ops).await, "detached from /reflex/ops");
}

/// The emulator does not evaluate IAM policies: whether AWS would let Reflex act on a role
/// under /reflex/ is read from the templates as deployed.
#[test]
fn reflexs_roles_may_act_on_a_role_someone_else_created_under_reflex_but_not_on_reflexs_own() {
    let root = reflex_tests::emulator::workspace_root();
    let actions = ["iam:DetachRolePolicy", "iam:PutRolePolicy"];
    // Central: revoke's role, with the policy every function role carries.
    let central = Deployment::of(
        &root.join("infra/template.yaml"),
        &[("ContainActor", "true")],
    )
    .expect("template.yaml");
    let revoke_home = central.permissions("RevokeRole");
    for action in actions {
        let theirs = format!("arn:aws:iam::{ACCOUNT}:role/reflex/ops");
        assert!(
            allows(&revoke_home, action, &theirs),
            "the central role may {action} on {theirs}"
        );
        assert!(!allows(&revoke_home, action, CENTRAL_REVOKE_ROLE));
    }
    // Member: revoke's member role.
    let member = Deployment::of(
        &root.join("infra/member.yaml"),
        &[
            ("CentralAccountId", ACCOUNT),
            ("AWS::AccountId", MEMBER),
            ("ContainActor", "true"),
        ],
    )
    .expect("member.yaml");
    let revoke_here = member.permissions("RevokeMemberRole");
    for action in actions {
        let theirs = format!("arn:aws:iam::{MEMBER}:role/reflex/ops");
        assert!(
            allows(&revoke_here, action, &theirs),
            "the member role may {action} on {theirs}"
        );
        for own in member::FUNCTIONS {
            let arn = member::member_role_arn(own).replace("{account}", MEMBER);
            assert!(!allows(&revoke_here, action, &arn), "{action} on {arn}");
        }
    }
}
