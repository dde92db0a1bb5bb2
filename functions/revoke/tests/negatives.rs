//! Each negative sample of revoke's newer triggers is harmless for its own stated reason: it is
//! read (neither ignored for some other reason nor refused as malformed), and changing the one
//! property that makes it harmless makes it a finding. Pure, no emulator.

use reflex_revoke::{Facts, IamAction, Revoke, Settings, Trigger, rules};
use reflex_shared::{Finding, Function, Interpreted};
use reflex_testkit::sample;
use serde_json::{Value, json};

fn interpreted(raw: Value) -> Interpreted<Trigger> {
    let event = reflex_shared::event::parse(raw).expect("a well-formed event");
    Revoke::interpret(&event, &Settings::default()).expect("a valid call")
}

/// The deployment's settings: the samples' organization is its own, configured as trusted.
fn settings() -> Settings {
    Settings {
        trusted_accounts: vec!["o-a1b2c3d4e5".into()],
        ..Settings::default()
    }
}

/// The rules' findings for a call revoke reads as a trigger (never one it ignores).
fn decided(raw: Value, facts: &Facts) -> Vec<Finding<IamAction>> {
    match interpreted(raw) {
        Interpreted::Trigger(trigger) => rules::decide(&trigger, facts, &settings()),
        Interpreted::Ignored(why) => panic!("ignored, not judged: {why}"),
    }
}

fn rule_ids(findings: &[Finding<IamAction>]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule_id).collect()
}

/// The sample with its trust document (`policyDocument` or `assumeRolePolicyDocument`, a JSON
/// string as CloudTrail records it) changed by `edit`.
fn with_trust(file: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut raw = sample(file);
    let params = &mut raw["detail"]["requestParameters"];
    let key = if params.get("policyDocument").is_some() {
        "policyDocument"
    } else {
        "assumeRolePolicyDocument"
    };
    let mut document: Value = serde_json::from_str(params[key].as_str().unwrap()).unwrap();
    edit(&mut document);
    params[key] = document.to_string().into();
    raw
}

#[test]
fn a_password_reset_of_ones_own_is_ignored_because_it_is_ones_own() {
    let file = "revoke/update-login-profile-for-self.json";
    match interpreted(sample(file)) {
        Interpreted::Ignored(why) => {
            assert!(why.contains("changed their own console password"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let mut another = sample(file);
    another["detail"]["requestParameters"]["userName"] = json!("alice");
    assert_eq!(
        rule_ids(&decided(another, &Facts::default())),
        [rules::PASSWORD_RESET_FOR_ANOTHER_USER]
    );
}

#[test]
fn a_trust_to_the_own_account_is_harmless_because_of_the_account() {
    let file = "revoke/update-assume-role-policy-to-own-account.json";
    assert!(decided(sample(file), &Facts::default()).is_empty());
    let stranger = with_trust(file, |doc| {
        doc["Statement"][1]["Principal"]["AWS"] = json!("arn:aws:iam::444455556666:root");
    });
    assert_eq!(
        rule_ids(&decided(stranger, &Facts::default())),
        [rules::ROLE_TRUST_OPENED]
    );
}

#[test]
fn a_trust_to_everyone_in_the_organization_is_harmless_because_of_its_condition() {
    let file = "revoke/update-assume-role-policy-to-organization.json";
    assert!(decided(sample(file), &Facts::default()).is_empty());
    let unconditioned = with_trust(file, |doc| {
        doc["Statement"][1]
            .as_object_mut()
            .unwrap()
            .remove("Condition");
    });
    assert_eq!(
        rule_ids(&decided(unconditioned, &Facts::default())),
        [rules::ROLE_TRUST_OPENED]
    );
}

#[test]
fn a_role_created_for_a_service_is_harmless_because_a_service_assumes_it() {
    let file = "revoke/create-role-for-a-service.json";
    assert!(decided(sample(file), &Facts::default()).is_empty());
    let everyone = with_trust(file, |doc| {
        doc["Statement"][0]["Principal"] = json!({"AWS": "*"});
    });
    assert_eq!(
        rule_ids(&decided(everyone, &Facts::default())),
        [rules::ROLE_TRUST_OPENED]
    );
}

#[test]
fn a_customer_policy_attached_is_harmless_because_of_its_document() {
    let file = "revoke/attach-harmless-customer-policy-to-role.json";
    let document = |action: &str| Facts {
        attached_document: Some(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}),
        ),
        ..Facts::default()
    };
    assert!(decided(sample(file), &document("s3:GetObject")).is_empty());
    assert_eq!(
        rule_ids(&decided(sample(file), &document("iam:PutRolePolicy"))),
        [rules::ESCALATING_CUSTOMER_POLICY_ATTACHED]
    );
}
