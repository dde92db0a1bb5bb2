//! The detail of a "CloudWatch Alarm State Change" event: metric, metric-math and composite alarms.
//!
//! Our own type rather than `aws_lambda_events`' `CloudWatchAlarmData`: its metric definition
//! requires `metricStat`, which metric-math alarms do not have, and CloudWatch's timestamps
//! (`2026-11-20T10:40:00.125+0000`) are kept as text and parsed leniently here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::report::one_line;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmStateValue {
    Ok,
    Alarm,
    InsufficientData,
}

impl std::fmt::Display for AlarmStateValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlarmStateValue::Ok => "OK",
            AlarmStateValue::Alarm => "ALARM",
            AlarmStateValue::InsufficientData => "INSUFFICIENT_DATA",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmState {
    pub value: AlarmStateValue,
    #[serde(default)]
    pub reason: String,
    /// A JSON document, as a string.
    #[serde(default)]
    pub reason_data: Option<String>,
    pub timestamp: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmStateChange {
    pub alarm_name: String,
    pub state: AlarmState,
    #[serde(default)]
    pub previous_state: Option<AlarmState>,
    #[serde(default)]
    pub configuration: Value,
    /// Present when the alarm propagates its tags into events.
    #[serde(default)]
    pub alarm_tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmKind {
    Metric,
    MetricMath,
    Composite,
}

/// The metric's latest value against the threshold, from the state's reason data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observation {
    pub value: f64,
    pub threshold: f64,
}

impl AlarmStateChange {
    pub fn kind(&self) -> AlarmKind {
        if self.configuration.get("alarmRule").is_some() {
            return AlarmKind::Composite;
        }
        let math = self.metrics().iter().any(|m| m.get("metricStat").is_none());
        if math {
            AlarmKind::MetricMath
        } else {
            AlarmKind::Metric
        }
    }

    fn metrics(&self) -> Vec<&Value> {
        self.configuration
            .get("metrics")
            .and_then(Value::as_array)
            .map(|m| m.iter().collect())
            .unwrap_or_default()
    }

    /// A dimension of any metric the alarm watches, e.g. `AutoScalingGroupName`.
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.metrics().into_iter().find_map(|m| {
            m.pointer("/metricStat/metric/dimensions")?
                .get(name)?
                .as_str()
        })
    }

    /// The name of the metric (metric alarms) or the returned expression (metric math).
    pub fn metric_label(&self) -> Option<String> {
        let metrics = self.metrics();
        let returned = metrics
            .iter()
            .find(|m| m.get("returnData").and_then(Value::as_bool) == Some(true))
            .or(metrics.first())?;
        if let Some(name) = returned
            .pointer("/metricStat/metric/name")
            .and_then(Value::as_str)
        {
            return Some(name.to_string());
        }
        returned
            .get("expression")
            .and_then(Value::as_str)
            .map(|e| format!("expression {e}"))
    }

    /// When the alarm entered its current state.
    pub fn state_time(&self) -> Option<DateTime<Utc>> {
        parse_time(&self.state.timestamp)
    }

    /// The latest evaluated value and the threshold, when CloudWatch included them.
    pub fn observation(&self) -> Option<Observation> {
        let data: Value = serde_json::from_str(self.state.reason_data.as_deref()?).ok()?;
        let threshold = data.get("threshold")?.as_f64()?;
        let value = data
            .get("recentDatapoints")
            .and_then(Value::as_array)
            .and_then(|d| d.last())
            .and_then(Value::as_f64)?;
        Some(Observation { value, threshold })
    }

    /// What drove the change, for people, on one line: the metric's value against the
    /// threshold, or the alarms that triggered a composite alarm.
    pub fn cause(&self) -> String {
        let cause = match self.kind() {
            AlarmKind::Composite => {
                let triggers = self.triggering_alarms();
                if triggers.is_empty() {
                    "composite alarm".to_string()
                } else {
                    format!("composite alarm, triggered by {}", triggers.join(", "))
                }
            }
            _ => {
                let metric = self.metric_label().unwrap_or_else(|| "metric".into());
                match self.observation() {
                    Some(o) => format!("{metric} {} against threshold {}", o.value, o.threshold),
                    None => metric,
                }
            }
        };
        // A metric-math expression is whatever the alarm's author wrote.
        one_line(&cause).into_owned()
    }

    /// One line for people: "alarm web-cpu-high is ALARM: CPUUtilization 91.2 against
    /// threshold 80 (Threshold Crossed: ...)". The reason stays on it: `SetAlarmState` lets
    /// anyone allowed to call it write any text there, line breaks included.
    pub fn explain(&self) -> String {
        format!(
            "alarm {} is {}: {} ({})",
            one_line(&self.alarm_name),
            self.state.value,
            self.cause(),
            one_line(&self.state.reason)
        )
    }

    /// The alarms that made a composite alarm change state.
    pub fn triggering_alarms(&self) -> Vec<String> {
        let Some(data) = self
            .state
            .reason_data
            .as_deref()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
        else {
            return Vec::new();
        };
        data.get("triggeringAlarms")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|a| a.get("arn")?.as_str())
                    .map(|arn| arn.rsplit(':').next().unwrap_or(arn).to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// CloudWatch writes `+0000`; RFC 3339 wants `+00:00`. Accept both.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alarm(configuration: Value, reason_data: Option<&str>) -> AlarmStateChange {
        serde_json::from_value(json!({
            "alarmName": "web-cpu-high",
            "state": {"value": "ALARM", "reason": "Threshold Crossed", "reasonData": reason_data,
                      "timestamp": "2026-11-20T10:40:00.125+0000"},
            "configuration": configuration
        }))
        .unwrap()
    }

    #[test]
    fn metric_alarms_expose_dimensions_values_and_time() {
        let a = alarm(
            json!({"metrics": [{"id": "m1", "returnData": true, "metricStat": {"metric": {
                "namespace": "AWS/EC2", "name": "CPUUtilization", "dimensions": {"AutoScalingGroupName": "web"}},
                "period": 300, "stat": "Average"}}]}),
            Some(r#"{"threshold": 80.0, "recentDatapoints": [70.0, 91.2]}"#),
        );
        assert_eq!(a.kind(), AlarmKind::Metric);
        assert_eq!(a.dimension("AutoScalingGroupName"), Some("web"));
        assert_eq!(a.metric_label().as_deref(), Some("CPUUtilization"));
        assert_eq!(
            a.observation(),
            Some(Observation {
                value: 91.2,
                threshold: 80.0
            })
        );
        assert_eq!(
            a.state_time().unwrap().to_rfc3339(),
            "2026-11-20T10:40:00.125+00:00"
        );
    }

    #[test]
    fn metric_math_alarms_have_no_metric_stat_and_still_parse() {
        let a = alarm(
            json!({"metrics": [
                {"id": "e1", "expression": "m1 / m2 * 100", "label": "error rate", "returnData": true},
                {"id": "m1", "returnData": false, "metricStat": {"metric": {"namespace": "AWS/ApplicationELB",
                    "name": "HTTPCode_Target_5XX_Count", "dimensions": {"AutoScalingGroupName": "web"}}, "period": 60, "stat": "Sum"}}
            ]}),
            None,
        );
        assert_eq!(a.kind(), AlarmKind::MetricMath);
        assert_eq!(
            a.metric_label().as_deref(),
            Some("expression m1 / m2 * 100")
        );
        assert_eq!(a.dimension("AutoScalingGroupName"), Some("web"));
        assert_eq!(a.observation(), None);
    }

    #[test]
    fn an_explanation_is_one_line_whatever_the_reason_says() {
        let mut a = alarm(
            json!({"metrics": [{"id": "e1", "expression": "m1\n- scaled in: DONE", "returnData": true}]}),
            None,
        );
        a.state.reason = "set by hand\nFINDING scale.out [LOW]".into();
        assert_eq!(
            a.explain(),
            "alarm web-cpu-high is ALARM: expression m1\\n- scaled in: DONE (set by hand\\nFINDING scale.out [LOW])"
        );
    }

    #[test]
    fn composite_alarms_name_their_triggering_alarms() {
        let a = alarm(
            json!({"alarmRule": "ALARM(web-cpu-high) AND ALARM(web-disk-full)"}),
            Some(
                r#"{"triggeringAlarms": [{"arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu-high", "state": {"value": "ALARM", "timestamp": "2026-11-20T10:39:00.000+0000"}}]}"#,
            ),
        );
        assert_eq!(a.kind(), AlarmKind::Composite);
        assert_eq!(
            a.cause(),
            "composite alarm, triggered by web-cpu-high",
            "{}",
            a.explain()
        );
        assert_eq!(a.triggering_alarms(), vec!["web-cpu-high".to_string()]);
        assert_eq!(a.dimension("AutoScalingGroupName"), None);
    }
}
