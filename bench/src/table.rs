//! The suite's results: one row per figure, Reflex's beside its reference, printed as a table
//! and written as JSON.

use serde::Serialize;

use crate::stats::Summary;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: &'static str,
    pub figure: String,
    pub unit: &'static str,
    pub reflex: Option<Summary>,
    /// What the figure is read against: `hello-world lambda_runtime`, `Cloud Custodian 0.9.x`.
    pub reference_name: Option<String>,
    pub reference: Option<Summary>,
    /// How the medians compare, as the target states it (`2.1x`), if they do.
    pub ratio: Option<String>,
    pub target: Option<String>,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(section: &'static str, figure: impl Into<String>, unit: &'static str) -> Self {
        Self {
            section,
            figure: figure.into(),
            unit,
            reflex: None,
            reference_name: None,
            reference: None,
            ratio: None,
            target: None,
            met: None,
        }
    }

    pub fn reflex(mut self, values: &[f64]) -> Self {
        self.reflex = Summary::of(values);
        self
    }

    pub fn against(mut self, name: impl Into<String>, values: &[f64]) -> Self {
        self.reference_name = Some(name.into());
        self.reference = Summary::of(values);
        self
    }

    /// A target on the medians: `verdict(reflex, reference)` gives the ratio shown and whether
    /// it is met.
    pub fn target(
        mut self,
        target: impl Into<String>,
        verdict: impl Fn(f64, Option<f64>) -> (Option<String>, bool),
    ) -> Self {
        if let Some(ours) = self.reflex {
            let (ratio, met) = verdict(ours.median, self.reference.map(|r| r.median));
            self.ratio = ratio;
            self.met = Some(met);
        }
        self.target = Some(target.into());
        self
    }
}

impl Row {
    /// A limit on the worst value (the slowest of many samples), not the median.
    pub fn target_worst(mut self, target: impl Into<String>, limit: f64) -> Self {
        self.met = self.reflex.map(|s| s.max <= limit);
        self.target = Some(target.into());
        self
    }
}

/// `ours / reference` must be at most `limit` (init against the floor).
pub fn at_most_times(limit: f64) -> impl Fn(f64, Option<f64>) -> (Option<String>, bool) {
    move |ours, reference| match reference {
        Some(r) if r > 0.0 => (Some(format!("{:.2}x", ours / r)), ours / r <= limit),
        _ => (None, false),
    }
}

/// `reference / ours` must be at least `limit` (faster than a peer).
pub fn faster_by(limit: f64) -> impl Fn(f64, Option<f64>) -> (Option<String>, bool) {
    move |ours, reference| match reference {
        Some(r) if ours > 0.0 => (Some(format!("{:.1}x faster", r / ours)), r / ours >= limit),
        _ => (None, false),
    }
}

/// The median must be at most `limit` in the row's unit.
pub fn at_most(limit: f64) -> impl Fn(f64, Option<f64>) -> (Option<String>, bool) {
    move |ours, _| (None, ours <= limit)
}

fn value(summary: &Option<Summary>, unit: &str) -> String {
    let Some(s) = summary else {
        return "-".to_string();
    };
    let digits = match unit {
        "calls" | "rounds" => 0,
        "MB" | "ms" if s.median >= 100.0 => 0,
        "ms" | "MB" => 1,
        _ => 2,
    };
    if s.runs == 1 || s.min == s.max {
        format!("{:.*} {unit}", digits, s.median)
    } else {
        format!(
            "{:.*} {unit} ({:.*}–{:.*})",
            digits, s.median, digits, s.min, digits, s.max
        )
    }
}

/// The table as Markdown (it reads as well in a terminal as in the README).
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| figure | Reflex (median, min–max) | reference | ratio | target | met |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    let mut section = "";
    for row in rows {
        if row.section != section {
            section = row.section;
            out.push_str(&format!("| **{section}** | | | | | |\n"));
        }
        let reference = match (&row.reference_name, &row.reference) {
            (Some(name), r) => format!("{name}: {}", value(r, row.unit)),
            (None, _) => String::new(),
        };
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.figure,
            value(&row.reflex, row.unit),
            reference,
            row.ratio.as_deref().unwrap_or(""),
            row.target.as_deref().unwrap_or(""),
            met
        ));
    }
    out
}
