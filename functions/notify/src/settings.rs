//! Notify's settings: whether to report what resolves itself, and how severe a GuardDuty
//! finding must be to reach a person.

use reflex_shared::ConfigError;
use reflex_shared::config::{self, Env};

/// `true` to also report alarms returning to OK and the end of an Insight.
pub const NOTIFY_RESOLVED: &str = "REFLEX_NOTIFY_RESOLVED";
/// GuardDuty findings below this severity (0-10) are not reported.
pub const GUARDDUTY_MIN_SEVERITY: &str = "REFLEX_NOTIFY_GUARDDUTY_MIN_SEVERITY";

/// GuardDuty's medium band and above.
pub const DEFAULT_GUARDDUTY_MIN_SEVERITY: f64 = 4.0;
/// Quarantine's own threshold (one variable, set from one template parameter): a finding about
/// an instance at or above it is quarantine's to act on and report; below it, notify's.
pub use reflex_shared::config::{DEFAULT_QUARANTINE_MIN_SEVERITY, QUARANTINE_MIN_SEVERITY};

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Also report alarms returning to OK and the end of an Insight.
    pub resolved: bool,
    /// GuardDuty findings below this severity (0-10) are not reported.
    pub guardduty_min_severity: f64,
    /// GuardDuty findings about an instance at or above this severity are quarantine's.
    pub quarantine_min_severity: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resolved: false,
            guardduty_min_severity: DEFAULT_GUARDDUTY_MIN_SEVERITY,
            quarantine_min_severity: DEFAULT_QUARANTINE_MIN_SEVERITY,
        }
    }
}

impl Settings {
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            resolved: config::flag(env, NOTIFY_RESOLVED, false)?,
            guardduty_min_severity: config::guardduty_severity(
                env,
                GUARDDUTY_MIN_SEVERITY,
                DEFAULT_GUARDDUTY_MIN_SEVERITY,
            )?,
            quarantine_min_severity: config::guardduty_severity(
                env,
                QUARANTINE_MIN_SEVERITY,
                DEFAULT_QUARANTINE_MIN_SEVERITY,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reflex_shared::config::from_pairs;

    #[test]
    fn defaults_and_every_variable() {
        let s = Settings::from_env(&from_pairs::<&str, &str>(&[])).unwrap();
        assert_eq!(s, Settings::default());
        let s = Settings::from_env(&from_pairs(&[
            (NOTIFY_RESOLVED, "true"),
            (GUARDDUTY_MIN_SEVERITY, "7.5"),
            (QUARANTINE_MIN_SEVERITY, "8"),
        ]))
        .unwrap();
        assert!(s.resolved);
        assert_eq!(s.guardduty_min_severity, 7.5);
        assert_eq!(s.quarantine_min_severity, 8.0);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            (NOTIFY_RESOLVED, "sometimes"),
            (GUARDDUTY_MIN_SEVERITY, "11"),
            (GUARDDUTY_MIN_SEVERITY, "high"),
            (QUARANTINE_MIN_SEVERITY, "-1"),
        ] {
            let err = Settings::from_env(&from_pairs(&[(k, v)])).unwrap_err();
            assert_eq!(err.variable, k, "{v}");
        }
    }
}
