//! The permissions in `infra/`, read as data: the member accounts' remediation role may do
//! exactly the remediation the central functions may do (a member role that lags behind fails
//! a remediation only in member accounts; one that grows past it is privilege nobody uses), and
//! no function's role misses the policy that forbids changing Reflex itself.

use std::collections::BTreeSet;
use std::path::Path;

use reflex_tests::template::load_template;
use serde_json::Value;

/// Services whose permissions serve Reflex's own plumbing (the ledger, the topic and its key, the
/// dead letters, assuming the member role), which stays central, not remediation.
const CENTRAL_ONLY: &[&str] = &["dynamodb:", "sns:", "kms:", "sqs:", "sts:"];

fn template(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../infra")
        .join(name);
    load_template(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The roles of a template with their resource ids: `(id, properties)`.
fn roles(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .map(|(id, r)| (id.clone(), r["Properties"].clone()))
        .collect()
}

/// Statements of a role's inline policies; a conditional statement (`Fn::If`) counts as its
/// "true" branch, the one deployed with the cross-account defaults.
fn statements(role: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for policy in role["Policies"].as_array().into_iter().flatten() {
        for statement in policy["PolicyDocument"]["Statement"]
            .as_array()
            .into_iter()
            .flatten()
        {
            match statement.get("Fn::If") {
                Some(branches) => out.push(branches[1].clone()),
                None => out.push(statement.clone()),
            }
        }
    }
    out
}

/// A statement's `Action`, one string or a list.
fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|a| a.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn allowed_actions(role: &Value) -> BTreeSet<String> {
    statements(role)
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(actions)
        .collect()
}

fn is_remediation(action: &str) -> bool {
    !CENTRAL_ONLY.iter().any(|prefix| action.starts_with(prefix))
}

/// The central function roles: the role of each function (`Role: !GetAtt X.Arn`), five.
fn function_roles(central: &Value) -> Vec<(String, Value)> {
    let resources = central["Resources"].as_object().expect("Resources");
    let roles: Vec<(String, Value)> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .map(|f| {
            // `!GetAtt X.Arn` loads as "X.Arn"; the long form is ["X", "Arn"].
            let get_att = &f["Properties"]["Role"]["Fn::GetAtt"];
            let id = get_att
                .as_str()
                .and_then(|a| a.strip_suffix(".Arn"))
                .or_else(|| get_att[0].as_str())
                .unwrap_or_else(|| panic!("a function without Role: !GetAtt X.Arn: {f}"));
            (id.to_string(), resources[id]["Properties"].clone())
        })
        .collect();
    assert_eq!(roles.len(), 5, "one role per function");
    roles
}

#[test]
fn the_member_role_allows_exactly_the_remediation_the_central_functions_may_do() {
    let central = template("template.yaml");
    let function_roles = function_roles(&central);
    let central_actions: BTreeSet<String> = function_roles
        .iter()
        .flat_map(|(_, r)| allowed_actions(r))
        .filter(|a| is_remediation(a))
        .collect();

    let member = template("member.yaml");
    let remediation = roles(&member)
        .into_iter()
        .find(|(id, _)| id == "RemediationRole")
        .expect("member.yaml has RemediationRole")
        .1;
    let member_actions = allowed_actions(&remediation);

    let missing: Vec<&String> = central_actions.difference(&member_actions).collect();
    let extra: Vec<&String> = member_actions.difference(&central_actions).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "infra/member.yaml's RemediationRole differs from what the central functions may do:\n  \
         missing (remediation fails in member accounts): {missing:?}\n  \
         extra (privilege no function uses): {extra:?}"
    );
    assert!(
        central_actions.contains("iam:DetachUserPolicy")
            && central_actions.contains("ec2:RevokeSecurityGroupIngress")
            && central_actions.contains("cloudtrail:StartLogging"),
        "the comparison saw the remediation actions: {central_actions:?}"
    );
}

#[test]
fn every_function_role_carries_the_policy_that_forbids_changing_reflex() {
    let central = template("template.yaml");
    for (id, role) in function_roles(&central) {
        let attached = role["ManagedPolicyArns"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            attached
                .iter()
                .any(|p| p.get("Ref").and_then(Value::as_str) == Some("NeverTouchReflexItself")),
            "{id} lacks NeverTouchReflexItself: {attached:?}"
        );
    }
    let denied: Vec<Value> =
        central["Resources"]["NeverTouchReflexItself"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .filter(|s| s["Effect"] == "Deny")
            .cloned()
            .collect();
    // What must be denied, and a piece of the resource it must be denied on.
    for (action, resource) in [
        ("iam:*", "role/reflex/*"),
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
fn the_member_role_may_not_change_reflex_roles() {
    let member = template("member.yaml");
    let (_, remediation) = roles(&member)
        .into_iter()
        .find(|(id, _)| id == "RemediationRole")
        .expect("RemediationRole");
    assert_eq!(remediation["Path"], "/reflex/");
    assert!(
        statements(&remediation)
            .iter()
            .any(|s| s["Effect"] == "Deny"
                && s["Action"] == "iam:*"
                && s["Resource"].to_string().contains(":role/reflex/*")),
        "the member role must not change /reflex/ roles"
    );
}
