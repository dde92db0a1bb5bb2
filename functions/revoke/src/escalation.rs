//! The privilege-escalation methods revoke recognises in a policy document: data, one row each.
//!
//! A method is a set of actions that, all allowed on any resource they apply to, let the holder
//! gain permissions they were not given. Sources: Salesforce Cloudsplaining's
//! `PRIVILEGE_ESCALATION_METHODS` (its 22 original methods, after Rhino Security Labs' research,
//! plus the pathfinding.cloud pass-role paths it has added) and Bishop Fox's iam-vulnerable (31
//! paths). Names are Cloudsplaining's where it has the method. `policy` decides whether a
//! document allows a method; this file only says what each method is.

/// Cloudsplaining's five categories (after Bishop Fox's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// IAM permissions on other users: take over another identity's credentials or groups.
    OtherUsers,
    /// Permissions on policies: change what a policy, and so its holder, allows.
    Policies,
    /// Updating an assume-role policy: make a role trust the attacker.
    AssumeRolePolicy,
    /// `iam:PassRole` to a service: run code of one's own as an existing role.
    PassRole,
    /// Escalation through AWS services: act through a resource that already has a role.
    Services,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::OtherUsers => "IAM permissions on other users",
            Category::Policies => "permissions on policies",
            Category::AssumeRolePolicy => "updating an assume-role policy",
            Category::PassRole => "iam:PassRole to a service",
            Category::Services => "escalation through AWS services",
        }
    }
}

/// Where a method is documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// In both Cloudsplaining's original 22 methods and iam-vulnerable's paths.
    Both,
    /// Cloudsplaining's original 22 methods only.
    Cloudsplaining,
    /// Bishop Fox's iam-vulnerable (and in Cloudsplaining's later pathfinding.cloud additions
    /// where it has them).
    IamVulnerable,
    /// Cloudsplaining's pathfinding.cloud additions only.
    Pathfinding,
    /// Reflex's own rule from before the table: any role passed to any service.
    Reflex,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Both => "Cloudsplaining, iam-vulnerable",
            Source::Cloudsplaining => "Cloudsplaining",
            Source::IamVulnerable => "iam-vulnerable",
            Source::Pathfinding => "Cloudsplaining (pathfinding.cloud)",
            Source::Reflex => "Reflex",
        }
    }
}

/// One privilege-escalation method: every action in `actions` must be allowed.
#[derive(Debug, PartialEq, Eq)]
pub struct Method {
    pub name: &'static str,
    pub category: Category,
    /// The actions the method needs, each allowed on a resource it can be used on.
    pub actions: &'static [&'static str],
    pub why: &'static str,
    pub source: Source,
}

const fn m(
    name: &'static str,
    category: Category,
    actions: &'static [&'static str],
    why: &'static str,
    source: Source,
) -> Method {
    Method {
        name,
        category,
        actions,
        why,
        source,
    }
}

use Category::*;
use Source::*;

/// Every method, in the order findings name them (the catch-all `PassAnyRole` last among the
/// pass-role methods, so a named combination is reported before it).
pub const METHODS: &[Method] = &[
    // 1. IAM permissions on other users
    m(
        "CreateAccessKey",
        OtherUsers,
        &["iam:CreateAccessKey"],
        "creates an access key for another user, and acts as them",
        Both,
    ),
    m(
        "CreateLoginProfile",
        OtherUsers,
        &["iam:CreateLoginProfile"],
        "sets a console password for another user who has none, and signs in as them",
        Both,
    ),
    m(
        "UpdateLoginProfile",
        OtherUsers,
        &["iam:UpdateLoginProfile"],
        "resets another user's console password, and signs in as them",
        Both,
    ),
    m(
        "AddUserToGroup",
        OtherUsers,
        &["iam:AddUserToGroup"],
        "adds oneself to a more privileged group",
        Both,
    ),
    // 2. Permissions on policies
    m(
        "CreateNewPolicyVersion",
        Policies,
        &["iam:CreatePolicyVersion"],
        "writes a new default version of a policy one holds, with any permissions",
        Both,
    ),
    m(
        "SetExistingDefaultPolicyVersion",
        Policies,
        &["iam:SetDefaultPolicyVersion"],
        "makes a more permissive old version of a policy one holds the default",
        Both,
    ),
    m(
        "AttachUserPolicy",
        Policies,
        &["iam:AttachUserPolicy"],
        "attaches any managed policy (AdministratorAccess) to a user one controls",
        Both,
    ),
    m(
        "AttachGroupPolicy",
        Policies,
        &["iam:AttachGroupPolicy"],
        "attaches any managed policy to a group one is in",
        Both,
    ),
    m(
        "AttachRolePolicy",
        Policies,
        &["iam:AttachRolePolicy"],
        "attaches any managed policy to a role one can assume",
        Both,
    ),
    m(
        "PutUserPolicy",
        Policies,
        &["iam:PutUserPolicy"],
        "writes an inline policy with any permissions on a user one controls",
        Both,
    ),
    m(
        "PutGroupPolicy",
        Policies,
        &["iam:PutGroupPolicy"],
        "writes an inline policy with any permissions on a group one is in",
        Both,
    ),
    m(
        "PutRolePolicy",
        Policies,
        &["iam:PutRolePolicy"],
        "writes an inline policy with any permissions on a role one can assume",
        Both,
    ),
    // 3. Updating an assume-role policy
    m(
        "UpdateRolePolicyToAssumeIt",
        AssumeRolePolicy,
        &["iam:UpdateAssumeRolePolicy"],
        "rewrites a privileged role's trust policy to trust oneself, then assumes it",
        Both,
    ),
    // 4. iam:PassRole to a service
    m(
        "CreateEC2WithExistingIP",
        PassRole,
        &["iam:PassRole", "ec2:RunInstances"],
        "launches an instance with a privileged instance profile and uses its credentials",
        Both,
    ),
    m(
        "PassExistingRoleToNewLambdaThenInvoke",
        PassRole,
        &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:InvokeFunction",
        ],
        "creates a function running as a privileged role and invokes it",
        Both,
    ),
    m(
        "PassExistingRoleToNewLambdaThenTriggerWithNewDynamo",
        PassRole,
        &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:CreateEventSourceMapping",
            "dynamodb:CreateTable",
            "dynamodb:PutItem",
        ],
        "creates a function running as a privileged role, triggered from a new DynamoDB table",
        Cloudsplaining,
    ),
    m(
        "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo",
        PassRole,
        &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:CreateEventSourceMapping",
        ],
        "creates a function running as a privileged role, triggered from an existing stream",
        Both,
    ),
    m(
        "PassExistingRoleToNewGlueDevEndpoint",
        PassRole,
        &["iam:PassRole", "glue:CreateDevEndpoint"],
        "creates a Glue development endpoint with a privileged role and logs in to it",
        Both,
    ),
    m(
        "PassExistingRoleToCloudFormation",
        PassRole,
        &["iam:PassRole", "cloudformation:CreateStack"],
        "creates a stack whose template runs as a privileged role",
        Both,
    ),
    m(
        "PassExistingRoleToNewDataPipeline",
        PassRole,
        &[
            "iam:PassRole",
            "datapipeline:CreatePipeline",
            "datapipeline:PutPipelineDefinition",
        ],
        "creates a pipeline that runs commands as a privileged role",
        Both,
    ),
    m(
        "PassExistingRoleToNewCodeBuildProjectThenBuild",
        PassRole,
        &[
            "iam:PassRole",
            "codebuild:CreateProject",
            "codebuild:StartBuild",
        ],
        "creates a build project with a privileged role and runs a build of one's own",
        IamVulnerable,
    ),
    m(
        "PassExistingRoleToNewCodeBuildProjectThenBuildBatch",
        PassRole,
        &[
            "iam:PassRole",
            "codebuild:CreateProject",
            "codebuild:StartBuildBatch",
        ],
        "creates a build project with a privileged role and runs a batch build of one's own",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewSageMakerNotebookInstance",
        PassRole,
        &["iam:PassRole", "sagemaker:CreateNotebookInstance"],
        "creates a notebook instance with a privileged role and runs code in it",
        IamVulnerable,
    ),
    m(
        "PassExistingRoleToNewSageMakerTrainingJob",
        PassRole,
        &["iam:PassRole", "sagemaker:CreateTrainingJob"],
        "runs a training job of one's own as a privileged role",
        IamVulnerable,
    ),
    m(
        "PassExistingRoleToNewSageMakerProcessingJob",
        PassRole,
        &["iam:PassRole", "sagemaker:CreateProcessingJob"],
        "runs a processing job of one's own as a privileged role",
        IamVulnerable,
    ),
    m(
        "PassExistingRoleToNewLambdaThenAddPermission",
        PassRole,
        &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:AddPermission",
        ],
        "creates a function running as a privileged role and lets oneself invoke it",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewGlueJobThenRun",
        PassRole,
        &["iam:PassRole", "glue:CreateJob", "glue:StartJobRun"],
        "creates a Glue job running as a privileged role and runs it",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewGlueJobViaTrigger",
        PassRole,
        &["iam:PassRole", "glue:CreateJob", "glue:CreateTrigger"],
        "creates a Glue job running as a privileged role and a trigger that runs it",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToUpdatedGlueJobThenRun",
        PassRole,
        &["iam:PassRole", "glue:UpdateJob", "glue:StartJobRun"],
        "points an existing Glue job at a privileged role and code of one's own, and runs it",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToUpdatedGlueJobViaTrigger",
        PassRole,
        &["iam:PassRole", "glue:UpdateJob", "glue:CreateTrigger"],
        "points an existing Glue job at a privileged role and triggers it",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewECSTaskViaRunTask",
        PassRole,
        &["iam:PassRole", "ecs:RegisterTaskDefinition", "ecs:RunTask"],
        "registers a task definition with a privileged task role and runs it",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewECSTaskViaStartTask",
        PassRole,
        &[
            "iam:PassRole",
            "ecs:RegisterTaskDefinition",
            "ecs:StartTask",
        ],
        "registers a task definition with a privileged task role and starts it",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewECSService",
        PassRole,
        &[
            "iam:PassRole",
            "ecs:RegisterTaskDefinition",
            "ecs:CreateService",
        ],
        "registers a task definition with a privileged task role and runs it as a service",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewEC2SpotInstance",
        PassRole,
        &["iam:PassRole", "ec2:RequestSpotInstances"],
        "requests a spot instance with a privileged instance profile",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewAppRunnerService",
        PassRole,
        &["iam:PassRole", "apprunner:CreateService"],
        "creates an App Runner service of one's own running as a privileged role",
        Pathfinding,
    ),
    m(
        "PassExistingRoleToNewCloudFormationStackSet",
        PassRole,
        &[
            "iam:PassRole",
            "cloudformation:CreateStackSet",
            "cloudformation:CreateStackInstances",
        ],
        "creates a stack set administered by a privileged role and deploys it",
        Pathfinding,
    ),
    m(
        "PassRoleToUpdateCloudFormationStackSet",
        PassRole,
        &["iam:PassRole", "cloudformation:UpdateStackSet"],
        "updates a stack set to run a template of one's own as a privileged role",
        Pathfinding,
    ),
    m(
        "PassAnyRole",
        PassRole,
        &["iam:PassRole"],
        "passes any role, however privileged, to any service the holder can use",
        Reflex,
    ),
    // 5. Escalation through AWS services
    m(
        "UpdateExistingGlueDevEndpoint",
        Services,
        &["glue:UpdateDevEndpoint"],
        "puts one's own SSH key on a Glue development endpoint and uses its role",
        Both,
    ),
    m(
        "EditExistingLambdaFunctionWithRole",
        Services,
        &["lambda:UpdateFunctionCode"],
        "replaces the code of a function that runs as a privileged role",
        Both,
    ),
    m(
        "UpdateExistingCloudFormationStack",
        Services,
        &["cloudformation:UpdateStack"],
        "updates a stack whose service role is privileged with a template of one's own",
        IamVulnerable,
    ),
    m(
        "ExecuteCloudFormationChangeSet",
        Services,
        &[
            "cloudformation:CreateChangeSet",
            "cloudformation:ExecuteChangeSet",
        ],
        "changes a stack whose service role is privileged through a change set",
        Pathfinding,
    ),
    m(
        "EC2InstanceConnectSendSSHPublicKey",
        Services,
        &["ec2-instance-connect:SendSSHPublicKey"],
        "logs in to any instance and uses its instance profile",
        IamVulnerable,
    ),
    m(
        "CreatePresignedSageMakerNotebookUrl",
        Services,
        &["sagemaker:CreatePresignedNotebookInstanceUrl"],
        "opens an existing notebook instance and runs code as its role",
        IamVulnerable,
    ),
    m(
        "SSMSendCommand",
        Services,
        &["ssm:SendCommand"],
        "runs commands on any managed instance and uses its instance profile",
        IamVulnerable,
    ),
    m(
        "SSMStartSession",
        Services,
        &["ssm:StartSession"],
        "opens a shell on any managed instance and uses its instance profile",
        IamVulnerable,
    ),
    m(
        "AssumeRole",
        Services,
        &["sts:AssumeRole"],
        "assumes any role that trusts the account, however privileged",
        IamVulnerable,
    ),
];

/// The method of this name.
pub fn method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// Every action some method needs, each once, in table order.
pub fn all_actions() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    for a in METHODS.iter().flat_map(|m| m.actions) {
        if !all.iter().any(|b| b.eq_ignore_ascii_case(a)) {
            all.push(a);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_well_formed() {
        for (i, m) in METHODS.iter().enumerate() {
            assert!(!m.actions.is_empty(), "{}", m.name);
            assert!(
                METHODS[..i].iter().all(|o| o.name != m.name),
                "{} twice",
                m.name
            );
            for a in m.actions {
                let (service, name) = a.split_once(':').expect("service:Action");
                assert!(!service.is_empty() && !name.is_empty(), "{a}");
                assert!(!a.contains(['*', '?']), "{a}: a method names exact actions");
            }
        }
        // Cloudsplaining's 22 original methods are all here, by its names.
        let original = METHODS
            .iter()
            .filter(|m| matches!(m.source, Source::Both | Source::Cloudsplaining))
            .count();
        assert_eq!(original, 22);
        // And iam-vulnerable's 31 paths (its Lambda trigger path is Cloudsplaining's
        // ...TriggerWithExistingDynamo: the actions its policy grants).
        let paths = METHODS
            .iter()
            .filter(|m| matches!(m.source, Source::Both | Source::IamVulnerable))
            .count();
        assert_eq!(paths, 31);
    }
}
