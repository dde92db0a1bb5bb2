//! The detail of an "AWS Insight via CloudTrail" event: unusual API call or error rates.
//! Not typed in `aws_lambda_events`, so ours.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InsightEvent {
    #[serde(default, rename = "eventID")]
    pub event_id: Option<String>,
    #[serde(default)]
    pub event_time: Option<String>,
    #[serde(default)]
    pub aws_region: Option<String>,
    /// Shared by an Insight's start and end events.
    #[serde(default, rename = "sharedEventID")]
    pub shared_event_id: Option<String>,
    pub insight_details: InsightDetails,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InsightDetails {
    /// `Start` or `End`.
    pub state: String,
    pub event_source: String,
    pub event_name: String,
    /// `ApiCallRateInsight` or `ApiErrorRateInsight`.
    pub insight_type: String,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub insight_context: InsightContext,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InsightContext {
    #[serde(default)]
    pub statistics: Option<Statistics>,
    #[serde(default)]
    pub attributions: Vec<Attribution>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    #[serde(default)]
    pub baseline: Option<Average>,
    #[serde(default)]
    pub insight: Option<Average>,
    /// Minutes.
    #[serde(default)]
    pub insight_duration: Option<f64>,
    #[serde(default)]
    pub baseline_duration: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
pub struct Average {
    #[serde(default)]
    pub average: f64,
}

/// Who or what drove the unusual activity: `userIdentityArn`, `userAgent` or `errorCode`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    pub attribute: String,
    #[serde(default)]
    pub insight: Vec<Contributor>,
    #[serde(default)]
    pub baseline: Vec<Contributor>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Contributor {
    pub value: String,
    #[serde(default)]
    pub average: f64,
}

impl InsightEvent {
    pub fn is_start(&self) -> bool {
        self.insight_details.state.eq_ignore_ascii_case("start")
    }

    pub fn is_error_rate(&self) -> bool {
        self.insight_details.insight_type == "ApiErrorRateInsight"
    }

    /// `s3:DeleteBucket` from `s3.amazonaws.com` and `DeleteBucket`.
    pub fn api(&self) -> String {
        let d = &self.insight_details;
        let service = d.event_source.split('.').next().unwrap_or(&d.event_source);
        format!("{service}:{}", d.event_name)
    }

    /// The top contributors (by average during the Insight) for one attribute.
    pub fn top(&self, attribute: &str, n: usize) -> Vec<&Contributor> {
        let mut list: Vec<&Contributor> = self
            .insight_details
            .insight_context
            .attributions
            .iter()
            .filter(|a| a.attribute == attribute)
            .flat_map(|a| a.insight.iter())
            .collect();
        list.sort_by(|a, b| b.average.total_cmp(&a.average));
        list.truncate(n);
        list
    }
}
