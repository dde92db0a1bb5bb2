//! Quarantine's configuration: which ports must never be open to the world, which GuardDuty
//! findings and alarms quarantine an instance, and the tag an operator sets to ask for it.

use reflex_shared::ConfigError;
use reflex_shared::config::{self, Env, NamePattern, TagSpec};

pub const SENSITIVE_PORTS: &str = "REFLEX_SENSITIVE_PORTS";
pub const MIN_SEVERITY: &str = "REFLEX_QUARANTINE_MIN_SEVERITY";
pub const ALARMS: &str = "REFLEX_QUARANTINE_ALARMS";
pub const TRIGGER_TAG: &str = "REFLEX_QUARANTINE_TAG";

pub const DEFAULT_SENSITIVE_PORTS: &str =
    "22,23,3389,5900,445,3306,5432,1433,1521,27017,6379,11211,9200,2379,all";
pub const DEFAULT_MIN_SEVERITY: f64 = 7.0;
pub const DEFAULT_TRIGGER_TAG: &str = "reflex:quarantine";

/// One entry of the sensitive-port list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortEntry {
    /// A single port or an inclusive range.
    Range(u16, u16),
    /// A rule that opens every port: protocol `-1` (all traffic) or TCP/UDP 0-65535.
    All,
}

/// Ports that must never be reachable from the whole internet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensitivePorts(pub Vec<PortEntry>);

impl SensitivePorts {
    pub fn parse(variable: &str, text: &str) -> Result<Self, ConfigError> {
        let mut entries = Vec::new();
        for raw in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = |why: &str| ConfigError::new(variable, format!("`{raw}` {why}"));
            let entry = match raw.to_ascii_lowercase().as_str() {
                "all" | "-1" => PortEntry::All,
                other => {
                    let (from, to) = other.split_once('-').unwrap_or((other, other));
                    let port = |p: &str| p.trim().parse::<u16>().map_err(|_| ());
                    match (port(from), port(to)) {
                        (Ok(f), Ok(t)) if f <= t => PortEntry::Range(f, t),
                        _ => {
                            return Err(bad(
                                "is not a port (0-65535), a range like 8000-8080, or all",
                            ));
                        }
                    }
                }
            };
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(ConfigError::new(variable, "the list is empty"));
        }
        Ok(Self(entries))
    }

    /// Whether a TCP/UDP range (inclusive) reaches a sensitive port: the entry with the lowest
    /// port it reaches.
    pub fn first_in(&self, from: u16, to: u16) -> Option<PortEntry> {
        self.0
            .iter()
            .copied()
            .filter_map(|e| match e {
                PortEntry::Range(a, b) if a <= to && from <= b => Some((a.max(from), e)),
                PortEntry::All if from == 0 && to == u16::MAX => Some((0, e)),
                _ => None,
            })
            .min_by_key(|(hit, _)| *hit)
            .map(|(_, e)| e)
    }

    pub fn includes_all(&self) -> bool {
        self.0.contains(&PortEntry::All)
    }
}

/// The tag an operator puts on an instance to have it quarantined (the manual trigger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerTag {
    pub key: String,
    /// `None`: any value but `false`, `no`, `off` or `0` triggers.
    pub value: Option<String>,
}

impl TriggerTag {
    pub fn matches(&self, key: &str, value: &str) -> bool {
        key == self.key
            && match &self.value {
                Some(v) => value.trim().eq_ignore_ascii_case(v),
                None => !["false", "no", "off", "0"]
                    .contains(&value.trim().to_ascii_lowercase().as_str()),
            }
    }
}

impl From<TagSpec> for TriggerTag {
    fn from(TagSpec { key, value }: TagSpec) -> Self {
        Self { key, value }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub sensitive_ports: SensitivePorts,
    /// GuardDuty findings at or above this severity quarantine their instance.
    pub min_severity: f64,
    /// Alarm names, or `prefix*` patterns, whose ALARM state quarantines the instance named by
    /// the alarm's `InstanceId` dimension. Empty: alarms never quarantine.
    pub alarms: Vec<NamePattern>,
    pub trigger_tag: TriggerTag,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            sensitive_ports: SensitivePorts::parse(SENSITIVE_PORTS, DEFAULT_SENSITIVE_PORTS)
                .expect("the default port list parses"),
            min_severity: DEFAULT_MIN_SEVERITY,
            alarms: Vec::new(),
            trigger_tag: TriggerTag {
                key: DEFAULT_TRIGGER_TAG.into(),
                value: None,
            },
        }
    }
}

impl Settings {
    /// Quarantine's own variables; the exemption tag is the core's (`REFLEX_EXEMPT_TAG`).
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut settings = Settings::default();
        if let Some(ports) = config::var(env, SENSITIVE_PORTS) {
            settings.sensitive_ports = SensitivePorts::parse(SENSITIVE_PORTS, &ports)?;
        }
        settings.min_severity =
            config::guardduty_severity(env, MIN_SEVERITY, DEFAULT_MIN_SEVERITY)?;
        for alarm in config::list(env, ALARMS).into_iter().map(NamePattern::new) {
            if alarm.is_everything() {
                return Err(ConfigError::new(
                    ALARMS,
                    "`*` would quarantine on every alarm; list names or prefixes",
                ));
            }
            settings.alarms.push(alarm);
        }
        if let Some(tag) = config::tag(env, TRIGGER_TAG)? {
            settings.trigger_tag = tag.into();
        }
        Ok(settings)
    }

    /// The pattern an alarm is listed by (its exact name, or a `prefix*`), if it is listed.
    pub fn alarm_listed(&self, alarm: &str) -> Option<&str> {
        self.alarms
            .iter()
            .find(|pattern| pattern.matches(alarm))
            .map(NamePattern::as_str)
    }
}

/// What a port is usually for, to make reports readable.
pub fn port_name(port: u16) -> Option<&'static str> {
    Some(match port {
        22 => "SSH",
        23 => "Telnet",
        445 => "SMB",
        1433 => "SQL Server",
        1521 => "Oracle",
        2379 => "etcd",
        3306 => "MySQL",
        3389 => "RDP",
        5432 => "PostgreSQL",
        5900 => "VNC",
        6379 => "Redis",
        9200 => "Elasticsearch",
        11211 => "Memcached",
        27017 => "MongoDB",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        reflex_shared::config::from_pairs(pairs)
    }

    #[test]
    fn defaults_cover_remote_access_databases_caches_and_all_ports() {
        let s = Settings::from_env(&env(&[])).unwrap();
        assert_eq!(s, Settings::default());
        let ports = &s.sensitive_ports;
        for port in [
            22, 3389, 3306, 5432, 1433, 1521, 27017, 6379, 11211, 9200, 2379,
        ] {
            assert!(ports.first_in(port, port).is_some(), "{port}");
        }
        assert!(ports.first_in(443, 443).is_none());
        assert!(ports.first_in(80, 80).is_none());
        assert_eq!(ports.first_in(20, 25), Some(PortEntry::Range(22, 22)));
        assert!(ports.includes_all());
        assert_eq!(s.min_severity, 7.0);
        assert!(s.alarms.is_empty());
        assert!(s.trigger_tag.matches("reflex:quarantine", "true"));
        assert!(s.trigger_tag.matches("reflex:quarantine", "ticket SEC-42"));
        assert!(!s.trigger_tag.matches("reflex:quarantine", "false"));
        assert!(!s.trigger_tag.matches("Name", "true"));
    }

    #[test]
    fn reads_every_variable() {
        let s = Settings::from_env(&env(&[
            (SENSITIVE_PORTS, "22, 8000-8080"),
            (MIN_SEVERITY, "4.5"),
            (ALARMS, "exfil-*, web-1-network-out"),
            (TRIGGER_TAG, "security:isolate=yes"),
        ]))
        .unwrap();
        assert_eq!(
            s.sensitive_ports,
            SensitivePorts(vec![PortEntry::Range(22, 22), PortEntry::Range(8000, 8080)])
        );
        assert!(s.sensitive_ports.first_in(8080, 8443).is_some());
        assert!(!s.sensitive_ports.includes_all());
        // Without `all`, a full TCP range is still caught by the ports it covers.
        assert!(s.sensitive_ports.first_in(0, 65535).is_some());
        assert_eq!(s.min_severity, 4.5);
        assert_eq!(s.alarm_listed("exfil-network-out-web-1"), Some("exfil-*"));
        assert_eq!(
            s.alarm_listed("web-1-network-out"),
            Some("web-1-network-out")
        );
        assert_eq!(s.alarm_listed("web-1-network-out-2"), None);
        assert!(s.trigger_tag.matches("security:isolate", "YES"));
        assert!(!s.trigger_tag.matches("security:isolate", "true"));
    }

    #[test]
    fn a_trigger_tag_given_without_a_value_takes_any_value_but_a_no() {
        let s = Settings::from_env(&env(&[(TRIGGER_TAG, "security:isolate")])).unwrap();
        assert_eq!(s.trigger_tag.value, None);
        assert!(s.trigger_tag.matches("security:isolate", "ticket SEC-42"));
        assert!(!s.trigger_tag.matches("security:isolate", " Off "));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            (SENSITIVE_PORTS, "ssh"),
            (SENSITIVE_PORTS, "70000"),
            (SENSITIVE_PORTS, "90-80"),
            (SENSITIVE_PORTS, ","),
            (MIN_SEVERITY, "high"),
            (MIN_SEVERITY, "11"),
            (ALARMS, "*"),
            (TRIGGER_TAG, "=true"),
            (TRIGGER_TAG, "aws:quarantine"),
        ] {
            let err = Settings::from_env(&env(&[(k, v)])).unwrap_err();
            assert_eq!(err.variable, k, "{v}");
            assert!(err.to_string().contains(k), "{err}");
        }
    }
}
