//! What scale reads in an alarm state change: which way to scale, by which step, and which
//! group, resolved once and purely. An alarm scale has no rule for (INSUFFICIENT_DATA, OK with
//! scale-in off, no group) is ignored here, with the reason as a report note.

use reflex_shared::event::AlarmStateChange;
use reflex_shared::event::alarm::AlarmStateValue;
use reflex_shared::{Event, EventError, Interpreted};

use crate::settings::{IN_STEP, Settings, Step};

/// The dimension of the metric an alarm watches that names an Auto Scaling group.
pub const GROUP_DIMENSION: &str = "AutoScalingGroupName";

/// An alarm state change that scales a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The alarm: its name, state time and cause go into the rules and the reason.
    pub alarm: AlarmStateChange,
    pub direction: Direction,
    /// The step the settings give for that direction.
    pub step: Step,
    /// The Auto Scaling group to scale.
    pub group: String,
    pub found_by: GroupSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// ALARM: raise capacity.
    Out,
    /// OK: lower it again, not below what it was before Reflex raised it.
    In,
}

/// How the alarm's group was found, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSource {
    /// `REFLEX_SCALE_TARGETS`.
    Configuration,
    /// The alarm tag named by `REFLEX_SCALE_GROUP_TAG`.
    AlarmTag,
    /// The `AutoScalingGroupName` dimension of the metric the alarm watches.
    Dimension,
}

impl std::fmt::Display for GroupSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GroupSource::Configuration => "configuration",
            GroupSource::AlarmTag => "alarm tag",
            GroupSource::Dimension => "AutoScalingGroupName dimension",
        })
    }
}

/// The alarm as scale's trigger, or why scale has nothing to do with it.
pub fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
    let Event::Alarm { alarm, .. } = event else {
        return Ok(Interpreted::Ignored("not an alarm state change".into()));
    };
    let name = &alarm.alarm_name;
    // The group first: an alarm that scales nothing says so whatever its state.
    let Some((group, found_by)) = target_group(alarm, settings) else {
        return Ok(Interpreted::Ignored(format!(
            "alarm {name} maps to no Auto Scaling group: no action"
        )));
    };
    let (direction, step) = match alarm.state.value {
        AlarmStateValue::Alarm => (Direction::Out, settings.out_step),
        AlarmStateValue::Ok => match settings.in_step {
            Some(step) => (Direction::In, step),
            None => {
                return Ok(Interpreted::Ignored(format!(
                    "alarm {name} is OK and scale-in is off ({IN_STEP}): no action"
                )));
            }
        },
        AlarmStateValue::InsufficientData => {
            return Ok(Interpreted::Ignored(format!(
                "alarm {name} has insufficient data: scale acts on ALARM and OK only"
            )));
        }
    };
    Ok(Interpreted::Trigger(Trigger {
        alarm: alarm.clone(),
        direction,
        step,
        group: group.to_string(),
        found_by,
    }))
}

/// Which group an alarm scales, and how we know: configuration, alarm tag, or its dimension.
fn target_group<'a>(
    alarm: &'a AlarmStateChange,
    settings: &'a Settings,
) -> Option<(&'a str, GroupSource)> {
    if let Some(g) = settings.configured_group(&alarm.alarm_name) {
        return Some((g, GroupSource::Configuration));
    }
    if let Some(g) = alarm.alarm_tags.get(&settings.group_tag) {
        return Some((g, GroupSource::AlarmTag));
    }
    alarm
        .dimension(GROUP_DIMENSION)
        .map(|g| (g, GroupSource::Dimension))
}
