//! Judging S3 access control lists: which grants open a bucket to the public. Pure, one judge
//! for the rule (the grants the event put) and the executor (the grants the bucket has now).
//!
//! Public means the two global groups: `AllUsers` (anyone, unsigned requests included) and
//! `AuthenticatedUsers` (anyone with any AWS account, not only this one's). `LogDelivery` and
//! named accounts are not public. The canned ACLs that grant to them are `public-read`,
//! `public-read-write` and `authenticated-read`.

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// Canned ACLs (`x-amz-acl`) that grant to a public group.
pub const PUBLIC_CANNED_ACLS: &[&str] = &["public-read", "public-read-write", "authenticated-read"];

/// Who a public group's URI lets in, for people; `None` for any other grantee. S3 spells the
/// URIs exactly so; compared without case and surrounding space, so an odd spelling in an event
/// is still recognised.
pub fn public_group(uri: &str) -> Option<&'static str> {
    let uri = uri.trim();
    if uri.eq_ignore_ascii_case(ALL_USERS) {
        Some("everyone (AllUsers)")
    } else if uri.eq_ignore_ascii_case(AUTHENTICATED_USERS) {
        Some("every AWS account (AuthenticatedUsers)")
    } else {
        None
    }
}

pub fn is_public_canned(acl: &str) -> bool {
    PUBLIC_CANNED_ACLS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(acl.trim()))
}

/// A grant to a group, as an event or S3 names it: the group's URI and the permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupGrant {
    pub uri: String,
    pub permission: String,
}

impl GroupGrant {
    /// `READ to everyone (AllUsers)`, when the grant is public.
    pub fn describe_public(&self) -> Option<String> {
        public_group(&self.uri).map(|who| format!("{} to {who}", self.permission))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_global_groups_are_public_and_nothing_else() {
        assert_eq!(public_group(ALL_USERS), Some("everyone (AllUsers)"));
        assert_eq!(
            public_group(" http://acs.amazonaws.com/groups/global/authenticatedusers "),
            Some("every AWS account (AuthenticatedUsers)")
        );
        assert_eq!(
            public_group("http://acs.amazonaws.com/groups/s3/LogDelivery"),
            None
        );
        assert_eq!(public_group(""), None);
    }

    #[test]
    fn public_canned_acls() {
        for acl in [
            "public-read",
            "public-read-write",
            "authenticated-read",
            "PUBLIC-READ",
        ] {
            assert!(is_public_canned(acl), "{acl}");
        }
        for acl in [
            "private",
            "log-delivery-write",
            "bucket-owner-full-control",
            "",
        ] {
            assert!(!is_public_canned(acl), "{acl}");
        }
    }
}
