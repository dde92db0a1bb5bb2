//! The six functions, configured as a realistic enforcing deployment (the one the end-to-end
//! tests use: `tests/src/account.rs`, `Account::env_vars`).

use reflex_harden::Harden;
use reflex_notify::Notify;
use reflex_privatize::Privatize;
use reflex_quarantine::Quarantine;
use reflex_revoke::Revoke;
use reflex_scale::Scale;
use reflex_shared::config::from_pairs;
use reflex_shared::function::Function;

use crate::subject::{Pure, Subject};

/// Every function's pure path, configured for enforce mode.
pub fn all() -> Result<Vec<Box<dyn Subject>>, String> {
    Ok(vec![
        configured::<Revoke>()?,
        configured::<Scale>()?,
        configured::<Harden>()?,
        configured::<Notify>()?,
        configured::<Quarantine>()?,
        configured::<Privatize>()?,
    ])
}

fn configured<F: Function>() -> Result<Box<dyn Subject>, String> {
    let member_role = format!(
        "arn:aws:iam::{{account}}:role/reflex/reflex-remediation-{}",
        F::NAME
    );
    let env = from_pairs(&[
        ("REFLEX_MODE", "enforce"),
        (
            "REFLEX_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:reflex-reports",
        ),
        // The session the sample events use for Reflex's own role (`*-by-reflex.json`).
        (
            "REFLEX_SELF_ARN",
            "arn:aws:sts::123456789012:assumed-role/reflex-revoke/reflex-revoke",
        ),
        (
            "REFLEX_EXEMPT_PRINCIPALS",
            "arn:aws:iam::*:role/break-glass",
        ),
        ("REFLEX_LEDGER_TABLE", "reflex-ledger"),
        (
            "REFLEX_SCALE_TARGETS",
            "web-cpu-high=web,web-5xx-rate-high=web,web-busy-and-disk-full=web",
        ),
        ("REFLEX_MEMBER_ROLE_ARN", member_role.as_str()),
    ]);
    let pure = Pure::<F>::from_env(&env).map_err(|e| format!("{}: {e}", F::NAME))?;
    Ok(Box::new(pure))
}
