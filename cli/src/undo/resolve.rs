//! Which ledger entries an id names, and what `reflex undo` does with each: undo a remediation,
//! redo one (the undo of an undo), or nothing, and why (already undone, changed nothing).

use reflex_shared::ledger::{Entry, EntryKind, Ledger};
use reflex_shared::report::ActionReport;
use reflex_shared::target::Target;

use super::dispatch::{self, Op, Planned};

/// What an id names.
pub struct Found {
    pub jobs: Vec<Job>,
    /// Entries left as they are, and why.
    pub settled: Vec<Settled>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Settled {
    pub entry: String,
    pub why: String,
}

/// One undo or redo to plan and carry out.
pub struct Job {
    pub op: Op,
    pub function: String,
    pub event_id: String,
    pub rule_id: String,
    pub summary: String,
    /// The entry taken back: the remediation (undo) or the undo (redo).
    pub undoes: String,
    /// The remediation.
    pub original: String,
    /// The remediation's recorded steps (from its latest redo, if it was carried out again).
    pub steps: Vec<ActionReport>,
    recorded_at: (Option<String>, Option<String>),
    /// Where to act, and a note when the entry did not record it.
    pub target: Target,
    pub target_note: Option<String>,
    pub plan: Vec<Planned>,
}

impl Job {
    /// Whether the plan changes anything.
    pub fn acts(&self) -> bool {
        self.plan.iter().any(Planned::is_change)
    }

    /// The job with its plan and where it acts (`home` when the entry does not say).
    pub fn planned(mut self, home: &Target) -> Result<Self, String> {
        self.plan = dispatch::plan(&self.function, self.op, &self.steps)?;
        let (account, region) = self.recorded_at.clone();
        self.target = Target::new(
            account.as_deref().unwrap_or(&home.account),
            region.as_deref().unwrap_or(&home.region),
        );
        if account.is_none() || region.is_none() {
            self.target_note = Some(format!(
                "the entry does not record where it acted (recorded before Reflex kept it): \
                 acting in {}, the credentials' own",
                self.target
            ));
        }
        Ok(self)
    }
}

fn ledger_error(ledger: &Ledger, e: reflex_shared::ledger::LedgerError) -> String {
    format!("cannot read ledger {}: {}", ledger.table(), e.why)
}

/// The entries `id` names (an entry id, or an event id: each rule's remediation of the event).
pub async fn jobs(ledger: &Ledger, id: &str) -> Result<Found, String> {
    let entries = match ledger
        .entry(id)
        .await
        .map_err(|e| ledger_error(ledger, e))?
    {
        Some(entry) => vec![entry],
        None => ledger
            .remediations_of_event(id)
            .await
            .map_err(|e| ledger_error(ledger, e))?,
    };
    if entries.is_empty() {
        return Err(format!(
            "no ledger entry or event `{id}` in table {}: `reflex undo --list` shows the ids",
            ledger.table()
        ));
    }
    let mut found = Found {
        jobs: Vec::new(),
        settled: Vec::new(),
    };
    for entry in entries {
        match job_for(ledger, entry).await? {
            Ok(job) => found.jobs.push(job),
            Err(settled) => found.settled.push(settled),
        }
    }
    Ok(found)
}

fn settled(entry: &Entry, why: impl Into<String>) -> Result<Result<Job, Settled>, String> {
    Ok(Err(Settled {
        entry: entry.id.clone(),
        why: why.into(),
    }))
}

async fn must_read(ledger: &Ledger, id: &str, what: &str) -> Result<Entry, String> {
    ledger
        .entry(id)
        .await
        .map_err(|e| ledger_error(ledger, e))?
        .ok_or_else(|| format!("the ledger names {what} {id}, which is not in it"))
}

/// The steps a remediation's undo takes back: its latest redo's, else its own.
async fn latest_steps(ledger: &Ledger, remediation: &Entry) -> Result<Vec<ActionReport>, String> {
    let entry = match &remediation.redone_by {
        Some(redo) => must_read(ledger, redo, "the redo").await?,
        None => remediation.clone(),
    };
    entry
        .steps
        .clone()
        .map_err(|why| format!("entry {}: {why}", entry.id))
}

async fn job_for(ledger: &Ledger, entry: Entry) -> Result<Result<Job, Settled>, String> {
    match entry.kind {
        EntryKind::Remediation => undo_job(ledger, entry).await,
        // A redo is the remediation carried out again: undoing it undoes the remediation.
        EntryKind::Redo => {
            let original = entry.original.clone().unwrap_or_default();
            let remediation = must_read(ledger, &original, "the remediation").await?;
            if remediation.redone_by.as_deref() != Some(entry.id.as_str()) {
                return settled(
                    &entry,
                    format!("a later entry superseded this redo: undo {original} instead"),
                );
            }
            undo_job(ledger, remediation).await
        }
        EntryKind::Undo => redo_job(ledger, entry).await,
    }
}

async fn undo_job(ledger: &Ledger, entry: Entry) -> Result<Result<Job, Settled>, String> {
    if entry.state != "done" {
        return settled(
            &entry,
            format!(
                "the remediation is not finished (its state is `{}`): undo it once it is",
                entry.state
            ),
        );
    }
    if let Some(by) = &entry.undone_by {
        return settled(&entry, format!("already undone by {by}: nothing changed"));
    }
    let steps = latest_steps(ledger, &entry).await?;
    if !steps.iter().any(|s| s.outcome.status() == "done") {
        return settled(&entry, "the remediation changed nothing: nothing to undo");
    }
    Ok(Ok(Job {
        op: Op::Undo,
        function: entry.function.clone(),
        event_id: entry.event_id.clone(),
        rule_id: entry.rule_id.clone(),
        summary: entry.summary.clone(),
        undoes: entry.id.clone(),
        original: entry.id.clone(),
        steps,
        recorded_at: (entry.account.clone(), entry.region.clone()),
        target: Target::new("", ""),
        target_note: None,
        plan: Vec::new(),
    }))
}

/// The undo of an undo: the remediation's steps that the undo took back, carried out again.
async fn redo_job(ledger: &Ledger, undo: Entry) -> Result<Result<Job, Settled>, String> {
    if let Some(by) = &undo.undone_by {
        return settled(
            &undo,
            format!(
                "already undone by {by} (the remediation was carried out again): nothing changed"
            ),
        );
    }
    let original = undo.original.clone().unwrap_or_default();
    let remediation = must_read(ledger, &original, "the remediation").await?;
    if remediation.undone_by.as_deref() != Some(undo.id.as_str()) {
        return settled(
            &undo,
            format!("remediation {original} is not undone by this entry now: nothing to redo"),
        );
    }
    let taken_back: Vec<String> = undo
        .steps
        .as_ref()
        .map_err(|why| format!("entry {}: {why}", undo.id))?
        .iter()
        .filter(|s| s.outcome.is_done())
        .map(|s| s.step.clone())
        .collect();
    let steps: Vec<ActionReport> = latest_steps(ledger, &remediation)
        .await?
        .into_iter()
        .filter(|s| taken_back.contains(&s.step))
        .collect();
    if steps.is_empty() {
        return settled(&undo, "the undo took nothing back: nothing to redo");
    }
    Ok(Ok(Job {
        op: Op::Redo,
        function: remediation.function.clone(),
        event_id: remediation.event_id.clone(),
        rule_id: remediation.rule_id.clone(),
        summary: remediation.summary.clone(),
        undoes: undo.id.clone(),
        original,
        steps,
        recorded_at: (remediation.account.clone(), remediation.region.clone()),
        target: Target::new("", ""),
        target_note: None,
        plan: Vec::new(),
    }))
}
