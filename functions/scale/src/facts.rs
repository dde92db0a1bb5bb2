//! Read-only lookups before deciding: the group's capacity and Reflex's record of the group.

use aws_sdk_autoscaling::Client;
use chrono::Utc;
use reflex_shared::alarm::AlarmStateChange;
use reflex_shared::aws::error_text;
use reflex_shared::ledger::Ledger;

use crate::rules::{Facts, GroupFacts, GroupState, target_group};
use crate::settings::ScaleSettings;

/// The ledger key of a group's scaling state. Groups in other accounts and regions than
/// Reflex's own are scoped by them (`scale-group#222222222222/eu-west-1#web`): the ledger is
/// central, and two accounts may both have a group named `web`.
pub fn state_key(scope: Option<&str>, group: &str) -> String {
    match scope {
        None => format!("scale-group#{group}"),
        Some(scope) => format!("scale-group#{scope}#{group}"),
    }
}

pub async fn gather(
    autoscaling: &Client,
    ledger: Option<&Ledger>,
    scope: Option<&str>,
    alarm: &AlarmStateChange,
    settings: &ScaleSettings,
) -> (Facts, Vec<String>) {
    let mut notes = Vec::new();
    let now = Some(Utc::now());
    let Some((name, how)) = target_group(alarm, settings) else {
        notes.push(format!(
            "alarm {} maps to no Auto Scaling group: no action",
            alarm.alarm_name
        ));
        return (Facts { group: None, now }, notes);
    };
    let described = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await;
    let group = match described {
        Ok(out) => out
            .auto_scaling_groups
            .unwrap_or_default()
            .into_iter()
            .next(),
        Err(e) => {
            notes.push(format!(
                "could not describe Auto Scaling group {name}: {}",
                error_text(&e)
            ));
            return (Facts { group: None, now }, notes);
        }
    };
    let Some(group) = group else {
        notes.push(format!(
            "Auto Scaling group {name} (from the alarm's {how}) does not exist"
        ));
        return (Facts { group: None, now }, notes);
    };
    let (state, version, tracked) = match ledger {
        None => {
            notes.push(
                "no ledger: out-of-order deliveries and the cooldown cannot be checked".into(),
            );
            (GroupState::default(), None, false)
        }
        Some(ledger) => match ledger.load(&state_key(scope, name)).await {
            Ok(Some((doc, version))) => (
                serde_json::from_value(doc).unwrap_or_default(),
                Some(version),
                true,
            ),
            Ok(None) => (GroupState::default(), None, true),
            Err(e) => {
                notes.push(format!(
                    "could not read the state of {name} from the ledger: {e}"
                ));
                return (Facts { group: None, now }, notes);
            }
        },
    };
    let facts = GroupFacts {
        name: name.to_string(),
        desired: group.desired_capacity.unwrap_or(0),
        min: group.min_size.unwrap_or(0),
        max: group.max_size.unwrap_or(0),
        state,
        version,
        tracked,
    };
    (
        Facts {
            group: Some(facts),
            now,
        },
        notes,
    )
}
