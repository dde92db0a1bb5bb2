//! Carrying out a scaling decision: record it in the ledger (the record doubles as an optimistic
//! lock on the group), then set the desired capacity.

use aws_sdk_autoscaling::Client;
use chrono::Utc;
use reflex_shared::Outcome;
use reflex_shared::aws::{error_code, error_text, shell_arg};
use reflex_shared::ledger::Ledger;
use serde_json::json;

use crate::action::ScaleAction;
use crate::facts::state_key;

#[derive(Debug, Clone)]
pub struct ScaleExecutor {
    autoscaling: Client,
    ledger: Option<Ledger>,
    /// See `state_key`.
    scope: Option<String>,
}

impl ScaleExecutor {
    pub fn new(autoscaling: Client, ledger: Option<Ledger>, scope: Option<String>) -> Self {
        Self {
            autoscaling,
            ledger,
            scope,
        }
    }

    pub async fn execute(&self, a: &ScaleAction) -> Outcome {
        if let (Some(ledger), true) = (&self.ledger, a.tracked) {
            let doc = serde_json::to_value(&a.next_state).unwrap_or_default();
            match ledger
                .store(
                    &state_key(self.scope.as_deref(), &a.group),
                    &doc,
                    a.expected_version,
                    Utc::now(),
                )
                .await
            {
                Ok(true) => {}
                // Another invocation changed the group since we read it: our decision is stale.
                Ok(false) => {
                    return Outcome::Skipped {
                        why: format!(
                            "another invocation changed {} first; decided on stale state",
                            a.group
                        ),
                    };
                }
                Err(e) => {
                    return Outcome::failed(
                        format!("could not record the change in the ledger: {e}"),
                        None,
                    );
                }
            }
        }
        let result = self
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(&a.group)
            .desired_capacity(a.to)
            .honor_cooldown(false)
            .send()
            .await;
        match result {
            Ok(_) => Outcome::done(
                format!("desired capacity of {}: {} -> {}", a.group, a.from, a.to),
                Some(json!({ "desired_capacity": a.from })),
                format!(
                    "aws autoscaling set-desired-capacity --auto-scaling-group-name {} --desired-capacity {}",
                    shell_arg(&a.group),
                    a.from
                ),
            ),
            Err(e) => Outcome::failed(
                format!(
                    "autoscaling:SetDesiredCapacity on {} failed: {}",
                    a.group,
                    error_text(&e)
                ),
                error_code(&e),
            ),
        }
    }
}
