//! Quarantine's configuration: which ports must never be open to the world, which GuardDuty
//! findings and alarms quarantine an instance, and the tag an operator sets to ask for it.

use reflex_shared::ConfigError;
use reflex_shared::config::{self, Env, TagSpec};
use reflex_shared::exemption::ExemptTag;

pub use crate::exposure::Share;

pub const SENSITIVE_PORTS: &str = "REFLEX_SENSITIVE_PORTS";
pub const MIN_SEVERITY: &str = config::QUARANTINE_MIN_SEVERITY;
pub const ALARMS: &str = "REFLEX_QUARANTINE_ALARMS";
pub const TRIGGER_TAG: &str = "REFLEX_QUARANTINE_TAG";
pub const WORLD_OPEN_SHARE: &str = "REFLEX_WORLD_OPEN_SHARE";

pub const DEFAULT_SENSITIVE_PORTS: &str =
    "22,23,3389,5900,445,3306,5432,1433,1521,27017,6379,11211,9200,2379,all";
pub const DEFAULT_MIN_SEVERITY: f64 = config::DEFAULT_QUARANTINE_MIN_SEVERITY;
/// A /8's worth of public IPv4 addresses (about 16.7 million of some 3.7 billion) reaching a
/// sensitive port is the whole internet for a scanner; a legitimate allow-list (an office, a
/// partner, a cloud region's NAT addresses) is thousands of times smaller.
pub const DEFAULT_WORLD_OPEN_SHARE: &str = "1/256";

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

/// The tag an operator puts on an instance to have it quarantined (the manual trigger): a key
/// AND a value, both exact. Anyone allowed `ec2:CreateTags` on an instance can set a tag, so the
/// value is the operators' convention (best kept to themselves) and the key should be guarded
/// by IAM (`aws:TagKeys` / `aws:RequestTag` conditions); a key alone would let anyone who may tag
/// an instance isolate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerTag {
    pub key: String,
    pub value: String,
}

impl TriggerTag {
    /// Exactly this key and this value (as EventBridge's rule matches them: case-sensitive).
    pub fn matches(&self, key: &str, value: &str) -> bool {
        key == self.key && value == self.value
    }

    /// `key=value`: a key alone is refused, naming the variable.
    pub fn parse(variable: &str, spec: TagSpec) -> Result<Self, ConfigError> {
        match spec.value {
            Some(value) => Ok(Self {
                key: spec.key,
                value,
            }),
            None => Err(ConfigError::new(
                variable,
                format!(
                    "`{}` has no value: a key alone would let anyone who may tag an instance \
                     isolate it; give key=value, or leave it empty to turn the manual trigger off",
                    spec.key
                ),
            )),
        }
    }
}

impl std::fmt::Display for TriggerTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub sensitive_ports: SensitivePorts,
    /// GuardDuty findings at or above this severity quarantine their instance.
    pub min_severity: f64,
    /// Exact alarm names whose ALARM state quarantines the instance named by the alarm's
    /// `InstanceId` dimension, once the alarm is verified (see `alarm`). Empty: alarms never
    /// quarantine. No prefixes: anyone allowed `cloudwatch:PutMetricAlarm` could name a new
    /// alarm to match one.
    pub alarms: Vec<String>,
    /// The operator's manual trigger; `None` (the default): off.
    pub trigger_tag: Option<TriggerTag>,
    /// The share of the public address space (IPv4, or IPv6's global unicast space) from which
    /// a sensitive port may be reached before the group counts as open to the world.
    pub world_open_share: Share,
    /// The core's exemption tag (`REFLEX_EXEMPT_TAG`): written on an instance or a security
    /// group by a caller not exempt, quarantine removes it (`quarantine.exemption-tag`).
    pub exempt_tag: ExemptTag,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            sensitive_ports: SensitivePorts::parse(SENSITIVE_PORTS, DEFAULT_SENSITIVE_PORTS)
                .expect("the default port list parses"),
            min_severity: DEFAULT_MIN_SEVERITY,
            alarms: Vec::new(),
            trigger_tag: None,
            world_open_share: Share::parse(WORLD_OPEN_SHARE, DEFAULT_WORLD_OPEN_SHARE)
                .expect("the default share parses"),
            exempt_tag: ExemptTag::default(),
        }
    }
}

impl Settings {
    /// Quarantine's own variables, and the core's exemption tag (`REFLEX_EXEMPT_TAG`), whose
    /// writes quarantine watches on instances and security groups.
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut settings = Settings {
            exempt_tag: ExemptTag::from_env(env)?,
            ..Settings::default()
        };
        if let Some(ports) = config::var(env, SENSITIVE_PORTS) {
            settings.sensitive_ports = SensitivePorts::parse(SENSITIVE_PORTS, &ports)?;
        }
        settings.min_severity =
            config::guardduty_severity(env, MIN_SEVERITY, DEFAULT_MIN_SEVERITY)?;
        for alarm in config::list(env, ALARMS) {
            config::exact_name(ALARMS, &alarm)?;
            settings.alarms.push(alarm);
        }
        if let Some(tag) = config::tag(env, TRIGGER_TAG)? {
            settings.trigger_tag = Some(TriggerTag::parse(TRIGGER_TAG, tag)?);
        }
        if let Some(share) = config::var(env, WORLD_OPEN_SHARE) {
            settings.world_open_share = Share::parse(WORLD_OPEN_SHARE, &share)?;
        }
        Ok(settings)
    }

    /// Whether the alarm is listed, by its exact name.
    pub fn alarm_listed(&self, alarm: &str) -> bool {
        self.alarms.iter().any(|listed| listed == alarm)
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
    fn defaults_cover_remote_access_databases_caches_and_all_ports_and_trigger_nothing_by_hand() {
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
        assert_eq!(s.trigger_tag, None, "the manual trigger is opt-in");
        assert_eq!(s.world_open_share, Share::parse("x", "1/256").unwrap());
    }

    #[test]
    fn reads_every_variable() {
        let s = Settings::from_env(&env(&[
            (SENSITIVE_PORTS, "22, 8000-8080"),
            (MIN_SEVERITY, "4.5"),
            (ALARMS, "exfil-network-out-web-2, web-1-network-out"),
            (TRIGGER_TAG, "security:isolate=SEC-approved"),
            (WORLD_OPEN_SHARE, "1%"),
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
        assert!(s.alarm_listed("web-1-network-out"));
        assert!(!s.alarm_listed("web-1-network-out-2"), "exact names only");
        assert!(!s.alarm_listed("exfil-network-out"));
        let tag = s.trigger_tag.expect("configured");
        assert!(tag.matches("security:isolate", "SEC-approved"));
        assert_eq!(tag.to_string(), "security:isolate=SEC-approved");
        assert_eq!(s.world_open_share, Share::parse("x", "0.01").unwrap());
    }

    #[test]
    fn the_trigger_tag_matches_its_key_and_its_exact_value_only() {
        let s =
            Settings::from_env(&env(&[(TRIGGER_TAG, "security:isolate=SEC-approved")])).unwrap();
        let tag = s.trigger_tag.unwrap();
        assert!(tag.matches("security:isolate", "SEC-approved"));
        for (key, value) in [
            ("security:isolate", "true"),
            ("security:isolate", "sec-approved"),
            ("security:isolate", " SEC-approved"),
            ("security:isolate", ""),
            ("Security:isolate", "SEC-approved"),
            ("Name", "SEC-approved"),
        ] {
            assert!(!tag.matches(key, value), "{key}={value}");
        }
    }

    #[test]
    fn an_empty_trigger_tag_is_off() {
        let s = Settings::from_env(&env(&[(TRIGGER_TAG, "  ")])).unwrap();
        assert_eq!(s.trigger_tag, None);
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
            (ALARMS, "exfil-*"),
            (ALARMS, "web-1, exfil-?"),
            (TRIGGER_TAG, "=true"),
            (TRIGGER_TAG, "aws:quarantine=yes"),
            (TRIGGER_TAG, "reflex:quarantine"),
            (TRIGGER_TAG, "reflex:quarantine="),
            (WORLD_OPEN_SHARE, "0"),
            (WORLD_OPEN_SHARE, "2"),
            (WORLD_OPEN_SHARE, "1/0"),
            (WORLD_OPEN_SHARE, "half"),
            (WORLD_OPEN_SHARE, "150%"),
        ] {
            let err = Settings::from_env(&env(&[(k, v)])).unwrap_err();
            assert_eq!(err.variable, k, "{v}");
            assert!(err.to_string().contains(k), "{err}");
        }
        let err = Settings::from_env(&env(&[(TRIGGER_TAG, "reflex:quarantine")])).unwrap_err();
        assert!(err.to_string().contains("has no value"), "{err}");
        let err = Settings::from_env(&env(&[(ALARMS, "exfil-*")])).unwrap_err();
        assert!(err.to_string().contains("exact alarm names"), "{err}");
    }
}
