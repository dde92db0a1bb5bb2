//! Carrying out a scaling decision in three writes, so Reflex's record of a group never runs
//! ahead of the group: the change marked pending in the ledger (the write doubles as an
//! optimistic lock: another invocation that read the same record loses), the desired capacity
//! set, then the record confirmed (the cooldown and baseline advance only now). A change that
//! failed for good takes the pending mark back. One that failed for now, or a run that dies in
//! between, leaves the mark; the next run reads the group's capacity to tell whether the change
//! was made (see `GroupState::settled`), and another alarm's holds back while a recent mark may
//! still be a live run's (see `GroupState::under_way`).
//!
//! Each part returns a `Step`: `?` stops at the first one that cannot go on, with its outcome.

use aws_sdk_autoscaling::Client;
use chrono::Utc;
use reflex_shared::aws;
use reflex_shared::ledger::Ledger;
use reflex_shared::outcome::settle;
use reflex_shared::{Outcome, Step};
use serde_json::json;

use crate::actions::ScaleAction;
use crate::facts::{GroupState, Pending, state_key};
use crate::undo;

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
    let record = ledger.map(|ledger| Record::new(ledger, scope, action));
    if action.made_unconfirmed {
        if let Some(record) = &record {
            // Lost to another invocation: it read the change as made and kept it in its record.
            match record
                .store(&action.next_state, action.expected_version)
                .await
            {
                Err(failed) if failed.is_failed() => return Err(failed),
                _ => {}
            }
        }
        return Ok(Outcome::already_done(format!(
            "desired capacity of {} is {}: an earlier delivery of this event set it, and its \
             record is confirmed now",
            action.group, action.to
        )));
    }
    let Some(record) = record else {
        return set_desired_capacity(autoscaling, action).await;
    };
    let began = Some(Utc::now().to_rfc3339());
    record
        .store(&record.marked(action, began), action.expected_version)
        .await?;
    let locked = Some(action.expected_version.unwrap_or(0) + 1);
    match set_desired_capacity(autoscaling, action).await {
        Ok(done) => {
            // The change is made: a record left pending here is settled by the next run.
            let _ = record.store(&action.next_state, locked).await;
            Ok(done)
        }
        // Failed for now: perhaps made all the same (a call that timed out after it reached
        // Auto Scaling). Keep the mark, no longer under way, for the retry to settle by the
        // capacity: taken back, the retry would make the change a second time.
        Err(failed) if failed.is_retryable() => {
            let _ = record.store(&record.marked(action, None), locked).await;
            Err(failed)
        }
        Err(failed) => {
            // Not made: take the mark back, so the cooldown and baseline stay as they were.
            let _ = record.store(&record.before, locked).await;
            Err(failed)
        }
    }
}

/// Reflex's record of the group in the ledger.
struct Record<'a> {
    ledger: &'a Ledger,
    group: &'a str,
    key: String,
    /// The record as the decision read it.
    before: GroupState,
}

impl<'a> Record<'a> {
    fn new(ledger: &'a Ledger, scope: Option<&str>, action: &'a ScaleAction) -> Self {
        Self {
            ledger,
            group: &action.group,
            key: state_key(scope, &action.group),
            before: GroupState {
                pending: None,
                ..action.before.clone()
            },
        }
    }

    /// The record with the change marked pending. `marked_at`: when this run began making it
    /// (`None`: no run is making it any more, see `GroupState::under_way`).
    fn marked(&self, action: &ScaleAction, marked_at: Option<String>) -> GroupState {
        GroupState {
            pending: Some(Pending {
                from: action.from,
                to: action.to,
                alarm: action.alarm.clone(),
                event_time: action.event_time.clone(),
                marked_at,
                then: Box::new(action.next_state.clone()),
            }),
            ..self.before.clone()
        }
    }

    /// Store `state` if the record is still at `expected` (`None`: not there yet).
    async fn store(&self, state: &GroupState, expected: Option<i64>) -> Step<()> {
        let doc = serde_json::to_value(state).unwrap_or_default();
        match self
            .ledger
            .store(&self.key, &doc, expected, Utc::now())
            .await
        {
            Ok(true) => Ok(()),
            // Another invocation changed the group since we read it: our decision is stale.
            Ok(false) => Err(Outcome::skipped(format!(
                "another invocation changed {} first; decided on stale state",
                self.group
            ))),
            Err(e) => Err(e.outcome(&format!(
                "recording the change to {} in the ledger",
                self.group
            ))),
        }
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
        undo::set_back(group, action.from),
    ))
}
