//! Escalations by every kind of caller CloudTrail records (`events/revoke/attach-admin-to-user*`):
//! the escalation is undone whoever made it, and the caller is contained where IAM can do it,
//! or the report says why not and what a person must do. Pure, no emulator.

use reflex_revoke::{Facts, IamAction, Revoke, Settings, rules};
use reflex_shared::iam::Containment;
use reflex_shared::{Finding, Function, Interpreted, Severity};
use reflex_testkit::sample_event;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn findings(name: &str) -> Vec<Finding<IamAction>> {
    let settings = Settings {
        contain_actor: true,
        ..Settings::default()
    };
    let event = sample_event(&format!("revoke/{name}"));
    match Revoke::interpret(&event, &settings) {
        Ok(Interpreted::Trigger(trigger)) => rules::decide(&trigger, &Facts::default(), &settings),
        other => panic!("{name}: not a trigger: {other:?}"),
    }
}

/// The detach, then the containment finding; both always there.
fn detach_and_containment(name: &str) -> Finding<IamAction> {
    let mut found = findings(name);
    assert_eq!(found.len(), 2, "{name}: {found:#?}");
    assert_eq!(
        found[0].rule_id,
        rules::PRIVILEGED_POLICY_ATTACHED,
        "{name}"
    );
    assert!(
        matches!(&found[0].actions[..], [IamAction::DetachManagedPolicy { policy_arn, .. }] if policy_arn == ADMIN),
        "{name}: {:?}",
        found[0].actions
    );
    let contain = found.remove(1);
    assert_eq!(
        (contain.rule_id, contain.severity),
        (rules::CONTAIN_ACTOR, Severity::Critical)
    );
    contain
}

#[test]
fn users_and_role_sessions_are_contained() {
    let contain = detach_and_containment("attach-admin-to-user.json");
    assert!(matches!(
        &contain.actions[..],
        [IamAction::Contain(Containment::DeactivateUserAccessKeys { user })] if user == "mallory"
    ));
}

#[test]
fn callers_out_of_iams_reach_are_reported_with_what_a_person_must_do() {
    for (name, who, todo) in [
        (
            "attach-admin-to-user-by-root.json",
            "arn:aws:iam::123456789012:root",
            "root user, which IAM cannot restrict",
        ),
        (
            "attach-admin-to-user-by-identity-center-role.json",
            "assumed-role/AWSReservedSSO_PowerUser_0a1b2c3d4e5f6a7b/jane@example.com",
            "IAM Identity Center role, which AWS allows no one to change",
        ),
        (
            "attach-admin-to-user-by-federated-user.json",
            "federated-user/contractor",
            "issued it (broker)",
        ),
        (
            "attach-admin-to-user-by-aws-service.json",
            "AWSService via cloudformation.amazonaws.com",
            "find who configured it",
        ),
    ] {
        let contain = detach_and_containment(name);
        assert!(contain.actions.is_empty(), "{name}: {:?}", contain.actions);
        for expected in [who, "escalated privileges", "Reflex cannot contain", todo] {
            assert!(
                contain.reason.contains(expected),
                "{name}: {expected}\n{}",
                contain.reason
            );
        }
    }
}
