//! Taking back a capacity change from what the ledger recorded: the group's desired capacity set
//! back to what it was before Reflex changed it, only while it is still what Reflex set (a
//! capacity that moved since is someone's decision, or the group's own, not overwritten).

use aws_sdk_autoscaling::Client;
use reflex_shared::aws::failure;
use reflex_shared::report::ActionReport;
use reflex_shared::reverse::{Irreversible, Reverse};
use reflex_shared::{Outcome, Step};
use serde::Serialize;
use serde_json::json;

use crate::Scale;
use crate::actions::ScaleAction;
use crate::undo;

/// Auto Scaling group names are 1 to 255 characters (any character, line breaks included).
const MAX_GROUP_NAME: usize = 255;

/// The desired capacity of `group` set back from `set` (what Reflex set) to `back_to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapacityBack {
    pub group: String,
    /// What Reflex set: the capacity is set back only while it is still this.
    pub set: i32,
    /// The desired capacity before Reflex's change.
    pub back_to: i32,
}

/// The reversal of one recorded scale step (pure).
pub fn reversal(step: &ActionReport) -> Result<CapacityBack, Irreversible> {
    let Outcome::Done { prior_state, .. } = &step.outcome else {
        return Err(changed_nothing(&step.outcome));
    };
    let action = recorded(step)?;
    let before = prior_state
        .as_ref()
        .and_then(|p| p.get("desired_capacity"))
        .and_then(|v| v.as_i64())
        .and_then(|v| i32::try_from(v).ok())
        .filter(|v| *v >= 0)
        .ok_or_else(|| {
            irreversible(
                "the recorded prior state has no desired capacity (a whole number, zero or more) to set back",
            )
        })?;
    if before != action.from || action.to < 0 {
        return Err(irreversible(
            "the recorded prior state does not agree with the recorded change (its desired capacity is not the change's starting point)",
        ));
    }
    if action.group.is_empty() || action.group.chars().count() > MAX_GROUP_NAME {
        return Err(irreversible(
            "the recorded group name is not an Auto Scaling group name (1 to 255 characters)",
        ));
    }
    Ok(CapacityBack {
        group: action.group,
        set: action.to,
        back_to: before,
    })
}

/// The recorded action, rebuilt from the ledger's JSON (its bookkeeping for the ledger is not
/// recorded and starts empty).
pub fn recorded(step: &ActionReport) -> Result<ScaleAction, Irreversible> {
    serde_json::from_value(step.action.clone()).map_err(|e| {
        Irreversible(format!(
            "the recorded action is not a scale action Reflex knows ({e})"
        ))
    })
}

fn irreversible(why: &str) -> Irreversible {
    Irreversible(why.to_string())
}

fn changed_nothing(outcome: &Outcome) -> Irreversible {
    Irreversible(format!(
        "this step changed nothing (its outcome was {}): there is nothing to reverse",
        outcome.status()
    ))
}

pub fn describe(r: &CapacityBack) -> String {
    format!(
        "set the desired capacity of Auto Scaling group {} back from {} to {}",
        r.group, r.set, r.back_to
    )
}

/// Set the capacity back: only from what Reflex set, and only within the group's bounds now.
pub async fn capacity_back(autoscaling: &Client, r: &CapacityBack) -> Step {
    let group = &r.group;
    let described = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .map_err(|e| failure("autoscaling:DescribeAutoScalingGroups", &e))?;
    let Some(found) = described
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(group.as_str()))
    else {
        return Err(Outcome::skipped(format!(
            "Auto Scaling group {group} no longer exists: there is no capacity to set back"
        )));
    };
    let desired = found.desired_capacity().unwrap_or(-1);
    if desired == r.back_to {
        return Ok(Outcome::already_done(format!(
            "the desired capacity of {group} is already {}",
            r.back_to
        )));
    }
    if desired != r.set {
        return Err(Outcome::failed(
            format!(
                "the desired capacity of {group} is {desired} now, not the {} Reflex set: it changed since (a scaling policy or a person), so it is not set back to {}; a person must decide",
                r.set, r.back_to
            ),
            None,
        ));
    }
    let (min, max) = (
        found.min_size().unwrap_or(0),
        found.max_size().unwrap_or(i32::MAX),
    );
    if !(min..=max).contains(&r.back_to) {
        return Err(Outcome::failed(
            format!(
                "{} is outside the bounds of {group} now (min {min}, max {max}): its desired capacity stays {desired}",
                r.back_to
            ),
            None,
        ));
    }
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(group)
        .desired_capacity(r.back_to)
        .honor_cooldown(false)
        .send()
        .await
        .map_err(|e| failure("autoscaling:SetDesiredCapacity", &e))?;
    Ok(Outcome::done(
        format!(
            "desired capacity of {group} set back: {} -> {}",
            r.set, r.back_to
        ),
        Some(json!({ "desired_capacity": r.set })),
        undo::set_back(group, r.set),
    ))
}

impl Reverse for Scale {
    type Reversal = CapacityBack;

    fn reversal(step: &ActionReport) -> Result<CapacityBack, Irreversible> {
        reversal(step)
    }

    fn describe_reversal(reversal: &CapacityBack) -> String {
        describe(reversal)
    }

    async fn reverse(&self, reversal: &CapacityBack) -> Outcome {
        reflex_shared::outcome::settle(capacity_back(&self.autoscaling, reversal).await)
    }

    fn recorded_action(step: &ActionReport) -> Result<ScaleAction, Irreversible> {
        recorded(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex_shared::Undo;
    use serde_json::{Value, json};

    fn step(action: Value, outcome: Outcome) -> ActionReport {
        ActionReport {
            step: String::new(),
            description: "raise desired capacity of web from 2 to 4 (min 1, max 10)".into(),
            action,
            outcome,
        }
    }

    fn raised(prior: Value) -> Outcome {
        Outcome::done(
            "desired capacity of web: 2 -> 4",
            Some(prior),
            undo::set_back("web", 2),
        )
    }

    fn action() -> Value {
        json!({ "group": "web", "from": 2, "to": 4, "min": 1, "max": 10 })
    }

    #[test]
    fn a_capacity_change_is_set_back_to_the_recorded_capacity() {
        let r = reversal(&step(action(), raised(json!({ "desired_capacity": 2 })))).unwrap();
        assert_eq!(
            r,
            CapacityBack {
                group: "web".into(),
                set: 4,
                back_to: 2
            }
        );
        assert_eq!(
            describe(&r),
            "set the desired capacity of Auto Scaling group web back from 4 to 2"
        );
    }

    #[test]
    fn the_recorded_action_is_rebuilt_for_the_undo_of_an_undo() {
        let a = recorded(&step(action(), raised(json!({ "desired_capacity": 2 })))).unwrap();
        assert_eq!(
            (a.group.as_str(), a.from, a.to, a.min, a.max),
            ("web", 2, 4, 1, 10)
        );
        assert!(!a.made_unconfirmed && a.expected_version.is_none());
    }

    #[test]
    fn a_malformed_prior_state_is_refused() {
        for prior in [
            json!({}),
            json!({ "desired_capacity": "2" }),
            json!({ "desired_capacity": -1 }),
            json!({ "desired_capacity": 99_999_999_999i64 }),
            // Not the change's starting point: one of the two was tampered with.
            json!({ "desired_capacity": 3 }),
        ] {
            let refused = reversal(&step(action(), raised(prior.clone())));
            assert!(refused.is_err(), "{prior}: {refused:?}");
        }
        let no_prior = Outcome::Done {
            detail: "d".into(),
            prior_state: None,
            undo: Some(Undo::none("x")),
        };
        assert!(reversal(&step(action(), no_prior)).is_err());
    }

    #[test]
    fn a_malformed_action_or_group_name_is_refused() {
        let prior = || raised(json!({ "desired_capacity": 2 }));
        assert!(reversal(&step(json!({ "group": "web" }), prior())).is_err());
        let long = json!({ "group": "g".repeat(256), "from": 2, "to": 4, "min": 1, "max": 10 });
        assert!(reversal(&step(long, prior())).is_err());
        let empty = json!({ "group": "", "from": 2, "to": 4, "min": 1, "max": 10 });
        assert!(reversal(&step(empty, prior())).is_err());
    }

    #[test]
    fn a_step_that_changed_nothing_is_not_reversed() {
        for outcome in [
            Outcome::already_done("already 4"),
            Outcome::WouldDo,
            Outcome::skipped("cooldown"),
            Outcome::failed("denied", Some("AccessDenied".into())),
        ] {
            let why = reversal(&step(action(), outcome)).unwrap_err();
            assert!(why.0.contains("changed nothing"), "{why:?}");
        }
    }
}
