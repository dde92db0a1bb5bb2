//! The scale rules: pure decisions from an alarm's trigger, the group's capacity and Reflex's
//! own record of its last change to the group. No AWS call, no failure: an unknown group is no
//! finding, and the report's notes say why.

use chrono::{DateTime, Utc};
use reflex_shared::event::alarm::parse_time;
use reflex_shared::{Finding, Severity};

use crate::actions::ScaleAction;
use crate::facts::{Facts, GroupFacts, GroupState};
use crate::settings::Settings;
use crate::trigger::{Direction, Trigger};

pub const SCALE_OUT: &str = "scale.out";
pub const SCALE_IN: &str = "scale.in";
pub const RULE_IDS: &[&str] = &[SCALE_OUT, SCALE_IN];

/// The scale rule over one trigger: one finding, with the change or the reason for none.
pub fn decide(trigger: &Trigger, facts: &Facts, settings: &Settings) -> Vec<Finding<ScaleAction>> {
    let (Some(group), Some(now)) = (&facts.group, facts.now) else {
        return Vec::new();
    };
    let (rule_id, severity) = match trigger.direction {
        Direction::Out => (SCALE_OUT, Severity::Medium),
        Direction::In => (SCALE_IN, Severity::Low),
    };
    let decided = match (
        made_by_an_earlier_run(trigger, group),
        held_back(trigger, group, now, settings),
    ) {
        // This very state change's change was made, unconfirmed: plan it again, for the
        // executor to confirm and report, rather than hold it back as within its own cooldown.
        (Some(action), _) => Ok(action),
        (None, Some(why_not)) => Err(why_not),
        (None, None) => change(trigger, group, now),
    };
    let mut reason = trigger.alarm.explain();
    let actions = match decided {
        Ok(action) => vec![action],
        Err(why_not) => {
            reason += &format!("; no change: {why_not}");
            Vec::new()
        }
    };
    vec![Finding {
        rule_id,
        severity,
        reason,
        actions,
    }]
}

/// The change an earlier run made for this same state change of the alarm, and died before it
/// could confirm it, if the group shows it.
fn made_by_an_earlier_run(trigger: &Trigger, group: &GroupFacts) -> Option<ScaleAction> {
    let made = group.made_unconfirmed.as_ref()?;
    made.is_for(&trigger.alarm).then(|| ScaleAction {
        group: trigger.group.clone(),
        from: made.from,
        to: made.to,
        min: group.min,
        max: group.max,
        before: group.state.clone(),
        next_state: group.state.clone(),
        alarm: made.alarm.clone(),
        event_time: made.event_time.clone(),
        expected_version: group.version,
        made_unconfirmed: true,
    })
}

/// Why no change may be made now, whatever the capacity: another change under way, an
/// out-of-order state change, or the cooldown since Reflex's last change.
fn held_back(
    trigger: &Trigger,
    group: &GroupFacts,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Option<String> {
    let alarm = &trigger.alarm;
    // As a stale decision is skipped: the change under way is the one Reflex makes now.
    if let Some(p) = &group.under_way {
        return Some(format!(
            "another change to {} is under way ({} -> {}, for a state change of {}, begun at {})",
            trigger.group,
            p.from,
            p.to,
            p.alarm,
            p.marked_at.as_deref().unwrap_or("?")
        ));
    }
    let last_event = group
        .state
        .last_event_times
        .get(&alarm.alarm_name)
        .and_then(|t| parse_time(t));
    if let Some((this, last)) = alarm
        .state_time()
        .zip(last_event)
        .filter(|(this, last)| this < last)
    {
        return Some(format!(
            "out of order: this state change is from {this}, Reflex already acted on one of {} from {last}",
            alarm.alarm_name
        ));
    }
    let last = group.state.last_change_at.as_deref().and_then(parse_time)?;
    let since = (now - last).num_seconds();
    (since < settings.cooldown_seconds).then(|| {
        format!(
            "cooldown: Reflex changed {} {since}s ago (cooldown {}s)",
            trigger.group, settings.cooldown_seconds
        )
    })
}

/// The capacity change by the trigger's step, within the group's bounds, or why there is none.
fn change(
    trigger: &Trigger,
    group: &GroupFacts,
    now: DateTime<Utc>,
) -> Result<ScaleAction, String> {
    let name = &trigger.group;
    let delta = trigger.step.delta(group.desired);
    let (to, baseline) = match trigger.direction {
        Direction::Out => {
            let to = (group.desired + delta).min(group.max);
            if to <= group.desired {
                return Err(format!("{name} is at its maximum of {}", group.max));
            }
            (to, Some(group.state.baseline.unwrap_or(group.desired)))
        }
        Direction::In => {
            let Some(baseline) = group.state.baseline else {
                return Err(format!(
                    "Reflex has not raised {name}, so it does not lower it"
                ));
            };
            let floor = baseline.max(group.min);
            let to = (group.desired - delta).max(floor);
            if to >= group.desired {
                return Err(format!(
                    "{name} is at its floor of {floor} (minimum or capacity before Reflex raised it)"
                ));
            }
            // Back at the baseline: the next scale-out starts a new episode.
            (to, (to > floor).then_some(baseline))
        }
    };
    Ok(ScaleAction {
        group: name.clone(),
        from: group.desired,
        to,
        max: group.max,
        min: group.min,
        before: group.state.clone(),
        next_state: next_state(trigger, group, now, baseline),
        alarm: trigger.alarm.alarm_name.clone(),
        event_time: trigger.alarm.state_time().map(|t| t.to_rfc3339()),
        expected_version: group.version,
        made_unconfirmed: false,
    })
}

/// Reflex's record after the change: when, on which state change of this alarm, from where.
fn next_state(
    trigger: &Trigger,
    group: &GroupFacts,
    now: DateTime<Utc>,
    baseline: Option<i32>,
) -> GroupState {
    let mut last_event_times = group.state.last_event_times.clone();
    if let Some(t) = trigger.alarm.state_time() {
        last_event_times.insert(trigger.alarm.alarm_name.clone(), t.to_rfc3339());
    }
    GroupState {
        last_change_at: Some(now.to_rfc3339()),
        last_event_times,
        baseline,
        pending: None,
    }
}
