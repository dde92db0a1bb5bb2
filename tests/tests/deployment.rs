//! Deploying Reflex, rehearsed without an account: the templates in `infra/` as CloudFormation
//! would create them (SAM's own translator, then the parameters and conditions applied, see
//! [`reflex_tests::render`]), checked for what breaks a first deploy, a retry, a second region,
//! and for events that could be dropped without anyone being told.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use reflex_tests::render::render;
use reflex_tests::template::yaml_to_json_document;
use serde_json::{Value, json};

const CENTRAL: &str = "template.yaml";
const MEMBER: &str = "member.yaml";
const FUNCTIONS: &[&str] = &[
    "revoke",
    "scale",
    "notify",
    "harden",
    "quarantine",
    "privatize",
];

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../infra")
        .join(name)
}

/// The resources `name` creates, with `parameters` instead of the defaults.
fn deployed(name: &str, parameters: &[(&str, &str)]) -> Value {
    render(&path(name), parameters).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The template as written (short-form tags in their long form), parameters unresolved.
fn written(name: &str) -> Value {
    let text = std::fs::read_to_string(path(name)).expect("template");
    yaml_to_json_document(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `(id, resource)` of every resource of `type_`.
fn of_type<'a>(template: &'a Value, type_: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == type_)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// The Lambda function named `reflex-<function>` and its resource id.
fn function<'a>(template: &'a Value, function: &str) -> (&'a str, &'a Value) {
    of_type(template, "AWS::Lambda::Function")
        .into_iter()
        .find(|(_, f)| f["Properties"]["FunctionName"] == format!("reflex-{function}"))
        .unwrap_or_else(|| panic!("no function reflex-{function}"))
}

/// The rules whose target is the function with resource id `id`.
fn rules_of<'a>(template: &'a Value, id: &str) -> Vec<(&'a str, &'a Value)> {
    of_type(template, "AWS::Events::Rule")
        .into_iter()
        .filter(|(_, rule)| {
            rule["Properties"]["Targets"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["Arn"] == json!({ "Fn::GetAtt": [id, "Arn"] }))
        })
        .collect()
}

/// The metrics an alarm watches: `(namespace, name, dimension value)`, of a single metric or of
/// every metric in its math.
fn watched(alarm: &Value) -> Vec<(String, String, Value)> {
    let p = &alarm["Properties"];
    let dimension = |dimensions: &Value| dimensions[0]["Value"].clone();
    if p["Metrics"].is_array() {
        p["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let metric = m.pointer("/MetricStat/Metric")?;
                Some((
                    metric["Namespace"].as_str()?.to_string(),
                    metric["MetricName"].as_str()?.to_string(),
                    dimension(&metric["Dimensions"]),
                ))
            })
            .collect()
    } else {
        vec![(
            p["Namespace"].as_str().unwrap_or_default().to_string(),
            p["MetricName"].as_str().unwrap_or_default().to_string(),
            dimension(&p["Dimensions"]),
        )]
    }
}

/// Whether the alarm pages someone through the reports topic.
fn pages(alarm: &Value) -> bool {
    alarm["Properties"]["AlarmActions"] == json!([{ "Ref": "ReportsTopic" }])
}

// ---------------------------------------------------------------------------------------------
// First deploy, retries, second region

#[test]
fn no_concurrency_is_reserved_unless_asked_so_a_new_account_can_deploy() {
    // Lambda keeps 100 of the account's concurrency unreserved: any reservation fails the deploy in
    // an account whose quota is 100 plus less than the sum.
    let defaults = deployed(CENTRAL, &[]);
    for (id, f) in of_type(&defaults, "AWS::Lambda::Function") {
        assert_eq!(
            f["Properties"].get("ReservedConcurrentExecutions"),
            None,
            "{id} reserves concurrency with the default parameters"
        );
    }
    let reserved = deployed(CENTRAL, &[("ReservedConcurrency", "5")]);
    for name in FUNCTIONS {
        let (id, f) = function(&reserved, name);
        assert_eq!(
            f["Properties"]["ReservedConcurrentExecutions"], "5",
            "{id} with ReservedConcurrency=5"
        );
    }
}

/// The property holding a resource's physical name, for the types that have one.
fn name_property(type_: &str) -> Option<&'static str> {
    Some(match type_ {
        "AWS::DynamoDB::Table" => "TableName",
        "AWS::SQS::Queue" => "QueueName",
        "AWS::SNS::Topic" => "TopicName",
        "AWS::Logs::LogGroup" => "LogGroupName",
        "AWS::CloudWatch::Dashboard" => "DashboardName",
        "AWS::IAM::Role" => "RoleName",
        "AWS::IAM::ManagedPolicy" => "ManagedPolicyName",
        "AWS::Lambda::Function" => "FunctionName",
        "AWS::KMS::Alias" => "AliasName",
        _ => return None,
    })
}

/// Whether a name is different for every stack CloudFormation creates (it includes the stack id).
fn unique_per_stack(name: &Value) -> bool {
    name.to_string().contains("AWS::StackId")
}

#[test]
fn a_failed_first_deploy_leaves_nothing_behind_that_the_retry_would_collide_with() {
    for template in [CENTRAL, MEMBER] {
        let written = written(template);
        for (id, resource) in written["Resources"].as_object().expect("Resources") {
            let kept = resource["DeletionPolicy"].as_str().unwrap_or("Delete");
            // `Retain` also keeps what a rolled-back first deploy created: the retry then fails
            // on the name (the ledger) or orphans one more (the key).
            assert_ne!(
                kept, "Retain",
                "{template}: {id} is kept when the deploy that created it rolls back; use RetainExceptOnCreate"
            );
            let type_ = resource["Type"].as_str().unwrap_or_default();
            let Some(name) = name_property(type_).and_then(|p| resource["Properties"].get(p))
            else {
                continue;
            };
            if kept == "RetainExceptOnCreate" {
                assert!(
                    unique_per_stack(name),
                    "{template}: {id} outlives its stack under the fixed name {name}: a new stack would collide with it"
                );
            }
            // A deleted queue's name cannot be reused for 60 seconds: a quick retry would fail.
            // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html
            assert!(
                type_ != "AWS::SQS::Queue",
                "{template}: {id} has a fixed queue name {name}"
            );
        }
    }
}

/// Whether a name differs per region: a `Fn::Sub` whose text has `${AWS::Region}` (a plain name
/// that merely looks like one does not count).
fn regional(name: &Value) -> bool {
    let sub = &name["Fn::Sub"];
    let text = sub.as_str().or_else(|| sub[0].as_str()).unwrap_or_default();
    text.contains("${AWS::Region}")
}

/// Whether a condition holds in one region only: `Fn::Equals` of the stack's region and
/// something else.
fn in_one_region(condition: &Value) -> bool {
    let region = json!({ "Ref": "AWS::Region" });
    match condition["Fn::Equals"].as_array().map(Vec::as_slice) {
        Some([a, b]) => (*a == region) != (*b == region),
        _ => false,
    }
}

#[test]
fn names_that_are_global_to_the_account_differ_by_region() {
    // The check itself: a fixed name fails it.
    assert!(regional(
        &json!({ "Fn::Sub": "reflex-revoke-${AWS::Region}" })
    ));
    assert!(!regional(&json!("reflex-revoke")));
    assert!(!regional(&json!("reflex-revoke-${AWS::Region}")));
    assert!(!regional(&json!({ "Fn::Sub": "reflex-revoke" })));
    let central = written(CENTRAL);
    for (id, dashboard) in of_type(&central, "AWS::CloudWatch::Dashboard") {
        let name = dashboard["Properties"]["DashboardName"].to_string();
        assert!(
            name.contains("${AWS::Region}") || name.contains("AWS::StackId"),
            "{id}: dashboards are global to the account, so {name} collides in the second region"
        );
    }
    // IAM is global: a named role has the region in its name, or is created in one region only.
    assert!(in_one_region(
        &json!({ "Fn::Equals": [{ "Ref": "AWS::Region" }, { "Ref": "R" }] })
    ));
    assert!(in_one_region(
        &json!({ "Fn::Equals": ["us-east-1", { "Ref": "AWS::Region" }] })
    ));
    assert!(!in_one_region(
        &json!({ "Fn::Equals": [{ "Ref": "ContainActor" }, "true"] })
    ));
    assert!(!in_one_region(
        &json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": "AWS::Region" }, "us-east-1"] }] })
    ));
    for template in [CENTRAL, MEMBER] {
        let written = written(template);
        for (id, role) in of_type(&written, "AWS::IAM::Role") {
            if let Some(name) = role["Properties"].get("RoleName") {
                let condition = role["Condition"].as_str().unwrap_or_default();
                assert!(
                    regional(name) || in_one_region(&written["Conditions"][condition]),
                    "{template}: {id} has the fixed name {name} and is created in every region \
                     (its condition: {condition:?})"
                );
            }
        }
    }
    // As deployed: the member roles in their one region, none in another.
    let member_in = |region: &str| -> Vec<String> {
        let deployed = deployed(
            MEMBER,
            &[
                ("CentralAccountId", "111111111111"),
                ("AWS::Region", region),
            ],
        );
        of_type(&deployed, "AWS::IAM::Role")
            .into_iter()
            .filter(|(_, role)| role["Properties"].get("RoleName").is_some())
            .map(|(id, _)| id.to_string())
            .collect()
    };
    assert_eq!(member_in("us-east-1").len(), 5, "the five member roles");
    assert_eq!(member_in("eu-west-1"), Vec::<String>::new());
    // And the policy protecting Reflex still names the dashboard it has.
    let deny = central.to_string();
    assert!(
        deny.contains("dashboard/reflex-${AWS::Region}"),
        "NeverTouchReflexItself must name the regional dashboard"
    );
}

#[test]
fn the_functions_audit_logs_outlive_the_stack() {
    let central = deployed(CENTRAL, &[]);
    let written = written(CENTRAL);
    for name in FUNCTIONS {
        let (id, f) = function(&central, name);
        let group = f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} logs to no log group of the stack"));
        let resource = &written["Resources"][group];
        assert_eq!(resource["Type"], "AWS::Logs::LogGroup", "{id}: {group}");
        assert_eq!(
            resource["DeletionPolicy"], "RetainExceptOnCreate",
            "{group} holds {id}'s JSON audit lines: deleting the stack must not delete them"
        );
        assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{group}");
    }
}

// ---------------------------------------------------------------------------------------------
// Events never dropped unseen

/// Whether a queue policy's condition lets EventBridge send for this account's rules only: the
/// source account is `account`, or the source ARNs are rules of the stack, `rules` among them.
fn for_this_accounts_rules(
    condition: &Value,
    account: &str,
    stack: &Value,
    rules: &[&str],
) -> bool {
    if condition.pointer("/StringEquals/aws:SourceAccount") == Some(&json!(account)) {
        return true;
    }
    let arns = match condition.pointer("/ArnEquals/aws:SourceArn") {
        Some(Value::Array(arns)) => arns.clone(),
        Some(one) => vec![one.clone()],
        None => return false,
    };
    let stack_rules: Vec<Value> = of_type(stack, "AWS::Events::Rule")
        .into_iter()
        .map(|(id, _)| json!({ "Fn::GetAtt": [id, "Arn"] }))
        .collect();
    arns.iter().all(|arn| stack_rules.contains(arn))
        && rules
            .iter()
            .all(|rule| arns.contains(&json!({ "Fn::GetAtt": [rule, "Arn"] })))
}

#[test]
fn every_rule_target_has_a_dead_letter_queue_and_a_retry_policy() {
    let account = "111111111111";
    // The check itself: another account, or a rule of no stack of this account, is not enough.
    let stack = json!({ "Resources": { "R": { "Type": "AWS::Events::Rule" } } });
    let of = |condition: Value| for_this_accounts_rules(&condition, account, &stack, &["R"]);
    assert!(of(
        json!({ "StringEquals": { "aws:SourceAccount": account } })
    ));
    assert!(of(
        json!({ "ArnEquals": { "aws:SourceArn": [{ "Fn::GetAtt": ["R", "Arn"] }] } })
    ));
    assert!(!of(
        json!({ "StringEquals": { "aws:SourceAccount": "222222222222" } })
    ));
    assert!(!of(
        json!({ "ArnLike": { "aws:SourceArn": "arn:aws:events:*:*:rule/*" } })
    ));
    assert!(!of(
        json!({ "ArnEquals": { "aws:SourceArn": "arn:aws:events:us-east-1:222222222222:rule/x" } })
    ));
    assert!(
        !of(json!({ "ArnEquals": { "aws:SourceArn": [] } })),
        "R's events bounce"
    );
    for template in [CENTRAL, MEMBER] {
        let deployed = deployed(template, &[("AWS::AccountId", account)]);
        let rules = of_type(&deployed, "AWS::Events::Rule");
        assert!(!rules.is_empty(), "{template}: no rules");
        let mut queues: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (id, rule) in rules {
            for target in rule["Properties"]["Targets"].as_array().expect("Targets") {
                let queue = target
                    .pointer("/DeadLetterConfig/Arn/Fn::GetAtt/0")
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| {
                        panic!(
                            "{template}: {id} has a target without a dead-letter queue of the stack"
                        )
                    });
                queues.entry(queue.to_string()).or_default().push(id);
                let retry = &target["RetryPolicy"];
                assert!(
                    retry["MaximumRetryAttempts"].is_number()
                        && retry["MaximumEventAgeInSeconds"].is_number(),
                    "{template}: {id} has a target without a retry policy: {target}"
                );
            }
        }
        // EventBridge may only write to a queue whose policy lets it.
        for (queue, senders) in queues {
            let allowed =
                of_type(&deployed, "AWS::SQS::QueuePolicy")
                    .into_iter()
                    .any(|(_, policy)| {
                        policy["Properties"]["Queues"]
                            .to_string()
                            .contains(&format!("\"{queue}\""))
                            && policy["Properties"]["PolicyDocument"]["Statement"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|s| {
                                    s["Principal"]["Service"] == "events.amazonaws.com"
                                        && s["Action"] == "sqs:SendMessage"
                                        && s["Effect"] == "Allow"
                                        && for_this_accounts_rules(
                                            &s["Condition"],
                                            account,
                                            &deployed,
                                            &senders,
                                        )
                                })
                    });
            assert!(
                allowed,
                "{template}: no queue policy lets EventBridge (and only for this account's rules) send to {queue}"
            );
        }
    }
}

#[test]
fn every_function_says_how_often_and_how_long_lambda_retries_its_events() {
    let central = deployed(CENTRAL, &[]);
    for name in FUNCTIONS {
        let (id, _) = function(&central, name);
        let config = of_type(&central, "AWS::Lambda::EventInvokeConfig")
            .into_iter()
            .find(|(_, c)| c["Properties"]["FunctionName"] == json!({ "Ref": id }))
            .unwrap_or_else(|| panic!("{id} has no asynchronous invocation settings"));
        let p = &config.1["Properties"];
        assert_eq!(p["MaximumRetryAttempts"], 2, "{id}");
        assert!(p["MaximumEventAgeInSeconds"].is_number(), "{id}: {p}");
        assert!(
            gives_up_into_the_dead_letter_queue(&central, id),
            "{id}: what Lambda gives up on must go to the dead-letter queue"
        );
    }
}

fn gives_up_into_the_dead_letter_queue(template: &Value, id: &str) -> bool {
    template["Resources"][id]["Properties"]["DeadLetterConfig"]["TargetArn"]
        == json!({ "Fn::GetAtt": ["DeadLetterQueue", "Arn"] })
}

#[test]
fn every_function_pages_on_events_dropped_undelivered_or_late_not_on_one_throttle() {
    let central = deployed(CENTRAL, &[]);
    let alarms = of_type(&central, "AWS::CloudWatch::Alarm");
    let paging_on = |namespace: &str, metric: &str, dimension: &Value| {
        alarms.iter().any(|(_, a)| {
            pages(a)
                && watched(a)
                    .iter()
                    .any(|(n, m, d)| n == namespace && m == metric && d == dimension)
        })
    };
    for name in FUNCTIONS {
        let (id, _) = function(&central, name);
        let me = json!({ "Ref": id });
        assert!(
            paging_on("AWS/Lambda", "AsyncEventsDropped", &me),
            "{id}: no alarm pages when Lambda drops its events"
        );
        assert!(
            paging_on("AWS/Lambda", "AsyncEventAge", &me),
            "{id}: no alarm pages when its events wait"
        );
        for (rule, _) in rules_of(&central, id) {
            assert!(
                paging_on("AWS/Events", "FailedInvocations", &json!({ "Ref": rule })),
                "{id}: no alarm pages when its rule {rule} cannot deliver"
            );
        }
    }
    // A throttled asynchronous event is retried for up to six hours: one throttle is no page.
    for (id, alarm) in &alarms {
        let on_throttles = watched(alarm).iter().any(|(_, m, _)| m == "Throttles");
        let threshold = alarm["Properties"]["Threshold"].as_f64().unwrap_or(0.0);
        assert!(
            !(on_throttles && pages(alarm) && threshold <= 1.0),
            "{id} pages on a single throttle"
        );
    }
}

/// The alarm tells someone only through `FailureTopicArn`: without it, its state change would
/// reach the central stack through the very forwarding that failed.
#[test]
fn an_alarm_watches_each_forwarding_rule_and_pages_the_failure_topic_when_one_is_given() {
    let member = deployed(MEMBER, &[("CentralAccountId", "111111111111")]);
    let rules: Vec<&str> = of_type(&member, "AWS::Events::Rule")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let alarms = of_type(&member, "AWS::CloudWatch::Alarm");
    for rule in &rules {
        let watched_by = alarms.iter().any(|(_, a)| {
            watched(a).iter().any(|(n, m, d)| {
                n == "AWS/Events" && m == "FailedInvocations" && *d == json!({ "Ref": rule })
            })
        });
        assert!(
            watched_by,
            "member: no alarm on the failed forwards of {rule}"
        );
    }
    // Without a topic, nobody is paged (FailureTopicArn and the README say so).
    let (_, alarm) = of_type(&member, "AWS::CloudWatch::Alarm")[0];
    assert_eq!(alarm["Properties"].get("AlarmActions"), None);
    // With a topic given, the alarm pages it.
    let topic = "arn:aws:sns:us-east-1:222222222222:security";
    let paged = deployed(
        MEMBER,
        &[
            ("CentralAccountId", "111111111111"),
            ("FailureTopicArn", topic),
        ],
    );
    let (_, alarm) = of_type(&paged, "AWS::CloudWatch::Alarm")[0];
    assert_eq!(alarm["Properties"]["AlarmActions"], json!([topic]));
}

// ---------------------------------------------------------------------------------------------
// Noise, scope and small things

#[test]
fn environment_values_are_text_as_lambda_takes_them() {
    let written = written(CENTRAL);
    let mut blocks = vec![(
        "Globals".to_string(),
        written["Globals"]["Function"]["Environment"]["Variables"].clone(),
    )];
    for (id, f) in of_type(&written, "AWS::Serverless::Function") {
        blocks.push((
            id.to_string(),
            f["Properties"]["Environment"]["Variables"].clone(),
        ));
    }
    for (id, variables) in blocks {
        for (name, value) in variables.as_object().into_iter().flatten() {
            assert!(
                value.is_string() || value.is_object(),
                "{id}: {name} is {value}, not text (quote it)"
            );
        }
    }
}

#[test]
fn services_may_use_reflex_key_only_for_this_account() {
    let written = written(CENTRAL);
    for (id, key) in of_type(&written, "AWS::KMS::Key") {
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .expect("statements")
        {
            if statement["Principal"].get("Service").is_none() {
                continue;
            }
            let condition = statement["Condition"].to_string();
            assert!(
                condition.contains("aws:SourceAccount")
                    || condition.contains("kms:EncryptionContext:aws:logs:arn"),
                "{id}: {} lets a service act for any account (the confused deputy)",
                statement["Sid"]
            );
        }
    }
}

#[test]
fn the_email_floor_filters_reports_but_never_reflex_health_alarms() {
    let email = ("NotificationEmail", "oncall@example.com");
    let everything = deployed(CENTRAL, &[email]);
    let (_, subscription) = of_type(&everything, "AWS::SNS::Subscription")[0];
    assert_eq!(subscription["Properties"].get("FilterPolicy"), None);

    let high = deployed(CENTRAL, &[email, ("EmailMinSeverity", "HIGH")]);
    let (_, subscription) = of_type(&high, "AWS::SNS::Subscription")[0];
    assert_eq!(
        subscription["Properties"]["FilterPolicy"],
        json!({ "$or": [
            { "reflex_severity": ["HIGH", "CRITICAL"] },
            // The health alarms' messages carry no attribute.
            { "reflex_severity": [{ "exists": false }] },
        ]})
    );
}

#[test]
fn parameters_switch_the_resources_they_name() {
    let defaults = deployed(CENTRAL, &[]);
    let types = |t: &Value| -> BTreeSet<String> {
        t["Resources"]
            .as_object()
            .expect("Resources")
            .values()
            .map(|r| r["Type"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert!(!types(&defaults).contains("AWS::Events::EventBusPolicy"));
    assert!(!types(&defaults).contains("AWS::Logs::MetricFilter"));
    assert!(!types(&defaults).contains("AWS::SNS::Subscription"));

    let switched = deployed(
        CENTRAL,
        &[
            ("OrganizationId", "o-abcdefghij"),
            ("TrailLogGroupName", "aws-cloudtrail-logs"),
            ("NotificationEmail", "oncall@example.com"),
            ("MemberRoleName", ""),
        ],
    );
    for created in [
        "AWS::Events::EventBusPolicy",
        "AWS::Logs::MetricFilter",
        "AWS::SNS::Subscription",
    ] {
        assert!(types(&switched).contains(created), "{created}");
    }
    // No member role: no function may assume one.
    for (id, role) in of_type(&switched, "AWS::IAM::Role") {
        assert!(
            !role.to_string().contains("AssumeMemberRole"),
            "{id} may still assume a member role"
        );
    }
    for (id, role) in of_type(&defaults, "AWS::IAM::Role")
        .into_iter()
        .filter(|(id, _)| *id != "NotifyRole")
    {
        assert!(
            role.to_string().contains("AssumeMemberRole"),
            "{id} cannot assume the member role with the defaults"
        );
    }
}

#[test]
fn a_rehearsal_creates_each_function_with_its_role_rules_permissions_and_alarms() {
    let central = deployed(CENTRAL, &[]);
    let expected_rules = [
        ("revoke", 2),
        ("scale", 1),
        ("notify", 4),
        ("harden", 2),
        // EC2 calls, GuardDuty findings, alarms, the operator's tag (disabled by default), and
        // writes of the exemption tag on instances and security groups.
        ("quarantine", 5),
        // Bucket policy, ACL and public access block calls; snapshots and images shared with all.
        ("privatize", 2),
    ];
    for (name, count) in expected_rules {
        let (id, f) = function(&central, name);
        let role = f["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no role of the stack"));
        assert_eq!(central["Resources"][role]["Type"], "AWS::IAM::Role");
        let rules = rules_of(&central, id);
        assert_eq!(rules.len(), count, "{id}: {rules:?}");
        for (rule, _) in rules {
            let allowed = of_type(&central, "AWS::Lambda::Permission")
                .into_iter()
                .any(|(_, p)| {
                    p["Properties"]["FunctionName"] == json!({ "Ref": id })
                        && p["Properties"]["SourceArn"] == json!({ "Fn::GetAtt": [rule, "Arn"] })
                });
            assert!(allowed, "{rule} may not invoke {id}");
        }
        let errors = of_type(&central, "AWS::CloudWatch::Alarm")
            .into_iter()
            .any(|(_, a)| {
                pages(a)
                    && watched(a).iter().any(|(n, m, d)| {
                        n == "AWS/Lambda" && m == "Errors" && *d == json!({ "Ref": id })
                    })
            });
        assert!(errors, "{id}: no alarm on its errors");
    }
}

/// The written sign-in patterns match `ConsoleLogin` only; the sample-based check is the wiring
/// test's (`events/notify/sign-in-switch-role.json`). This one reads the member template too,
/// whose rules forward rather than invoke.
#[test]
fn sign_in_rules_forward_and_invoke_for_console_logins_only() {
    for template in [CENTRAL, MEMBER] {
        let text = deployed(template, &[]).to_string();
        let sign_in_rules = text.matches("\"aws.signin\"").count();
        assert!(sign_in_rules > 0, "{template}");
        assert_eq!(
            text.matches("\"eventName\":[\"ConsoleLogin\"]").count(),
            sign_in_rules,
            "{template}: a rule on aws.signin without eventName ConsoleLogin"
        );
    }
}
