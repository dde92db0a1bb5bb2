//! Read-only lookups before deciding: the capacity of the group the trigger names, and Reflex's
//! own record of its changes to that group, kept in the central ledger; and, for exemptions,
//! the group's tags.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::AutoScalingGroup;
use chrono::{DateTime, Utc};
use reflex_shared::aws::CallError;
use reflex_shared::exemption::Tags;
use reflex_shared::ledger::Ledger;
use reflex_shared::{Notes, Resource};
use serde::{Deserialize, Serialize};

use crate::trigger::Trigger;

/// What the rules need beyond the event. `group: None`: it could not be read, or it does not
/// exist; `now: None` (the default, offline): no decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub group: Option<GroupFacts>,
    pub now: Option<DateTime<Utc>>,
}

/// The group's capacity and Reflex's record of it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFacts {
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    /// Reflex's record, settled: a change a run left pending counts as made when the group's
    /// capacity shows it, as never made otherwise.
    pub state: GroupState,
    /// A change a run began and did not confirm (it crashed), that the capacity shows was made.
    pub made_unconfirmed: Option<Pending>,
    /// Version of the state item in the ledger (`None`: no item yet).
    pub version: Option<i64>,
    /// Whether a ledger keeps `state`; without it, ordering and cooldown cannot be enforced.
    pub tracked: bool,
}

/// What Reflex remembers about its own changes to one group (kept in the ledger).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// When Reflex last changed the group's capacity.
    pub last_change_at: Option<String>,
    /// Per alarm, the state time of its event behind Reflex's last change: an older state
    /// change of the same alarm is out of order. (Another alarm's older event is not: two
    /// alarms may well scale one group.)
    #[serde(default)]
    pub last_event_times: BTreeMap<String, String>,
    /// The capacity before Reflex first raised it; scale-in never goes below it.
    pub baseline: Option<i32>,
    /// A change under way: written (as a lock) before the capacity is set, replaced by the
    /// record above once it is set, removed if it failed. A run that died in between leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// A change Reflex began: the capacity it set, and the record to keep once it is made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub from: i32,
    pub to: i32,
    /// The alarm and the time of its state change behind the change.
    pub alarm: String,
    pub event_time: Option<String>,
    /// The record once the change is made.
    pub then: Box<GroupState>,
}

impl GroupState {
    /// The record as it stands given the group's `desired` capacity now: a pending change is
    /// made if the capacity shows it, never made otherwise. Also the pending change found made.
    pub fn settled(self, desired: i32) -> (GroupState, Option<Pending>) {
        match self.pending {
            Some(p) if p.to == desired => ((*p.then).clone(), Some(p)),
            Some(_) => (
                GroupState {
                    pending: None,
                    ..self
                },
                None,
            ),
            None => (self, None),
        }
    }
}

/// The ledger key of a group's scaling state. Groups in other accounts and regions than
/// Reflex's own are scoped by them (`scale-group#222222222222/eu-west-1#web`): the ledger is
/// central, and two accounts may both have a group named `web`.
pub fn state_key(scope: Option<&str>, group: &str) -> String {
    match scope {
        None => format!("scale-group#{group}"),
        Some(scope) => format!("scale-group#{scope}#{group}"),
    }
}

/// Gather the facts for one trigger. A failed lookup leaves the group unknown and adds a note.
pub async fn gather(
    autoscaling: &Client,
    ledger: Option<&Ledger>,
    scope: Option<&str>,
    trigger: &Trigger,
    notes: &mut Notes,
) -> Facts {
    Facts {
        group: group_facts(autoscaling, ledger, scope, trigger, notes).await,
        now: Some(Utc::now()),
    }
}

async fn group_facts(
    autoscaling: &Client,
    ledger: Option<&Ledger>,
    scope: Option<&str>,
    trigger: &Trigger,
    notes: &mut Notes,
) -> Option<GroupFacts> {
    let name = &trigger.group;
    let group = match describe_group(autoscaling, name).await {
        Ok(group) => group,
        Err(e) => {
            notes.failed(
                format!("could not describe Auto Scaling group {name}: {e}"),
                e.transient,
            );
            return None;
        }
    };
    let Some(group) = group else {
        notes.push(format!(
            "Auto Scaling group {name} (from the alarm's {}) does not exist",
            trigger.found_by
        ));
        return None;
    };
    let (state, version, tracked) = match ledger {
        None => {
            notes.push("no ledger: out-of-order deliveries and the cooldown cannot be checked");
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
                notes.failed(
                    format!("could not read the state of {name} from the ledger: {e}"),
                    e.transient,
                );
                return None;
            }
        },
    };
    let desired = group.desired_capacity.unwrap_or(0);
    let (state, made_unconfirmed) = state.settled(desired);
    Some(GroupFacts {
        desired,
        min: group.min_size.unwrap_or(0),
        max: group.max_size.unwrap_or(0),
        state,
        made_unconfirmed,
        version,
        tracked,
    })
}

/// The group named `name`, `None` when there is none: for the facts and for its tags.
pub async fn describe_group(
    autoscaling: &Client,
    name: &str,
) -> Result<Option<AutoScalingGroup>, CallError> {
    let out = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await?;
    Ok(out
        .auto_scaling_groups
        .unwrap_or_default()
        .into_iter()
        .next())
}

/// An Auto Scaling group's tags, for its exemption; scale touches nothing else (`None`).
pub async fn tags(autoscaling: &Client, resource: &Resource) -> Result<Option<Tags>, CallError> {
    let Resource::AutoScalingGroup(name) = resource else {
        return Ok(None);
    };
    // A group that is gone carries no tag: the rules find nothing to scale in it anyway.
    let tags = describe_group(autoscaling, name)
        .await?
        .and_then(|g| g.tags)
        .unwrap_or_default();
    Ok(Some(
        tags.into_iter()
            .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
            .collect(),
    ))
}
