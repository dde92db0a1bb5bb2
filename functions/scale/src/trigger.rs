//! What scale reads in an alarm state change: which way to scale, by which step, and which
//! group, resolved once and purely. An alarm scale has no rule for (INSUFFICIENT_DATA, OK with
//! scale-in off, not in `REFLEX_SCALE_TARGETS`) is ignored here, with the reason as a report
//! note. The group comes from configuration only: what the alarm says of itself (a metric
//! dimension, a tag) is its creator's choice.

use reflex_shared::event::AlarmStateChange;
use reflex_shared::event::alarm::AlarmStateValue;
use reflex_shared::{Event, EventError, Interpreted};

use crate::settings::{IN_STEP, Settings, Step, TARGETS};

/// An alarm state change that scales a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// The alarm: its name, state time and cause go into the rules and the reason.
    pub alarm: AlarmStateChange,
    pub direction: Direction,
    /// The step the settings give for that direction.
    pub step: Step,
    /// The Auto Scaling group to scale, as `REFLEX_SCALE_TARGETS` maps the alarm.
    pub group: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// ALARM: raise capacity.
    Out,
    /// OK: lower it again, not below what it was before Reflex raised it.
    In,
}

/// The alarm as scale's trigger, or why scale has nothing to do with it.
pub fn interpret(event: &Event, settings: &Settings) -> Result<Interpreted<Trigger>, EventError> {
    let Event::Alarm { alarm, .. } = event else {
        return Ok(Interpreted::Ignored("not an alarm state change".into()));
    };
    let name = &alarm.alarm_name;
    // The group first: an alarm that scales nothing says so whatever its state.
    let Some(group) = settings.configured_group(name) else {
        return Ok(Interpreted::Ignored(format!(
            "alarm {name} is not in {TARGETS}: it scales no Auto Scaling group"
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
    }))
}
