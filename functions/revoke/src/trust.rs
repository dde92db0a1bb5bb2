//! Who may assume a role: the pure judge of a trust policy (a role's `AssumeRolePolicyDocument`).
//! The rules use it to decide, the executor to remove exactly what it finds from the role's
//! current trust, so both always agree.
//!
//! An `Allow` statement opens the role when it lets in:
//!
//! - everyone: `Principal: "*"`, `{"AWS": "*"}` or `NotPrincipal`, unless a condition restricts
//!   who (a positive `String*`/`Arn*` match, not `...IfExists`, on `aws:PrincipalOrgID`,
//!   `aws:PrincipalOrgPaths` with a literal organization, or `aws:PrincipalAccount`,
//!   `aws:SourceAccount`, `aws:PrincipalArn`, `aws:SourceArn` naming only trusted accounts).
//!   `sts:ExternalId` is no restriction: AWS documents it as an identifier, not a secret;
//!   neither is `aws:SourceIp` (it says from where, not who);
//! - an AWS principal (an account id, its `root`, a user or role ARN) of an account other than
//!   the role's own and the allow-list (`REFLEX_TRUSTED_ACCOUNTS`), whatever its condition: a
//!   third party's `sts:ExternalId` belongs on the allow-list;
//! - an identity provider (`Federated`: SAML, OIDC, Cognito) in a statement without any
//!   `Condition`: then any identity of that provider may assume the role.
//!
//! Service principals are AWS services acting for this account: never an opening.

use std::fmt;

use reflex_shared::identity::is_account_id;
use serde_json::{Map, Value, json};

/// The accounts a role may trust: its own and the configured allow-list (which may also name
/// organization ids, for `aws:PrincipalOrgID` conditions).
#[derive(Debug, Clone, Copy)]
pub struct Trusted<'a> {
    pub own_account: &'a str,
    pub accounts: &'a [String],
}

impl Trusted<'_> {
    pub fn trusts(&self, account: &str) -> bool {
        account == self.own_account || self.accounts.iter().any(|a| a == account)
    }
}

/// One way a trust policy lets in someone it should not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// `Principal: "*"`, `{"AWS": "*"}` or `NotPrincipal`, without a condition restricting who.
    Everyone,
    /// An AWS principal of an account outside the role's own and the allow-list.
    ForeignAccount { principal: String, account: String },
    /// An AWS principal with no account Reflex can read: not judged safe.
    Unreadable { principal: String },
    /// An identity provider in a statement without any condition.
    FederatedWithoutCondition { provider: String },
    /// An OpenID Connect provider whose statement does not pin who (`key`, the provider's `sub`
    /// claim, or a Cognito identity pool's `aud`): an audience alone lets in every repository,
    /// project or account the provider serves (GitHub Actions' trust on `aud` only).
    FederatedWithoutSubject { provider: String, key: String },
}

impl fmt::Display for Opening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opening::Everyone => {
                write!(
                    f,
                    "to everyone (principal *) without a condition restricting who"
                )
            }
            Opening::ForeignAccount { principal, account } => write!(
                f,
                "to {principal} of account {account}, neither the role's own account nor a \
                 trusted one (REFLEX_TRUSTED_ACCOUNTS)"
            ),
            Opening::Unreadable { principal } => {
                write!(
                    f,
                    "to {principal}, a principal of no account Reflex can read"
                )
            }
            Opening::FederatedWithoutCondition { provider } => write!(
                f,
                "to every identity of provider {provider} (no condition on the statement)"
            ),
            Opening::FederatedWithoutSubject { provider, key } => write!(
                f,
                "to every identity of provider {provider} (no condition pins {key} to whom it \
                 lets in)"
            ),
        }
    }
}

/// A trust policy judged: what opens it, and the same document with exactly the offending
/// principals removed (a statement left with none is removed whole).
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub openings: Vec<Opening>,
    pub restricted: Value,
}

impl Judgement {
    pub fn is_open(&self) -> bool {
        !self.openings.is_empty()
    }

    /// The openings, for a reason or a report: `to everyone ...; to 999999999999 ...`.
    pub fn describe(&self) -> String {
        let all: Vec<String> = self.openings.iter().map(Opening::to_string).collect();
        all.join("; ")
    }
}

/// What remains when every statement is removed: IAM refuses a trust policy without statements,
/// so a single statement that denies everyone (the role can no longer be assumed).
pub fn deny_everyone() -> Value {
    json!({
        "Sid": "ReflexRemovedEveryOpening",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sts:AssumeRole"
    })
}

pub fn judge(document: &Value, trusted: Trusted<'_>) -> Judgement {
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let mut openings = Vec::new();
    let mut kept = Vec::new();
    for statement in statements {
        if let Some(statement) = judge_statement(statement, trusted, &mut openings) {
            kept.push(statement);
        }
    }
    let mut restricted = document.clone();
    if !openings.is_empty() {
        if kept.is_empty() {
            kept.push(deny_everyone());
        }
        if let Some(doc) = restricted.as_object_mut() {
            doc.insert("Statement".into(), Value::Array(kept));
        }
    }
    Judgement {
        openings,
        restricted,
    }
}

/// The statement as it may stay (`None`: removed whole), its openings added to `openings`.
fn judge_statement(
    statement: &Value,
    trusted: Trusted<'_>,
    openings: &mut Vec<Opening>,
) -> Option<Value> {
    let Some(fields) = statement.as_object() else {
        return Some(statement.clone());
    };
    if fields.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return Some(statement.clone());
    }
    let condition = fields.get("Condition");
    let restricted = restricts(condition, trusted);
    // `NotPrincipal` with `Allow`: everyone but a few.
    if fields.contains_key("NotPrincipal") && !restricted {
        openings.push(Opening::Everyone);
        return None;
    }
    let has_condition = condition
        .and_then(Value::as_object)
        .is_some_and(|c| !c.is_empty());
    match fields.get("Principal") {
        Some(Value::Object(principals)) => {
            let before = openings.len();
            let mut kept = Map::new();
            for (kind, value) in principals {
                let judged = |v: &str| -> Option<Opening> {
                    if kind.eq_ignore_ascii_case("AWS") {
                        aws_opening(v, restricted, trusted)
                    } else if kind.eq_ignore_ascii_case("Federated") {
                        federated_opening(v, has_condition, condition)
                    } else {
                        None
                    }
                };
                if let Some(value) = keep_values(value, judged, openings) {
                    kept.insert(kind.clone(), value);
                }
            }
            if openings.len() == before {
                return Some(statement.clone());
            }
            if kept.is_empty() {
                return None;
            }
            let mut statement = fields.clone();
            statement.insert("Principal".into(), Value::Object(kept));
            Some(Value::Object(statement))
        }
        // `"*"`: everyone; any other text is read as an AWS principal.
        Some(Value::String(p)) => match aws_opening(p, restricted, trusted) {
            Some(opening) => {
                openings.push(opening);
                None
            }
            None => Some(statement.clone()),
        },
        _ => Some(statement.clone()),
    }
}

/// The values of one principal kind that stay (`None`: none stays), the others' openings added.
/// A single value stays a string, a list stays a list.
fn keep_values(
    value: &Value,
    judged: impl Fn(&str) -> Option<Opening>,
    openings: &mut Vec<Opening>,
) -> Option<Value> {
    let mut judge_one = |v: &Value| match text(v) {
        Some(t) => match judged(&t) {
            Some(opening) => {
                openings.push(opening);
                false
            }
            None => true,
        },
        None => true,
    };
    match value {
        Value::Array(list) => {
            let kept: Vec<Value> = list.iter().filter(|v| judge_one(v)).cloned().collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        one => judge_one(one).then(|| one.clone()),
    }
}

/// A principal's text: a string, or an account id written as a number.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn aws_opening(principal: &str, restricted: bool, trusted: Trusted<'_>) -> Option<Opening> {
    if principal.trim() == "*" {
        return (!restricted).then_some(Opening::Everyone);
    }
    match account_of(principal) {
        Some(account) if trusted.trusts(account) => None,
        Some(account) => Some(Opening::ForeignAccount {
            principal: principal.to_string(),
            account: account.to_string(),
        }),
        // IAM replaces the ARN of a principal deleted since by its unique id (`AROA...`,
        // `AIDA...`): it names no one who can assume the role.
        None if is_unique_id(principal) => None,
        None => Some(Opening::Unreadable {
            principal: principal.to_string(),
        }),
    }
}

/// The account of an AWS principal: an account id, or an IAM/STS ARN's account.
pub fn account_of(principal: &str) -> Option<&str> {
    let principal = principal.trim();
    if is_account_id(principal) {
        return Some(principal);
    }
    arn_account(principal).filter(|_| {
        let service = principal.split(':').nth(2).unwrap_or_default();
        service == "iam" || service == "sts"
    })
}

/// The account field of any ARN, when it is an account id (no wildcard).
fn arn_account(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6 && parts[0] == "arn" && is_account_id(parts[4])).then(|| parts[4])
}

fn is_unique_id(principal: &str) -> bool {
    principal.len() >= 16
        && ["AROA", "AIDA"].iter().any(|p| principal.starts_with(p))
        && principal
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Whether a statement's condition restricts who may assume to trusted accounts or an
/// organization: one restricting key is enough (a statement's conditions all must hold).
fn restricts(condition: Option<&Value>, trusted: Trusted<'_>) -> bool {
    let Some(Value::Object(operators)) = condition else {
        return false;
    };
    operators.iter().any(|(operator, block)| {
        let operator = operator
            .strip_prefix("ForAnyValue:")
            .unwrap_or(operator)
            .to_ascii_lowercase();
        let positive = matches!(
            operator.as_str(),
            "stringequals" | "stringequalsignorecase" | "stringlike" | "arnequals" | "arnlike"
        );
        positive
            && block.as_object().is_some_and(|keys| {
                keys.iter()
                    .any(|(key, values)| key_restricts(key, values, trusted))
            })
    })
}

/// An identity provider's opening, if the statement does not narrow whom of its identities it
/// lets in. A SAML or other provider: any condition (AWS's own guidance is `SAML:aud`). An OIDC
/// provider (`...:oidc-provider/HOST`) needs a condition on `HOST:sub`, and Cognito identity
/// pools (`cognito-identity.amazonaws.com`) on its `aud` (the pool), with a value narrower than a
/// bare wildcard.
fn federated_opening(
    provider: &str,
    has_condition: bool,
    condition: Option<&Value>,
) -> Option<Opening> {
    let key = if let Some((_, host)) = provider.split_once(":oidc-provider/") {
        format!("{host}:sub")
    } else if provider.eq_ignore_ascii_case("cognito-identity.amazonaws.com") {
        "cognito-identity.amazonaws.com:aud".to_string()
    } else {
        return (!has_condition).then(|| Opening::FederatedWithoutCondition {
            provider: provider.to_string(),
        });
    };
    if !has_condition {
        return Some(Opening::FederatedWithoutCondition {
            provider: provider.to_string(),
        });
    }
    (!pins(condition, &key)).then(|| Opening::FederatedWithoutSubject {
        provider: provider.to_string(),
        key,
    })
}

/// Whether a positive string condition pins `key` to values narrower than a bare wildcard: not
/// `*`, and not a claim's kind alone (`repo:*`, any repository).
fn pins(condition: Option<&Value>, key: &str) -> bool {
    let Some(Value::Object(operators)) = condition else {
        return false;
    };
    let narrow = |v: &str| {
        let before = v.split(['*', '?']).next().unwrap_or_default();
        let kind_only = before
            .strip_suffix(':')
            .unwrap_or(before)
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
        !(before.is_empty() || (v.len() > before.len() && kind_only))
    };
    operators.iter().any(|(operator, block)| {
        let operator = operator
            .strip_prefix("ForAnyValue:")
            .unwrap_or(operator)
            .to_ascii_lowercase();
        matches!(
            operator.as_str(),
            "stringequals" | "stringequalsignorecase" | "stringlike"
        ) && block.as_object().is_some_and(|keys| {
            keys.iter().any(|(k, values)| {
                let values: Vec<String> = match values {
                    Value::Array(list) => list.iter().filter_map(text).collect(),
                    one => text(one).into_iter().collect(),
                };
                k.eq_ignore_ascii_case(key)
                    && !values.is_empty()
                    && values.iter().all(|v| narrow(v))
            })
        })
    })
}

fn key_restricts(key: &str, values: &Value, trusted: Trusted<'_>) -> bool {
    let values: Vec<String> = match values {
        Value::Array(list) => list.iter().filter_map(text).collect(),
        one => text(one).into_iter().collect(),
    };
    let literal = |v: &str| !v.is_empty() && !v.contains(['*', '?']);
    let all = |ok: &dyn Fn(&str) -> bool| !values.is_empty() && values.iter().all(|v| ok(v));
    match key.to_ascii_lowercase().as_str() {
        // Only an organization configured as trusted: any organization id is a literal, and an
        // attacker's own organization would let every account of theirs in.
        "aws:principalorgid" => all(&|v| literal(v) && trusted.trusts(v.trim())),
        "aws:principalorgpaths" => {
            all(&|v| trusted.trusts(v.trim().split('/').next().unwrap_or_default()))
        }
        "aws:principalaccount" | "aws:sourceaccount" => all(&|v| trusted.trusts(v.trim())),
        "aws:principalarn" | "aws:sourcearn" => {
            all(&|v| arn_account(v.trim()).is_some_and(|a| trusted.trusts(a)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "123456789012";
    const PARTNER: &str = "210987654321";
    const STRANGER: &str = "999999999999";

    fn trusted(accounts: &[String]) -> Trusted<'_> {
        Trusted {
            own_account: OWN,
            accounts,
        }
    }

    fn doc(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn allow(principal: Value) -> Value {
        json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
    }

    /// The organization configured as trusted beside the partner account.
    const ORGANIZATION: &str = "o-a1b2c3d4e5";

    fn openings(statement: Value) -> Vec<Opening> {
        let partner = vec![PARTNER.to_string(), ORGANIZATION.to_string()];
        judge(&doc(json!([statement])), trusted(&partner)).openings
    }

    const LAMBDA: &str = "lambda.amazonaws.com";

    #[test]
    fn everyone_opens_the_role_unless_a_condition_restricts_who() {
        for principal in [json!("*"), json!({"AWS": "*"}), json!({"AWS": ["*"]})] {
            assert_eq!(
                openings(allow(principal.clone())),
                [Opening::Everyone],
                "{principal}"
            );
        }
        let not_principal = json!({"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{OWN}:root")}, "Action": "sts:AssumeRole"});
        assert_eq!(openings(not_principal), [Opening::Everyone]);
        let with = |condition: Value| {
            let mut st = allow(json!({"AWS": "*"}));
            st["Condition"] = condition;
            openings(st)
        };
        // Restricting: the organization, or only trusted accounts.
        for condition in [
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
            json!({"StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*"}}),
            json!({"StringEquals": {"aws:PrincipalAccount": [OWN, PARTNER]}}),
            json!({"StringEquals": {"AWS:SourceAccount": OWN}}),
            json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OWN}:role/ci-*")}}),
            json!({"ArnEquals": {"aws:SourceArn": format!("arn:aws:sns:us-east-1:{PARTNER}:t")}}),
            json!({"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5"]}}),
        ] {
            assert!(with(condition.clone()).is_empty(), "{condition}");
        }
        // Not restricting: a stranger's account, a wildcard organization, negated or IfExists
        // operators, the external id (not a secret), the caller's address.
        for condition in [
            json!({"StringEquals": {"aws:PrincipalAccount": STRANGER}}),
            json!({"StringEquals": {"aws:PrincipalAccount": [OWN, STRANGER]}}),
            json!({"StringLike": {"aws:PrincipalOrgID": "o-*"}}),
            // Another organization (an attacker's own): every account of theirs would be in.
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-attacker0001"}}),
            json!({"StringLike": {"aws:PrincipalOrgPaths": "o-attacker0001/*"}}),
            json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
            json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}}),
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::some-bucket"}}),
            json!({"StringEquals": {"sts:ExternalId": "6a1f0c"}}),
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            json!({"StringEquals": {"aws:PrincipalOrgID": []}}),
        ] {
            assert_eq!(with(condition.clone()), [Opening::Everyone], "{condition}");
        }
    }

    #[test]
    fn aws_principals_of_the_own_or_a_trusted_account_are_fine_others_are_not() {
        for fine in [
            json!(OWN),
            json!(format!("arn:aws:iam::{OWN}:root")),
            json!(format!("arn:aws:iam::{OWN}:user/alice")),
            json!(format!("arn:aws:iam::{PARTNER}:role/deployer")),
            json!(PARTNER),
            json!("AROAEXAMPLEDELETED01"),
        ] {
            assert!(openings(allow(json!({"AWS": fine}))).is_empty(), "{fine}");
        }
        assert_eq!(
            openings(allow(
                json!({"AWS": format!("arn:aws:iam::{STRANGER}:root")})
            )),
            [Opening::ForeignAccount {
                principal: format!("arn:aws:iam::{STRANGER}:root"),
                account: STRANGER.into()
            }]
        );
        // A bare id, an STS session, in a list: each judged; a condition does not make a
        // stranger trusted (the allow-list does).
        let mut st =
            allow(json!({"AWS": [STRANGER, format!("arn:aws:sts::{STRANGER}:assumed-role/x/y")]}));
        st["Condition"] = json!({"StringEquals": {"sts:ExternalId": "6a1f0c"}});
        assert_eq!(openings(st).len(), 2);
        assert!(matches!(
            openings(allow(json!({"AWS": "not-an-arn"})))[..],
            [Opening::Unreadable { .. }]
        ));
        // Without an allow-list, the partner is a stranger too.
        let none = [];
        let judged = judge(
            &doc(json!([allow(json!({"AWS": PARTNER}))])),
            trusted(&none),
        );
        assert!(judged.is_open());
    }

    #[test]
    fn identity_providers_need_a_condition_and_services_are_fine() {
        let github = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
        let saml = "arn:aws:iam::123456789012:saml-provider/okta";
        assert_eq!(
            openings(allow(json!({"Federated": [github, saml]}))),
            [
                Opening::FederatedWithoutCondition {
                    provider: github.into()
                },
                Opening::FederatedWithoutCondition {
                    provider: saml.into()
                }
            ]
        );
        let mut scoped = allow(json!({"Federated": github}));
        scoped["Condition"] =
            json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"}});
        assert!(openings(scoped).is_empty());
        // The audience alone, or a subject of any repository: every GitHub workflow may assume.
        let sub_missing = Opening::FederatedWithoutSubject {
            provider: github.into(),
            key: "token.actions.githubusercontent.com:sub".into(),
        };
        for condition in [
            json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}),
            json!({"StringLike": {"token.actions.githubusercontent.com:sub": "*"}}),
            json!({"StringLike": {"token.actions.githubusercontent.com:sub": ["repo:acme/app:*", "repo:*"]}}),
            json!({"StringNotEquals": {"token.actions.githubusercontent.com:sub": "repo:evil/x:*"}}),
        ] {
            let mut statement = allow(json!({"Federated": github}));
            statement["Condition"] = condition.clone();
            assert_eq!(
                openings(statement),
                std::slice::from_ref(&sub_missing),
                "{condition}"
            );
        }
        // A SAML provider with its audience condition, a Cognito pool pinned: fine.
        let mut okta = allow(json!({"Federated": saml}));
        okta["Condition"] =
            json!({"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}});
        assert!(openings(okta).is_empty());
        let mut pool = allow(json!({"Federated": "cognito-identity.amazonaws.com"}));
        pool["Condition"] = json!({"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"}});
        assert!(openings(pool).is_empty());
        assert!(openings(allow(json!({"Service": [LAMBDA, "ec2.amazonaws.com"]}))).is_empty());
        assert!(openings(allow(json!({"Service": "*"}))).is_empty());
        // A deny is never an opening.
        let deny = json!({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"});
        assert!(openings(deny).is_empty());
    }

    #[test]
    fn exactly_the_offending_principals_are_removed() {
        let partner = vec![PARTNER.to_string()];
        let service = allow(json!({"Service": LAMBDA}));
        let document = doc(json!([
            service,
            allow(json!({"AWS": ["*", format!("arn:aws:iam::{OWN}:role/ci"), STRANGER], "Service": LAMBDA})),
            allow(json!("*")),
            {"Effect": "Deny", "Principal": {"AWS": STRANGER}, "Action": "sts:AssumeRole"},
        ]));
        let judged = judge(&document, trusted(&partner));
        assert_eq!(judged.openings.len(), 3);
        assert_eq!(
            judged.restricted,
            doc(json!([
                service,
                allow(json!({"AWS": [format!("arn:aws:iam::{OWN}:role/ci")], "Service": LAMBDA})),
                {"Effect": "Deny", "Principal": {"AWS": STRANGER}, "Action": "sts:AssumeRole"},
            ]))
        );
        // Judged again, the remainder opens nothing: the executor's second run finds it done.
        assert!(!judge(&judged.restricted, trusted(&partner)).is_open());
        // Nothing left: one statement that denies everyone (IAM refuses an empty list).
        let open =
            doc(json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}));
        let judged = judge(&open, trusted(&partner));
        assert_eq!(judged.restricted, doc(json!([deny_everyone()])));
        assert!(!judge(&judged.restricted, trusted(&partner)).is_open());
        // A closed trust is left exactly as it is.
        let closed = doc(json!([allow(json!({"Service": LAMBDA}))]));
        assert_eq!(judge(&closed, trusted(&partner)).restricted, closed);
    }

    #[test]
    fn accounts_are_read_from_ids_and_iam_or_sts_arns_only() {
        assert_eq!(account_of(OWN), Some(OWN));
        assert_eq!(
            account_of("arn:aws-us-gov:iam::123456789012:role/x"),
            Some(OWN)
        );
        assert_eq!(
            account_of("arn:aws:sts::123456789012:assumed-role/x/y"),
            Some(OWN)
        );
        assert_eq!(account_of("arn:aws:s3:::123456789012"), None);
        assert_eq!(account_of("arn:aws:iam::*:root"), None);
        assert_eq!(account_of("12345678901"), None);
    }
}
