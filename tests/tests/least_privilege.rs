//! The permissions in `infra/`, read as data from the templates as a deployment creates them
//! (SAM's translator, the parameters applied, `Fn::Sub` resolved: `reflex_tests::policy`):
//!
//! - each member account role may do exactly the remediation its own function's central role
//!   may do (a member role that lags behind fails a remediation only in member accounts; one
//!   that grows past it is privilege nobody uses), and only in its own account;
//! - the power to contain a caller (`iam:PutRolePolicy` on any role) exists only with
//!   `ContainActor=true`;
//! - no trust, no deny and no role Reflex assumes names Reflex's identities by a path wildcard:
//!   each is one exact ARN, so a role someone creates under `/reflex/` is neither trusted nor
//!   out of Reflex's reach;
//! - each member role trusts its own function's central role alone, and each function may
//!   assume only its own member role;
//! - no function's role misses the policy that forbids changing Reflex itself.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reflex_tests::policy::{Deployment, allowed_actions, allows, has_path_wildcard};
use reflex_tests::template::load_template;
use serde_json::{Value, json};

/// Services whose permissions serve Reflex's own plumbing (the ledger, the topic and its key, the
/// dead letters, assuming the member role), which stays central, not remediation.
const CENTRAL_ONLY: &[&str] = &["dynamodb:", "sns:", "kms:", "sqs:", "sts:"];
const CENTRAL_ACCOUNT: &str = "111111111111";
const MEMBER_ACCOUNT: &str = "222222222222";
/// The functions that act in member accounts; notify only reports, centrally.
const ACTING: &[&str] = &["revoke", "scale", "harden", "quarantine"];
const ORGANIZATION: &str = "o-abcdefghij";

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../infra")
        .join(name)
}

/// The central stack in account 111111111111, us-east-1.
fn central(parameters: &[(&str, &str)]) -> Deployment {
    let mut all = vec![("AWS::AccountId", CENTRAL_ACCOUNT)];
    all.extend_from_slice(parameters);
    Deployment::of(&path("template.yaml"), &all).unwrap_or_else(|e| panic!("template.yaml: {e}"))
}

/// The member stack in account 222222222222, us-east-1 (where it creates the roles).
fn member(parameters: &[(&str, &str)]) -> Deployment {
    let mut all = vec![
        ("CentralAccountId", CENTRAL_ACCOUNT),
        ("AWS::AccountId", MEMBER_ACCOUNT),
    ];
    all.extend_from_slice(parameters);
    Deployment::of(&path("member.yaml"), &all).unwrap_or_else(|e| panic!("member.yaml: {e}"))
}

/// Each central function, `(name without reflex-, its Lambda resource id, its role's id)`.
fn functions(central: &Deployment) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = central
        .of_type("AWS::Lambda::Function")
        .into_iter()
        .map(|id| {
            let p = &central.resources[&id]["Properties"];
            let name = p["FunctionName"].as_str().expect("a function name");
            let role = p["Role"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: no Role of the stack"));
            let name = name.strip_prefix("reflex-").expect("reflex-*").to_string();
            (name, id, role.to_string())
        })
        .collect();
    out.sort();
    assert_eq!(out.len(), 5, "five functions: {out:?}");
    out
}

/// The member role of `function` in member.yaml.
fn member_role(function: &str) -> String {
    let mut id = function.to_string();
    id[..1].make_ascii_uppercase();
    format!("{id}MemberRole")
}

fn is_remediation(action: &str) -> bool {
    !CENTRAL_ONLY.iter().any(|prefix| action.starts_with(prefix))
}

/// A function's environment variable as deployed.
fn variable(central: &Deployment, function_id: &str, name: &str) -> Option<String> {
    central.text(&central.resources[function_id]["Properties"]["Environment"]["Variables"][name])
}

#[test]
fn each_member_role_allows_exactly_the_remediation_its_own_function_may_do() {
    for contain in ["false", "true"] {
        let central = central(&[("ContainActor", contain)]);
        let member = member(&[("ContainActor", contain)]);
        for (function, _, role) in functions(&central) {
            let central_actions: BTreeSet<String> = allowed_actions(&central.permissions(&role))
                .into_iter()
                .filter(|a| is_remediation(a))
                .collect();
            if function == "notify" {
                assert!(central_actions.is_empty(), "notify only reports");
                assert!(member.resources.get("NotifyMemberRole").is_none());
                continue;
            }
            let id = member_role(&function);
            assert!(
                member.resources.get(&id).is_some(),
                "member.yaml has no {id}"
            );
            let member_actions: BTreeSet<String> = allowed_actions(&member.permissions(&id))
                .into_iter()
                .collect();
            let missing: Vec<&String> = central_actions.difference(&member_actions).collect();
            let extra: Vec<&String> = member_actions.difference(&central_actions).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "ContainActor={contain}: member.yaml's {id} differs from what {function} may do:\n  \
                 missing (remediation fails in member accounts): {missing:?}\n  \
                 extra (privilege {function} does not use): {extra:?}"
            );
            // And only in the member's own account.
            for statement in member.permissions(&id) {
                for resource in statement
                    .resources
                    .iter()
                    .filter(|_| statement.effect == "Allow")
                {
                    assert!(
                        resource == "*"
                            || resource.contains(&format!(":{MEMBER_ACCOUNT}:"))
                            || resource.contains("::snapshot/"),
                        "{id} allows {:?} on {resource}, outside its account",
                        statement.actions
                    );
                }
            }
        }
    }
    // The comparison saw each function's remediation, and nothing of the others'.
    let member = member(&[]);
    let can = |function: &str, action: &str| {
        allowed_actions(&member.permissions(&member_role(function))).contains(&action.to_string())
    };
    assert!(can("revoke", "iam:DetachUserPolicy"));
    assert!(can("scale", "autoscaling:SetDesiredCapacity"));
    assert!(can("harden", "cloudtrail:StartLogging"));
    assert!(can("quarantine", "ec2:RevokeSecurityGroupIngress"));
    for other in ["revoke", "harden", "quarantine"] {
        assert!(!can(other, "autoscaling:SetDesiredCapacity"), "{other}");
    }
    for iam_write in [
        "iam:DetachUserPolicy",
        "iam:UpdateAccessKey",
        "iam:PutRolePolicy",
    ] {
        assert!(!can("scale", iam_write), "scale may not {iam_write}");
        assert!(
            !can("quarantine", iam_write),
            "quarantine may not {iam_write}"
        );
    }
}

#[test]
fn the_power_to_contain_a_caller_exists_only_with_contain_actor() {
    let any_role = |account: &str| format!("arn:aws:iam::{account}:role/ops");
    let any_user = |account: &str| format!("arn:aws:iam::{account}:user/mallory");
    for (contain, expected) in [("false", false), ("true", true)] {
        let central = central(&[("ContainActor", contain)]);
        for (function, _, role) in functions(&central) {
            let may = allows(
                &central.permissions(&role),
                "iam:PutRolePolicy",
                &any_role(CENTRAL_ACCOUNT),
            );
            let contains = expected && (function == "revoke" || function == "harden");
            assert_eq!(may, contains, "ContainActor={contain}: {function}");
        }
        let member = member(&[("ContainActor", contain)]);
        for function in ACTING {
            let id = member_role(function);
            let may = allows(
                &member.permissions(&id),
                "iam:PutRolePolicy",
                &any_role(MEMBER_ACCOUNT),
            );
            let contains = expected && (*function == "revoke" || *function == "harden");
            assert_eq!(may, contains, "ContainActor={contain}: {id}");
        }
        // harden deactivates keys only to contain; revoke also for its own rule.
        let harden_keys = allows(
            &member.permissions("HardenMemberRole"),
            "iam:UpdateAccessKey",
            &any_user(MEMBER_ACCOUNT),
        );
        assert_eq!(harden_keys, expected, "ContainActor={contain}: harden");
        assert!(allows(
            &member.permissions("RevokeMemberRole"),
            "iam:UpdateAccessKey",
            &any_user(MEMBER_ACCOUNT),
        ));
    }
}

/// Every string in `node`.
fn strings(node: &Value) -> Vec<String> {
    match node {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn no_trust_or_deny_names_reflexs_identities_by_a_path_wildcard() {
    let parameter_sets: [&[(&str, &str)]; 2] = [
        &[],
        &[("OrganizationId", ORGANIZATION), ("ContainActor", "true")],
    ];
    let mut checked = 0;
    for parameters in parameter_sets {
        let member_parameters: Vec<(&str, &str)> = parameters
            .iter()
            .copied()
            .filter(|(k, _)| *k == "ContainActor")
            .collect();
        for (template, deployed) in [
            ("template.yaml", central(parameters)),
            ("member.yaml", member(&member_parameters)),
        ] {
            for role in deployed.of_type("AWS::IAM::Role") {
                // Who may assume the role.
                for statement in deployed.trust(&role) {
                    let named = strings(&statement.principal)
                        .into_iter()
                        .chain(strings(&statement.condition));
                    for arn in named {
                        assert!(
                            !has_path_wildcard(&arn),
                            "{template}: {role} trusts {arn}: anyone who can create a role there is trusted"
                        );
                        checked += 1;
                    }
                    assert_ne!(
                        statement.principal,
                        json!({ "AWS": "*" }),
                        "{template}: {role} trusts everyone"
                    );
                    assert!(
                        !statement.condition.to_string().contains("ArnLike"),
                        "{template}: {role} trusts by pattern: {}",
                        statement.condition
                    );
                }
                for statement in deployed.permissions(&role) {
                    // What the role may never change, and which roles it may become.
                    let identities = statement.effect == "Deny"
                        || statement.actions.iter().any(|a| a == "sts:AssumeRole");
                    for arn in statement.resources.iter().filter(|_| identities) {
                        assert!(
                            !has_path_wildcard(arn),
                            "{template}: {role}'s {:?} ({}) names {arn}: a role someone else \
                             creates there is {}",
                            statement.sid,
                            statement.effect,
                            if statement.effect == "Deny" {
                                "out of Reflex's reach"
                            } else {
                                "one Reflex may assume"
                            }
                        );
                        checked += 1;
                    }
                }
            }
            // The functions' own ARNs for the loop guard.
            for id in deployed.of_type("AWS::Lambda::Function") {
                for name in ["REFLEX_SELF_ARN", "REFLEX_MEMBER_ROLE_ARN"] {
                    let value = variable(&deployed, &id, name).unwrap_or_default();
                    assert!(!has_path_wildcard(&value), "{id}: {name}={value}");
                }
            }
        }
    }
    assert!(
        checked > 30,
        "the check saw the trusts and denies: {checked}"
    );
}

#[test]
fn each_member_role_trusts_its_own_function_alone_and_each_function_assumes_only_its_own() {
    let member = member(&[]);
    let member_arn = |function: &str| {
        member
            .role_arn(&member_role(function))
            .unwrap_or_else(|| panic!("{function}'s member role"))
    };
    for organization in ["", ORGANIZATION] {
        let central = central(&[("OrganizationId", organization)]);
        for (function, lambda, role) in functions(&central) {
            let central_arn = central.role_arn(&role).expect("the role's ARN");
            assert_eq!(
                central_arn,
                format!("arn:aws:iam::{CENTRAL_ACCOUNT}:role/reflex/reflex-{function}-us-east-1"),
                "a fixed name, with the region, under /reflex/"
            );
            assert_eq!(
                variable(&central, &lambda, "REFLEX_SELF_ARN").as_deref(),
                Some(central_arn.as_str()),
                "{function}'s loop guard knows its own role by its exact ARN"
            );
            let assume: Vec<_> = central
                .permissions(&role)
                .into_iter()
                .filter(|s| s.actions.iter().any(|a| a == "sts:AssumeRole"))
                .collect();
            let configured = variable(&central, &lambda, "REFLEX_MEMBER_ROLE_ARN");
            if function == "notify" {
                assert!(assume.is_empty(), "notify assumes no role");
                assert_eq!(configured.as_deref(), Some(""));
                continue;
            }
            // Its REFLEX_MEMBER_ROLE_ARN is its own member role, path included.
            assert_eq!(
                configured.map(|arn| arn.replace("{account}", MEMBER_ACCOUNT)),
                Some(member_arn(&function)),
                "{function}'s REFLEX_MEMBER_ROLE_ARN"
            );
            // It may assume that one and no other function's.
            for other in ACTING {
                assert_eq!(
                    allows(&assume, "sts:AssumeRole", &member_arn(other)),
                    *other == function,
                    "{function} assuming {other}'s member role"
                );
            }
            assert!(!allows(
                &assume,
                "sts:AssumeRole",
                &format!("arn:aws:iam::{MEMBER_ACCOUNT}:role/reflex/ops")
            ));
            // In the organization's accounts only, when it is given.
            let expected = if organization.is_empty() {
                Value::Null
            } else {
                json!({ "StringEquals": { "aws:ResourceOrgID": organization } })
            };
            assert_eq!(assume.len(), 1);
            assert_eq!(assume[0].condition, expected, "{function}");

            // The member role trusts exactly this central role: the central account as the
            // principal (it exists before any role does), the role's ARN as a condition.
            let trust = member.trust(&member_role(&function));
            assert_eq!(trust.len(), 1, "{function}: {trust:?}");
            assert_eq!(trust[0].effect, "Allow");
            assert_eq!(trust[0].actions, ["sts:AssumeRole"]);
            assert_eq!(
                trust[0].principal,
                json!({ "AWS": format!("arn:aws:iam::{CENTRAL_ACCOUNT}:root") })
            );
            assert_eq!(
                trust[0].condition,
                json!({ "ArnEquals": { "aws:PrincipalArn": central_arn } }),
                "{function}'s member role"
            );
        }
    }
}

#[test]
fn every_function_role_carries_the_policy_that_forbids_changing_reflex() {
    let deployed = central(&[]);
    let reflex_roles: Vec<String> = functions(&deployed)
        .iter()
        .map(|(_, _, role)| deployed.role_arn(role).expect("ARN"))
        .collect();
    for (function, _, role) in functions(&deployed) {
        let attached = deployed.resources[&role]["Properties"]["ManagedPolicyArns"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            attached
                .iter()
                .any(|p| p.get("Ref").and_then(Value::as_str) == Some("NeverTouchReflexItself")),
            "{role} lacks NeverTouchReflexItself: {attached:?}"
        );
        let permissions = deployed.permissions(&role);
        for reflex in &reflex_roles {
            for action in [
                "iam:PutRolePolicy",
                "iam:DetachRolePolicy",
                "iam:DeleteRole",
            ] {
                assert!(
                    !allows(&permissions, action, reflex),
                    "{function} may {action} on Reflex's {reflex}"
                );
            }
        }
    }

    let central = load_template(&path("template.yaml")).expect("template");
    let denied: Vec<Value> =
        central["Resources"]["NeverTouchReflexItself"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .filter(|s| s["Effect"] == "Deny")
            .cloned()
            .collect();
    let actions = |statement: &Value| -> Vec<String> {
        match &statement["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|a| a.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    };
    // What must be denied, and a piece of the resource it must be denied on.
    for (action, resource) in [
        ("iam:*", "role/reflex/reflex-revoke-${AWS::Region}"),
        ("iam:*", "role/reflex/reflex-notify-${AWS::Region}"),
        ("lambda:*", "function:reflex-*"),
        ("events:DeleteRule", "rule/${AWS::StackName}-*"),
        ("dynamodb:DeleteTable", "LedgerTable"),
        ("sns:DeleteTopic", "ReportsTopic"),
        ("kms:ScheduleKeyDeletion", "ReflexKey"),
        ("sqs:PurgeQueue", "DeadLetterQueue"),
        ("logs:DeleteLogGroup", "log-group:/aws/lambda/reflex-*"),
        ("cloudwatch:DeleteAlarms", "alarm:reflex-*"),
        ("cloudwatch:DeleteDashboards", "dashboard/reflex"),
    ] {
        assert!(
            denied.iter().any(|s| actions(s).iter().any(|a| a == action)
                && s["Resource"].to_string().contains(resource)),
            "NeverTouchReflexItself does not deny {action} on {resource}"
        );
    }
}

#[test]
fn the_member_roles_may_not_change_reflex_roles() {
    let member = member(&[("ContainActor", "true")]);
    let reflex_roles: Vec<String> = ACTING
        .iter()
        .map(|f| member.role_arn(&member_role(f)).expect("ARN"))
        .chain(member.role_arn("ForwardRole"))
        .collect();
    for function in ACTING {
        let id = member_role(function);
        assert_eq!(member.resources[&id]["Properties"]["Path"], "/reflex/");
        let permissions = member.permissions(&id);
        for reflex in &reflex_roles {
            for action in [
                "iam:PutRolePolicy",
                "iam:DetachRolePolicy",
                "iam:DeleteRole",
            ] {
                assert!(
                    !allows(&permissions, action, reflex),
                    "{id} may {action} on Reflex's {reflex}"
                );
            }
        }
    }
}
