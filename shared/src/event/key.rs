//! How the ledger recognises an event again: a redelivery (same key), or a newer version of
//! something a source republishes (GuardDuty sends an updated finding, same id, higher count, as
//! a new event: same key, newer revision).

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Event;

/// An event's key in the ledger, and its revision where the source republishes.
#[derive(Debug, Clone, PartialEq)]
pub struct EventKey {
    /// `e-...` (EventBridge's id), CloudTrail's `eventID`, `guardduty:<finding id>`, or
    /// `sha256:<digest>` of an event that carries no id at all.
    pub key: String,
    pub revision: Option<Revision>,
}

/// How far along a republished finding is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Revision {
    pub severity: f64,
    /// How often the source has seen it (GuardDuty's `service.count`).
    pub count: u64,
}

impl Revision {
    /// Newer than `earlier`: seen more often, or more severe.
    pub fn is_newer_than(&self, earlier: &Revision) -> bool {
        self.count > earlier.count || self.severity > earlier.severity
    }

    /// Worth telling a person again: a more severe band (GuardDuty's low, medium, high,
    /// critical), or at least twice as often as when they were last told.
    pub fn matters_since(&self, told: &Revision) -> bool {
        band(self.severity) > band(told.severity) || self.count >= told.count.saturating_mul(2)
    }
}

/// GuardDuty's bands: 0 low (< 4), 1 medium (< 7), 2 high (< 9), 3 critical.
fn band(severity: f64) -> u8 {
    match severity {
        s if s >= 9.0 => 3,
        s if s >= 7.0 => 2,
        s if s >= 4.0 => 1,
        _ => 0,
    }
}

/// The digest that keys an event with no id; `raw` as EventBridge delivered it.
pub fn content_digest(raw: &Value) -> String {
    let hash = Sha256::digest(raw.to_string().as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{}", &hex[..32])
}

/// Whether `raw` carries no id at all (neither EventBridge's nor CloudTrail's).
pub fn lacks_an_id(raw: &Value) -> bool {
    let id = |pointer: &str| {
        raw.pointer(pointer)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    !id("/id") && !id("/detail/eventID") && !id("/detail/id")
}

impl Event {
    /// The event's key in the ledger. `digest` keys an event with no id (see [`content_digest`]);
    /// without one, such events would all share a key.
    pub fn key(&self, digest: Option<&str>) -> EventKey {
        if let Event::GuardDuty { finding, .. } = self
            && !finding.id.trim().is_empty()
        {
            return EventKey {
                key: format!("guardduty:{}", finding.id),
                revision: Some(Revision {
                    severity: finding.severity,
                    count: finding.count(),
                }),
            };
        }
        let id = self.id();
        EventKey {
            key: match (id.trim().is_empty(), digest) {
                (false, _) | (true, None) => id.to_string(),
                (true, Some(digest)) => digest.to_string(),
            },
            revision: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_without_any_id_is_keyed_by_its_content() {
        let a = json!({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
                       "detail": {"alarmName": "a", "state": {"value": "ALARM", "timestamp": "t"}}});
        let mut b = a.clone();
        b["detail"]["alarmName"] = "b".into();
        assert!(lacks_an_id(&a));
        assert_ne!(content_digest(&a), content_digest(&b));
        assert_eq!(content_digest(&a), content_digest(&a.clone()));
        let event = crate::event::parse(a.clone()).unwrap();
        assert_eq!(event.key(Some(&content_digest(&a))).key, content_digest(&a));
        assert!(!lacks_an_id(&json!({"id": "e-1"})));
    }

    #[test]
    fn a_republished_finding_is_newer_and_matters_when_its_band_rises_or_its_count_doubles() {
        let told = Revision {
            severity: 5.0,
            count: 10,
        };
        let more = |severity, count| Revision { severity, count };
        assert!(more(5.0, 11).is_newer_than(&told));
        assert!(!more(5.0, 10).is_newer_than(&told));
        assert!(!more(5.0, 11).matters_since(&told));
        assert!(more(5.0, 20).matters_since(&told));
        assert!(more(7.2, 11).matters_since(&told));
        assert!(!more(6.9, 11).matters_since(&told));
    }
}
