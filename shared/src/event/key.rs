//! How the ledger recognises an event again: a redelivery (same key), or a newer version of
//! something a source republishes (GuardDuty sends an updated finding, same id, higher count, as
//! a new event: same key, newer revision).

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Event;
use super::guardduty::band_of;

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
        band_of(self.severity) > band_of(told.severity)
            || self.count >= told.count.saturating_mul(2)
    }
}

/// The content digest where the key may need it: an event whose envelope carries an id is keyed
/// by it, so the digest (the whole event serialized and hashed: more than the rules cost) is
/// skipped for it. `None` goes with [`Event::key`] only for such an event.
pub fn digest_unless_named(raw: &Value) -> Option<String> {
    let named = raw
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.trim().is_empty());
    (!named).then(|| content_digest(raw))
}

/// The digest of an event as EventBridge delivered it: the key of an event that carries no id.
pub fn content_digest(raw: &Value) -> String {
    let hash = Sha256::digest(raw.to_string().as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{}", &hex[..32])
}

impl Event {
    /// The event's key in the ledger. `digest`, the event's [`content_digest`], keys an event
    /// with no id: without it, such events would all share one key.
    pub fn key(&self, digest: &str) -> EventKey {
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
        let id = self.id().trim();
        EventKey {
            key: if id.is_empty() { digest } else { id }.to_string(),
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
        assert_ne!(content_digest(&a), content_digest(&b));
        assert_eq!(content_digest(&a), content_digest(&a.clone()));
        let event = crate::event::parse(a.clone()).unwrap();
        assert_eq!(event.key(&content_digest(&a)).key, content_digest(&a));
        // An id, where there is one, is the key.
        let mut with_id = a.clone();
        with_id["id"] = "e-1".into();
        let event = crate::event::parse(with_id.clone()).unwrap();
        assert_eq!(event.key(&content_digest(&with_id)).key, "e-1");
        // The digest is computed only where the key may need it, with the same result.
        assert_eq!(digest_unless_named(&with_id), None);
        assert_eq!(event.key("").key, "e-1");
        assert_eq!(digest_unless_named(&a), Some(content_digest(&a)));
        let mut blank_id = a.clone();
        blank_id["id"] = "  ".into();
        assert_eq!(
            digest_unless_named(&blank_id),
            Some(content_digest(&blank_id))
        );
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
