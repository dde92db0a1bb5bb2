//! Where an event is remediated: the account and region it came from.
//!
//! A central deployment receives events forwarded from member accounts. It must act where the
//! event happened, not in its own account: in its own account with its own credentials, in a
//! member account through the member's remediation role (`REFLEX_MEMBER_ROLE_ARN`, with
//! `{account}` standing for the member's account id). This module decides the route, without
//! any AWS call; `pipeline::places` builds and keeps the clients for each place.

/// The variable naming the member role (see [`MemberRole`]).
pub const MEMBER_ROLE_ARN: &str = "REFLEX_MEMBER_ROLE_ARN";

/// An account and region Reflex acts in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub account: String,
    pub region: String,
}

impl Target {
    pub fn new(account: &str, region: &str) -> Self {
        Self {
            account: account.to_string(),
            region: region.to_string(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {} in {}", self.account, self.region)
    }
}

/// The role a function assumes in a member account, e.g.
/// `arn:aws:iam::{account}:role/reflex/reflex-remediation-revoke` (one per function, each with
/// that function's permissions only). Its sessions there, by this exact ARN, are Reflex's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    template: String,
}

pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

impl MemberRole {
    /// A role ARN whose account field is exactly `{account}`.
    pub fn parse(template: &str) -> Result<Self, String> {
        let parts: Vec<&str> = template.splitn(6, ':').collect();
        match parts.as_slice() {
            // Exact: compared as text with each session's issuer, a `*` or `?` would be no
            // pattern but a character (IAM paths may contain them): refused as a mistake.
            ["arn", partition, "iam", "", ACCOUNT_PLACEHOLDER, resource]
                if partition.starts_with("aws")
                    && !resource.contains(['*', '?', '{', '}'])
                    && resource
                        .strip_prefix("role/")
                        .is_some_and(|r| !r.is_empty() && !r.ends_with('/')) =>
            {
                Ok(Self {
                    template: template.to_string(),
                })
            }
            _ => Err(format!(
                "`{template}` is not an exact role ARN (no `*` or `?`) with `{ACCOUNT_PLACEHOLDER}` \
                 as its account, \
                 like arn:aws:iam::{ACCOUNT_PLACEHOLDER}:role/reflex/reflex-remediation-revoke"
            )),
        }
    }

    /// The role's ARN in one member account.
    pub fn arn(&self, account: &str) -> String {
        self.template.replace(ACCOUNT_PLACEHOLDER, account)
    }
}

/// How to reach the event's account and region, decided without any AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// With the function's own credentials (its own account, in any region).
    Own,
    /// Through the member account's remediation role.
    Member { role_arn: String },
    /// Not at all: acting in the wrong account would be worse than not acting.
    Refused { why: String },
}

/// The target of an event: where it happened (`Event::place`), account and region each
/// defaulting to home when blank.
pub fn target_of((account, region): (&str, &str), home: &Target) -> Target {
    let or_home = |value: &str, home: &str| {
        if value.trim().is_empty() {
            home.to_string()
        } else {
            value.to_string()
        }
    };
    Target {
        account: or_home(account, &home.account),
        region: or_home(region, &home.region),
    }
}

pub fn route(target: &Target, home: &Target, member_role: Option<&MemberRole>) -> Route {
    if target.account == home.account {
        return Route::Own;
    }
    match member_role {
        _ if !crate::identity::is_account_id(&target.account) => Route::Refused {
            why: format!(
                "the event's account `{}` is not an account id",
                target.account
            ),
        },
        Some(role) => Route::Member {
            role_arn: role.arn(&target.account),
        },
        None => Route::Refused {
            why: format!(
                "the event comes from account {}, but Reflex runs in {} and no member role is \
                 configured ({}): it acts only in its own account",
                target.account, home.account, MEMBER_ROLE_ARN
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> Target {
        Target {
            account: "111111111111".into(),
            region: "us-east-1".into(),
        }
    }

    fn member_role() -> MemberRole {
        MemberRole::parse("arn:aws:iam::{account}:role/reflex/reflex-remediation-revoke").unwrap()
    }

    #[test]
    fn the_member_role_arn_gets_the_events_account() {
        let role = member_role();
        assert_eq!(
            role.arn("222222222222"),
            "arn:aws:iam::222222222222:role/reflex/reflex-remediation-revoke"
        );
    }

    #[test]
    fn a_member_role_must_be_a_role_arn_with_the_placeholder_as_account() {
        for bad in [
            "reflex-remediation",
            "arn:aws:iam::222222222222:role/reflex-remediation",
            "arn:aws:iam::{account}:user/reflex",
            "arn:aws:iam::{account}:role/",
            "arn:aws:sts::{account}:role/reflex",
            "arn:aws:iam:us-east-1:{account}:role/reflex",
            "arn:aws:iam::{account}:role/reflex/*",
            "arn:aws:iam::{account}:role/reflex/reflex-?",
            "arn:aws:iam::{account}:role/{account}/reflex",
        ] {
            let err = MemberRole::parse(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
        assert!(MemberRole::parse("arn:aws-us-gov:iam::{account}:role/r").is_ok());
    }

    #[test]
    fn own_account_in_any_region_uses_own_credentials() {
        let t = target_of(("111111111111", "eu-west-1"), &home());
        assert_eq!(t.region, "eu-west-1");
        assert_eq!(route(&t, &home(), Some(&member_role())), Route::Own);
        assert_eq!(route(&t, &home(), None), Route::Own);
    }

    #[test]
    fn another_account_goes_through_its_member_role() {
        let t = target_of(("222222222222", "eu-west-1"), &home());
        assert_eq!(
            route(&t, &home(), Some(&member_role())),
            Route::Member {
                role_arn: "arn:aws:iam::222222222222:role/reflex/reflex-remediation-revoke".into()
            }
        );
    }

    #[test]
    fn another_account_without_a_member_role_is_refused_naming_the_variable() {
        let t = target_of(("222222222222", "us-east-1"), &home());
        let Route::Refused { why } = route(&t, &home(), None) else {
            panic!("must refuse");
        };
        assert!(why.contains("222222222222"), "{why}");
        assert!(why.contains(MEMBER_ROLE_ARN), "{why}");
    }

    #[test]
    fn an_account_that_is_not_an_account_id_is_refused() {
        let t = target_of(("2222-bad", "us-east-1"), &home());
        assert!(matches!(
            route(&t, &home(), Some(&member_role())),
            Route::Refused { .. }
        ));
    }

    #[test]
    fn blank_account_and_region_mean_home() {
        assert_eq!(target_of(("", " "), &home()), home());
    }
}
