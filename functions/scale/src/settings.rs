//! Scale's configuration: which alarm scales which group, by how much, how often.

use reflex_shared::ConfigError;
use reflex_shared::config::{self, positive};

pub const TARGETS: &str = "REFLEX_SCALE_TARGETS";
pub const GROUP_TAG: &str = "REFLEX_SCALE_GROUP_TAG";
pub const OUT_STEP: &str = "REFLEX_SCALE_OUT_STEP";
pub const IN_STEP: &str = "REFLEX_SCALE_IN_STEP";
pub const COOLDOWN: &str = "REFLEX_SCALE_COOLDOWN_SECONDS";

pub const DEFAULT_GROUP_TAG: &str = "reflex:autoscaling-group";
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
pub struct ScaleSettings {
    /// `(alarm name or prefix*, group)`, from configuration; checked first.
    pub targets: Vec<(String, String)>,
    /// The alarm tag (propagated into events as `alarmTags`) that names the group.
    pub group_tag: String,
    pub out_step: Step,
    /// `None`: an OK state change does not scale in.
    pub in_step: Option<Step>,
    pub cooldown_seconds: i64,
}

impl Default for ScaleSettings {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            group_tag: DEFAULT_GROUP_TAG.into(),
            out_step: Step::Absolute(1),
            in_step: None,
            cooldown_seconds: DEFAULT_COOLDOWN_SECONDS,
        }
    }
}

impl ScaleSettings {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut settings = ScaleSettings::default();
        for entry in config::list(env, TARGETS) {
            let (alarm, group) = entry
                .split_once('=')
                .map(|(a, g)| (a.trim(), g.trim()))
                .filter(|(a, g)| !a.is_empty() && !g.is_empty())
                .ok_or_else(|| {
                    ConfigError::new(TARGETS, format!("`{entry}` is not alarm=group"))
                })?;
            settings
                .targets
                .push((alarm.to_string(), group.to_string()));
        }
        if let Some(tag) = config::var(env, GROUP_TAG) {
            settings.group_tag = tag;
        }
        if let Some(step) = config::var(env, OUT_STEP) {
            settings.out_step = Step::parse(OUT_STEP, &step)?;
        }
        settings.in_step = match config::var(env, IN_STEP).as_deref() {
            None | Some("off") => None,
            Some(step) => Some(Step::parse(IN_STEP, step)?),
        };
        // 0 is allowed: no cooldown.
        settings.cooldown_seconds = match config::var(env, COOLDOWN).as_deref() {
            Some("0") => 0,
            _ => positive(env, COOLDOWN, DEFAULT_COOLDOWN_SECONDS)?,
        };
        Ok(settings)
    }

    /// The configured group for an alarm: exact name, or a `prefix*` pattern.
    pub fn configured_group(&self, alarm: &str) -> Option<&str> {
        self.targets.iter().find_map(|(pattern, group)| {
            let hit = match pattern.strip_suffix('*') {
                Some(prefix) => alarm.starts_with(prefix),
                None => alarm == pattern,
            };
            hit.then_some(group.as_str())
        })
    }
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
        let s = ScaleSettings::from_env(&env(&[
            (TARGETS, "api-latency-*=api, checkout-errors=checkout"),
            (GROUP_TAG, "team:asg"),
            (OUT_STEP, "50%"),
            (IN_STEP, "1"),
            (COOLDOWN, "0"),
        ]))
        .unwrap();
        assert_eq!(s.configured_group("api-latency-p99"), Some("api"));
        assert_eq!(s.configured_group("checkout-errors"), Some("checkout"));
        assert_eq!(s.configured_group("checkout-errors-2"), None);
        assert_eq!(s.group_tag, "team:asg");
        assert_eq!(s.out_step, Step::Percent(50));
        assert_eq!(s.in_step, Some(Step::Absolute(1)));
        assert_eq!(s.cooldown_seconds, 0);
        assert_eq!(
            ScaleSettings::from_env(&env(&[])).unwrap(),
            ScaleSettings::default()
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            (TARGETS, "web"),
            (OUT_STEP, "0"),
            (OUT_STEP, "lots"),
            (IN_STEP, "-1"),
            (COOLDOWN, "-5"),
        ] {
            let err = ScaleSettings::from_env(&env(&[(k, v)])).unwrap_err();
            assert_eq!(err.variable, k, "{v}");
        }
    }
}
