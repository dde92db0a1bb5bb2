//! One worker: files from the queue, each read record by record; each record converted,
//! filtered, routed by the template's rules and judged by each function it reaches, with no
//! AWS call. Each worker counts in its own summary (merged at the end) and writes its findings
//! as JSON lines in batches.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use reflex_shared::guard::Disposition;
use serde_json::{Value, json};

use super::conversion::{Filters, to_event};
use super::files::Job;
use super::progress::Counters;
use super::reading::{FileProblem, Item, read_file};
use super::summary::Summary;
use crate::judge::{AnyJudge, Judgement};
use crate::routes::Routes;

/// What every worker reads and nothing changes.
pub struct Shared<'a> {
    pub routes: &'a Routes,
    pub judges: &'a [Box<dyn AnyJudge>],
    pub filters: &'a Filters,
    pub max_record: usize,
    /// Write every finding as a JSON line on standard output.
    pub json: bool,
    pub counters: &'a Counters,
}

/// Findings written to standard output once this many bytes are batched.
const BATCH: usize = 64 * 1024;
/// Records counted locally before the shared counter is told.
const RECORDS_BATCH: u64 = 512;

/// Read files from `queue` until it is empty and closed.
pub fn work(shared: &Shared<'_>, queue: &Mutex<Receiver<Job>>) -> Summary {
    let mut worker = Worker {
        shared,
        summary: Summary::default(),
        lines: String::new(),
        uncounted: 0,
    };
    let mut scratch = Vec::new();
    loop {
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => break,
        };
        let Ok(job) = job else { break };
        worker.file(&job, &mut scratch);
    }
    worker.flush_lines();
    worker.count_records();
    worker.summary
}

struct Worker<'s, 'a> {
    shared: &'s Shared<'a>,
    summary: Summary,
    lines: String,
    uncounted: u64,
}

impl Worker<'_, '_> {
    fn file(&mut self, job: &Job, scratch: &mut Vec<u8>) {
        let shared = self.shared;
        let mut index = 0u64;
        let (info, result) = read_file(
            &job.path,
            job.layout,
            shared.max_record,
            &shared.counters.bytes,
            scratch,
            &mut |item| {
                index += 1;
                self.item(item, &job.path, index);
            },
        );
        self.summary.bytes += job.size;
        self.summary.decompressed += info.decompressed;
        match result {
            Ok(()) => self.summary.files_read += 1,
            Err(FileProblem { reason, detail }) => {
                self.summary
                    .files_skipped
                    .add(reason, || format!("{}: {detail}", job.path.display()));
            }
        }
        self.shared.counters.files.fetch_add(1, Ordering::Relaxed);
        self.count_records();
        if self.lines.len() >= BATCH {
            self.flush_lines();
        }
    }

    fn item(&mut self, item: Item, path: &Path, index: u64) {
        self.summary.records += 1;
        self.uncounted += 1;
        if self.uncounted >= RECORDS_BATCH {
            self.count_records();
        }
        let record = match item {
            Item::Record(record) => record,
            Item::NotJson(why) => {
                self.summary.records_skipped.add("not JSON (a line)", || {
                    format!("{} (line {index}): {why}", path.display())
                });
                return;
            }
        };
        let converted = match to_event(record) {
            Ok(converted) => converted,
            Err(why) => {
                self.summary
                    .records_skipped
                    .add(&why, || format!("{} (record {index})", path.display()));
                return;
            }
        };
        if let Err(filter) = self.shared.filters.admit(&converted) {
            *self.summary.filtered.entry(filter.as_str()).or_default() += 1;
            return;
        }
        // Owned names: the routing borrows the event, which parsing then consumes.
        let mut functions: Vec<String> = Vec::new();
        for rule in self.shared.routes.fired(&converted.event) {
            *self.summary.by_route.entry(rule.name.clone()).or_default() += 1;
            if let Some(function) = &rule.function
                && !functions.contains(function)
            {
                functions.push(function.clone());
            }
        }
        if functions.is_empty() {
            return;
        }
        self.summary.routed += 1;
        let event = match reflex_shared::event::parse(converted.event) {
            Ok(event) => event,
            Err(e) => {
                let reason = format!("routed, but not readable as an event ({})", e.error_type());
                self.summary.records_skipped.add(&reason, || {
                    format!("{} (record {index}): {e}", path.display())
                });
                return;
            }
        };
        for function in &functions {
            if let Some(judge) = self.shared.judges.iter().find(|j| j.name() == function) {
                let judgement = judge.offline(&event);
                self.tally(&judgement, path);
            }
        }
    }

    /// Count a function's judgement of one event, and write its findings with `--json`.
    fn tally(&mut self, judgement: &Judgement, path: &Path) {
        let report = &judgement.report;
        let notified = report.is_notifiable();
        if notified {
            let severity = report
                .severity()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "none".into());
            *self.summary.reports.entry(severity).or_default() += 1;
        }
        for (f, finding) in report.findings.iter().enumerate() {
            let counts = self
                .summary
                .rules
                .entry((report.function.clone(), finding.rule_id.clone()))
                .or_default();
            *counts.by_mode.entry(finding.mode.as_str()).or_default() += 1;
            let dispositions = judgement.dispositions.get(f).map(Vec::as_slice);
            for disposition in dispositions.unwrap_or_default() {
                match disposition {
                    Disposition::Run | Disposition::DryRun => counts.would_act += 1,
                    Disposition::Skip { .. } | Disposition::Exempt { .. } => counts.held_back += 1,
                }
            }
            counts.actors.add(&report.event.actor, 1);
            let mut resources: Vec<String> = judgement
                .resources
                .get(f)
                .map(|r| r.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            resources.dedup();
            for resource in &resources {
                counts.resources.add(resource, 1);
            }
            if self.shared.json {
                let steps: Vec<Value> = finding
                    .actions
                    .iter()
                    .map(|a| {
                        json!({
                            "step": a.step, "description": a.description,
                            "outcome": serde_json::to_value(&a.outcome).unwrap_or_default(),
                        })
                    })
                    .collect();
                let line = json!({
                    "type": "finding",
                    "event_id": report.event.id,
                    "time": report.event.time,
                    "account": report.event.account,
                    "region": report.event.region,
                    "what": report.event.what,
                    "function": report.function,
                    "rule": finding.rule_id,
                    "mode": finding.mode.as_str(),
                    "severity": finding.severity.to_string(),
                    "reason": finding.reason,
                    "actor": report.event.actor,
                    "resources": resources,
                    "steps": steps,
                    "status": report.status.as_str(),
                    "report_sent": notified,
                    "file": path.display().to_string(),
                });
                self.lines.push_str(&line.to_string());
                self.lines.push('\n');
            }
        }
    }

    fn count_records(&mut self) {
        self.shared
            .counters
            .records
            .fetch_add(self.uncounted, Ordering::Relaxed);
        self.uncounted = 0;
    }

    /// Write the batched findings; a closed standard output (`| head`) is not an error.
    fn flush_lines(&mut self) {
        if !self.lines.is_empty() {
            let _ = std::io::stdout().lock().write_all(self.lines.as_bytes());
            self.lines.clear();
        }
    }
}
