//! Escalations by every kind of caller CloudTrail records, end to end against the emulator: the
//! root user, a federated user, an IAM Identity Center role and an AWS service. The policy is
//! detached whoever attached it; the caller, out of IAM's reach, is not "contained" by a call
//! bound to fail: the delivery succeeds and the report asks a person, saying what to do.

use reflex_revoke::Revoke;
use reflex_revoke::actions::Identity;
use reflex_shared::report::Status;
use reflex_tests::account::ADMIN;
use reflex_tests::{Account, Emulator, sample};

#[tokio::test]
async fn callers_iam_cannot_contain_lose_the_escalation_and_a_person_is_told_what_to_do() {
    for (file, todo) in [
        ("by-root", "change its password, delete its access keys"),
        (
            "by-federated-user",
            "deactivate the access keys of the IAM user",
        ),
        ("by-identity-center-role", "in IAM Identity Center"),
        ("by-aws-service", "find who configured it"),
    ] {
        let emulator = Emulator::start();
        let acct = Account::new(&emulator).await;
        acct.seed().await;
        let event = acct
            .replay(sample(&format!("revoke/attach-admin-to-user-{file}.json")))
            .await;
        let alice = Identity::User("alice".into());
        assert!(acct.attached_policies(&alice).await.contains(&ADMIN.into()));

        let handler = acct
            .handler::<Revoke>("enforce", &[("REFLEX_CONTAIN_ACTOR", "true")])
            .await;
        let report = handler.handle(event).await.expect("handled, not failed");

        assert!(
            !acct.attached_policies(&alice).await.contains(&ADMIN.into()),
            "{file}: still attached"
        );
        assert_eq!(report.status, Status::NeedsAttention, "{file}: {report:#?}");
        let delivered = acct.reports().await;
        assert_eq!(delivered.len(), 1, "{file}");
        let findings = &delivered[0].report.findings;
        assert_eq!(findings[0].actions[0].outcome.status(), "done", "{file}");
        let contain = &findings[1];
        assert_eq!(contain.rule_id, "revoke.contain-actor");
        assert!(contain.actions.is_empty(), "{file}: {contain:#?}");
        assert!(
            contain.reason.contains("Reflex cannot contain the caller")
                && contain.reason.contains(todo),
            "{file}: {}",
            contain.reason
        );
    }
}
