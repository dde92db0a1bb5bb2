//! A member account of the organisation, in the same emulator. moto gives credentials from
//! `AssumeRole` the account of the role they came from, so a role ARN in account
//! 222222222222 is all it takes to work in that account.

use aws_config::SdkConfig;
use aws_sdk_sts::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_sts::types::AssumedRoleUser;
use serde_json::Value;

use crate::Account;
use crate::emulator::{ACCOUNT, REGION, workspace_root};
use crate::policy::Deployment;

pub const MEMBER: &str = "222222222222";
/// The functions that act in member accounts, each through a member role of its own.
pub const FUNCTIONS: &[&str] = &["revoke", "scale", "harden", "quarantine", "privatize"];
/// revoke's member role (what `infra/member.yaml` creates, and the central stack's
/// `REFLEX_MEMBER_ROLE_ARN` for revoke).
pub const MEMBER_ROLE_ARN: &str = "arn:aws:iam::{account}:role/reflex/reflex-remediation-revoke";
/// The member's administrator, used by the tests to set the account up and read it back.
const MEMBER_ADMIN: &str = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole";

/// `function`'s member role, `{account}` standing for the member's account id.
pub fn member_role_arn(function: &str) -> String {
    format!("arn:aws:iam::{{account}}:role/reflex/reflex-remediation-{function}")
}

/// `function`'s member role's logical id in `infra/member.yaml`: `RevokeMemberRole`.
pub fn role_id(function: &str) -> String {
    let mut chars = function.chars();
    let capitalised = chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default();
    format!("{capitalised}MemberRole")
}

/// The member account in `region`, as its administrator.
pub async fn admin(home: &Account, region: &str) -> Account {
    as_role(home, MEMBER_ADMIN, "reflex-tests", region).await
}

/// A session of a role, as STS handed it out: what CloudTrail records of its calls comes from
/// here, so that a forged caller is the very session that made them.
pub struct Session {
    /// The harness with the session's credentials.
    pub acct: Account,
    /// `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION` and `ROLEID:SESSION`.
    pub user: AssumedRoleUser,
    /// The session's access key id.
    pub access_key_id: String,
}

/// A session of `role_arn` (moto hands them out for any role ARN; the role's account is
/// theirs), its clients in `region`.
pub async fn session(home: &Account, role_arn: &str, name: &str, region: &str) -> Session {
    let out = aws_sdk_sts::Client::new(&home.sdk)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("assume {role_arn}: {e:?}"));
    let c = out.credentials.expect("credentials");
    let access_key_id = c.access_key_id.clone();
    let credentials = Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        None,
        "assumed-role",
    );
    let sdk: SdkConfig = home
        .sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .region(Region::new(region.to_string()))
        .build();
    Session {
        acct: home.with_sdk(sdk),
        user: out.assumed_role_user.expect("the assumed-role user"),
        access_key_id,
    }
}

/// The harness seen with the credentials of a session of `role_arn`, in `region`.
pub async fn as_role(home: &Account, role_arn: &str, name: &str, region: &str) -> Account {
    session(home, role_arn, name, region).await.acct
}

/// Onboard the member as `infra/member.yaml` does (rendered with SAM's translator for this
/// account, the central account being the harness's): each function's remediation role, with
/// its name, path, trust and policies.
pub async fn create_remediation_roles(member: &Account) {
    let account = caller_account(member).await;
    let deployed = Deployment::of(
        &workspace_root().join("infra/member.yaml"),
        &[("CentralAccountId", ACCOUNT), ("AWS::AccountId", &account)],
    )
    .expect("infra/member.yaml renders");
    for function in FUNCTIONS {
        let id = role_id(function);
        let expected = member_role_arn(function).replace("{account}", &account);
        assert_eq!(
            deployed.role_arn(&id).as_deref(),
            Some(expected.as_str()),
            "infra/member.yaml's {id} is the role the harness configures"
        );
        let p = deployed.resolved(&deployed.resources[&id]["Properties"]);
        let text = |v: &Value| v.as_str().expect("resolved").to_string();
        member
            .iam
            .create_role()
            .path(text(&p["Path"]))
            .role_name(text(&p["RoleName"]))
            .assume_role_policy_document(p["AssumeRolePolicyDocument"].to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {id}: {e:?}"));
        for policy in p["Policies"].as_array().into_iter().flatten() {
            member
                .iam
                .put_role_policy()
                .role_name(text(&p["RoleName"]))
                .policy_name(text(&policy["PolicyName"]))
                .policy_document(policy["PolicyDocument"].to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("the policy of {id}: {e:?}"));
        }
    }
}

/// Who the credentials of `acct` belong to, according to STS.
pub async fn caller_account(acct: &Account) -> String {
    aws_sdk_sts::Client::new(&acct.sdk)
        .get_caller_identity()
        .send()
        .await
        .expect("get caller identity")
        .account
        .expect("account")
}

/// A sample event as if it happened in the member account, in `region`.
pub fn in_member(event: Value, region: &str) -> Value {
    let text = event
        .to_string()
        .replace(ACCOUNT, MEMBER)
        .replace(REGION, region);
    serde_json::from_str(&text).expect("still JSON")
}
