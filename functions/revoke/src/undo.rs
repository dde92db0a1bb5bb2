//! The commands that reverse revoke's changes, as its reports give them (pure, so that tests
//! run them with any name an attacker may choose). Every value goes through the core's
//! [`AwsCli`], which quotes it.

use reflex_shared::{AwsCli, Undo};
use serde_json::{Value, json};

use crate::actions::{Identity, Principal};

/// `user`, `group` or `role` calls of IAM: (attach, put inline policy, the name's flag).
fn calls_for(identity: &Identity) -> (&'static str, &'static str, &'static str) {
    match identity {
        Identity::User(_) => ("attach-user-policy", "put-user-policy", "--user-name"),
        Identity::Group(_) => ("attach-group-policy", "put-group-policy", "--group-name"),
        Identity::Role(_) => ("attach-role-policy", "put-role-policy", "--role-name"),
    }
}

/// Undo of detaching a managed policy: attach it again.
pub fn attach_again(to: &Identity, policy_arn: &str) -> Undo {
    let (attach, _, flag) = calls_for(to);
    Undo::run(
        AwsCli::new("iam", attach)
            .arg(flag, to.name())
            .arg("--policy-arn", policy_arn),
    )
}

/// Undo of removing an exemption tag: tag the user or role again with `key` = `value`
/// (`--tags` as IAM's JSON).
pub fn tag_again(on: &Principal, key: &str, value: &str) -> Undo {
    let (operation, flag) = match on {
        Principal::User(_) => ("tag-user", "--user-name"),
        Principal::Role(_) => ("tag-role", "--role-name"),
    };
    Undo::run(
        AwsCli::new("iam", operation)
            .arg(flag, on.name())
            .json("--tags", &json!([{ "Key": key, "Value": value }])),
    )
}

/// The inline policy document deleted, as kept for its undo: parsed, or IAM's text when it
/// could not be parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Parsed(Value),
    Text(String),
}

/// Undo of deleting an inline policy: put the same document back.
pub fn put_back(on: &Identity, policy_name: &str, document: &Document) -> Undo {
    let (_, put, flag) = calls_for(on);
    let call = AwsCli::new("iam", put)
        .arg(flag, on.name())
        .arg("--policy-name", policy_name);
    Undo::run(match document {
        Document::Parsed(doc) => call.json("--policy-document", doc),
        Document::Text(text) => call.arg("--policy-document", text),
    })
}

/// Undo of restoring a safe default version: make the escalating one the default again.
pub fn make_default_again(policy_arn: &str, version: &str) -> Undo {
    Undo::run(
        AwsCli::new("iam", "set-default-policy-version")
            .arg("--policy-arn", policy_arn)
            .arg("--version-id", version),
    )
}

/// The variable a person sets to a new password before running [`new_login_profile`]'s
/// command: the old password cannot be restored, and no report holds one.
pub const NEW_PASSWORD_VARIABLE: &str = "NEW_PASSWORD";

/// Undo of deleting a login profile: a new one, with a password the person chooses.
pub fn new_login_profile(user: &str) -> Undo {
    Undo::run(
        AwsCli::new("iam", "create-login-profile")
            .arg("--user-name", user)
            .switch("--password-reset-required")
            .from_variable("--password", NEW_PASSWORD_VARIABLE),
    )
}

/// Undo of restricting a role's trust: the whole prior trust policy written back.
pub fn trust_again(role: &str, document: &Value) -> Undo {
    Undo::run(
        AwsCli::new("iam", "update-assume-role-policy")
            .arg("--role-name", role)
            .json("--policy-document", document),
    )
}

/// Undo of removing a user from a group: add them again.
pub fn add_to_group_again(user: &str, group: &str) -> Undo {
    Undo::run(
        AwsCli::new("iam", "add-user-to-group")
            .arg("--group-name", group)
            .arg("--user-name", user),
    )
}
