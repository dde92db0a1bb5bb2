//! The results: a table for people on stdout, a JSON file for machines.

use std::path::Path;

use serde::Serialize;

use crate::measure::Timing;
use crate::subject::{Stage, Verdict};

/// The per-event budget of the pure path (the target, in a release build).
pub const TARGET_NS: f64 = 20_000.0;

/// One (event, function) pair, measured.
pub struct Row {
    pub event: String,
    pub function: &'static str,
    pub verdict: Verdict,
    pub timing: Timing,
}

/// One pair measured up to one stage (`--phases`).
pub struct Phase {
    pub event: String,
    pub function: &'static str,
    pub stage: Stage,
    pub timing: Timing,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    events: Vec<JsonRow<'a>>,
    worst_median_ns: f64,
    /// `release` or `debug`: a debug build's figures say nothing about the target.
    profile: &'static str,
    quick: bool,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    event: &'a str,
    function: &'a str,
    median_ns: f64,
    min_ns: f64,
    max_ns: f64,
    findings: usize,
    status: String,
}

pub fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

pub fn worst(rows: &[Row]) -> Option<&Row> {
    rows.iter()
        .max_by(|a, b| a.timing.median_ns.total_cmp(&b.timing.median_ns))
}

pub fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|r| r.event.len()).max().unwrap_or(5).max(5);
    println!(
        "{:<width$}  {:<10}  {:<24}  {:>8}  {:>10}  {:>10}  {:>10}",
        "event", "function", "status", "findings", "median µs", "min µs", "max µs"
    );
    for row in rows {
        println!(
            "{:<width$}  {:<10}  {:<24}  {:>8}  {:>10.2}  {:>10.2}  {:>10.2}",
            row.event,
            row.function,
            row.verdict.status(),
            row.verdict.findings(),
            row.timing.median_ns / 1e3,
            row.timing.min_ns / 1e3,
            row.timing.max_ns / 1e3,
        );
    }
}

pub fn print_summary(rows: &[Row], quick: bool) {
    let Some(worst) = worst(rows) else {
        println!("no (event, function) pair measured");
        return;
    };
    let mut medians: Vec<f64> = rows.iter().map(|r| r.timing.median_ns).collect();
    medians.sort_by(f64::total_cmp);
    let verdict = match (cfg!(debug_assertions), worst.timing.median_ns <= TARGET_NS) {
        (true, _) => "a debug build, not comparable to",
        (false, true) => "within",
        (false, false) => "OVER",
    };
    println!(
        "\n{} pairs, {} build{}: median of medians {:.2} µs; worst median {:.2} µs ({} on {}): \
         {verdict} the {:.0} µs target",
        rows.len(),
        profile(),
        if quick { ", --quick" } else { "" },
        medians[medians.len() / 2] / 1e3,
        worst.timing.median_ns / 1e3,
        worst.function,
        worst.event,
        TARGET_NS / 1e3,
    );
}

/// Each pair's median up to each stage, and what the stage added to the one before (stages
/// past an early exit, such as a screened event, cost nothing more).
pub fn print_phases(phases: &[Phase]) {
    println!(
        "\n{:<60}  {:<10}  {:<10}  {:>12}  {:>10}",
        "event", "function", "up to", "median µs", "stage µs"
    );
    let mut before = 0.0;
    for phase in phases {
        if phase.stage == Stage::Json {
            before = 0.0;
        }
        let median = phase.timing.median_ns;
        println!(
            "{:<60}  {:<10}  {:<10}  {:>12.2}  {:>10.2}",
            phase.event,
            phase.function,
            phase.stage.name(),
            median / 1e3,
            (median - before) / 1e3,
        );
        before = median;
    }
}

pub fn write_json(path: &Path, rows: &[Row], quick: bool) -> Result<(), String> {
    let report = JsonReport {
        events: rows
            .iter()
            .map(|row| JsonRow {
                event: &row.event,
                function: row.function,
                median_ns: row.timing.median_ns,
                min_ns: row.timing.min_ns,
                max_ns: row.timing.max_ns,
                findings: row.verdict.findings(),
                status: row.verdict.status(),
            })
            .collect(),
        worst_median_ns: worst(rows).map_or(0.0, |w| w.timing.median_ns),
        profile: profile(),
        quick,
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}
