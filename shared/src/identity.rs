//! Who made a call (CloudTrail `userIdentity`) and who Reflex itself is (the loop guard's input).

use serde::{Deserialize, Serialize};

use crate::resource::Resource;

/// CloudTrail's `userIdentity` block.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub session_context: Option<SessionContext>,
    #[serde(default)]
    pub invoked_by: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(default)]
    pub session_issuer: Option<SessionIssuer>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
}

/// A 12-digit AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

impl UserIdentity {
    /// The IAM user's name when the caller is an IAM user.
    pub fn iam_user_name(&self) -> Option<&str> {
        if self.kind != "IAMUser" {
            return None;
        }
        self.user_name
            .as_deref()
            .or_else(|| self.arn.as_deref().and_then(|a| a.rsplit('/').next()))
    }

    /// The role's ARN when the caller is an assumed-role session.
    pub fn role_arn(&self) -> Option<&str> {
        if self.kind != "AssumedRole" {
            return None;
        }
        self.session_context
            .as_ref()?
            .session_issuer
            .as_ref()
            .filter(|i| i.kind.as_deref().is_none_or(|k| k == "Role"))?
            .arn
            .as_deref()
    }

    /// The role's name when the caller is an assumed-role session (from the issuer, else the ARN).
    pub fn role_name(&self) -> Option<&str> {
        if self.kind != "AssumedRole" {
            return None;
        }
        if let Some(arn) = self.role_arn() {
            return arn.rsplit('/').next();
        }
        // arn:aws:sts::123456789012:assumed-role/NAME/SESSION
        self.arn
            .as_deref()?
            .split(":assumed-role/")
            .nth(1)?
            .split('/')
            .next()
    }

    /// The IAM user or role behind this identity, if any: what can carry an exemption tag and
    /// what containment acts on.
    pub fn principal(&self) -> Option<Resource> {
        if let Some(user) = self.iam_user_name() {
            return Some(Resource::User(user.to_string()));
        }
        self.role_name().map(|r| Resource::Role(r.to_string()))
    }

    /// Every ARN that names this caller: the session ARN and, for a role session, the role ARN.
    /// Exemption patterns are matched against all of them.
    pub fn arns(&self) -> Vec<&str> {
        self.arn
            .iter()
            .map(String::as_str)
            .chain(self.role_arn())
            .collect()
    }

    /// The account the caller belongs to: `accountId`, else the account in its ARN.
    pub fn account(&self) -> Option<&str> {
        self.account_id
            .as_deref()
            .or_else(|| self.arn.as_deref()?.split(':').nth(4))
            .filter(|a| !a.is_empty())
    }

    /// A short human description: the ARN when there is one.
    pub fn describe(&self) -> String {
        match (&self.arn, &self.user_name, &self.invoked_by) {
            (Some(arn), _, _) => arn.clone(),
            // AWS hides a user name that does not exist (often a mistyped password field).
            (None, Some(user), _) if user == "HIDDEN_DUE_TO_SECURITY_REASONS" => {
                "an unknown user (name hidden by AWS)".to_string()
            }
            (None, Some(user), _) => format!("{} {user}", self.kind),
            (None, None, Some(by)) => format!("{} via {by}", self.kind),
            // Another account's principal (`AWSAccount`), an Identity Center user: no ARN, no
            // name, but an id and an account a person can look up.
            (None, None, None) => match (&self.principal_id, self.account()) {
                (Some(id), Some(account)) => format!("{} {id} of account {account}", self.kind),
                (Some(id), None) => format!("{} {id}", self.kind),
                (None, Some(account)) => format!("{} of account {account}", self.kind),
                (None, None) => self.kind.clone(),
            },
        }
    }
}

/// Reflex's own identity, learned at cold start (STS `GetCallerIdentity`, or configured).
/// Calls made under it are Reflex's own remediations and must never trigger remediation again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfIdentity {
    Role { account: String, name: String },
    User { account: String, name: String },
    Other { arn: String },
}

impl SelfIdentity {
    /// From an ARN as STS reports it: `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`,
    /// `arn:aws:iam::ACCT:role/path/ROLE`, or `arn:aws:iam::ACCT:user/NAME`.
    pub fn from_arn(arn: &str) -> Self {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() == 6 && parts[0] == "arn" {
            let account = parts[4].to_string();
            let resource = parts[5];
            if let Some(name) = resource
                .strip_prefix("assumed-role/")
                .and_then(|rest| rest.split('/').next())
            {
                return SelfIdentity::Role {
                    account,
                    name: name.to_string(),
                };
            }
            if let Some(rest) = resource.strip_prefix("role/") {
                return SelfIdentity::Role {
                    account,
                    name: rest.rsplit('/').next().unwrap_or(rest).to_string(),
                };
            }
            if let Some(rest) = resource.strip_prefix("user/") {
                return SelfIdentity::User {
                    account,
                    name: rest.rsplit('/').next().unwrap_or(rest).to_string(),
                };
            }
        }
        SelfIdentity::Other {
            arn: arn.to_string(),
        }
    }

    /// The account Reflex runs in, when the identity names one.
    pub fn account(&self) -> Option<&str> {
        let account = match self {
            SelfIdentity::Role { account, .. } | SelfIdentity::User { account, .. } => account,
            SelfIdentity::Other { arn } => arn.split(':').nth(4)?,
        };
        Some(account).filter(|a| !a.is_empty())
    }

    /// Whether a caller is Reflex itself. IAM names are case-insensitive, and unique only
    /// within an account: anyone may name a role like Reflex's in an account of their own, so a
    /// name is Reflex only in Reflex's account, and only when the caller's account is known.
    pub fn is(&self, caller: &UserIdentity) -> bool {
        let same_account = |account: &str| !account.is_empty() && caller.account() == Some(account);
        match self {
            SelfIdentity::Role { account, name } => {
                same_account(account)
                    && caller
                        .role_name()
                        .is_some_and(|r| r.eq_ignore_ascii_case(name))
            }
            SelfIdentity::User { account, name } => {
                same_account(account)
                    && caller
                        .iam_user_name()
                        .is_some_and(|u| u.eq_ignore_ascii_case(name))
            }
            SelfIdentity::Other { arn } => caller.arns().contains(&arn.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_session(role: &str, session: &str) -> UserIdentity {
        UserIdentity {
            kind: "AssumedRole".into(),
            arn: Some(format!(
                "arn:aws:sts::123456789012:assumed-role/{role}/{session}"
            )),
            account_id: Some("123456789012".into()),
            session_context: Some(SessionContext {
                session_issuer: Some(SessionIssuer {
                    kind: Some("Role".into()),
                    arn: Some(format!("arn:aws:iam::123456789012:role/service/{role}")),
                    user_name: Some(role.into()),
                    account_id: Some("123456789012".into()),
                }),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_role_session_is_recognised_as_self_whatever_the_session_name() {
        let me = SelfIdentity::from_arn("arn:aws:sts::123456789012:assumed-role/reflex-revoke/fn");
        assert!(me.is(&role_session("reflex-revoke", "another-session")));
        assert!(me.is(&role_session("Reflex-Revoke", "x")));
        assert!(!me.is(&role_session("reflex-revoke-not", "fn")));
    }

    #[test]
    fn the_same_role_name_in_another_account_is_not_self() {
        let me = SelfIdentity::from_arn("arn:aws:iam::999999999999:role/reflex-revoke");
        assert!(!me.is(&role_session("reflex-revoke", "fn")));
    }

    #[test]
    fn a_caller_whose_account_is_unknown_or_only_in_its_arn_is_judged_by_that() {
        let me = SelfIdentity::from_arn("arn:aws:iam::123456789012:role/reflex-revoke");
        let mut elsewhere = role_session("reflex-revoke", "fn");
        elsewhere.account_id = None;
        elsewhere.arn = Some("arn:aws:sts::999999999999:assumed-role/reflex-revoke/fn".into());
        assert!(!me.is(&elsewhere), "the ARN names another account");
        elsewhere.arn = None;
        assert!(
            !me.is(&elsewhere),
            "no account known: not proof of anything"
        );
        let mut here = role_session("reflex-revoke", "fn");
        here.account_id = None;
        assert!(me.is(&here), "the session ARN names Reflex's account");
    }

    #[test]
    fn identities_without_an_arn_are_described_by_what_cloudtrail_gives() {
        let parse = |v: serde_json::Value| serde_json::from_value::<UserIdentity>(v).unwrap();
        let service =
            parse(serde_json::json!({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}));
        assert_eq!(service.describe(), "AWSService via ec2.amazonaws.com");
        assert_eq!(service.principal(), None);
        let other = parse(
            serde_json::json!({"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": "999999999999"}),
        );
        assert_eq!(
            other.describe(),
            "AWSAccount AIDAEXAMPLE of account 999999999999"
        );
        assert_eq!(other.account(), Some("999999999999"));
        let root = parse(
            serde_json::json!({"type": "Root", "arn": "arn:aws:iam::123456789012:root", "principalId": "123456789012"}),
        );
        assert_eq!(root.account(), Some("123456789012"));
        assert_eq!(root.principal(), None);
        // A federated user's session issuer is an IAM user, but the caller is not that user.
        let federated = parse(serde_json::json!({
            "type": "FederatedUser", "arn": "arn:aws:sts::123456789012:federated-user/reflex",
            "accountId": "123456789012",
            "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "bob",
                "arn": "arn:aws:iam::123456789012:user/bob", "accountId": "123456789012"}}
        }));
        assert_eq!(federated.principal(), None);
        assert!(!SelfIdentity::from_arn("arn:aws:iam::123456789012:user/reflex").is(&federated));
        // An assumed role whose issuer CloudTrail left empty: the role is read from the ARN.
        let bare = parse(serde_json::json!({
            "type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/ops/jane",
            "accountId": "123456789012", "sessionContext": {"sessionIssuer": {}, "attributes": {"mfaAuthenticated": "false"}}
        }));
        assert_eq!(bare.principal(), Some(Resource::Role("ops".into())));
    }

    #[test]
    fn users_are_matched_by_name() {
        let me = SelfIdentity::from_arn("arn:aws:iam::123456789012:user/reflex");
        let caller = UserIdentity {
            kind: "IAMUser".into(),
            arn: Some("arn:aws:iam::123456789012:user/reflex".into()),
            account_id: Some("123456789012".into()),
            user_name: Some("reflex".into()),
            ..Default::default()
        };
        assert!(me.is(&caller));
        assert_eq!(caller.principal(), Some(Resource::User("reflex".into())));
        assert!(!me.is(&role_session("reflex", "x")));
    }

    #[test]
    fn role_identity_exposes_role_arn_name_and_principal() {
        let caller = role_session("ci-deployer", "build-17");
        assert_eq!(
            caller.role_arn(),
            Some("arn:aws:iam::123456789012:role/service/ci-deployer")
        );
        assert_eq!(
            caller.principal(),
            Some(Resource::Role("ci-deployer".into()))
        );
        assert_eq!(caller.arns().len(), 2);
    }
}
