//! Read-only lookups before deciding: the capacity of the group the trigger names, and Reflex's
//! own record of its changes to that group, kept in the central ledger; and, for exemptions,
//! the group's tags.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::AutoScalingGroup;
use chrono::{DateTime, Utc};
use reflex_shared::aws::{CallError, OPERATION_TIMEOUT};
use reflex_shared::event::AlarmStateChange;
use reflex_shared::event::alarm::parse_time;
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
    /// A change for another state change that a run may be making right now (see
    /// `GroupState::under_way`): the capacity read is about to change.
    pub under_way: Option<Pending>,
    /// Version of the state item in the ledger (`None`: no item yet, or no ledger).
    pub version: Option<i64>,
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
    /// record above once it is set, removed if that failed for good. A change that failed for
    /// now (it may have been made) or a run that died in between leaves it.
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
    /// When the mark was written: a recent one may be a change a run is still making. `None`:
    /// its run failed for now and stopped making it.
    #[serde(default)]
    pub marked_at: Option<String>,
    /// The record once the change is made.
    pub then: Box<GroupState>,
}

/// How long a pending mark may be a change still being made: the run that wrote it makes two
/// more calls (the change, the confirmation), each within `OPERATION_TIMEOUT`, as was the mark's
/// own write. An older mark is a dead run's.
pub const UNDER_WAY: Duration = Duration::from_secs(4 * OPERATION_TIMEOUT.as_secs());

impl Pending {
    /// Whether this change was begun for `alarm`'s state change.
    pub fn is_for(&self, alarm: &AlarmStateChange) -> bool {
        self.alarm == alarm.alarm_name
            && self.event_time == alarm.state_time().map(|t| t.to_rfc3339())
    }
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

    /// A change begun for another state change than `this` that its run may still be making:
    /// marked less than `UNDER_WAY` before `now`, and not shown by the capacity yet. Settling it
    /// as never made would decide on a capacity about to change, and both changes would be made
    /// from it. (A mark for `this` state change is never under way: its claim keeps a second
    /// delivery out while the first lives.)
    pub fn under_way(
        &self,
        desired: i32,
        this: &AlarmStateChange,
        now: DateTime<Utc>,
    ) -> Option<&Pending> {
        let pending = self.pending.as_ref()?;
        let marked = pending.marked_at.as_deref().and_then(parse_time)?;
        let recent = (now - marked).num_seconds() < UNDER_WAY.as_secs() as i64;
        (recent && pending.to != desired && !pending.is_for(this)).then_some(pending)
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
    let now = Utc::now();
    Facts {
        group: group_facts(autoscaling, ledger, scope, trigger, now, notes).await,
        now: Some(now),
    }
}

async fn group_facts(
    autoscaling: &Client,
    ledger: Option<&Ledger>,
    scope: Option<&str>,
    trigger: &Trigger,
    now: DateTime<Utc>,
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
            "Auto Scaling group {name} (mapped to alarm {} in REFLEX_SCALE_TARGETS) does not exist",
            trigger.alarm.alarm_name
        ));
        return None;
    };
    let (state, version) = match ledger {
        None => {
            notes.push("no ledger: out-of-order deliveries and the cooldown cannot be checked");
            (GroupState::default(), None)
        }
        Some(ledger) => match ledger.load(&state_key(scope, name)).await {
            Ok(Some((doc, version))) => (
                serde_json::from_value(doc).unwrap_or_default(),
                Some(version),
            ),
            Ok(None) => (GroupState::default(), None),
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
    let under_way = state.under_way(desired, &trigger.alarm, now).cloned();
    let (state, made_unconfirmed) = state.settled(desired);
    Some(GroupFacts {
        desired,
        min: group.min_size.unwrap_or(0),
        max: group.max_size.unwrap_or(0),
        state,
        made_unconfirmed,
        under_way,
        version,
    })
}

/// The group named `name`, `None` when there is none: for the facts and for its tags.
async fn describe_group(
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
