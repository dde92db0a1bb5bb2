//! What a backtest found, counted per worker and merged at the end; its text and JSON forms.
//!
//! Every count is exact except the top actors and resources: those are bounded heavy-hitter
//! counters (Space-Saving), so a million distinct actors take no more memory than a few.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use reflex_shared::report::one_line;
use serde_json::{Value, json};

/// How many paths or records each reason names as examples.
pub const EXAMPLES: usize = 5;
/// How many of the most frequent actors and resources the summary shows per rule.
const TOP: usize = 5;
/// How many candidates a heavy-hitter counter tracks (more than shown, for accuracy).
const TRACKED: usize = 64;

/// The most frequent keys of a stream, with memory bounded by [`TRACKED`] whatever the number
/// of distinct keys (Space-Saving: a new key replaces the least counted one and inherits its
/// count, so a count may be over by at most that inherited amount; exact while fewer than
/// `TRACKED` distinct keys were seen).
#[derive(Debug, Clone, Default)]
pub struct TopN {
    counts: HashMap<String, u64>,
}

impl TopN {
    pub fn add(&mut self, key: &str, n: u64) {
        if let Some(count) = self.counts.get_mut(key) {
            *count += n;
            return;
        }
        if self.counts.len() >= TRACKED {
            let Some((least, count)) = self
                .counts
                .iter()
                .min_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(k, c)| (k.clone(), *c))
            else {
                return;
            };
            self.counts.remove(&least);
            self.counts.insert(key.to_string(), count + n);
        } else {
            self.counts.insert(key.to_string(), n);
        }
    }

    pub fn merge(&mut self, other: TopN) {
        for (key, n) in other.counts {
            self.add(&key, n);
        }
    }

    /// The most frequent first (ties by name).
    pub fn top(&self) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self.counts.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        all.truncate(TOP);
        all
    }
}

/// Counts by reason, with the first few examples of each.
#[derive(Debug, Clone, Default)]
pub struct Reasons {
    pub by_reason: BTreeMap<String, (u64, Vec<String>)>,
}

impl Reasons {
    pub fn add(&mut self, reason: &str, example: impl FnOnce() -> String) {
        let entry = self.by_reason.entry(reason.to_string()).or_default();
        entry.0 += 1;
        if entry.1.len() < EXAMPLES {
            entry.1.push(example());
        }
    }

    pub fn merge(&mut self, other: Reasons) {
        for (reason, (n, examples)) in other.by_reason {
            let entry = self.by_reason.entry(reason).or_default();
            entry.0 += n;
            entry.1.extend(examples);
            entry.1.sort();
            entry.1.truncate(EXAMPLES);
        }
    }

    pub fn total(&self) -> u64 {
        self.by_reason.values().map(|(n, _)| n).sum()
    }

    fn to_json(&self) -> Value {
        self.by_reason
            .iter()
            .map(|(reason, (n, examples))| {
                (reason.clone(), json!({ "count": n, "examples": examples }))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// One rule's findings (a function's rule id, such as revoke's `attach-admin-policy`).
#[derive(Debug, Clone, Default)]
pub struct RuleCounts {
    /// Findings by mode: `enforce`, `dry-run`, `off`.
    pub by_mode: BTreeMap<&'static str, u64>,
    /// Steps that would run (in enforce or dry-run mode), and steps held back by a guard.
    pub would_act: u64,
    pub held_back: u64,
    pub actors: TopN,
    pub resources: TopN,
}

impl RuleCounts {
    fn merge(&mut self, other: RuleCounts) {
        for (mode, n) in other.by_mode {
            *self.by_mode.entry(mode).or_default() += n;
        }
        self.would_act += other.would_act;
        self.held_back += other.held_back;
        self.actors.merge(other.actors);
        self.resources.merge(other.resources);
    }

    fn findings(&self) -> u64 {
        self.by_mode.values().sum()
    }
}

/// Everything counted over the files one worker read; merged into one at the end.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Files read to their end, and bytes (on disk, and decompressed).
    pub files_read: u64,
    pub bytes: u64,
    pub decompressed: u64,
    /// Files left out by the filters from their path alone (never opened).
    pub files_filtered: u64,
    /// Files not read, or not to their end, by reason.
    pub files_skipped: Reasons,
    /// Records parsed, including those then skipped or filtered out.
    pub records: u64,
    pub records_skipped: Reasons,
    /// Records left out by `--since`/`--until`/`--account`/`--region`, by filter.
    pub filtered: BTreeMap<&'static str, u64>,
    /// Records that some rule routes to a function, per EventBridge rule.
    pub routed: u64,
    pub by_route: BTreeMap<String, u64>,
    /// Per function: `(function, rule id)`.
    pub rules: BTreeMap<(String, String), RuleCounts>,
    /// Reports that would have been sent, by severity (`none` for a report without findings).
    pub reports: BTreeMap<String, u64>,
}

impl Summary {
    pub fn merge(&mut self, other: Summary) {
        self.files_read += other.files_read;
        self.bytes += other.bytes;
        self.decompressed += other.decompressed;
        self.files_filtered += other.files_filtered;
        self.files_skipped.merge(other.files_skipped);
        self.records += other.records;
        self.records_skipped.merge(other.records_skipped);
        for (filter, n) in other.filtered {
            *self.filtered.entry(filter).or_default() += n;
        }
        self.routed += other.routed;
        for (route, n) in other.by_route {
            *self.by_route.entry(route).or_default() += n;
        }
        for (key, counts) in other.rules {
            self.rules.entry(key).or_default().merge(counts);
        }
        for (severity, n) in other.reports {
            *self.reports.entry(severity).or_default() += n;
        }
    }

    /// Whether any rule would act or any report would go out (exit code 2).
    pub fn found(&self) -> bool {
        self.rules.values().any(|r| r.would_act > 0) || self.reports.values().any(|n| *n > 0)
    }

    pub fn to_json(&self, seconds: f64) -> Value {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|((function, rule), c)| {
                let top = |t: &TopN| -> Vec<Value> {
                    t.top()
                        .into_iter()
                        .map(|(k, n)| json!({ "name": k, "count": n }))
                        .collect()
                };
                json!({
                    "function": function, "rule": rule, "findings": c.findings(),
                    "by_mode": c.by_mode, "would_act_steps": c.would_act,
                    "held_back_steps": c.held_back,
                    "top_actors": top(&c.actors), "top_resources": top(&c.resources),
                })
            })
            .collect();
        json!({
            "type": "summary",
            "files": {
                "read": self.files_read,
                "skipped": self.files_skipped.total(),
                "filtered": self.files_filtered,
                "skipped_by_reason": self.files_skipped.to_json(),
            },
            "bytes": self.bytes,
            "decompressed_bytes": self.decompressed,
            "records": {
                "read": self.records,
                "skipped": self.records_skipped.total(),
                "skipped_by_reason": self.records_skipped.to_json(),
                "filtered": self.filtered,
                "routed": self.routed,
            },
            "routes": self.by_route,
            "rules": rules,
            "reports": self.reports,
            "seconds": seconds,
        })
    }

    /// The summary for people.
    pub fn text(&self, seconds: f64) -> String {
        let mut out = String::new();
        let rate = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
        let _ = writeln!(
            out,
            "Read {} files ({}, {} decompressed), {} records in {:.1}s ({:.0} records/s, {:.1} MB/s).",
            self.files_read,
            megabytes(self.bytes),
            megabytes(self.decompressed),
            self.records,
            seconds,
            rate(self.records as f64),
            rate(self.bytes as f64) / 1e6,
        );
        if self.files_filtered > 0 || !self.filtered.is_empty() {
            let by: Vec<String> = self
                .filtered
                .iter()
                .map(|(f, n)| format!("{n} by {f}"))
                .collect();
            let _ = writeln!(
                out,
                "Left out by the filters: {} files by their path, records: {}.",
                self.files_filtered,
                if by.is_empty() {
                    "none".into()
                } else {
                    by.join(", ")
                }
            );
        }
        let _ = writeln!(
            out,
            "Routed to a function: {} records{}",
            self.routed,
            if self.by_route.is_empty() { "." } else { ":" }
        );
        for (route, n) in &self.by_route {
            let _ = writeln!(out, "  {n:>10}  {}", one_line(route));
        }
        let _ = writeln!(out);
        if self.rules.is_empty() {
            let _ = writeln!(out, "No rule found anything.");
        } else {
            let _ = writeln!(out, "Findings per rule:");
            for ((function, rule), c) in &self.rules {
                let modes: Vec<String> =
                    c.by_mode.iter().map(|(m, n)| format!("{n} {m}")).collect();
                let _ = writeln!(
                    out,
                    "  {function} {rule}: {} findings ({}), {} steps would run, {} held back",
                    c.findings(),
                    modes.join(", "),
                    c.would_act,
                    c.held_back
                );
                let list = |t: &TopN| -> String {
                    let top: Vec<String> = t
                        .top()
                        .iter()
                        .map(|(k, n)| format!("{} ({n})", one_line(k)))
                        .collect();
                    if top.is_empty() {
                        "-".into()
                    } else {
                        top.join(", ")
                    }
                };
                let _ = writeln!(out, "      top actors:    {}", list(&c.actors));
                let _ = writeln!(out, "      top resources: {}", list(&c.resources));
            }
        }
        let _ = writeln!(out);
        let reports: u64 = self.reports.values().sum();
        let by: Vec<String> = self
            .reports
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let _ = writeln!(
            out,
            "Reports that would have been sent: {reports}{}",
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            }
        );
        for (what, reasons) in [
            ("Files skipped", &self.files_skipped),
            ("Records skipped", &self.records_skipped),
        ] {
            let _ = writeln!(out, "{what}: {}", reasons.total());
            for (reason, (n, examples)) in &reasons.by_reason {
                let _ = writeln!(out, "  {n:>10}  {}", one_line(reason));
                for example in examples {
                    let _ = writeln!(out, "              {}", one_line(example));
                }
            }
        }
        out
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_hitters_stay_bounded_and_find_the_frequent() {
        let mut top = TopN::default();
        for i in 0..100_000 {
            top.add(&format!("actor-{i}"), 1);
            if i % 10 == 0 {
                top.add("mallory", 1);
            }
        }
        assert!(top.counts.len() <= TRACKED);
        assert_eq!(top.top()[0].0, "mallory");
    }

    #[test]
    fn counts_merge_exactly() {
        let mut a = Summary {
            records: 3,
            ..Summary::default()
        };
        a.records_skipped.add("x", || "p1".into());
        let mut b = Summary {
            records: 4,
            ..Summary::default()
        };
        b.records_skipped.add("x", || "p0".into());
        a.merge(b);
        assert_eq!(a.records, 7);
        assert_eq!(
            a.records_skipped.by_reason["x"],
            (2, vec!["p0".into(), "p1".into()])
        );
    }

    #[test]
    fn names_from_the_logs_stay_on_their_line_and_send_no_terminal_codes() {
        // An actor, a resource and a file name as anyone who can write a log file or name a
        // user may choose them: a line break that fakes a summary line, an ANSI escape.
        let fake = "mallory\nReports that would have been sent: 0\u{1b}[2J";
        let mut summary = Summary::default();
        let mut counts = RuleCounts::default();
        counts.actors.add(fake, 1);
        counts.resources.add(fake, 1);
        summary
            .rules
            .insert(("revoke".into(), "revoke.rule".into()), counts);
        summary.files_skipped.add("not JSON", || fake.into());
        let text = summary.text(1.0);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("Reports that would have been sent"))
                .count(),
            1,
            "{text}"
        );
        assert_eq!(text.matches("mallory\\nReports").count(), 3, "{text}");
    }
}
