//! The remediation ledger: a DynamoDB table that makes handling exactly-once per event and rule,
//! and keeps an audit trail of what Reflex did, queryable after the fact.
//!
//! - `claim`: a conditional write keyed on event id and rule id. A redelivered event finds the
//!   claim and is reported as already handled. A claim whose run crashed (still `claimed` after
//!   the claim timeout) can be taken over.
//! - `record`: the outcome of each action, with the prior state needed to undo it.
//! - `load` / `store`: small JSON state documents with optimistic locking (e.g. per-group scaling
//!   state), so concurrent invocations cannot both act on stale state.
//!
//! Items expire through DynamoDB TTL on `expires_at`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::aws::error_text;
use crate::report::ActionReport;

pub const TABLE: &str = "REFLEX_LEDGER_TABLE";
pub const TTL_DAYS: &str = "REFLEX_LEDGER_TTL_DAYS";
pub const CLAIM_TIMEOUT: &str = "REFLEX_CLAIM_TIMEOUT_SECONDS";
pub const DEFAULT_TTL_DAYS: i64 = 90;
/// Longer than a Lambda invocation can run (15 minutes), so a live run is never taken over.
pub const DEFAULT_CLAIM_TIMEOUT_SECONDS: i64 = 960;

/// The result of claiming an event for a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    Acquired,
    /// An earlier delivery holds or finished it.
    Held {
        state: String,
        claimed_at: String,
        /// What the earlier delivery did, once it finished.
        recorded: Option<Vec<ActionReport>>,
    },
}

#[derive(Debug, Clone)]
pub struct Ledger {
    client: Client,
    table: String,
    ttl_seconds: i64,
    claim_timeout_seconds: i64,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn claim_key(event_id: &str, rule_id: &str) -> String {
    format!("event#{event_id}#{rule_id}")
}

fn is_conditional_failure<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

impl Ledger {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        ttl_days: i64,
        claim_timeout_seconds: i64,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            ttl_seconds: ttl_days * 86_400,
            claim_timeout_seconds,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Claim (event, rule) before acting.
    pub async fn claim(
        &self,
        event_id: &str,
        rule_id: &str,
        function: &str,
        summary: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, String> {
        let key = claim_key(event_id, rule_id);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&key))
            .item("kind", s("claim"))
            .item("state", s("claimed"))
            .item("function", s(function))
            .item("event_id", s(event_id))
            .item("rule_id", s(rule_id))
            .item("summary", s(summary))
            .item("claimed_at", s(now.to_rfc3339()))
            .item("claimed_epoch", n(now.timestamp()))
            .item("expires_at", n(now.timestamp() + self.ttl_seconds))
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :claimed AND claimed_epoch < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":stale", n(now.timestamp() - self.claim_timeout_seconds))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Acquired),
            Err(e) if is_conditional_failure(&e) => {
                let item = self.get(&key).await?.unwrap_or_default();
                let text = |k: &str| match item.get(k) {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                Ok(Claim::Held {
                    state: text("state"),
                    claimed_at: text("claimed_at"),
                    recorded: serde_json::from_str(&text("outcomes")).ok(),
                })
            }
            Err(e) => Err(error_text(&e)),
        }
    }

    /// Record what was done for a claimed (event, rule): each action with its outcome and the
    /// prior state needed to undo it.
    pub async fn record(
        &self,
        event_id: &str,
        rule_id: &str,
        actions: &[ActionReport],
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let outcomes = serde_json::to_string(actions).map_err(|e| e.to_string())?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(claim_key(event_id, rule_id)))
            .update_expression("SET #state = :done, outcomes = :outcomes, finished_at = :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":outcomes", s(outcomes))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| error_text(&e))
    }

    /// Give a claim back (the report could not be sent): the retry claims and reports again.
    pub async fn release(&self, event_id: &str, rule_id: &str) -> Result<(), String> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(claim_key(event_id, rule_id)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| error_text(&e))
    }

    async fn get(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, String> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map(|o| o.item)
            .map_err(|e| error_text(&e))
    }

    /// A JSON state document and its version.
    pub async fn load(&self, key: &str) -> Result<Option<(Value, i64)>, String> {
        let Some(item) = self.get(&format!("state#{key}")).await? else {
            return Ok(None);
        };
        let doc = match item.get("doc") {
            Some(AttributeValue::S(text)) => {
                serde_json::from_str(text).map_err(|e| e.to_string())?
            }
            _ => Value::Null,
        };
        let version = match item.get("version") {
            Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
            _ => 0,
        };
        Ok(Some((doc, version)))
    }

    /// Store a state document if nobody changed it since `expected_version` was loaded
    /// (`None`: it must not exist yet). `Ok(false)` means someone else won the race.
    pub async fn store(
        &self,
        key: &str,
        doc: &Value,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool, String> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("state#{key}")))
            .item("kind", s("state"))
            .item("doc", s(doc.to_string()))
            .item("version", n(expected_version.unwrap_or(0) + 1))
            .item("updated_at", s(now.to_rfc3339()))
            .item("expires_at", n(now.timestamp() + self.ttl_seconds));
        put = match expected_version {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(v)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(error_text(&e)),
        }
    }

    /// Every item, as JSON (for the demo and for people querying the audit trail).
    pub async fn entries(&self) -> Result<Vec<Value>, String> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| error_text(&e))?;
        let mut out: Vec<Value> = items
            .into_iter()
            .map(|item| {
                item.into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            AttributeValue::S(s) => Value::String(s),
                            AttributeValue::N(n) => n
                                .parse::<i64>()
                                .map(Value::from)
                                .unwrap_or(Value::String(n)),
                            other => Value::String(format!("{other:?}")),
                        };
                        (k, v)
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            })
            .collect();
        out.sort_by(|a, b| a["pk"].as_str().cmp(&b["pk"].as_str()));
        Ok(out)
    }
}
