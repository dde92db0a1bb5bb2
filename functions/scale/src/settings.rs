//! Scale's settings: which alarm scales which group, by how much, how often.
//!
//! Only an alarm named exactly in `REFLEX_SCALE_TARGETS` scales anything. Whatever an alarm says
//! about itself is the choice of whoever created it (cloudwatch:PutMetricAlarm, TagResource):
//! its metric's `AutoScalingGroupName` dimension, its tags, a name made to match a prefix. None
//! of them may pick a group.

use std::collections::BTreeMap;

use reflex_shared::ConfigError;
use reflex_shared::config::{self, Env};

pub const TARGETS: &str = "REFLEX_SCALE_TARGETS";
/// No longer read: an alarm's tag cannot choose its group. Set, it fails the cold start.
pub const GROUP_TAG: &str = "REFLEX_SCALE_GROUP_TAG";
pub const OUT_STEP: &str = "REFLEX_SCALE_OUT_STEP";
pub const IN_STEP: &str = "REFLEX_SCALE_IN_STEP";
pub const COOLDOWN: &str = "REFLEX_SCALE_COOLDOWN_SECONDS";

pub const DEFAULT_COOLDOWN_SECONDS: i64 = 300;

/// How much to change capacity by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Absolute(i32),
    /// Of the current desired capacity, rounded up, at least 1.
    Percent(i32),
}

impl Step {
    fn parse(variable: &str, text: &str) -> Result<Self, ConfigError> {
        let bad = || ConfigError::new(variable, format!("`{text}` is not a step like 2 or 50%"));
        match text.strip_suffix('%') {
            Some(p) => match p.trim().parse::<i32>() {
                Ok(p) if (1..=1000).contains(&p) => Ok(Step::Percent(p)),
                _ => Err(bad()),
            },
            None => match text.parse::<i32>() {
                Ok(n) if n >= 1 => Ok(Step::Absolute(n)),
                _ => Err(bad()),
            },
        }
    }

    /// The change for a group now at `current`.
    pub fn delta(&self, current: i32) -> i32 {
        match *self {
            Step::Absolute(n) => n,
            Step::Percent(p) => ((current.max(0) * p + 99) / 100).max(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Exact alarm name -> the group it scales. No other alarm scales anything.
    pub targets: BTreeMap<String, String>,
    pub out_step: Step,
    /// `None`: an OK state change does not scale in.
    pub in_step: Option<Step>,
    pub cooldown_seconds: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            targets: BTreeMap::new(),
            out_step: Step::Absolute(1),
            in_step: None,
            cooldown_seconds: DEFAULT_COOLDOWN_SECONDS,
        }
    }
}

impl Settings {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut settings = Settings::default();
        for entry in config::list(env, TARGETS) {
            let (alarm, group) = target(&entry)?;
            // Twice is a typo or a merge gone wrong: which group was meant is not ours to guess.
            if settings.targets.insert(alarm.clone(), group).is_some() {
                return Err(ConfigError::new(
                    TARGETS,
                    format!("alarm `{alarm}` is mapped twice"),
                ));
            }
        }
        if config::var(env, GROUP_TAG).is_some() {
            return Err(ConfigError::new(
                GROUP_TAG,
                "is no longer supported: whoever can create or tag an alarm \
                 (cloudwatch:PutMetricAlarm, cloudwatch:TagResource) could choose the group it \
                 scales; map each alarm to its group in REFLEX_SCALE_TARGETS instead",
            ));
        }
        if let Some(step) = config::var(env, OUT_STEP) {
            settings.out_step = Step::parse(OUT_STEP, &step)?;
        }
        settings.in_step = match config::var(env, IN_STEP).as_deref() {
            None | Some("off") => None,
            Some(step) => Some(Step::parse(IN_STEP, step)?),
        };
        // 0 is allowed: no cooldown.
        settings.cooldown_seconds =
            config::whole_number(env, COOLDOWN, DEFAULT_COOLDOWN_SECONDS, 0)?;
        Ok(settings)
    }

    /// The group configured for an alarm named exactly `alarm`, if any.
    pub fn configured_group(&self, alarm: &str) -> Option<&str> {
        self.targets.get(alarm).map(String::as_str)
    }
}

/// One `alarm=group` entry of `REFLEX_SCALE_TARGETS`, the alarm named exactly.
fn target(entry: &str) -> Result<(String, String), ConfigError> {
    let (alarm, group) = entry
        .split_once('=')
        .map(|(a, g)| (a.trim(), g.trim()))
        .filter(|(a, g)| !a.is_empty() && !g.is_empty())
        .ok_or_else(|| ConfigError::new(TARGETS, format!("`{entry}` is not alarm=group")))?;
    let alarm = config::exact_name(TARGETS, alarm)?;
    Ok((alarm.to_string(), group.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        reflex_shared::config::from_pairs(pairs)
    }

    #[test]
    fn steps_are_absolute_or_percent_rounded_up() {
        assert_eq!(Step::Absolute(2).delta(10), 2);
        assert_eq!(Step::Percent(50).delta(3), 2);
        assert_eq!(Step::Percent(10).delta(2), 1);
        assert_eq!(Step::Percent(100).delta(0), 1);
    }

    #[test]
    fn reads_every_variable() {
        let s = Settings::from_env(&env(&[
            (TARGETS, "api-latency-p99=api, checkout-errors=checkout"),
            (OUT_STEP, "50%"),
            (IN_STEP, "1"),
            (COOLDOWN, "0"),
        ]))
        .unwrap();
        assert_eq!(s.configured_group("api-latency-p99"), Some("api"));
        assert_eq!(s.configured_group("checkout-errors"), Some("checkout"));
        assert_eq!(s.out_step, Step::Percent(50));
        assert_eq!(s.in_step, Some(Step::Absolute(1)));
        assert_eq!(s.cooldown_seconds, 0);
        assert_eq!(Settings::from_env(&env(&[])).unwrap(), Settings::default());
    }

    #[test]
    fn only_an_alarm_named_exactly_scales_a_group() {
        let s = Settings::from_env(&env(&[(TARGETS, "checkout-errors=checkout")])).unwrap();
        // A name an attacker makes to look like ours is another name.
        for other in [
            "checkout-errors-2",
            "checkout-error",
            "Checkout-Errors",
            " checkout-errors",
        ] {
            assert_eq!(s.configured_group(other), None, "{other}");
        }
        assert_eq!(
            Settings::default().configured_group("checkout-errors"),
            None
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            (TARGETS, "web"),
            (TARGETS, "api-*=api"),
            (TARGETS, "*=web"),
            (TARGETS, "a=web,a=api"),
            (GROUP_TAG, "reflex:autoscaling-group"),
            (OUT_STEP, "0"),
            (OUT_STEP, "lots"),
            (IN_STEP, "-1"),
            (COOLDOWN, "-5"),
        ] {
            let err = Settings::from_env(&env(&[(k, v)])).unwrap_err();
            assert_eq!(err.variable, k, "{v}");
        }
    }
}
