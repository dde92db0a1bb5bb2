//! The ledger's part in `reflex undo`: finding a remediation by its entry id or its event id,
//! and recording an undo (or the redo that an undo of an undo is) so that a second one of the
//! same entry changes nothing.
//!
//! - A remediation is a claim (`event#<event>#<rule>`, kind `claim`).
//! - An undo is an entry of its own (`undo#...`, kind `undo`): `undoes` and `original` name the
//!   remediation; the remediation gets `undone_by`. Both are written in one transaction, after
//!   the reversals ran, conditional on the remediation not being undone meanwhile.
//! - The undo of an undo is a redo (`redo#...`, kind `redo`): the remediation's recorded actions
//!   carried out again. The undo gets `undone_by`; the remediation loses its `undone_by` and
//!   gets `redone_by`, so it can be undone again, from the redo's recorded steps.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::{Ledger, LedgerError, fit, n, s, text};
use crate::report::ActionReport;

/// What a ledger entry is, for `reflex undo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A remediation: a claim of an event for a rule.
    Remediation,
    Undo,
    /// A remediation carried out again (the undo of an undo).
    Redo,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Remediation => "claim",
            EntryKind::Undo => "undo",
            EntryKind::Redo => "redo",
        }
    }
}

/// A ledger entry as `reflex undo` reads it. Every text in it may carry names an attacker chose.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The item's key: `event#<event>#<rule>`, `undo#...`, `redo#...`.
    pub id: String,
    pub kind: EntryKind,
    /// `done` once finished.
    pub state: String,
    pub function: String,
    pub event_id: String,
    pub rule_id: String,
    /// What happened, for people (the event's summary line).
    pub summary: String,
    pub finished_at: Option<String>,
    /// The recorded steps; `Err` with why when they cannot be read.
    pub steps: Result<Vec<ActionReport>, String>,
    /// Where the function acted, when recorded.
    pub account: Option<String>,
    pub region: Option<String>,
    /// The undo (or, for an undo, the redo) that took this entry back, if any.
    pub undone_by: Option<String>,
    /// For a remediation carried out again: the redo entry with its steps.
    pub redone_by: Option<String>,
    /// For an undo or a redo: the entry it took back, and the remediation it is about.
    pub undoes: Option<String>,
    pub original: Option<String>,
    /// Who ran an undo or a redo (the caller's ARN).
    pub by: Option<String>,
}

impl Entry {
    fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let kind = match text(item, "kind")?.as_str() {
            "claim" => EntryKind::Remediation,
            "undo" => EntryKind::Undo,
            "redo" => EntryKind::Redo,
            _ => return None,
        };
        let steps = match text(item, "steps") {
            None => Ok(Vec::new()),
            Some(steps) => serde_json::from_str(&steps)
                .map_err(|e| format!("the recorded steps are not readable: {e}")),
        };
        Some(Entry {
            id: text(item, "pk")?,
            kind,
            state: text(item, "state").unwrap_or_default(),
            function: text(item, "function").unwrap_or_default(),
            event_id: text(item, "event_id").unwrap_or_default(),
            rule_id: text(item, "rule_id").unwrap_or_default(),
            summary: text(item, "summary").unwrap_or_default(),
            finished_at: text(item, "finished_at"),
            steps,
            account: text(item, "account"),
            region: text(item, "region"),
            undone_by: text(item, "undone_by"),
            redone_by: text(item, "redone_by"),
            undoes: text(item, "undoes"),
            original: text(item, "original"),
            by: text(item, "by"),
        })
    }

    /// Whether any recorded step changed something (`done`).
    pub fn changed_anything(&self) -> bool {
        self.steps
            .as_ref()
            .is_ok_and(|steps| steps.iter().any(|s| s.outcome.status() == "done"))
    }
}

/// An undo or a redo to record, after its steps ran.
#[derive(Debug, Clone)]
pub struct UndoRecord {
    /// `undo#...` or `redo#...` (see [`UndoRecord::new_id`]).
    pub id: String,
    pub kind: EntryKind,
    /// The entry taken back: the remediation for an undo, the undo for a redo.
    pub undoes: String,
    /// The remediation the chain is about.
    pub original: String,
    pub function: String,
    pub event_id: String,
    pub rule_id: String,
    pub summary: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub by: Option<String>,
    pub steps: Vec<ActionReport>,
}

impl UndoRecord {
    /// A fresh id for an undo or a redo made at `now`: its kind, the time, and a number unique
    /// enough for one person's commands (the process id and the clock's nanoseconds).
    pub fn new_id(kind: EntryKind, now: DateTime<Utc>) -> String {
        let salt = now.timestamp_subsec_nanos() ^ std::process::id().rotate_left(16);
        format!(
            "{}#{}-{salt:08x}",
            kind.as_str(),
            now.format("%Y%m%dT%H%M%SZ")
        )
    }
}

impl Ledger {
    /// The entry with this id (its key), if any.
    pub async fn entry(&self, id: &str) -> Result<Option<Entry>, LedgerError> {
        Ok(self.get(id).await?.as_ref().and_then(Entry::from_item))
    }

    /// Every remediation, undo and redo, newest first (a scan: for people, not for the
    /// pipeline's hot path).
    pub async fn remediations(&self) -> Result<Vec<Entry>, LedgerError> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("kind IN (:claim, :undo, :redo)")
            .expression_attribute_values(":claim", s("claim"))
            .expression_attribute_values(":undo", s("undo"))
            .expression_attribute_values(":redo", s("redo"))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await?;
        let mut entries: Vec<Entry> = items.iter().filter_map(Entry::from_item).collect();
        entries.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then(a.id.cmp(&b.id)));
        Ok(entries)
    }

    /// The remediations of an event (one per rule that acted on it).
    pub async fn remediations_of_event(&self, event_id: &str) -> Result<Vec<Entry>, LedgerError> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("kind = :claim AND event_id = :event")
            .expression_attribute_values(":claim", s("claim"))
            .expression_attribute_values(":event", s(event_id))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await?;
        let mut entries: Vec<Entry> = items.iter().filter_map(Entry::from_item).collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    /// Record an undo or a redo that ran, and mark what it took back, in one transaction.
    /// `Ok(false)`: another undo of the same entry was recorded meanwhile (nothing written).
    ///
    /// - undo: the remediation (`undoes`) gets `undone_by`, if it has none.
    /// - redo: the undo (`undoes`) gets `undone_by`, if it has none; the remediation
    ///   (`original`) loses `undone_by` (which must still name that undo) and gets `redone_by`.
    pub async fn record_undo(
        &self,
        record: &UndoRecord,
        now: DateTime<Utc>,
    ) -> Result<bool, LedgerError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(&record.id))
            .item("kind", s(record.kind.as_str()))
            .item("state", s("done"))
            .item("function", s(&record.function))
            .item("event_id", s(&record.event_id))
            .item("rule_id", s(&record.rule_id))
            .item("summary", s(&record.summary))
            .item("undoes", s(&record.undoes))
            .item("original", s(&record.original))
            .item("steps", s(fit(&record.steps)))
            .item("claimed_at", s(now.to_rfc3339()))
            .item("finished_at", s(now.to_rfc3339()))
            .item("expires_at", n(now.timestamp() + self.ttl_seconds))
            .condition_expression("attribute_not_exists(pk)");
        for (key, value) in [
            ("account", &record.account),
            ("region", &record.region),
            ("by", &record.by),
        ] {
            if let Some(value) = value {
                put = put.item(key, s(value));
            }
        }
        let mark = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&record.undoes))
            .update_expression("SET undone_by = :id, undone_at = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(undone_by)")
            .expression_attribute_values(":id", s(&record.id))
            .expression_attribute_values(":now", s(now.to_rfc3339()));
        let built = |e: aws_sdk_dynamodb::error::BuildError| LedgerError {
            why: format!("the undo's record could not be built: {e}"),
            transient: false,
        };
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(put.build().map_err(built)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(mark.build().map_err(built)?)
                    .build(),
            );
        if record.kind == EntryKind::Redo {
            let redone = Update::builder()
                .table_name(&self.table)
                .key("pk", s(&record.original))
                .update_expression("REMOVE undone_by SET redone_by = :id, redone_at = :now")
                .condition_expression("undone_by = :undo")
                .expression_attribute_values(":id", s(&record.id))
                .expression_attribute_values(":undo", s(&record.undoes))
                .expression_attribute_values(":now", s(now.to_rfc3339()));
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .update(redone.build().map_err(built)?)
                    .build(),
            );
        }
        match transaction.send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let conditional = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                        _ => None,
                    })
                    .is_some_and(|c| {
                        c.cancellation_reasons()
                            .iter()
                            .any(|r| r.code() == Some("ConditionalCheckFailed"))
                    });
                if conditional {
                    Ok(false)
                } else {
                    Err(e.into())
                }
            }
        }
    }
}
