//! The privilege-escalation method table, one test per method: a policy granting exactly the
//! method's actions is found and named; the same policy without any one of them is not that
//! method. Then realistic policies: harmless ones (read-only, scoped pass-role, deny-all
//! guardrails, job-function policies) are not escalations, and well-known broad ones are.

use reflex_revoke::escalation::{METHODS, method};
use reflex_revoke::policy::{analyse, escalation};
use serde_json::{Value, json};

fn granting(actions: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
}

/// Each action in a statement of its own, in other letter case: read the same.
fn granting_spread(actions: &[&str]) -> Value {
    let statements: Vec<Value> = actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let a = if i % 2 == 0 {
                a.to_ascii_lowercase()
            } else {
                a.to_ascii_uppercase()
            };
            json!({"Sid": format!("S{i}"), "Effect": "Allow", "Action": a, "Resource": ["*"]})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn found(doc: &Value) -> Vec<&'static str> {
    analyse(doc).methods.iter().map(|f| f.method.name).collect()
}

fn method_is_recognised(name: &str) {
    let m = method(name).unwrap_or_else(|| panic!("{name} is not in the table"));
    for doc in [granting(m.actions), granting_spread(m.actions)] {
        assert!(found(&doc).contains(&name), "{name} not found in {doc}");
        let why = escalation(&doc).unwrap_or_else(|| panic!("{name}: no escalation"));
        assert!(why.contains(name), "{name} not named in: {why}");
        for action in m.actions {
            assert!(why.contains(action), "{action} not named in: {why}");
        }
    }
    for dropped in 0..m.actions.len() {
        let rest: Vec<&str> = m
            .actions
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != dropped)
            .map(|(_, a)| *a)
            .collect();
        assert!(
            !found(&granting(&rest)).contains(&name),
            "{name} found without {}",
            m.actions[dropped]
        );
    }
}

macro_rules! method_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                method_is_recognised($name);
            }
        )*
        const TESTED: &[&str] = &[$($name),*];
    };
}

method_tests! {
    create_access_key => "CreateAccessKey",
    create_login_profile => "CreateLoginProfile",
    update_login_profile => "UpdateLoginProfile",
    add_user_to_group => "AddUserToGroup",
    create_new_policy_version => "CreateNewPolicyVersion",
    set_existing_default_policy_version => "SetExistingDefaultPolicyVersion",
    attach_user_policy => "AttachUserPolicy",
    attach_group_policy => "AttachGroupPolicy",
    attach_role_policy => "AttachRolePolicy",
    put_user_policy => "PutUserPolicy",
    put_group_policy => "PutGroupPolicy",
    put_role_policy => "PutRolePolicy",
    update_role_policy_to_assume_it => "UpdateRolePolicyToAssumeIt",
    create_ec2_with_existing_ip => "CreateEC2WithExistingIP",
    pass_role_to_new_lambda_then_invoke => "PassExistingRoleToNewLambdaThenInvoke",
    pass_role_to_new_lambda_then_trigger_with_new_dynamo =>
        "PassExistingRoleToNewLambdaThenTriggerWithNewDynamo",
    pass_role_to_new_lambda_then_trigger_with_existing_dynamo =>
        "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo",
    pass_role_to_new_glue_dev_endpoint => "PassExistingRoleToNewGlueDevEndpoint",
    pass_role_to_cloudformation => "PassExistingRoleToCloudFormation",
    pass_role_to_new_data_pipeline => "PassExistingRoleToNewDataPipeline",
    pass_role_to_new_codebuild_project_then_build =>
        "PassExistingRoleToNewCodeBuildProjectThenBuild",
    pass_role_to_new_codebuild_project_then_build_batch =>
        "PassExistingRoleToNewCodeBuildProjectThenBuildBatch",
    pass_role_to_new_sagemaker_notebook => "PassExistingRoleToNewSageMakerNotebookInstance",
    pass_role_to_new_sagemaker_training_job => "PassExistingRoleToNewSageMakerTrainingJob",
    pass_role_to_new_sagemaker_processing_job => "PassExistingRoleToNewSageMakerProcessingJob",
    pass_role_to_new_lambda_then_add_permission => "PassExistingRoleToNewLambdaThenAddPermission",
    pass_role_to_new_glue_job_then_run => "PassExistingRoleToNewGlueJobThenRun",
    pass_role_to_new_glue_job_via_trigger => "PassExistingRoleToNewGlueJobViaTrigger",
    pass_role_to_updated_glue_job_then_run => "PassExistingRoleToUpdatedGlueJobThenRun",
    pass_role_to_updated_glue_job_via_trigger => "PassExistingRoleToUpdatedGlueJobViaTrigger",
    pass_role_to_new_ecs_task_via_run_task => "PassExistingRoleToNewECSTaskViaRunTask",
    pass_role_to_new_ecs_task_via_start_task => "PassExistingRoleToNewECSTaskViaStartTask",
    pass_role_to_new_ecs_service => "PassExistingRoleToNewECSService",
    pass_role_to_new_ec2_spot_instance => "PassExistingRoleToNewEC2SpotInstance",
    pass_role_to_new_app_runner_service => "PassExistingRoleToNewAppRunnerService",
    pass_role_to_new_cloudformation_stack_set => "PassExistingRoleToNewCloudFormationStackSet",
    pass_role_to_update_cloudformation_stack_set => "PassRoleToUpdateCloudFormationStackSet",
    pass_any_role => "PassAnyRole",
    update_existing_glue_dev_endpoint => "UpdateExistingGlueDevEndpoint",
    edit_existing_lambda_function_with_role => "EditExistingLambdaFunctionWithRole",
    update_existing_cloudformation_stack => "UpdateExistingCloudFormationStack",
    execute_cloudformation_change_set => "ExecuteCloudFormationChangeSet",
    ec2_instance_connect_send_ssh_public_key => "EC2InstanceConnectSendSSHPublicKey",
    create_presigned_sagemaker_notebook_url => "CreatePresignedSageMakerNotebookUrl",
    ssm_send_command => "SSMSendCommand",
    ssm_start_session => "SSMStartSession",
    assume_role => "AssumeRole",
}

#[test]
fn every_method_in_the_table_has_its_test() {
    for m in METHODS {
        assert!(TESTED.contains(&m.name), "{} has no test", m.name);
    }
    assert_eq!(TESTED.len(), METHODS.len());
}

/// Realistic policies that grant no escalation, each for its own reason.
#[test]
fn harmless_policies_are_not_escalations() {
    let harmless = [
        (
            "ViewOnlyAccess-style job function: lists and descriptions only",
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "ViewOnly", "Effect": "Allow",
                "Action": ["acm:ListCertificates", "cloudformation:DescribeStacks",
                    "cloudformation:ListStacks", "cloudtrail:DescribeTrails",
                    "codebuild:ListProjects", "dynamodb:ListTables", "ec2:DescribeInstances",
                    "ec2:DescribeSecurityGroups", "ecs:ListClusters", "glue:GetDatabases",
                    "iam:ListRoles", "iam:ListUsers", "iam:ListPolicies", "iam:GetAccountSummary",
                    "iam:GetLoginProfile", "lambda:ListFunctions", "s3:ListAllMyBuckets",
                    "sagemaker:ListNotebookInstances", "ssm:DescribeInstanceInformation",
                    "sts:GetCallerIdentity"],
                "Resource": "*"}]}),
        ),
        (
            "read-only wildcards",
            json!({"Statement": [{"Effect": "Allow",
                "Action": ["iam:Get*", "iam:List*", "iam:Generate*", "iam:Simulate*", "s3:Get*",
                    "s3:List*", "lambda:Get*", "lambda:List*", "ec2:Describe*", "ssm:Describe*",
                    "ssm:Get*", "glue:Get*", "sagemaker:Describe*", "sagemaker:List*",
                    "cloudformation:Describe*", "cloudformation:Get*", "codebuild:BatchGet*",
                    "sts:Get*", "logs:*", "cloudwatch:*"],
                "Resource": "*"}]}),
        ),
        (
            "a deployer passing one named role (and a name prefix) to the services it uses",
            json!({"Statement": [
                {"Sid": "PassAppRole", "Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": ["arn:aws:iam::123456789012:role/app-lambda",
                     "arn:aws:iam::123456789012:role/app-*"]},
                {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction",
                    "ec2:RunInstances", "cloudformation:CreateStack", "ecs:RegisterTaskDefinition",
                    "ecs:RunTask"], "Resource": "*"}
            ]}),
        ),
        (
            "a deny-everything guardrail over an allow-everything",
            json!({"Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Sid": "DenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"}
            ]}),
        ),
        (
            "IAM denied by a guardrail, the rest limited to data",
            json!({"Statement": [
                {"Effect": "Allow", "Action": ["iam:*", "s3:*", "dynamodb:*"], "Resource": "*"},
                {"Effect": "Deny", "Action": ["iam:*"], "Resource": "*"}
            ]}),
        ),
        (
            "only a deny",
            json!({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}),
        ),
        (
            "users managing their own credentials (AWS's documented example)",
            json!({"Statement": [
                {"Sid": "OwnPasswordAndKeys", "Effect": "Allow",
                 "Action": ["iam:ChangePassword", "iam:CreateAccessKey", "iam:DeleteAccessKey",
                    "iam:UpdateAccessKey", "iam:ListAccessKeys", "iam:CreateLoginProfile",
                    "iam:UpdateLoginProfile", "iam:GetLoginProfile"],
                 "Resource": "arn:aws:iam::*:user/${aws:username}"},
                {"Effect": "Allow", "Action": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice"],
                 "Resource": ["arn:aws:iam::*:mfa/*", "arn:aws:iam::*:user/${aws:username}"]}
            ]}),
        ),
        (
            "everything, on one bucket",
            json!({"Statement": [{"Effect": "Allow", "Action": "*",
                "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]}]}),
        ),
        (
            "EC2 administration without iam:PassRole",
            json!({"Statement": [{"Effect": "Allow", "Action": ["ec2:*", "elasticloadbalancing:*",
                "autoscaling:*"], "Resource": "*"}]}),
        ),
        (
            "a team's own functions",
            json!({"Statement": [{"Effect": "Allow", "Action": "lambda:*",
                "Resource": "arn:aws:lambda:*:123456789012:function:team-a-*"}]}),
        ),
        (
            "a role's trust policy (a principal: not an identity policy)",
            json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}),
        ),
        (
            "allows nothing: every action excluded",
            json!({"Statement": [{"Effect": "Allow", "NotAction": "*", "Resource": "*"}]}),
        ),
    ];
    for (what, doc) in harmless {
        assert_eq!(escalation(&doc), None, "{what}: {:?}", found(&doc));
    }
}

/// Broad policies people really attach, found and named.
#[test]
fn broad_real_world_policies_are_escalations() {
    // PowerUserAccess: everything but IAM, Organizations and Account, yet lambda, SSM, ...
    let power_user = json!({"Statement": [
        {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole", "iam:ListRoles"], "Resource": "*"}
    ]});
    let why = escalation(&power_user).unwrap();
    assert!(
        why.starts_with("allows every action except iam:*, organizations:*, account:*"),
        "{why}"
    );
    assert!(found(&power_user).contains(&"EditExistingLambdaFunctionWithRole"));

    // AWSLambda_FullAccess-style: any role passed, on condition it goes to Lambda.
    let lambda_full = json!({"Statement": [
        {"Effect": "Allow", "Action": ["lambda:*"], "Resource": "*"},
        {"Sid": "PassRoleToLambda", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}
    ]});
    let why = escalation(&lambda_full).unwrap();
    assert!(why.contains("EditExistingLambdaFunctionWithRole"), "{why}");
    assert!(
        why.contains("PassExistingRoleToNewLambdaThenInvoke"),
        "{why}"
    );
    assert!(why.contains("under a condition"), "{why}");

    // AmazonSSMFullAccess-style.
    let ssm_full = json!({"Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]});
    let why = escalation(&ssm_full).unwrap();
    assert!(
        why.contains("SSMSendCommand") && why.contains("SSMStartSession"),
        "{why}"
    );

    // The existing shapes keep their words.
    let admin = granting(&["*"]);
    assert_eq!(escalation(&admin).unwrap(), "allows every action (`*`)");
    let iam_admin = json!({"Statement": [{"Sid": "Iam", "Effect": "Allow", "Action": "iam:*", "Resource": "*"}]});
    assert_eq!(
        escalation(&iam_admin).unwrap(),
        "allows all of IAM (`iam:*`) (statement Iam)"
    );
}
