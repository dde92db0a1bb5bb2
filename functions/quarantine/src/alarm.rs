//! Whether a listed alarm's change to ALARM is CloudWatch's own evaluation of EC2's metric, or
//! was forged. Pure: the claim is read from the event, the alarm and the metric are read by
//! `facts`, the verdict is given here.
//!
//! Anyone allowed `cloudwatch:PutMetricAlarm` and `cloudwatch:SetAlarmState` can create an alarm
//! on any instance and set it to ALARM; a state change event cannot be told apart by its source.
//! So an alarm quarantines only when all of this holds:
//!
//! - it is listed by its exact name (no prefix anyone could match with a new alarm);
//! - it exists and is ALARM now (`DescribeAlarms`);
//! - it watches one of EC2's own metrics (namespace `AWS/EC2`: namespaces starting with `AWS/`
//!   are reserved for AWS's services, not for `PutMetricData`) for the event's instance;
//! - the change carries CloudWatch's evaluation record (`reasonData` with the evaluated
//!   datapoints). `SetAlarmState` sends no record unless its caller writes one
//!   (`StateReasonData`, free JSON), so the record is not taken on its word either:
//! - every datapoint it claims is in EC2's metric at that time with that value
//!   (`GetMetricStatistics`), recent for the change, and enough of them cross the alarm's
//!   threshold the alarm's way.
//!
//! Anything short of that is a finding for a person (needs attention), nothing isolated.

use chrono::{DateTime, Duration, Utc};
use reflex_shared::event::AlarmStateChange;
use reflex_shared::event::alarm::parse_time;
use serde_json::Value;

/// The namespace of EC2's own instance metrics.
pub const EC2_NAMESPACE: &str = "AWS/EC2";
/// At most this many of the claimed datapoints (the most recent) are checked against the
/// metric: a bound on the lookups one event can cause.
pub const MAX_CHECKED: usize = 10;
/// Metrics reach CloudWatch late: a claimed datapoint may be this much older than the alarm's
/// evaluation window before the change and still count as recent.
pub const LATE_DATA: Duration = Duration::hours(1);

/// One datapoint CloudWatch's evaluation record says it evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    pub timestamp: DateTime<Utc>,
    /// Absent for a missing datapoint.
    pub value: Option<f64>,
}

/// What a listed alarm's change to ALARM claims, read from the event.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmClaim {
    pub name: String,
    /// The instance its `InstanceId` dimension names.
    pub instance: Option<String>,
    /// When it changed to ALARM.
    pub changed_at: Option<DateTime<Utc>>,
    /// The evaluated datapoints of its record; `None` when the change has no record that reads
    /// as CloudWatch's evaluation.
    pub evaluated: Option<Vec<Datapoint>>,
}

impl AlarmClaim {
    pub fn read(alarm: &AlarmStateChange) -> Self {
        Self {
            name: alarm.alarm_name.clone(),
            instance: alarm.dimension("InstanceId").map(String::from),
            changed_at: alarm.state_time(),
            evaluated: alarm
                .state
                .reason_data
                .as_deref()
                .and_then(evaluated_datapoints),
        }
    }

    /// The datapoints to check against the metric: the most recent ones that have a value.
    pub fn to_check(&self) -> Vec<Datapoint> {
        let mut points: Vec<Datapoint> = self
            .evaluated
            .iter()
            .flatten()
            .filter(|p| p.value.is_some())
            .copied()
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.timestamp));
        points.truncate(MAX_CHECKED);
        points
    }
}

/// `evaluatedDatapoints` of CloudWatch's record, `{"timestamp": "...", "value": 1.5}` each;
/// `None` when the record is not JSON or has none.
fn evaluated_datapoints(reason_data: &str) -> Option<Vec<Datapoint>> {
    let data: Value = serde_json::from_str(reason_data).ok()?;
    let points = data.get("evaluatedDatapoints")?.as_array()?;
    let points: Vec<Datapoint> = points
        .iter()
        .map(|p| {
            Some(Datapoint {
                timestamp: parse_time(p.get("timestamp")?.as_str()?)?,
                value: p.get("value").and_then(Value::as_f64),
            })
        })
        .collect::<Option<_>>()?;
    (!points.is_empty()).then_some(points)
}

/// The alarm as CloudWatch describes it now, and EC2's metric at the claimed times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmFacts {
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA`.
    pub state: String,
    /// A metric-math alarm (its `Metrics`), which no single metric can confirm.
    pub math: bool,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<(String, String)>,
    /// A standard statistic (`Sum`, `Average`, ...); `None` for a percentile.
    pub statistic: Option<String>,
    pub period: Option<i32>,
    pub evaluation_periods: Option<i32>,
    pub datapoints_to_alarm: Option<i32>,
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
    /// The metric's value (the alarm's statistic over one period) at each checked time; `None`
    /// where the metric has no data.
    pub metric: Vec<(DateTime<Utc>, Option<f64>)>,
}

impl AlarmFacts {
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AlarmLookup {
    Found(AlarmFacts),
    /// CloudWatch has no alarm of that name (deleted since).
    Missing,
    /// The lookup failed for good; why.
    Unreadable(String),
}

/// Whether the claim is CloudWatch's evaluation of EC2's metric for the instance: why it is
/// (for the report), or why it is not proven.
pub fn verdict(claim: &AlarmClaim, lookup: Option<&AlarmLookup>) -> Result<String, String> {
    let name = &claim.name;
    let alarm = match lookup {
        Some(AlarmLookup::Found(a)) => a,
        Some(AlarmLookup::Missing) => return Err(format!("alarm {name} does not exist now")),
        Some(AlarmLookup::Unreadable(why)) => {
            return Err(format!("alarm {name} could not be read ({why})"));
        }
        None => return Err(format!("alarm {name} was not looked up")),
    };
    if alarm.state != "ALARM" {
        return Err(format!("alarm {name} is {} now, not ALARM", alarm.state));
    }
    if alarm.math {
        return Err(format!(
            "alarm {name} is a metric-math alarm: no single metric of EC2's can confirm it"
        ));
    }
    let namespace = alarm.namespace.as_deref().unwrap_or("no namespace");
    if namespace != EC2_NAMESPACE {
        return Err(format!(
            "alarm {name} watches a metric in {namespace}, not EC2's own ({EC2_NAMESPACE}): \
             anyone allowed to publish metrics can make its data"
        ));
    }
    let instance = claim.instance.as_deref().unwrap_or("no instance");
    match alarm.dimension("InstanceId") {
        Some(watched) if watched == instance => {}
        watched => {
            return Err(format!(
                "alarm {name} watches {}, not instance {instance}",
                watched.map_or("no instance".into(), |w| format!("instance {w}"))
            ));
        }
    }
    if claim.evaluated.is_none() {
        return Err(
            "its change to ALARM carries no evaluation record of CloudWatch's (no \
                    evaluated datapoints in reasonData): it was set with \
                    cloudwatch:SetAlarmState, not by CloudWatch evaluating the metric"
                .to_string(),
        );
    }
    let (Some(statistic), Some(threshold), Some(comparison), Some(period)) = (
        alarm.statistic.as_deref(),
        alarm.threshold,
        alarm.comparison.as_deref(),
        alarm.period,
    ) else {
        return Err(format!(
            "alarm {name} uses a percentile, an anomaly band or no threshold: its evaluation \
             cannot be checked against the metric"
        ));
    };
    let Some(crosses) = crossing(comparison) else {
        return Err(format!(
            "alarm {name} compares with {comparison}: its evaluation cannot be checked"
        ));
    };
    // Without the time of the change, an old record replayed cannot be told from a new one.
    let Some(at) = claim.changed_at else {
        return Err(
            "its change to ALARM carries no time of change: the datapoints its record claims \
             cannot be placed in the alarm's evaluation window"
                .to_string(),
        );
    };
    let checked = claim.to_check();
    let window = Duration::seconds(
        i64::from(period.max(1)) * i64::from(alarm.evaluation_periods.unwrap_or(1).max(1)),
    ) + LATE_DATA;
    let mut breaching = 0;
    for point in &checked {
        let claimed = point.value.unwrap_or(f64::NAN);
        if point.timestamp > at || point.timestamp < at - window {
            return Err(format!(
                "its evaluation record claims a datapoint at {}, outside the alarm's evaluation \
                 window before the change ({at}): an old or made-up record",
                point.timestamp
            ));
        }
        let metric = alarm
            .metric
            .iter()
            .find(|(t, _)| *t == point.timestamp)
            .and_then(|(_, v)| *v);
        match metric {
            Some(m) if close(m, claimed) => {}
            found => {
                return Err(format!(
                    "its evaluation record claims {claimed} at {}, but EC2's metric {} has {} \
                     there: a made-up record, set with cloudwatch:SetAlarmState",
                    point.timestamp,
                    alarm.metric_name.as_deref().unwrap_or("?"),
                    found.map_or("no data".into(), |m| m.to_string())
                ));
            }
        }
        if crosses(claimed, threshold) {
            breaching += 1;
        }
    }
    let needed = alarm
        .datapoints_to_alarm
        .or(alarm.evaluation_periods)
        .unwrap_or(1)
        .max(1) as usize;
    if breaching < needed.min(MAX_CHECKED) {
        return Err(format!(
            "EC2's metric crosses the threshold ({comparison} {threshold}) in {breaching} of \
             the datapoints the record claims, fewer than the {needed} the alarm needs"
        ));
    }
    Ok(format!(
        "EC2's own metric confirms it: {} {statistic} {} the threshold {threshold} in {breaching} \
         datapoint{} at the times CloudWatch evaluated",
        alarm.metric_name.as_deref().unwrap_or("?"),
        symbol(comparison),
        if breaching == 1 { "" } else { "s" }
    ))
}

/// Equal as CloudWatch reports the same statistic twice (up to rounding in its text).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// The test a datapoint must pass to cross the threshold, for the comparisons that have one.
fn crossing(comparison: &str) -> Option<fn(f64, f64) -> bool> {
    Some(match comparison {
        "GreaterThanOrEqualToThreshold" => |v, t| v >= t,
        "GreaterThanThreshold" => |v, t| v > t,
        "LessThanThreshold" => |v, t| v < t,
        "LessThanOrEqualToThreshold" => |v, t| v <= t,
        _ => return None,
    })
}

fn symbol(comparison: &str) -> &'static str {
    match comparison {
        "GreaterThanOrEqualToThreshold" => "reached",
        "GreaterThanThreshold" => "exceeded",
        "LessThanThreshold" => "fell below",
        _ => "fell to or below",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: &str = "i-0c7e5f3a9b1d24680";

    fn at(text: &str) -> DateTime<Utc> {
        parse_time(text).unwrap()
    }

    fn claim(evaluated: Option<Vec<Datapoint>>) -> AlarmClaim {
        AlarmClaim {
            name: "exfil-network-out-web-1".into(),
            instance: Some(INSTANCE.into()),
            changed_at: Some(at("2026-11-20T12:10:00Z")),
            evaluated,
        }
    }

    fn point(time: &str, value: f64) -> Datapoint {
        Datapoint {
            timestamp: at(time),
            value: Some(value),
        }
    }

    /// The sample's alarm, ALARM now, with EC2's metric at 12:05 as `metric`.
    fn alarm(metric: Option<f64>) -> AlarmLookup {
        AlarmLookup::Found(AlarmFacts {
            state: "ALARM".into(),
            math: false,
            namespace: Some(EC2_NAMESPACE.into()),
            metric_name: Some("NetworkOut".into()),
            dimensions: vec![("InstanceId".into(), INSTANCE.into())],
            statistic: Some("Sum".into()),
            period: Some(300),
            evaluation_periods: Some(1),
            datapoints_to_alarm: None,
            threshold: Some(5e9),
            comparison: Some("GreaterThanThreshold".into()),
            metric: vec![(at("2026-11-20T12:05:00Z"), metric)],
        })
    }

    fn with(f: impl FnOnce(&mut AlarmFacts)) -> AlarmLookup {
        let AlarmLookup::Found(mut a) = alarm(Some(9.12e9)) else {
            unreachable!()
        };
        f(&mut a);
        AlarmLookup::Found(a)
    }

    fn genuine() -> AlarmClaim {
        claim(Some(vec![point("2026-11-20T12:05:00Z", 9.12e9)]))
    }

    #[test]
    fn the_record_is_read_from_the_sample_event() {
        let event = reflex_testkit::sample_event("quarantine/alarm-instance-network-out-high.json");
        let reflex_shared::Event::Alarm { alarm, .. } = &event else {
            panic!("an alarm")
        };
        let c = AlarmClaim::read(alarm);
        assert_eq!(c.instance.as_deref(), Some(INSTANCE));
        assert_eq!(
            c.evaluated,
            Some(vec![point("2026-11-20T12:05:00.000+0000", 9.12e9)])
        );
        assert_eq!(c.to_check().len(), 1);
    }

    #[test]
    fn a_record_that_is_not_cloudwatchs_is_no_record() {
        for data in [
            "not json",
            "{}",
            r#"{"evaluatedDatapoints": []}"#,
            r#"{"evaluatedDatapoints": [{"value": 1}]}"#,
        ] {
            assert_eq!(evaluated_datapoints(data), None, "{data}");
        }
    }

    #[test]
    fn cloudwatchs_evaluation_confirmed_by_ec2s_metric_quarantines() {
        let why = verdict(&genuine(), Some(&alarm(Some(9.12e9)))).unwrap();
        assert!(why.starts_with("EC2's own metric confirms it: NetworkOut Sum exceeded the threshold 5000000000 in 1 datapoint"), "{why}");
    }

    #[test]
    fn set_alarm_state_without_a_record_is_not_proof() {
        let why = verdict(&claim(None), Some(&alarm(Some(9.12e9)))).unwrap_err();
        assert!(why.contains("set with cloudwatch:SetAlarmState"), "{why}");
    }

    #[test]
    fn a_made_up_record_is_caught_by_the_metric() {
        // No data at the claimed time, or another value.
        for metric in [None, Some(1.0e6)] {
            let why = verdict(&genuine(), Some(&alarm(metric))).unwrap_err();
            assert!(why.contains("a made-up record"), "{why}");
        }
        // The metric's real values, which do not cross the threshold.
        let low = claim(Some(vec![point("2026-11-20T12:05:00Z", 1.0e6)]));
        let why = verdict(&low, Some(&alarm(Some(1.0e6)))).unwrap_err();
        assert!(why.contains("in 0 of the datapoints"), "{why}");
        // A real breach of long ago, replayed.
        let mut old = claim(Some(vec![point("2026-11-19T12:05:00Z", 9.12e9)]));
        old.changed_at = Some(at("2026-11-20T12:10:00Z"));
        let why = verdict(
            &old,
            Some(&with(|a| {
                a.metric = vec![(at("2026-11-19T12:05:00Z"), Some(9.12e9))]
            })),
        )
        .unwrap_err();
        assert!(
            why.contains("outside the alarm's evaluation window"),
            "{why}"
        );
    }

    #[test]
    fn a_change_with_no_time_is_not_proof() {
        let mut timeless = genuine();
        timeless.changed_at = None;
        let why = verdict(&timeless, Some(&alarm(Some(9.12e9)))).unwrap_err();
        assert!(why.contains("no time of change"), "{why}");
    }

    #[test]
    fn the_alarm_must_exist_be_alarm_watch_ec2s_metric_of_that_instance() {
        let cases: Vec<(AlarmLookup, &str)> = vec![
            (AlarmLookup::Missing, "does not exist now"),
            (
                AlarmLookup::Unreadable("AccessDenied".into()),
                "could not be read",
            ),
            (with(|a| a.state = "OK".into()), "is OK now"),
            (with(|a| a.math = true), "metric-math"),
            (
                with(|a| a.namespace = Some("Custom/Exfil".into())),
                "not EC2's own",
            ),
            (
                with(|a| a.dimensions = vec![("InstanceId".into(), "i-other".into())]),
                "watches instance i-other",
            ),
            (with(|a| a.dimensions.clear()), "watches no instance"),
            (with(|a| a.statistic = None), "percentile"),
            (
                with(|a| a.comparison = Some("LessThanLowerOrGreaterThanUpperThreshold".into())),
                "cannot be checked",
            ),
            (
                with(|a| a.datapoints_to_alarm = Some(3)),
                "fewer than the 3",
            ),
        ];
        for (lookup, expected) in cases {
            let why = verdict(&genuine(), Some(&lookup)).unwrap_err();
            assert!(why.contains(expected), "{expected}: {why}");
        }
        assert!(verdict(&genuine(), None).is_err());
    }
}
