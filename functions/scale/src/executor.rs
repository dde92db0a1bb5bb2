//! Carrying out a scaling decision: record it in the ledger (the record doubles as an optimistic
//! lock on the group), then set the desired capacity.
//!
//! Each part returns a `Step`: `?` stops at the first one that cannot go on, with its outcome.

use aws_sdk_autoscaling::Client;
use chrono::Utc;
use reflex_shared::aws::{self, shell_arg};
use reflex_shared::ledger::Ledger;
use reflex_shared::outcome::settle;
use reflex_shared::{Outcome, Step};
use serde_json::json;

use crate::actions::ScaleAction;
use crate::facts::state_key;

/// `scope`: where the group is, for its ledger key (see `facts::state_key`).
pub async fn execute(
    autoscaling: &Client,
    ledger: Option<&Ledger>,
    scope: Option<&str>,
    action: &ScaleAction,
) -> Outcome {
    settle(scale(autoscaling, ledger, scope, action).await)
}

async fn scale(
    autoscaling: &Client,
    ledger: Option<&Ledger>,
    scope: Option<&str>,
    action: &ScaleAction,
) -> Step {
    if let (Some(ledger), true) = (ledger, action.tracked) {
        record(ledger, scope, action).await?;
    }
    set_desired_capacity(autoscaling, action).await
}

/// Store the group's next state, if nobody changed it since the facts were read.
async fn record(ledger: &Ledger, scope: Option<&str>, action: &ScaleAction) -> Step<()> {
    let doc = serde_json::to_value(&action.next_state).unwrap_or_default();
    let key = state_key(scope, &action.group);
    match ledger
        .store(&key, &doc, action.expected_version, Utc::now())
        .await
    {
        Ok(true) => Ok(()),
        // Another invocation changed the group since we read it: our decision is stale.
        Ok(false) => Err(Outcome::skipped(format!(
            "another invocation changed {} first; decided on stale state",
            action.group
        ))),
        Err(e) => Err(Outcome::failed(
            format!("could not record the change in the ledger: {e}"),
            None,
        )),
    }
}

async fn set_desired_capacity(autoscaling: &Client, action: &ScaleAction) -> Step {
    let group = &action.group;
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(group)
        .desired_capacity(action.to)
        .honor_cooldown(false)
        .send()
        .await
        .map_err(|e| aws::failure("autoscaling:SetDesiredCapacity", &e))?;
    Ok(Outcome::done(
        format!(
            "desired capacity of {group}: {} -> {}",
            action.from, action.to
        ),
        Some(json!({ "desired_capacity": action.from })),
        format!(
            "aws autoscaling set-desired-capacity --auto-scaling-group-name {} --desired-capacity {}",
            shell_arg(group),
            action.from
        ),
    ))
}
