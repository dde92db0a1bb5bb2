//! A member account of the organisation, in the same emulator. moto gives credentials from
//! `AssumeRole` the account of the role they came from, so a role ARN in account
//! 222222222222 is all it takes to work in that account.

use aws_config::SdkConfig;
use aws_sdk_sts::config::{Credentials, Region, SharedCredentialsProvider};
use serde_json::Value;

use crate::Account;
use crate::emulator::{ACCOUNT, REGION};

pub const MEMBER: &str = "222222222222";
/// The role Reflex assumes in every member account (what `infra/member.yaml` creates).
pub const MEMBER_ROLE_ARN: &str = "arn:aws:iam::{account}:role/reflex/reflex-remediation";
/// The member's administrator, used by the tests to set the account up and read it back.
const MEMBER_ADMIN: &str = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole";

const TRUST_CENTRAL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/reflex/*"}}}]}"#;

/// The member account in `region`, as its administrator.
pub async fn admin(home: &Account, region: &str) -> Account {
    let out = aws_sdk_sts::Client::new(&home.sdk)
        .assume_role()
        .role_arn(MEMBER_ADMIN)
        .role_session_name("reflex-tests")
        .send()
        .await
        .expect("assume the member's admin role");
    let c = out.credentials.expect("credentials");
    let credentials = Credentials::new(
        c.access_key_id,
        c.secret_access_key,
        Some(c.session_token),
        None,
        "member-admin",
    );
    let sdk: SdkConfig = home
        .sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .region(Region::new(region.to_string()))
        .build();
    home.with_sdk(sdk)
}

/// Onboard the member: the remediation role the central functions assume.
pub async fn create_remediation_role(member: &Account) {
    member
        .iam
        .create_role()
        .path("/reflex/")
        .role_name("reflex-remediation")
        .assume_role_policy_document(TRUST_CENTRAL)
        .send()
        .await
        .expect("create the remediation role");
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
