//! What `reflex undo` prints: text for people, one JSON document with `--json`.

use reflex_shared::ledger::{Entry, EntryKind, UndoRecord};
use serde_json::{Value, json};

use super::dispatch::{Op, Verdict};
use super::resolve::{Job, Settled};
use crate::exit::Output;

/// One line for people: the ledger's text (names, descriptions, reasons, all chosen at least in
/// part by whoever made the change) kept on its line by the shared report's `one_line`, so no
/// value starts a line of its own or sends a terminal control sequence.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", reflex_shared::report::one_line(&format!($($arg)*)))
    };
}

/// An undo or redo carried out. `recorded`: `false` when another undo of the same entry was
/// recorded meanwhile (its changes found things already back).
pub struct Made {
    pub record: UndoRecord,
    pub recorded: bool,
    /// A step failed for now: not recorded, to be finished by running the command again.
    pub unfinished: bool,
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Undo => "undo",
        Op::Redo => "redo",
    }
}

/// `--list`: the recent remediations (those that changed something), undos and redos.
pub fn list(output: &Output, entries: &[Entry], limit: usize) {
    let shown: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind != EntryKind::Remediation || e.changed_anything())
        .take(limit)
        .collect();
    if output.json {
        let items: Vec<Value> = shown
            .iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "kind": match e.kind {
                        EntryKind::Remediation => "remediation",
                        EntryKind::Undo => "undo",
                        EntryKind::Redo => "redo",
                    },
                    "function": e.function,
                    "rule": e.rule_id,
                    "event": e.event_id,
                    "when": e.finished_at,
                    "what": e.summary,
                    "account": e.account,
                    "region": e.region,
                    "undone_by": e.undone_by,
                    "undoes": e.undoes,
                    "steps": e.steps.as_ref().map(|s| s.iter().map(|s| json!({
                        "step": s.step, "description": s.description, "status": s.outcome.status(),
                    })).collect::<Vec<_>>()).unwrap_or_default(),
                })
            })
            .collect();
        println!("{}", json!({ "entries": items }));
        return;
    }
    if shown.is_empty() {
        say!("No remediation recorded in the ledger.");
        return;
    }
    for e in shown {
        let when = e
            .finished_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(
                || "unfinished".to_string(),
                |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            );
        let state = match (&e.kind, &e.undone_by) {
            (EntryKind::Remediation, Some(by)) => format!("  [undone by {by}]"),
            (EntryKind::Undo, Some(by)) => format!("  [redone by {by}]"),
            _ => String::new(),
        };
        match e.kind {
            EntryKind::Remediation => say!("{}{state}", e.id),
            _ => say!(
                "{}  {} of {}{state}",
                e.id,
                e.kind.as_str(),
                e.undoes.as_deref().unwrap_or("?")
            ),
        }
        say!("  {when}  {} / {}  {}", e.function, e.rule_id, e.summary);
        if let Ok(steps) = &e.steps {
            for s in steps.iter().filter(|s| s.outcome.is_done()) {
                say!("    - {} ({})", s.description, s.outcome.status());
            }
        }
    }
}

/// The plan, for people (JSON goes out once, at the end).
pub fn plan(output: &Output, settled: &[Settled], jobs: &[Job]) {
    if output.json {
        return;
    }
    for s in settled {
        say!("{}: {}", s.entry, s.why);
    }
    for job in jobs {
        let what = match job.op {
            Op::Undo => "Undo",
            Op::Redo => "Redo (the undo of an undo: the remediation again)",
        };
        say!(
            "{what} {} ({} / {}, event {}) in {}",
            job.undoes,
            job.function,
            job.rule_id,
            job.event_id,
            job.target
        );
        if !job.summary.is_empty() {
            say!("  what happened: {}", job.summary);
        }
        if let Some(note) = &job.target_note {
            say!("  note: {note}");
        }
        for (n, p) in job.plan.iter().enumerate() {
            match &p.verdict {
                Verdict::Change { change, .. } => say!("  {}. {change}", n + 1),
                Verdict::Refused { why } => {
                    say!("  {}. REFUSED: {} — {why}", n + 1, p.recorded)
                }
            }
        }
    }
}

fn plan_json(settled: &[Settled], jobs: &[Job]) -> (Value, Value) {
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "operation": op_name(j.op),
                "entry": j.undoes,
                "original": j.original,
                "function": j.function,
                "rule": j.rule_id,
                "event": j.event_id,
                "account": j.target.account,
                "region": j.target.region,
                "note": j.target_note,
                "plan": j.plan,
            })
        })
        .collect();
    (json!(settled), json!(jobs))
}

/// Nothing to do: every entry already undone, changed nothing, or every step refused.
pub fn nothing(output: &Output, id: &str, settled: &[Settled], jobs: &[Job]) {
    if output.json {
        let (settled, jobs) = plan_json(settled, jobs);
        println!(
            "{}",
            json!({ "id": id, "changed": false, "settled": settled, "planned": jobs, "made": [] })
        );
    } else {
        say!("Nothing to undo for {id}: nothing changed.");
    }
}

pub fn declined(output: &Output) {
    if output.json {
        println!("{}", json!({ "changed": false, "declined": true }));
    } else {
        say!("Not confirmed: nothing changed.");
    }
}

pub fn made(output: &Output, id: &str, settled: &[Settled], jobs: &[Job], made: &[Made]) {
    if output.json {
        let (settled, jobs) = plan_json(settled, jobs);
        let made: Vec<Value> = made
            .iter()
            .map(|m| {
                json!({
                    "id": m.record.id,
                    "operation": m.record.kind.as_str(),
                    "undoes": m.record.undoes,
                    "original": m.record.original,
                    "recorded": m.recorded,
                    "unfinished": m.unfinished,
                    "steps": m.record.steps,
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "id": id, "changed": true, "settled": settled, "planned": jobs, "made": made })
        );
        return;
    }
    for m in made {
        say!(
            "{} {} ({}):",
            if m.record.kind == EntryKind::Redo {
                "Redid"
            } else {
                "Undid"
            },
            m.record.undoes,
            m.record.id
        );
        for s in &m.record.steps {
            say!(
                "  {}: {} — {}",
                s.outcome.label(),
                s.description,
                s.outcome.explanation().unwrap_or("")
            );
        }
        if m.unfinished {
            say!(
                "  not finished: a step failed for now; nothing is recorded. Run the same command \
                 again to finish (what is already back stays as it is)"
            );
        } else if m.recorded {
            say!(
                "  recorded as {}; `reflex undo {}` takes it back",
                m.record.id,
                m.record.id
            );
        } else {
            say!(
                "  another undo of {} was recorded meanwhile: this one is not recorded",
                m.record.undoes
            );
        }
    }
}
