//! A sample AWS account in the emulator: seeded IAM state, the report topic with a queue
//! subscribed to read reports back, the attacker's calls replayed, and read-back helpers.

use aws_config::SdkConfig;
use aws_sdk_iam::types::StatusType;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::emulator::{ACCOUNT, Emulator};
use reflex_revoke::actions::Identity;
use reflex_shared::Function;
use reflex_shared::aws::error_text;
use reflex_shared::pipeline::{Handler, handler_from_env};
use reflex_shared::report::{ActionReport, Report};

pub const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
pub const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
pub const APP_POLICY: &str = "arn:aws:iam::123456789012:policy/app-policy";
/// A customer-managed policy that escalates (all of IAM): attached, it makes anyone an admin.
pub const OPS_TOOLING: &str = "arn:aws:iam::123456789012:policy/ops-tooling";
/// The session the sample events use for Reflex's own role (`*-by-reflex.json`).
pub const REFLEX_SESSION: &str =
    "arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex-revoke";
pub const BREAK_GLASS_PATTERN: &str = "arn:aws:iam::*:role/break-glass";

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const S3_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::reports/*"}]}"#;
const IAM_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","s3:ListAllMyBuckets"],"Resource":"*"}]}"#;
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// A report read back from the queue subscribed to the SNS topic.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub subject: String,
    pub report: Report,
    /// SNS's message attributes, as SNS delivers them (`{"reflex_status": {"Value": ...}}`).
    pub attributes: Value,
}

pub const LEDGER_TABLE: &str = "reflex-ledger";

/// The sample alarms about the group `web` (`events/scale/`), mapped to it as a deployment maps
/// its alarms: only these scale anything.
pub const SCALE_TARGETS: &str = "web-cpu-high=web,web-5xx-rate-high=web,web-busy-and-disk-full=web";

pub struct Account {
    pub sdk: SdkConfig,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub iam: aws_sdk_iam::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub topic_arn: String,
    pub queue_url: String,
}

impl Account {
    /// Clients for the emulator, the report topic with a queue subscribed to it, the ledger table.
    pub async fn new(emulator: &Emulator) -> Self {
        let sdk = emulator.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        create_ledger_table(&dynamodb).await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let topic_arn = sns
            .create_topic()
            .name("reflex-reports")
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("topic arn");
        let queue_url = sqs
            .create_queue()
            .queue_name("reflex-reports-inbox")
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        let queue_arn = format!(
            "arn:aws:sqs:{}:{ACCOUNT}:reflex-reports-inbox",
            crate::emulator::REGION
        );
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("subscribe queue");
        Self {
            autoscaling: aws_sdk_autoscaling::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            dynamodb,
            sdk,
            sns,
            sqs,
            topic_arn,
            queue_url,
        }
    }

    /// The same harness seen with other credentials or another region (a member account):
    /// its clients use `sdk`; the report topic, its queue and the ledger stay this account's.
    pub fn with_sdk(&self, sdk: SdkConfig) -> Self {
        Self {
            autoscaling: aws_sdk_autoscaling::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            dynamodb: self.dynamodb.clone(),
            sns: self.sns.clone(),
            sqs: self.sqs.clone(),
            topic_arn: self.topic_arn.clone(),
            queue_url: self.queue_url.clone(),
            sdk,
        }
    }

    /// The account before the attack: people, groups, roles and a customer policy.
    pub async fn seed(&self) {
        let iam = &self.iam;
        for user in ["alice", "mallory"] {
            iam.create_user()
                .user_name(user)
                .send()
                .await
                .expect("create user");
        }
        iam.create_access_key()
            .user_name("mallory")
            .send()
            .await
            .expect("key");
        for group in ["admins", "developers", "readers"] {
            iam.create_group()
                .group_name(group)
                .send()
                .await
                .expect("create group");
        }
        iam.attach_group_policy()
            .group_name("admins")
            .policy_arn(ADMIN)
            .send()
            .await
            .expect("attach");
        iam.attach_group_policy()
            .group_name("readers")
            .policy_arn(READ_ONLY)
            .send()
            .await
            .expect("attach");
        iam.add_user_to_group()
            .group_name("developers")
            .user_name("alice")
            .send()
            .await
            .expect("add");
        for role in ["app-role", "ci-deployer", "reflex-revoke", "break-glass"] {
            iam.create_role()
                .role_name(role)
                .assume_role_policy_document(TRUST)
                .send()
                .await
                .expect("create role");
        }
        iam.create_policy()
            .policy_name("app-policy")
            .policy_document(S3_READ)
            .send()
            .await
            .expect("create policy");
        iam.create_policy()
            .policy_name("ops-tooling")
            .policy_document(IAM_ALL)
            .send()
            .await
            .expect("create policy");
    }

    /// Make the emulator's state what it is right after the call the event records (a failed
    /// call changed nothing), and return the event with the ids the emulator generated.
    pub async fn replay(&self, mut event: Value) -> Value {
        let d = &event["detail"];
        if d.get("errorCode").is_some_and(|c| !c.is_null()) {
            return event;
        }
        let name = d["eventName"].as_str().unwrap_or_default().to_string();
        let req = d["requestParameters"].clone();
        let s = |k: &str| req[k].as_str().unwrap_or_default().to_string();
        let iam = &self.iam;
        match name.as_str() {
            "AttachUserPolicy" => drop(
                iam.attach_user_policy()
                    .user_name(s("userName"))
                    .policy_arn(s("policyArn"))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "AttachGroupPolicy" => drop(
                iam.attach_group_policy()
                    .group_name(s("groupName"))
                    .policy_arn(s("policyArn"))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "AttachRolePolicy" => drop(
                iam.attach_role_policy()
                    .role_name(s("roleName"))
                    .policy_arn(s("policyArn"))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "PutUserPolicy" => drop(
                iam.put_user_policy()
                    .user_name(s("userName"))
                    .policy_name(s("policyName"))
                    .policy_document(s("policyDocument"))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "PutGroupPolicy" => drop(
                iam.put_group_policy()
                    .group_name(s("groupName"))
                    .policy_name(s("policyName"))
                    .policy_document(s("policyDocument"))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "PutRolePolicy" => drop(
                iam.put_role_policy()
                    .role_name(s("roleName"))
                    .policy_name(s("policyName"))
                    .policy_document(s("policyDocument"))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "CreatePolicyVersion" => {
                let out = iam
                    .create_policy_version()
                    .policy_arn(s("policyArn"))
                    .policy_document(s("policyDocument"))
                    .set_as_default(req["setAsDefault"].as_bool().unwrap_or(false))
                    .send()
                    .await
                    .expect("replay");
                let id = out
                    .policy_version
                    .and_then(|v| v.version_id)
                    .expect("version id");
                event["detail"]["responseElements"]["policyVersion"]["versionId"] = id.into();
            }
            "SetDefaultPolicyVersion" => {
                // The sample's premise: the version was created earlier, escalating, not default.
                if self.policy_versions(&s("policyArn")).await.len() < 2 {
                    iam.create_policy_version()
                        .policy_arn(s("policyArn"))
                        .policy_document(ALLOW_ALL)
                        .send()
                        .await
                        .expect("replay");
                }
                iam.set_default_policy_version()
                    .policy_arn(s("policyArn"))
                    .version_id(s("versionId"))
                    .send()
                    .await
                    .expect("replay");
            }
            "CreateAccessKey" => {
                let user = req["userName"]
                    .as_str()
                    .or(d["userIdentity"]["userName"].as_str())
                    .unwrap_or_default();
                let out = iam
                    .create_access_key()
                    .user_name(user)
                    .send()
                    .await
                    .expect("replay");
                let id = out.access_key.map(|k| k.access_key_id).expect("key id");
                event["detail"]["responseElements"]["accessKey"]["accessKeyId"] = id.into();
            }
            // Without `userName` the caller gives itself a password.
            "CreateLoginProfile" => drop(
                iam.create_login_profile()
                    .user_name(
                        req["userName"]
                            .as_str()
                            .or(d["userIdentity"]["userName"].as_str())
                            .unwrap_or_default(),
                    )
                    .password("Replayed-Passw0rd!")
                    .password_reset_required(
                        req["passwordResetRequired"].as_bool().unwrap_or(false),
                    )
                    .send()
                    .await
                    .expect("replay"),
            ),
            "UpdateLoginProfile" => {
                let user = req["userName"]
                    .as_str()
                    .or(d["userIdentity"]["userName"].as_str())
                    .unwrap_or_default();
                // The sample's premise: the user had a console password to reset.
                if !self.has_login_profile(user).await {
                    iam.create_login_profile()
                        .user_name(user)
                        .password("Earlier-Passw0rd!")
                        .send()
                        .await
                        .expect("replay");
                }
                iam.update_login_profile()
                    .user_name(user)
                    .password("Reset-By-Attacker-1!")
                    .password_reset_required(
                        req["passwordResetRequired"].as_bool().unwrap_or(false),
                    )
                    .send()
                    .await
                    .expect("replay");
            }
            "UpdateAssumeRolePolicy" => drop(
                iam.update_assume_role_policy()
                    .role_name(s("roleName"))
                    .policy_document(s("policyDocument"))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "AddUserToGroup" => drop(
                iam.add_user_to_group()
                    .group_name(s("groupName"))
                    .user_name(s("userName"))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "TagUser" => drop(
                iam.tag_user()
                    .user_name(s("userName"))
                    .set_tags(Some(iam_tags(&req)))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "TagRole" => drop(
                iam.tag_role()
                    .role_name(s("roleName"))
                    .set_tags(Some(iam_tags(&req)))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "CreateUser" => drop(
                iam.create_user()
                    .user_name(s("userName"))
                    .set_tags(Some(iam_tags(&req)))
                    .send()
                    .await
                    .expect("replay"),
            ),
            "CreateRole" => drop(
                iam.create_role()
                    .role_name(s("roleName"))
                    .assume_role_policy_document(s("assumeRolePolicyDocument"))
                    .set_tags(Some(iam_tags(&req)))
                    .send()
                    .await
                    .expect("replay"),
            ),
            other => panic!("no replay for {other}"),
        }
        event
    }

    /// A role's trust policy as IAM has it now (decoded).
    pub async fn trust_policy(&self, role: &str) -> Value {
        let text = self
            .iam
            .get_role()
            .role_name(role)
            .send()
            .await
            .expect("get role")
            .role
            .and_then(|r| r.assume_role_policy_document)
            .unwrap_or_default();
        reflex_revoke::policy::parse_document_str(&text).expect("a JSON trust policy")
    }

    /// Configuration as a deployment would set it, aimed at this account's topic: the
    /// variables and their values.
    pub fn env_vars(&self, mode: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut vars: BTreeMap<String, String> = [
            ("REFLEX_MODE", mode),
            ("REFLEX_TOPIC_ARN", self.topic_arn.as_str()),
            ("REFLEX_SELF_ARN", REFLEX_SESSION),
            ("REFLEX_EXEMPT_PRINCIPALS", BREAK_GLASS_PATTERN),
            ("REFLEX_LEDGER_TABLE", LEDGER_TABLE),
            ("REFLEX_SCALE_TARGETS", SCALE_TARGETS),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        vars
    }

    /// The same configuration as a lookup, as `handler_from_env` reads it.
    pub fn env(
        &self,
        mode: &str,
        extra: &[(&str, &str)],
    ) -> impl Fn(&str) -> Option<String> + use<> {
        let vars = self.env_vars(mode, extra);
        move |k: &str| vars.get(k).cloned()
    }

    /// Function `F`'s handler exactly as its Lambda binary builds it (the same
    /// `handler_from_env`, the same call timeouts), configured by [`Account::env`] and aimed at
    /// the emulator.
    pub async fn handler<F: Function>(&self, mode: &str, extra: &[(&str, &str)]) -> Handler<F> {
        let sdk = (self.sdk.to_builder())
            .timeout_config(reflex_shared::aws::timeouts())
            .build();
        handler_from_env::<F>(&self.env(mode, extra), &sdk)
            .await
            .expect("valid configuration")
    }

    /// The same handler, its every call going through `proxy` (the account's own clients, for
    /// seeding and reading back, still reach the emulator directly).
    pub async fn handler_via<F: Function>(
        &self,
        proxy: &crate::proxy::FaultProxy,
        mode: &str,
        extra: &[(&str, &str)],
    ) -> Handler<F> {
        // This account's region, credentials and retries, only the endpoint changed.
        let sdk = (self.sdk.to_builder())
            .endpoint_url(&proxy.endpoint)
            .timeout_config(reflex_shared::aws::timeouts())
            .build();
        handler_from_env::<F>(&self.env(mode, extra), &sdk)
            .await
            .expect("valid configuration")
    }

    /// Let every lease in the ledger run out, as it has when Lambda's retry arrives a minute
    /// or more after the delivery that took it.
    pub async fn let_leases_run_out(&self) {
        use aws_sdk_dynamodb::types::AttributeValue;
        for entry in self.ledger_entries().await {
            if entry["kind"] != "claim" {
                continue;
            }
            self.dynamodb
                .update_item()
                .table_name(LEDGER_TABLE)
                .key(
                    "pk",
                    AttributeValue::S(entry["pk"].as_str().unwrap_or_default().into()),
                )
                .update_expression("SET lease_until = :past")
                .expression_attribute_values(":past", AttributeValue::N("0".into()))
                .send()
                .await
                .expect("end the lease");
        }
    }

    /// An Auto Scaling group (the sample alarms watch `web`).
    pub async fn seed_group(&self, name: &str, min: i32, max: i32, desired: i32) {
        let config = format!("{name}-launch-config");
        self.autoscaling
            .create_launch_configuration()
            .launch_configuration_name(&config)
            .image_id("ami-12c6146b")
            .instance_type("t3.micro")
            .send()
            .await
            .expect("create launch configuration");
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name(&config)
            .min_size(min)
            .max_size(max)
            .desired_capacity(desired)
            .availability_zones("us-east-1a")
            .send()
            .await
            .expect("create Auto Scaling group");
    }

    pub async fn desired_capacity(&self, group: &str) -> i32 {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .expect("describe group");
        out.auto_scaling_groups
            .unwrap_or_default()
            .first()
            .and_then(|g| g.desired_capacity)
            .expect("the group exists")
    }

    /// Every ledger item, as JSON.
    pub async fn ledger_entries(&self) -> Vec<Value> {
        let ledger = reflex_shared::ledger::Ledger::new(self.dynamodb.clone(), LEDGER_TABLE, 1);
        ledger.entries().await.expect("scan the ledger")
    }

    /// The ledger's claims (one per finding of an event), as JSON.
    pub async fn claims(&self) -> Vec<Value> {
        let mut entries = self.ledger_entries().await;
        entries.retain(|e| e["kind"] == "claim");
        entries
    }

    /// The claims in the ledger, each checked finished (done, its report sent) with each of its
    /// steps recorded once; the number of steps of all of them.
    pub async fn finished_steps_once(&self) -> usize {
        let mut all = 0;
        for claim in self.claims().await {
            assert_eq!(claim["state"], "done", "{claim}");
            assert_eq!(claim["reported"], true, "{claim}");
            let steps: Vec<ActionReport> =
                serde_json::from_str(claim["steps"].as_str().unwrap_or("[]"))
                    .unwrap_or_else(|e| panic!("the recorded steps: {e}: {claim}"));
            let mut names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), steps.len(), "each step once: {claim}");
            all += steps.len();
        }
        all
    }

    /// Every report delivered so far (drains the queue).
    pub async fn reports(&self) -> Vec<Delivered> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                let envelope: Value =
                    serde_json::from_str(m.body.as_deref().unwrap_or("{}")).expect("SNS envelope");
                let report = serde_json::from_str(envelope["Message"].as_str().unwrap_or("null"))
                    .expect("a Reflex report");
                out.push(Delivered {
                    subject: envelope["Subject"].as_str().unwrap_or_default().to_string(),
                    report,
                    attributes: envelope["MessageAttributes"].clone(),
                });
                // Deleted, or it would be read again by the next call.
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle.expect("a receipt handle"))
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    // ---- read-back ----

    pub async fn attached_policies(&self, identity: &Identity) -> Vec<String> {
        let name = identity.name();
        let policies = match identity {
            Identity::User(_) => {
                self.iam
                    .list_attached_user_policies()
                    .user_name(name)
                    .send()
                    .await
                    .expect("list")
                    .attached_policies
            }
            Identity::Group(_) => {
                self.iam
                    .list_attached_group_policies()
                    .group_name(name)
                    .send()
                    .await
                    .expect("list")
                    .attached_policies
            }
            Identity::Role(_) => {
                self.iam
                    .list_attached_role_policies()
                    .role_name(name)
                    .send()
                    .await
                    .expect("list")
                    .attached_policies
            }
        };
        policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_arn)
            .collect()
    }

    pub async fn inline_policies(&self, identity: &Identity) -> Vec<String> {
        let name = identity.name();
        match identity {
            Identity::User(_) => {
                self.iam
                    .list_user_policies()
                    .user_name(name)
                    .send()
                    .await
                    .expect("list")
                    .policy_names
            }
            Identity::Group(_) => {
                self.iam
                    .list_group_policies()
                    .group_name(name)
                    .send()
                    .await
                    .expect("list")
                    .policy_names
            }
            Identity::Role(_) => {
                self.iam
                    .list_role_policies()
                    .role_name(name)
                    .send()
                    .await
                    .expect("list")
                    .policy_names
            }
        }
    }

    /// Whether AdministratorAccess is attached to `identity`.
    pub async fn is_admin(&self, identity: &Identity) -> bool {
        self.attached_policies(identity)
            .await
            .contains(&ADMIN.to_string())
    }

    /// The cut-off of revoke's deny on `role`'s older sessions, as the role has it now; panics
    /// unless the policy is there and denies every action on every resource to sessions issued
    /// before that time.
    pub async fn session_cutoff(&self, role: &str) -> String {
        let policy = reflex_shared::iam::REVOKE_SESSIONS_POLICY;
        let text = self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{policy} of {role}: {}", error_text(&e)))
            .policy_document;
        // IAM hands documents back URL-encoded (moto may not): decoded here, not with revoke's
        // own parser.
        let decoded = match text.trim_start().starts_with('{') {
            true => text.clone(),
            false => percent_encoding::percent_decode_str(&text)
                .decode_utf8()
                .unwrap_or_else(|e| panic!("{policy} of {role}: {e}: {text}"))
                .into_owned(),
        };
        let document: Value = serde_json::from_str(&decoded)
            .unwrap_or_else(|e| panic!("{policy} of {role}: {e}: {decoded}"));
        let statement = &document["Statement"][0];
        assert_eq!(statement["Effect"], "Deny", "{document}");
        assert_eq!(statement["Action"], "*", "{document}");
        assert_eq!(statement["Resource"], "*", "{document}");
        statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
            .as_str()
            .unwrap_or_else(|| panic!("a cut-off: {document}"))
            .to_string()
    }

    /// Version ids of a managed policy, the default one marked with `*`.
    pub async fn policy_versions(&self, arn: &str) -> Vec<String> {
        let versions = self
            .iam
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .expect("list")
            .versions
            .unwrap_or_default();
        versions
            .into_iter()
            .map(|v| {
                format!(
                    "{}{}",
                    v.version_id.unwrap_or_default(),
                    if v.is_default_version { "*" } else { "" }
                )
            })
            .collect()
    }

    pub async fn default_version(&self, arn: &str) -> String {
        let policy = self
            .iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .expect("get policy")
            .policy
            .expect("policy");
        policy.default_version_id.unwrap_or_default()
    }

    /// `Active`, `Inactive`, or `None` when the key does not exist.
    pub async fn access_key_status(&self, user: &str, key_id: &str) -> Option<String> {
        let keys = self
            .iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .expect("list keys")
            .access_key_metadata;
        keys.into_iter()
            .find(|k| k.access_key_id.as_deref() == Some(key_id))
            .and_then(|k| k.status)
            .map(|s| s.as_str().to_string())
    }

    pub async fn active_access_keys(&self, user: &str) -> usize {
        let keys = self
            .iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .expect("list keys")
            .access_key_metadata;
        keys.iter()
            .filter(|k| k.status == Some(StatusType::Active))
            .count()
    }

    /// Whether `user` has a console password; a failed read other than "no such profile"
    /// panics, so that "the password was removed" cannot pass on a broken read.
    pub async fn has_login_profile(&self, user: &str) -> bool {
        match self.iam.get_login_profile().user_name(user).send().await {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                false
            }
            Err(e) => panic!("get login profile of {user}: {}", error_text(&e)),
        }
    }

    pub async fn groups_of(&self, user: &str) -> Vec<String> {
        let groups = self
            .iam
            .list_groups_for_user()
            .user_name(user)
            .send()
            .await
            .expect("list groups")
            .groups;
        groups.into_iter().map(|g| g.group_name).collect()
    }

    /// The tags of a user or role (groups carry none), key to value.
    pub async fn tags_of(&self, identity: &Identity) -> BTreeMap<String, String> {
        let tags = match identity {
            Identity::User(name) => {
                self.iam
                    .list_user_tags()
                    .user_name(name)
                    .send()
                    .await
                    .expect("list user tags")
                    .tags
            }
            Identity::Role(name) => {
                self.iam
                    .list_role_tags()
                    .role_name(name)
                    .send()
                    .await
                    .expect("list role tags")
                    .tags
            }
            Identity::Group(_) => Vec::new(),
        };
        tags.into_iter().map(|t| (t.key, t.value)).collect()
    }

    pub async fn tag_user(&self, user: &str, key: &str, value: &str) {
        let tag = aws_sdk_iam::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .expect("tag");
        self.iam
            .tag_user()
            .user_name(user)
            .tags(tag)
            .send()
            .await
            .expect("tag user");
    }
}

/// The tags of an IAM request as CloudTrail records them (`tags: [{key, value}]`), read here
/// rather than with Reflex's own parser, whose mistakes the emulator's state would then share.
fn iam_tags(request: &Value) -> Vec<aws_sdk_iam::types::Tag> {
    request["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tag| {
            let text = |k: &str| tag[k].as_str().unwrap_or_else(|| panic!("tag {k}: {tag}"));
            aws_sdk_iam::types::Tag::builder()
                .key(text("key"))
                .value(text("value"))
                .build()
                .expect("tag")
        })
        .collect()
}

/// The ledger table as the SAM template defines it: one string key `pk`, TTL on `expires_at`.
async fn create_ledger_table(dynamodb: &aws_sdk_dynamodb::Client) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    dynamodb
        .create_table()
        .table_name(LEDGER_TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create the ledger table");
    dynamodb
        .update_time_to_live()
        .table_name(LEDGER_TABLE)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .expect("ttl"),
        )
        .send()
        .await
        .expect("enable TTL");
}
