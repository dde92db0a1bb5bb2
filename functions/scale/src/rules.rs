//! The scale rules: pure decisions from an alarm state change, the group's capacity and Reflex's
//! own record of its last change to the group. No AWS calls here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reflex_shared::alarm::{AlarmStateChange, AlarmStateValue, parse_time};
use reflex_shared::{Finding, Severity};
use serde::{Deserialize, Serialize};

use crate::action::ScaleAction;
use crate::settings::ScaleSettings;

pub const SCALE_OUT: &str = "scale.out";
pub const SCALE_IN: &str = "scale.in";
pub const RULE_IDS: &[&str] = &[SCALE_OUT, SCALE_IN];

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
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupFacts {
    pub name: String,
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    pub state: GroupState,
    /// Version of the state item in the ledger (`None`: no item yet).
    pub version: Option<i64>,
    /// Whether a ledger keeps `state`; without it, ordering and cooldown cannot be enforced.
    pub tracked: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub group: Option<GroupFacts>,
    pub now: Option<DateTime<Utc>>,
}

/// Which group an alarm scales, and how we know: configuration, alarm tag, or its dimension.
pub fn target_group<'a>(
    alarm: &'a AlarmStateChange,
    settings: &'a ScaleSettings,
) -> Option<(&'a str, &'static str)> {
    if let Some(g) = settings.configured_group(&alarm.alarm_name) {
        return Some((g, "configuration"));
    }
    if let Some(g) = alarm.alarm_tags.get(&settings.group_tag) {
        return Some((g.as_str(), "alarm tag"));
    }
    alarm
        .dimension("AutoScalingGroupName")
        .map(|g| (g, "AutoScalingGroupName dimension"))
}

/// The scale rules over one alarm state change.
pub fn evaluate(
    alarm: &AlarmStateChange,
    facts: &Facts,
    settings: &ScaleSettings,
) -> Vec<Finding<ScaleAction>> {
    let (Some(group), Some(now)) = (&facts.group, facts.now) else {
        return Vec::new();
    };
    let (rule_id, severity, step) = match alarm.state.value {
        AlarmStateValue::Alarm => (SCALE_OUT, Severity::Medium, Some(settings.out_step)),
        AlarmStateValue::Ok => (SCALE_IN, Severity::Low, settings.in_step),
        AlarmStateValue::InsufficientData => return Vec::new(),
    };
    let Some(step) = step else {
        return Vec::new();
    };
    let finding = |why_not: Option<String>, actions: Vec<ScaleAction>| {
        let mut reason = alarm.explain();
        if let Some(w) = why_not {
            reason += &format!("; no change: {w}");
        }
        vec![Finding {
            rule_id,
            severity,
            reason,
            actions,
        }]
    };

    let event_time = alarm.state_time();
    let last_event = group
        .state
        .last_event_times
        .get(&alarm.alarm_name)
        .and_then(|t| parse_time(t));
    if let Some((this, last)) = event_time
        .zip(last_event)
        .filter(|(this, last)| this < last)
    {
        return finding(
            Some(format!(
                "out of order: this state change is from {this}, Reflex already acted on one of {} from {last}",
                alarm.alarm_name
            )),
            vec![],
        );
    }
    if let Some(last) = group.state.last_change_at.as_deref().and_then(parse_time) {
        let since = (now - last).num_seconds();
        if since < settings.cooldown_seconds {
            return finding(
                Some(format!(
                    "cooldown: Reflex changed {} {since}s ago (cooldown {}s)",
                    group.name, settings.cooldown_seconds
                )),
                vec![],
            );
        }
    }

    let delta = step.delta(group.desired);
    let (to, baseline) = if rule_id == SCALE_OUT {
        let to = (group.desired + delta).min(group.max);
        if to <= group.desired {
            return finding(
                Some(format!("{} is at its maximum of {}", group.name, group.max)),
                vec![],
            );
        }
        (to, Some(group.state.baseline.unwrap_or(group.desired)))
    } else {
        let Some(baseline) = group.state.baseline else {
            return finding(
                Some(format!(
                    "Reflex has not raised {}, so it does not lower it",
                    group.name
                )),
                vec![],
            );
        };
        let floor = baseline.max(group.min);
        let to = (group.desired - delta).max(floor);
        if to >= group.desired {
            return finding(
                Some(format!(
                    "{} is at its floor of {floor} (minimum or capacity before Reflex raised it)",
                    group.name
                )),
                vec![],
            );
        }
        // Back at the baseline: the next scale-out starts a new episode.
        (to, (to > floor).then_some(baseline))
    };
    let mut last_event_times = group.state.last_event_times.clone();
    if let Some(t) = event_time {
        last_event_times.insert(alarm.alarm_name.clone(), t.to_rfc3339());
    }
    let next = GroupState {
        last_change_at: Some(now.to_rfc3339()),
        last_event_times,
        baseline,
    };
    finding(
        None,
        vec![ScaleAction {
            group: group.name.clone(),
            from: group.desired,
            to,
            max: group.max,
            min: group.min,
            next_state: next,
            expected_version: group.version,
            tracked: group.tracked,
        }],
    )
}
