//! The rules over a role's trust, another user's password and customer-managed policies, from
//! the sample events in `events/revoke/`: pure, no emulator.

use reflex_revoke::actions::Identity;
use reflex_revoke::{Facts, IamAction, Revoke, Settings, rules};
use reflex_shared::{Finding, Function, Interpreted, Severity};
use reflex_testkit::sample;
use serde_json::{Value, json};

fn findings_of(raw: Value, facts: &Facts, settings: &Settings) -> Vec<Finding<IamAction>> {
    let event = reflex_shared::event::parse(raw).unwrap();
    match Revoke::interpret(&event, settings).unwrap() {
        Interpreted::Trigger(trigger) => Revoke::decide(&trigger, facts, settings),
        Interpreted::Ignored(_) => Vec::new(),
    }
}

fn findings(file: &str) -> Vec<Finding<IamAction>> {
    findings_of(sample(file), &Facts::default(), &Settings::default())
}

fn restrict(role: &str, trusted: &[&str]) -> Vec<IamAction> {
    vec![IamAction::RestrictRoleTrust {
        role: role.into(),
        own_account: "123456789012".into(),
        trusted_accounts: trusted.iter().map(|a| a.to_string()).collect(),
    }]
}

#[test]
fn a_password_reset_for_another_user_deletes_their_login_profile() {
    let f = findings("revoke/update-login-profile-for-another-user.json");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_id, rules::PASSWORD_RESET_FOR_ANOTHER_USER);
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(
        f[0].actions,
        [IamAction::DeleteLoginProfile {
            user: "alice".into()
        }]
    );
    assert!(
        f[0].reason
            .contains("an administrator must issue alice a new password"),
        "{}",
        f[0].reason
    );
    assert!(findings("revoke/update-login-profile-for-self.json").is_empty());
}

#[test]
fn a_trust_opened_to_everyone_a_stranger_or_a_provider_is_restricted() {
    for (file, says) in [
        (
            "revoke/update-assume-role-policy-to-everyone.json",
            "opened the trust policy of role app-role to everyone",
        ),
        (
            "revoke/update-assume-role-policy-to-foreign-account.json",
            "to arn:aws:iam::444455556666:root of account 444455556666",
        ),
        (
            "revoke/update-assume-role-policy-to-identity-provider-without-condition.json",
            "to every identity of provider arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        ),
    ] {
        let f = findings(file);
        assert_eq!(f.len(), 1, "{file}: {f:?}");
        assert_eq!(f[0].rule_id, rules::ROLE_TRUST_OPENED, "{file}");
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].reason.contains(says), "{file}: {}", f[0].reason);
        assert_eq!(f[0].actions, restrict("app-role", &[]), "{file}");
    }
    let f = findings("revoke/create-role-open-to-everyone.json");
    assert_eq!(f[0].rule_id, rules::ROLE_TRUST_OPENED);
    assert!(
        f[0].reason
            .contains("created role partner-access with a trust policy open to everyone"),
        "{}",
        f[0].reason
    );
    assert_eq!(f[0].actions, restrict("partner-access", &[]));
}

#[test]
fn a_trust_kept_to_services_the_own_account_or_the_organization_is_no_finding() {
    let own_organization = Settings {
        trusted_accounts: vec!["o-a1b2c3d4e5".into()],
        ..Settings::default()
    };
    for file in [
        "revoke/update-assume-role-policy-to-own-account.json",
        "revoke/update-assume-role-policy-to-organization.json",
        "revoke/create-role-for-a-service.json",
    ] {
        assert!(
            findings_of(sample(file), &Facts::default(), &own_organization).is_empty(),
            "{file}"
        );
    }
    // An organization not configured as trusted (an attacker's own, say) restricts nothing.
    let f = findings("revoke/update-assume-role-policy-to-organization.json");
    assert_eq!(f[0].rule_id, rules::ROLE_TRUST_OPENED, "{f:?}");
}

#[test]
fn a_trusted_account_is_no_finding_and_the_action_keeps_it() {
    let file = "revoke/update-assume-role-policy-to-foreign-account.json";
    let partner = Settings {
        trusted_accounts: vec!["444455556666".into()],
        ..Settings::default()
    };
    assert!(findings_of(sample(file), &Facts::default(), &partner).is_empty());
    // Another partner configured: still a stranger, and the action carries the allow-list so
    // the executor judges the current trust as the rule did.
    let other = Settings {
        trusted_accounts: vec!["210987654321".into()],
        ..Settings::default()
    };
    let f = findings_of(sample(file), &Facts::default(), &other);
    assert_eq!(f[0].actions, restrict("app-role", &["210987654321"]));
}

#[test]
fn a_member_accounts_role_may_trust_that_account_not_the_central_one() {
    // The same call forwarded from a member account: its own account is the event's.
    let mut raw = sample("revoke/update-assume-role-policy-to-own-account.json");
    raw["account"] = json!("222222222222");
    let f = findings_of(raw, &Facts::default(), &Settings::default());
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].reason.contains("of account 123456789012"),
        "{}",
        f[0].reason
    );
    assert!(matches!(
        &f[0].actions[..],
        [IamAction::RestrictRoleTrust { own_account, .. }] if own_account == "222222222222"
    ));
}

#[test]
fn a_roles_name_or_path_never_spares_it() {
    // A name made to look like IAM Identity Center's, or a path a caller wrote, proves nothing:
    // the change is planned, and only IAM refusing it (UnmodifiableEntity) makes it a report.
    let mut raw = sample("revoke/create-role-open-to-everyone.json");
    raw["detail"]["requestParameters"]["path"] = json!("/aws-reserved/sso.amazonaws.com/");
    let f = findings_of(raw, &Facts::default(), &Settings::default());
    assert!(
        matches!(&f[0].actions[..], [IamAction::RestrictRoleTrust { .. }]),
        "{f:?}"
    );
    let mut raw = sample("revoke/update-assume-role-policy-to-everyone.json");
    raw["detail"]["requestParameters"]["roleName"] =
        json!("AWSReservedSSO_AdministratorAccess_0123456789abcdef");
    let f = findings_of(raw, &Facts::default(), &Settings::default());
    assert_eq!(f.len(), 1);
    assert!(
        matches!(&f[0].actions[..], [IamAction::RestrictRoleTrust { role, .. }] if role.starts_with("AWSReservedSSO_")),
        "{f:?}"
    );
}

#[test]
fn a_role_created_with_the_exemption_tag_and_an_open_trust_gets_both_findings() {
    let mut raw = sample("revoke/create-role-with-exempt-tag.json");
    raw["detail"]["requestParameters"]["assumeRolePolicyDocument"] = json!(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#
    );
    let contain = Settings {
        contain_actor: true,
        ..Settings::default()
    };
    let f = findings_of(raw, &Facts::default(), &contain);
    let ids: Vec<&str> = f.iter().map(|f| f.rule_id).collect();
    assert_eq!(
        ids,
        [
            rules::EXEMPTION_TAG,
            rules::ROLE_TRUST_OPENED,
            rules::CONTAIN_ACTOR
        ]
    );
    // The tag alone is not an escalation: not contained.
    let f = findings_of(
        sample("revoke/create-role-with-exempt-tag.json"),
        &Facts::default(),
        &contain,
    );
    let ids: Vec<&str> = f.iter().map(|f| f.rule_id).collect();
    assert_eq!(ids, [rules::EXEMPTION_TAG]);
}

#[test]
fn a_customer_policy_is_judged_by_its_default_document() {
    let file = "revoke/attach-escalating-customer-policy-to-user.json";
    let arn = "arn:aws:iam::123456789012:policy/ops-tooling";
    let with = |document: Value| Facts {
        attached_document: Some(document),
        ..Facts::default()
    };
    let escalating =
        with(json!({"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}));
    let f = findings_of(sample(file), &escalating, &Settings::default());
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_id, rules::ESCALATING_CUSTOMER_POLICY_ATTACHED);
    assert!(
        f[0].reason
            .starts_with("customer-managed policy ops-tooling was attached to user alice"),
        "{}",
        f[0].reason
    );
    assert_eq!(
        f[0].actions,
        [IamAction::DetachManagedPolicy {
            from: Identity::User("alice".into()),
            policy_arn: arn.into()
        }]
    );
    // Harmless, or unread (the notes say why): no finding.
    let harmless = with(
        json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
    );
    assert!(findings_of(sample(file), &harmless, &Settings::default()).is_empty());
    assert!(findings_of(sample(file), &Facts::default(), &Settings::default()).is_empty());
    // An AWS-managed policy is judged by name only, whatever facts say.
    let mut aws = sample(file);
    aws["detail"]["requestParameters"]["policyArn"] =
        json!("arn:aws:iam::aws:policy/ReadOnlyAccess");
    assert!(findings_of(aws, &escalating, &Settings::default()).is_empty());
    assert!(
        findings_of(
            sample("revoke/attach-harmless-customer-policy-to-role.json"),
            &harmless,
            &Settings::default()
        )
        .is_empty()
    );
}

#[test]
fn every_new_rule_has_its_id_listed() {
    for id in [
        rules::PASSWORD_RESET_FOR_ANOTHER_USER,
        rules::ROLE_TRUST_OPENED,
        rules::ESCALATING_CUSTOMER_POLICY_ATTACHED,
    ] {
        assert!(rules::RULE_IDS.contains(&id), "{id}");
    }
}
