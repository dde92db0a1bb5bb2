//! Who made a call (CloudTrail `userIdentity`) and who Reflex itself is (the loop guard's input).

use serde::{Deserialize, Serialize};

use crate::resource::Resource;
use crate::target::MemberRole;

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

    /// The role's ARN when the caller is an assumed-role session, only as [`Self::issuer_role`]
    /// reads it (named whole and consistently): exemption patterns are matched against it, so
    /// a record that does not hold together fails toward remediation, as the loop guard does.
    pub fn role_arn(&self) -> Option<&str> {
        self.issuer_role().map(|issuer| issuer.arn)
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

/// A role session's issuer as CloudTrail records it (`sessionContext.sessionIssuer` of an
/// `AssumedRole` caller): the role's exact ARN, path included, and its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerRole<'a> {
    pub arn: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl UserIdentity {
    /// The role behind an assumed-role session, only when CloudTrail names it whole and
    /// consistently: the issuer is of type `Role`, its ARN is a role ARN with an account id, and
    /// every account the record gives (the issuer's `accountId`, the caller's `accountId`, the
    /// session ARN's account) is that ARN's account. The session ARN alone
    /// (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`) has no path, so it is not enough.
    pub fn issuer_role(&self) -> Option<IssuerRole<'_>> {
        if self.kind != "AssumedRole" {
            return None;
        }
        let issuer = self.session_context.as_ref()?.session_issuer.as_ref()?;
        if issuer.kind.as_deref() != Some("Role") {
            return None;
        }
        let arn = issuer.arn.as_deref()?;
        let (account, name) = parse_role_arn(arn)?;
        let same = |other: Option<&str>| other.is_none_or(|a| a == account);
        let session_account = self.arn.as_deref().and_then(|a| a.split(':').nth(4));
        (same(issuer.account_id.as_deref())
            && same(self.account_id.as_deref())
            && same(session_account))
        .then_some(IssuerRole { arn, account, name })
    }
}

/// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`: the account and the name.
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if partition.starts_with("aws") && is_account_id(account) =>
        {
            let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
            (!name.is_empty()).then_some((account, name))
        }
        _ => None,
    }
}

/// Reflex's own identity, learned at cold start (configured, or asked of STS), with the member
/// role it acts through in other accounts. Calls made under either are Reflex's own
/// remediations and must never trigger remediation again; nothing else may count, so Reflex is
/// recognised by exact ARNs, never by a name that anyone allowed to create roles can choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfIdentity {
    me: Me,
    /// The role Reflex assumes in a member account (`{account}` standing for it).
    member_role: Option<MemberRole>,
}

/// What Reflex runs as in its own account.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Me {
    /// A role by its exact ARN, path included (what the template sets: the function's role).
    Role { arn: String, account: String },
    /// A role known from a session ARN, as STS `GetCallerIdentity` reports it
    /// (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`): no path. Reflex runs as that role, so
    /// it exists, and a role's name is unique within its account: a session issued by a role of
    /// exactly that name in exactly that account is Reflex's.
    SessionOf { account: String, role: String },
    /// An IAM user (local runs), by its exact ARN.
    User { arn: String, account: String },
    /// Anything else: only a caller of exactly this ARN.
    Other { arn: String },
}

impl SelfIdentity {
    /// From an ARN as STS reports it: `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`,
    /// `arn:aws:iam::ACCT:role/path/ROLE`, or `arn:aws:iam::ACCT:user/path/NAME`.
    pub fn from_arn(arn: &str) -> Self {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let me = match parts.as_slice() {
            ["arn", _, service, "", account, resource] => {
                let account = account.to_string();
                match (*service, resource.split_once('/')) {
                    ("sts", Some(("assumed-role", rest))) => Me::SessionOf {
                        account,
                        role: rest.split('/').next().unwrap_or_default().to_string(),
                    },
                    ("iam", Some(("role", _))) => Me::Role {
                        arn: arn.to_string(),
                        account,
                    },
                    ("iam", Some(("user", _))) => Me::User {
                        arn: arn.to_string(),
                        account,
                    },
                    _ => Me::Other {
                        arn: arn.to_string(),
                    },
                }
            }
            _ => Me::Other {
                arn: arn.to_string(),
            },
        };
        Self {
            me,
            member_role: None,
        }
    }

    /// The same identity, acting in member accounts through `member_role`.
    pub fn with_member_role(mut self, member_role: Option<MemberRole>) -> Self {
        self.member_role = member_role;
        self
    }

    /// The account Reflex runs in, when the identity names one.
    pub fn account(&self) -> Option<&str> {
        let account = match &self.me {
            Me::Role { account, .. } | Me::SessionOf { account, .. } | Me::User { account, .. } => {
                account
            }
            Me::Other { arn } => arn.split(':').nth(4)?,
        };
        Some(account).filter(|a| !a.is_empty())
    }

    /// Whether a caller is Reflex itself: in Reflex's own account, a session of its own role
    /// (or its own user); in any other account, a session of exactly the member role's ARN
    /// there, path included. Never by name alone: a role of the member role's name at another
    /// path, or in Reflex's own account (where no member role exists, so the name is free), or
    /// a session whose issuer CloudTrail did not record is someone else's.
    pub fn is(&self, caller: &UserIdentity) -> bool {
        let Some(home) = self.account() else {
            return false;
        };
        match caller.issuer_role() {
            Some(issuer) if issuer.account == home => self.is_my_role(issuer),
            Some(issuer) => self.is_member_session(issuer),
            None => self.is_me_without_a_role(caller),
        }
    }

    /// A session of the role Reflex runs as, in its own account.
    fn is_my_role(&self, issuer: IssuerRole<'_>) -> bool {
        match &self.me {
            Me::Role { arn, .. } => issuer.arn == arn,
            Me::SessionOf { role, .. } => issuer.name == role,
            Me::User { .. } | Me::Other { .. } => false,
        }
    }

    /// A session of the member role in a member account: exactly its ARN for that account.
    fn is_member_session(&self, issuer: IssuerRole<'_>) -> bool {
        self.member_role
            .as_ref()
            .is_some_and(|role| role.arn(issuer.account) == issuer.arn)
    }

    /// Reflex as an IAM user (local runs) or an ARN of another kind: that exact ARN.
    fn is_me_without_a_role(&self, caller: &UserIdentity) -> bool {
        match &self.me {
            Me::User { arn, account } => {
                caller.kind == "IAMUser"
                    && caller.arn.as_deref() == Some(arn)
                    && caller.account_id.as_deref().is_none_or(|a| a == account)
            }
            Me::Other { arn } => caller.arn.as_deref() == Some(arn),
            Me::Role { .. } | Me::SessionOf { .. } => false,
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

    /// A session of `arn:aws:iam::ACCOUNT:role{path}NAME` as CloudTrail records it.
    fn session_of(account: &str, path: &str, name: &str) -> UserIdentity {
        serde_json::from_value(serde_json::json!({
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:s",
            "arn": format!("arn:aws:sts::{account}:assumed-role/{name}/s"),
            "accountId": account,
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "principalId": "AROAEXAMPLE",
                "arn": format!("arn:aws:iam::{account}:role{path}{name}"),
                "accountId": account, "userName": name}}
        }))
        .unwrap()
    }

    const HOME: &str = "111111111111";
    const MEMBER: &str = "222222222222";

    fn reflex() -> SelfIdentity {
        SelfIdentity::from_arn("arn:aws:iam::111111111111:role/reflex/reflex-revoke-us-east-1")
            .with_member_role(Some(
                MemberRole::parse("arn:aws:iam::{account}:role/reflex/reflex-remediation-revoke")
                    .unwrap(),
            ))
    }

    #[test]
    fn at_home_reflex_is_its_own_role_by_exact_arn_whatever_the_session() {
        let me = reflex();
        assert!(me.is(&session_of(HOME, "/reflex/", "reflex-revoke-us-east-1")));
        let mut other_session = session_of(HOME, "/reflex/", "reflex-revoke-us-east-1");
        other_session.arn =
            Some("arn:aws:sts::111111111111:assumed-role/reflex-revoke-us-east-1/anything".into());
        assert!(me.is(&other_session));
        for (path, name) in [
            ("/", "reflex-revoke-us-east-1"),
            ("/reflex/", "Reflex-Revoke-US-East-1"),
            ("/reflex/", "reflex-revoke-eu-west-1"),
            ("/reflex/", "reflex-scale-us-east-1"),
            // The member role's name and path are free in Reflex's own account.
            ("/reflex/", "reflex-remediation-revoke"),
            ("/", "reflex-remediation-revoke"),
        ] {
            assert!(!me.is(&session_of(HOME, path, name)), "{path}{name}");
        }
        // Reflex's own role name in another account is someone else's role.
        assert!(!me.is(&session_of(MEMBER, "/reflex/", "reflex-revoke-us-east-1")));
    }

    #[test]
    fn in_a_member_account_reflex_is_exactly_the_member_role_there() {
        let me = reflex();
        assert!(me.is(&session_of(MEMBER, "/reflex/", "reflex-remediation-revoke")));
        assert!(me.is(&session_of(
            "333333333333",
            "/reflex/",
            "reflex-remediation-revoke"
        )));
        for (path, name) in [
            ("/", "reflex-remediation-revoke"),
            ("/ops/", "reflex-remediation-revoke"),
            ("/reflex/other/", "reflex-remediation-revoke"),
            ("/reflex/", "Reflex-Remediation-Revoke"),
            ("/reflex/", "reflex-remediation-scale"),
            ("/reflex/", "reflex-remediation"),
            ("/reflex/", "ops"),
        ] {
            assert!(!me.is(&session_of(MEMBER, path, name)), "{path}{name}");
        }
        // Without a member role, no session in another account is Reflex's.
        let home_only = reflex().with_member_role(None);
        assert!(!home_only.is(&session_of(MEMBER, "/reflex/", "reflex-remediation-revoke")));
    }

    #[test]
    fn a_session_without_a_whole_and_consistent_issuer_is_not_reflex() {
        let me = reflex();
        let genuine = session_of(MEMBER, "/reflex/", "reflex-remediation-revoke");
        assert!(me.is(&genuine));
        // The older, minimal form: the session ARN only (it has no path).
        let mut minimal = genuine.clone();
        minimal.session_context = None;
        assert!(!me.is(&minimal));
        let mut empty_issuer = genuine.clone();
        empty_issuer.session_context = Some(SessionContext {
            session_issuer: Some(SessionIssuer::default()),
        });
        assert!(!me.is(&empty_issuer));
        let mut untyped = genuine.clone();
        untyped
            .session_context
            .as_mut()
            .unwrap()
            .session_issuer
            .as_mut()
            .unwrap()
            .kind = None;
        assert!(!me.is(&untyped));
        // Accounts that disagree: not a record CloudTrail writes.
        let mut other_issuer_account = genuine.clone();
        other_issuer_account
            .session_context
            .as_mut()
            .unwrap()
            .session_issuer
            .as_mut()
            .unwrap()
            .account_id = Some("333333333333".into());
        assert!(!me.is(&other_issuer_account));
        let mut other_caller_account = genuine.clone();
        other_caller_account.account_id = Some(HOME.into());
        assert!(!me.is(&other_caller_account));
        // Not a role session at all.
        let mut federated = genuine;
        federated.kind = "FederatedUser".into();
        assert!(!me.is(&federated));
    }

    #[test]
    fn a_session_arn_from_sts_names_the_role_without_its_path() {
        // What STS GetCallerIdentity answers when Reflex runs as its role.
        let me = SelfIdentity::from_arn(
            "arn:aws:sts::111111111111:assumed-role/reflex-revoke-us-east-1/reflex-revoke-us-east-1",
        );
        assert_eq!(me.account(), Some(HOME));
        assert!(me.is(&session_of(HOME, "/reflex/", "reflex-revoke-us-east-1")));
        assert!(!me.is(&session_of(HOME, "/reflex/", "Reflex-Revoke-US-East-1")));
        assert!(!me.is(&session_of(HOME, "/reflex/", "reflex-revoke-us-east-1-not")));
        assert!(!me.is(&session_of(MEMBER, "/reflex/", "reflex-revoke-us-east-1")));
        let mut minimal = session_of(HOME, "/reflex/", "reflex-revoke-us-east-1");
        minimal.session_context = None;
        assert!(!me.is(&minimal), "no issuer: not proof");
    }

    #[test]
    fn the_issuer_is_read_whole_from_cloudtrail() {
        let caller = session_of(MEMBER, "/reflex/", "reflex-remediation-revoke");
        assert_eq!(
            caller.issuer_role(),
            Some(IssuerRole {
                arn: "arn:aws:iam::222222222222:role/reflex/reflex-remediation-revoke",
                account: MEMBER,
                name: "reflex-remediation-revoke",
            })
        );
        let mut not_a_role = caller.clone();
        not_a_role
            .session_context
            .as_mut()
            .unwrap()
            .session_issuer
            .as_mut()
            .unwrap()
            .arn = Some("arn:aws:iam::222222222222:user/reflex-remediation-revoke".into());
        assert_eq!(not_a_role.issuer_role(), None);
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
    fn users_are_matched_by_exact_arn() {
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
        let elsewhere = UserIdentity {
            arn: Some("arn:aws:iam::123456789012:user/ops/reflex".into()),
            ..caller.clone()
        };
        assert!(!me.is(&elsewhere));
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
