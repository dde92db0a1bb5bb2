//! The permissions in `infra/`, read as data from the templates as a deployment creates them
//! (SAM's translator, the parameters applied, `Fn::Sub` resolved: `reflex_tests::policy`):
//!
//! - each member account role may do exactly the remediation its own function's central role
//!   may do, statement by statement: the same actions on the same resources under the same
//!   conditions (a member role that lags behind fails a remediation only in member accounts; one
//!   that grows past it, or lost a condition, is privilege nobody uses), and only in its own
//!   account;
//! - the power to contain a caller (`iam:PutRolePolicy` on any role) exists only with
//!   `ContainActor=true`;
//! - no trust, no deny and no role Reflex assumes names Reflex's identities by a path wildcard:
//!   each is one exact ARN, so a role someone creates under `/reflex/` is neither trusted nor
//!   out of Reflex's reach;
//! - each member role trusts its own function's central role alone, and each function may
//!   assume only its own member role;
//! - no function's role misses the policy that forbids changing Reflex itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use reflex_tests::member::role_id;
use reflex_tests::policy::{
    Deployment, Statement, allowed_actions, allows, denies, has_path_wildcard,
};
use serde_json::{Value, json};

/// Services whose permissions serve Reflex's own plumbing (the ledger, the topic and its key, the
/// dead letters, assuming the member role), which stays central, not remediation.
const CENTRAL_ONLY: &[&str] = &["dynamodb:", "sns:", "kms:", "sqs:", "sts:"];
const CENTRAL_ACCOUNT: &str = "111111111111";
const MEMBER_ACCOUNT: &str = "222222222222";
/// The functions that act in member accounts; notify only reports, centrally.
const ACTING: &[&str] = &["revoke", "scale", "harden", "quarantine", "privatize"];
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
    assert_eq!(out.len(), 6, "six functions: {out:?}");
    out
}

fn is_remediation(action: &str) -> bool {
    !CENTRAL_ONLY.iter().any(|prefix| action.starts_with(prefix))
}

/// A function's environment variable as deployed.
fn variable(central: &Deployment, function_id: &str, name: &str) -> Option<String> {
    central.text(&central.resources[function_id]["Properties"]["Environment"]["Variables"][name])
}

/// A statement as both templates must write it: its actions, resources and condition.
#[derive(Debug, PartialEq)]
struct Grant {
    actions: BTreeSet<String>,
    resources: BTreeSet<String>,
    condition: Value,
}

/// A central value as the member role must have it: in the member's account, in any region (one
/// member role serves every region).
fn as_member(text: &str) -> String {
    text.replace(CENTRAL_ACCOUNT, MEMBER_ACCOUNT)
        .replace(":us-east-1:", ":*:")
}

/// The remediation `statements` allow, by Sid (the templates give a statement the same Sid in
/// both); `central`: the central role's, written as the member role must have them.
fn grants(role: &str, statements: &[Statement], central: bool) -> BTreeMap<String, Grant> {
    let mut out = BTreeMap::new();
    for statement in statements.iter().filter(|s| s.effect == "Allow") {
        let remediation = statement
            .actions
            .iter()
            .filter(|a| is_remediation(a))
            .count();
        if central && remediation == 0 {
            continue;
        }
        assert!(
            !central || remediation == statement.actions.len(),
            "{role}: {:?} mixes remediation and Reflex's plumbing; split it",
            statement.sid
        );
        let sid = statement
            .sid
            .clone()
            .unwrap_or_else(|| panic!("{role}: a statement without a Sid: {statement:?}"));
        let seen = |text: &str| {
            if central {
                as_member(text)
            } else {
                text.to_string()
            }
        };
        let grant = Grant {
            actions: statement.actions.iter().cloned().collect(),
            resources: statement.resources.iter().map(|r| seen(r)).collect(),
            condition: serde_json::from_str(&seen(&statement.condition.to_string()))
                .expect("still JSON"),
        };
        assert!(
            out.insert(sid.clone(), grant).is_none(),
            "{role}: two statements {sid}"
        );
    }
    out
}

/// Where a member role differs from what its own function's central role may do, one line each.
fn member_role_differences(central: &Deployment, member: &Deployment) -> Vec<String> {
    let mut out = Vec::new();
    for (function, _, role) in functions(central) {
        let wanted = grants(&role, &central.permissions(&role), true);
        let id = role_id(&function);
        if function == "notify" {
            if !wanted.is_empty() {
                out.push(format!("notify only reports, but {role} may {wanted:?}"));
            }
            if member.resources.get(&id).is_some() {
                out.push(format!("member.yaml has a {id}: notify acts in no account"));
            }
            continue;
        }
        if member.resources.get(&id).is_none() {
            out.push(format!("member.yaml has no {id}"));
            continue;
        }
        let got = grants(&id, &member.permissions(&id), false);
        let sids: BTreeSet<&String> = wanted.keys().chain(got.keys()).collect();
        for sid in sids {
            match (wanted.get(sid), got.get(sid)) {
                (w, g) if w == g => {}
                (None, None) => {}
                (Some(w), None) => out.push(format!(
                    "{id} lacks {sid} ({function}'s remediation fails in member accounts): {w:?}"
                )),
                (None, Some(g)) => out.push(format!(
                    "{id}'s {sid} is privilege {function} does not use: {g:?}"
                )),
                (Some(w), Some(g)) => out.push(format!(
                    "{id}'s {sid} differs from {function}'s:\n    {role} (as in the member \
                     account): {w:?}\n    {id}: {g:?}"
                )),
            }
        }
    }
    out
}

#[test]
fn each_member_role_allows_exactly_the_remediation_its_own_function_may_do() {
    for contain in ["false", "true"] {
        let central = central(&[("ContainActor", contain)]);
        let member = member(&[("ContainActor", contain)]);
        let differences = member_role_differences(&central, &member);
        assert!(
            differences.is_empty(),
            "ContainActor={contain}: member.yaml's roles differ from what their functions may \
             do:\n  {}",
            differences.join("\n  ")
        );
        // And only in the member's own account.
        // Snapshot, image and bucket ARNs name no account: only their owner can share a
        // snapshot or an image, and a bucket statement is held to the account by its condition.
        let in_this_account = json!({ "StringEquals": { "aws:ResourceAccount": MEMBER_ACCOUNT } });
        for function in ACTING {
            let id = role_id(function);
            for statement in member.permissions(&id) {
                for resource in statement
                    .resources
                    .iter()
                    .filter(|_| statement.effect == "Allow")
                {
                    let bucket = resource.starts_with("arn:aws:s3:::")
                        && statement.condition == in_this_account;
                    assert!(
                        resource == "*"
                            || resource.contains(&format!(":{MEMBER_ACCOUNT}:"))
                            || resource.contains("::snapshot/")
                            || resource.contains("::image/")
                            || bucket,
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
        allowed_actions(&member.permissions(&role_id(function))).contains(&action.to_string())
    };
    assert!(can("revoke", "iam:DetachUserPolicy"));
    assert!(can("scale", "autoscaling:SetDesiredCapacity"));
    assert!(can("harden", "cloudtrail:StartLogging"));
    assert!(can("quarantine", "ec2:RevokeSecurityGroupIngress"));
    assert!(can("privatize", "s3:PutBucketPolicy"));
    for other in ["revoke", "harden", "quarantine", "privatize"] {
        assert!(!can(other, "autoscaling:SetDesiredCapacity"), "{other}");
    }
    // The power to rewrite bucket policies and sharing is privatize's alone.
    for other in ["revoke", "scale", "harden", "quarantine"] {
        for action in [
            "s3:PutBucketPolicy",
            "s3:PutBucketAcl",
            "ec2:ModifySnapshotAttribute",
            "ec2:ModifyImageAttribute",
            "s3:PutBucketTagging",
        ] {
            assert!(!can(other, action), "{other} may {action}");
        }
    }
    // Privatize removes the exemption tag from snapshots and images only: instances and
    // security groups are quarantine's.
    let privatize = member.permissions(&role_id("privatize"));
    for (resource, allowed) in [
        (
            "arn:aws:ec2:us-east-1::snapshot/snap-0a1b2c3d4e5f60001",
            true,
        ),
        ("arn:aws:ec2:us-east-1::image/ami-0a1b2c3d4e5f60001", true),
        (
            "arn:aws:ec2:us-east-1:222222222222:instance/i-0a1b2c3d4e5f60001",
            false,
        ),
        (
            "arn:aws:ec2:us-east-1:222222222222:security-group/sg-0a1b2c3d4e5f60001",
            false,
        ),
    ] {
        assert_eq!(
            allows(&privatize, "ec2:DeleteTags", resource),
            allowed,
            "privatize ec2:DeleteTags on {resource}"
        );
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
        assert!(
            !can("privatize", iam_write),
            "privatize may not {iam_write}"
        );
    }
}

/// `infra/member.yaml` with `from` replaced by `to` (once, where it is written once), as
/// deployed in the member account.
fn member_edited(from: &str, to: &str) -> Deployment {
    let written = std::fs::read_to_string(path("member.yaml")).expect("member.yaml");
    assert_eq!(written.matches(from).count(), 1, "{from:?} in member.yaml");
    let copy = std::env::temp_dir().join(format!(
        "reflex-least-privilege-{}-{}.yaml",
        std::process::id(),
        from.len()
    ));
    std::fs::write(&copy, written.replacen(from, to, 1)).expect("a scratch copy");
    let deployed = Deployment::of(
        &copy,
        &[
            ("CentralAccountId", CENTRAL_ACCOUNT),
            ("AWS::AccountId", MEMBER_ACCOUNT),
        ],
    );
    let _ = std::fs::remove_file(&copy);
    deployed.unwrap_or_else(|e| panic!("the edited member.yaml: {e}"))
}

/// The comparison reads more than the actions: a member statement that lost its condition, or
/// whose resources grew, has the same actions and is still a difference.
#[test]
fn a_member_statement_that_lost_its_condition_or_widened_is_a_difference() {
    let central = central(&[]);
    // Without its condition, the quarantine member role could open any group to the world.
    let unconditional = member_edited(
        "                Condition:\n                  StringEquals:\n                    \
         aws:ResourceTag/reflex:untracked-group: \"true\"\n",
        "",
    );
    assert_eq!(
        allowed_actions(&unconditional.permissions("QuarantineMemberRole")),
        allowed_actions(&member(&[]).permissions("QuarantineMemberRole")),
        "the same actions"
    );
    let differences = member_role_differences(&central, &unconditional);
    assert!(
        matches!(differences.as_slice(), [one]
            if one.starts_with("QuarantineMemberRole's OpenTheUntrackedGroupOnly differs")),
        "{differences:#?}"
    );
    // Scale's capacity on any resource of the account instead of its groups.
    let wider = member_edited(
        "SetDesiredCapacity\n                Resource: !Sub \"arn:${AWS::Partition}:autoscaling:*:\
         ${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*\"",
        "SetDesiredCapacity\n                Resource: !Sub \"arn:${AWS::Partition}:autoscaling:*:\
         ${AWS::AccountId}:*\"",
    );
    let differences = member_role_differences(&central, &wider);
    assert!(
        matches!(differences.as_slice(), [one] if one.starts_with("ScaleMemberRole's Scale differs")),
        "{differences:#?}"
    );
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
            let id = role_id(function);
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
            // The functions' own ARNs for the loop guard: every function has its own (a missing
            // one would pass the wildcard check as an empty text), the member role's when given.
            for id in deployed.of_type("AWS::Lambda::Function") {
                let own = variable(&deployed, &id, "REFLEX_SELF_ARN")
                    .filter(|arn| !arn.is_empty())
                    .unwrap_or_else(|| panic!("{template}: {id} has no REFLEX_SELF_ARN"));
                assert!(!has_path_wildcard(&own), "{id}: REFLEX_SELF_ARN={own}");
                checked += 1;
                let member = variable(&deployed, &id, "REFLEX_MEMBER_ROLE_ARN").unwrap_or_default();
                assert!(
                    !has_path_wildcard(&member),
                    "{id}: REFLEX_MEMBER_ROLE_ARN={member}"
                );
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
            .role_arn(&role_id(function))
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
            let trust = member.trust(&role_id(&function));
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

    // Whatever a role allows, the policy denies changing each piece of Reflex, named by its ARN
    // as deployed (another resource's as its placeholder, `${LedgerTable.Arn}`); the CIS alarms
    // exist only with a trail's log group.
    let deployed = central(&[("TrailLogGroupName", "trail-logs")]);
    let (_, never) = deployed
        .managed_policies()
        .into_iter()
        .find(|(id, _)| id == "NeverTouchReflexItself")
        .expect("the managed policy NeverTouchReflexItself");
    let text = |node: &Value| {
        deployed
            .text(node)
            .unwrap_or_else(|| panic!("a name: {node}"))
    };
    let here = |service: &str, resource: &str| {
        format!("arn:aws:{service}:us-east-1:{CENTRAL_ACCOUNT}:{resource}")
    };
    let mut reflex: Vec<(&str, String)> = vec![
        ("dynamodb:DeleteTable", "${LedgerTable.Arn}".to_string()),
        (
            "dynamodb:UpdateTimeToLive",
            "${LedgerTable.Arn}".to_string(),
        ),
        ("sns:DeleteTopic", "${ReportsTopic}".to_string()),
        ("sns:Subscribe", "${ReportsTopic}".to_string()),
        ("kms:ScheduleKeyDeletion", "${ReflexKey.Arn}".to_string()),
        ("kms:PutKeyPolicy", "${ReflexKey.Arn}".to_string()),
        ("sqs:PurgeQueue", "${DeadLetterQueue.Arn}".to_string()),
        ("sqs:ReceiveMessage", "${DeadLetterQueue.Arn}".to_string()),
    ];
    for (_, lambda, role) in functions(&deployed) {
        let role = deployed.role_arn(&role).expect("ARN");
        reflex.push(("iam:PutRolePolicy", role.clone()));
        reflex.push(("iam:UpdateAssumeRolePolicy", role));
        let p = &deployed.resources[&lambda]["Properties"];
        let function = here("lambda", &format!("function:{}", text(&p["FunctionName"])));
        reflex.push(("lambda:UpdateFunctionCode", function.clone()));
        reflex.push(("lambda:DeleteFunction", function));
        let group = p["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{lambda} logs to no log group of the stack"));
        let name = text(&deployed.resources[group]["Properties"]["LogGroupName"]);
        reflex.push((
            "logs:DeleteLogGroup",
            here("logs", &format!("log-group:{name}")),
        ));
    }
    // CloudFormation names a rule STACK-LOGICALID-SUFFIX.
    let stack = deployed.value("AWS::StackName").expect("the stack's name");
    for rule in deployed.of_type("AWS::Events::Rule") {
        let arn = here("events", &format!("rule/{stack}-{rule}-1A2B3C4D5E6F"));
        reflex.push(("events:DisableRule", arn.clone()));
        reflex.push(("events:RemoveTargets", arn));
    }
    for alarm in deployed.of_type("AWS::CloudWatch::Alarm") {
        let name = text(&deployed.resources[&alarm]["Properties"]["AlarmName"]);
        reflex.push((
            "cloudwatch:DeleteAlarms",
            here("cloudwatch", &format!("alarm:{name}")),
        ));
        reflex.push((
            "cloudwatch:SetAlarmState",
            here("cloudwatch", &format!("alarm:{name}")),
        ));
    }
    for dashboard in deployed.of_type("AWS::CloudWatch::Dashboard") {
        let name = text(&deployed.resources[&dashboard]["Properties"]["DashboardName"]);
        // Dashboards are global: no region in their ARN.
        let arn = format!("arn:aws:cloudwatch::{CENTRAL_ACCOUNT}:dashboard/{name}");
        reflex.push(("cloudwatch:PutDashboard", arn));
    }
    assert!(reflex.len() > 60, "every piece of Reflex: {reflex:#?}");
    let undenied: Vec<String> = reflex
        .iter()
        .filter(|(action, resource)| !denies(&never, action, resource))
        .map(|(action, resource)| format!("{action} on {resource}"))
        .collect();
    assert!(
        undenied.is_empty(),
        "NeverTouchReflexItself does not deny:\n  {}",
        undenied.join("\n  ")
    );
    // The check itself: what is not Reflex's is not denied.
    assert!(!denies(
        &never,
        "iam:PutRolePolicy",
        &format!("arn:aws:iam::{CENTRAL_ACCOUNT}:role/reflex/ops")
    ));
    assert!(!denies(&never, "sns:DeleteTopic", "${OtherTopic}"));
}

#[test]
fn the_member_roles_may_not_change_reflex_roles() {
    let member = member(&[("ContainActor", "true")]);
    let reflex_roles: Vec<String> = ACTING
        .iter()
        .map(|f| member.role_arn(&role_id(f)).expect("ARN"))
        .chain(member.role_arn("ForwardRole"))
        .collect();
    for function in ACTING {
        let id = role_id(function);
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
