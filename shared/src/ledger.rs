//! The remediation ledger: a DynamoDB table that makes handling exactly-once per event and rule,
//! keeps what each delivery did step by step so a crashed one can be resumed, and keeps the
//! audit trail: what Reflex did, with the prior state to undo it, queryable after the fact.
//!
//! A claim (`event#<event key>#<rule>`) moves through these states:
//!
//! - `claimed`: a delivery works on it until `lease_until` (its invocation's deadline plus a
//!   margin). Another delivery meanwhile is told to come back later (`Claim::InProgress`); once
//!   the lease has run out (the run crashed or timed out), the next delivery takes it over and
//!   resumes after the steps already recorded (`Claim::Acquired { progress }`).
//! - `interrupted`: the delivery recorded its progress and failed on purpose (a fault that may
//!   pass, or its deadline near); the next delivery takes over at once.
//! - `done`: finished, with the finding and every step's outcome; `reported` once the report went
//!   out. A redelivery of a finished but unreported event publishes the recorded report.
//!
//! Nothing is deleted: items expire through DynamoDB TTL on `expires_at`. `load` / `store` keep
//! small JSON state documents with optimistic locking (e.g. per-group scaling state).
//! `count_actions` keeps the rate limit's counters (`rate#<function>#<account>#<hour>`): each
//! claim's enforced actions counted once, in the same transaction that marks the claim counted.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde_json::Value;

mod undos;

pub use undos::{Entry, EntryKind, UndoRecord};

use crate::aws::error_text;
use crate::event::Revision;
use crate::report::{ActionReport, FindingReport};
use crate::target::Target;

pub const TABLE: &str = "REFLEX_LEDGER_TABLE";
pub const TTL_DAYS: &str = "REFLEX_LEDGER_TTL_DAYS";
pub const DEFAULT_TTL_DAYS: i64 = 90;

/// A claim older than this with no lease (written before leases existed) belongs to a crashed
/// run: longer than a Lambda invocation can run.
const LEGACY_CLAIM_TIMEOUT_SECONDS: i64 = 960;

/// DynamoDB refuses items over 400 KB; the JSON kept in one stays well below.
const MAX_RECORD_BYTES: usize = 300 * 1024;

/// A ledger call that failed. `transient`: throttling, a 5xx, a timeout; worth retrying the
/// event. Otherwise the table is missing or out of reach by configuration.
pub type LedgerError = crate::aws::CallError;

/// Which claim: an event (see `event::EventKey`) and a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimKey {
    pub event: String,
    pub rule: String,
}

impl ClaimKey {
    fn pk(&self) -> String {
        format!("event#{}#{}", self.event, self.rule)
    }
}

/// The result of claiming an event for a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This delivery holds the claim. `progress`: the steps an earlier, interrupted delivery
    /// recorded (empty for a fresh claim).
    Acquired { progress: Vec<ActionReport> },
    /// Another delivery works on it and its lease has not run out: come back later.
    InProgress { claimed_at: String },
    /// An earlier delivery finished it.
    Finished(Finished),
}

/// What an earlier delivery finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub claimed_at: String,
    /// The finding as it was reported (or to be reported), with every step's outcome.
    pub finding: Option<FindingReport>,
    /// Whether its report went out.
    pub reported: bool,
    /// The revision of a republished event last reported, where the source republishes.
    pub revision: Option<Revision>,
}

/// The rate limit's answer for one claim's enforced actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateCount {
    /// Counted now; `used`: the window's count with them.
    Admitted { used: u32 },
    /// This claim was counted before (a retry of a delivery that got this far): admitted
    /// again, not counted twice.
    AlreadyCounted,
    /// Over the limit: nothing may be done. `first`: the window's first refusal, the one a
    /// person is told about (a retry of that delivery is first again).
    Refused { first: bool, used: u32 },
}

/// The pause after the `attempt`th conflict: growing, with jitter from the clock so that
/// deliveries that collided do not try again in step.
fn conflict_pause(attempt: usize) -> std::time::Duration {
    let jitter = u64::from(Utc::now().timestamp_subsec_millis() % 40);
    std::time::Duration::from_millis(25 * attempt as u64 + jitter)
}

/// One attempt at counting.
enum Counting {
    Counted,
    AlreadyCounted,
    Full,
    /// Another transaction touched the counter at the same moment: try again.
    Conflict,
    Failed(LedgerError),
}

/// How often a transaction that met a concurrent one is tried again before the event is.
const TRANSACTION_ATTEMPTS: usize = 3;

#[derive(Debug, Clone)]
pub struct Ledger {
    client: Client,
    table: String,
    ttl_seconds: i64,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn f(v: f64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn is_conditional_failure<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

/// A text attribute of an item.
fn text(item: &HashMap<String, AttributeValue>, key: &str) -> Option<String> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn number(item: &HashMap<String, AttributeValue>, key: &str) -> Option<f64> {
    match item.get(key) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// JSON for an item, kept under DynamoDB's item limit: a record too large loses its prior
/// states (the function's audit log has them whole) rather than the record itself.
fn fit<T: serde::Serialize>(value: &T) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    if text.len() <= MAX_RECORD_BYTES {
        return text;
    }
    let mut json = serde_json::to_value(value).unwrap_or_default();
    shrink(&mut json);
    let text = json.to_string();
    if text.len() <= MAX_RECORD_BYTES {
        return text;
    }
    serde_json::json!({"too_large": format!("{} bytes: see the function's audit log", text.len())})
        .to_string()
}

/// Replace every large `prior_state` and `action` in a record with a marker.
fn shrink(json: &mut Value) {
    match json {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let large = value.to_string().len() > 4096;
                if large && (key == "prior_state" || key == "action") {
                    *value = Value::String(
                        "too large for the ledger: see the function's audit log".into(),
                    );
                } else {
                    shrink(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(shrink),
        _ => {}
    }
}

impl Ledger {
    pub fn new(client: Client, table: impl Into<String>, ttl_days: i64) -> Self {
        Self {
            client,
            table: table.into(),
            ttl_seconds: ttl_days * 86_400,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// An update of one claim's item.
    fn update(&self, key: &ClaimKey) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.pk()))
    }

    /// Claim (event, rule) before acting, until `lease_until` (epoch seconds). A claim is free
    /// when it does not exist, was interrupted, or its lease has run out.
    pub async fn claim(
        &self,
        key: &ClaimKey,
        function: &str,
        summary: &str,
        now: DateTime<Utc>,
        lease_until: i64,
    ) -> Result<Claim, LedgerError> {
        self.claim_in(key, (function, summary), None, now, lease_until)
            .await
    }

    /// [`Ledger::claim`], recording where the function acts (`target`), so that `reflex undo`
    /// takes the remediation back in that account and region.
    pub async fn claim_in(
        &self,
        key: &ClaimKey,
        (function, summary): (&str, &str),
        target: Option<&Target>,
        now: DateTime<Utc>,
        lease_until: i64,
    ) -> Result<Claim, LedgerError> {
        let placed = if target.is_some() {
            ", account = :account, #region = :region"
        } else {
            ""
        };
        let mut update = self.update(key).update_expression(format!(
            "SET #state = :claimed, lease_until = :lease, claimed_at = :now_text, \
                 claimed_epoch = :now, kind = :kind, #function = :function, event_id = :event, \
                 rule_id = :rule, summary = :summary, expires_at = :expires, \
                 attempts = if_not_exists(attempts, :zero) + :one{placed}",
        ));
        if let Some(target) = target {
            update = update
                .expression_attribute_names("#region", "region")
                .expression_attribute_values(":account", s(&target.account))
                .expression_attribute_values(":region", s(&target.region));
        }
        let update = update
            .condition_expression(
                "attribute_not_exists(pk) OR #state = :interrupted \
                 OR (#state = :claimed AND lease_until < :now) \
                 OR (#state = :claimed AND attribute_not_exists(lease_until) AND claimed_epoch < :legacy)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#function", "function")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":interrupted", s("interrupted"))
            .expression_attribute_values(":lease", n(lease_until))
            .expression_attribute_values(":now_text", s(now.to_rfc3339()))
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":legacy", n(now.timestamp() - LEGACY_CLAIM_TIMEOUT_SECONDS))
            .expression_attribute_values(":kind", s("claim"))
            .expression_attribute_values(":function", s(function))
            .expression_attribute_values(":event", s(&key.event))
            .expression_attribute_values(":rule", s(&key.rule))
            .expression_attribute_values(":summary", s(summary))
            .expression_attribute_values(":expires", n(now.timestamp() + self.ttl_seconds))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match update {
            Ok(out) => {
                let earlier = out.attributes.unwrap_or_default();
                let progress = text(&earlier, "steps")
                    .and_then(|steps| serde_json::from_str(&steps).ok())
                    .unwrap_or_default();
                Ok(Claim::Acquired { progress })
            }
            Err(e) if is_conditional_failure(&e) => self.held(key, now, lease_until).await,
            Err(e) => Err(e.into()),
        }
    }

    /// A claim that could not be taken: held by a live delivery, or finished. A finished claim
    /// whose report never went out is leased to this delivery to send it, unless the delivery
    /// that finished it may still be sending it (its lease holds).
    async fn held(
        &self,
        key: &ClaimKey,
        now: DateTime<Utc>,
        lease_until: i64,
    ) -> Result<Claim, LedgerError> {
        // Read which. A read that fails is not a free claim.
        let item = self.get(&key.pk()).await?.unwrap_or_default();
        let claimed_at = text(&item, "claimed_at").unwrap_or_default();
        let in_progress = Claim::InProgress {
            claimed_at: claimed_at.clone(),
        };
        if text(&item, "state").as_deref() != Some("done") {
            return Ok(in_progress);
        }
        // Records from before reports were tracked have no `reported`: they were reported.
        let reported = !matches!(item.get("reported"), Some(AttributeValue::Bool(false)));
        if !reported && !self.lease_report(key, now, lease_until).await? {
            return Ok(in_progress);
        }
        Ok(Claim::Finished(Finished {
            claimed_at,
            finding: text(&item, "finding").and_then(|f| serde_json::from_str(&f).ok()),
            reported,
            revision: number(&item, "revision_severity")
                .zip(number(&item, "revision_count"))
                .map(|(severity, count)| Revision {
                    severity,
                    count: count as u64,
                }),
        }))
    }

    /// Take the lease of a finished claim whose report never went out, to send it; `false`
    /// when the delivery that finished it may still be sending it, or another took it.
    async fn lease_report(
        &self,
        key: &ClaimKey,
        now: DateTime<Utc>,
        lease_until: i64,
    ) -> Result<bool, LedgerError> {
        let update = self
            .update(key)
            .update_expression("SET lease_until = :lease")
            .condition_expression(
                "#state = :done AND reported = :no AND (lease_until < :now OR attribute_not_exists(lease_until))",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":lease", n(lease_until))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a claim exists that is not done: one a delivery holds, was interrupted in, or
    /// crashed in.
    pub async fn is_unfinished(&self, key: &ClaimKey) -> Result<bool, LedgerError> {
        let item = self.get(&key.pk()).await?;
        Ok(item.is_some_and(|item| text(&item, "state").as_deref() != Some("done")))
    }

    /// End this delivery's lease on a finished claim it could not report: the retry need not
    /// wait for the lease to run out.
    pub async fn let_go(&self, key: &ClaimKey) -> Result<(), LedgerError> {
        self.update(key)
            .update_expression("SET lease_until = :zero")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await
            .map(drop)
            .map_err(Into::into)
    }

    /// Record the steps done so far for a claim this delivery holds.
    pub async fn progress(
        &self,
        key: &ClaimKey,
        steps: &[ActionReport],
    ) -> Result<(), LedgerError> {
        self.update(key)
            .update_expression("SET steps = :steps")
            .expression_attribute_values(":steps", s(fit(&steps)))
            .send()
            .await
            .map(drop)
            .map_err(Into::into)
    }

    /// Give the claim up with its progress recorded: the next delivery takes over at once and
    /// resumes after the steps done.
    pub async fn interrupt(
        &self,
        key: &ClaimKey,
        steps: &[ActionReport],
    ) -> Result<(), LedgerError> {
        self.update(key)
            .update_expression("SET #state = :interrupted, steps = :steps")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":interrupted", s("interrupted"))
            .expression_attribute_values(":steps", s(fit(&steps)))
            .send()
            .await
            .map(drop)
            .map_err(Into::into)
    }

    /// The claim is done: the finding with every step's outcome and the prior state needed to
    /// undo it. `reported`: its report needs no sending (`false`: it has not gone out yet, and
    /// [`Ledger::reported`] says when it has).
    pub async fn finish(
        &self,
        key: &ClaimKey,
        finding: &FindingReport,
        revision: Option<Revision>,
        reported: bool,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let mut expression = String::from(
            "SET #state = :done, finding = :finding, steps = :steps, finished_at = :now, \
             reported = :reported",
        );
        let mut update = self
            .update(key)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":finding", s(fit(finding)))
            .expression_attribute_values(":steps", s(fit(&finding.actions)))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":reported", AttributeValue::Bool(reported));
        if let Some(r) = revision {
            expression += ", revision_severity = :severity, revision_count = :count";
            update = update
                .expression_attribute_values(":severity", f(r.severity))
                .expression_attribute_values(":count", n(r.count as i64));
        }
        update
            .update_expression(expression)
            .send()
            .await
            .map(drop)
            .map_err(Into::into)
    }

    /// A newer revision of a republished event was seen (and not reported: too small a change).
    pub async fn seen(&self, key: &ClaimKey, revision: Revision) -> Result<(), LedgerError> {
        self.update(key)
            .update_expression("SET seen_severity = :severity, seen_count = :count")
            .expression_attribute_values(":severity", f(revision.severity))
            .expression_attribute_values(":count", n(revision.count as i64))
            .send()
            .await
            .map(drop)
            .map_err(Into::into)
    }

    /// The claim's report went out; `revision`: the revision it told people about.
    pub async fn reported(
        &self,
        key: &ClaimKey,
        revision: Option<Revision>,
    ) -> Result<(), LedgerError> {
        let mut expression = String::from("SET reported = :yes");
        let mut update = self
            .update(key)
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        if let Some(r) = revision {
            expression += ", revision_severity = :severity, revision_count = :count";
            update = update
                .expression_attribute_values(":severity", f(r.severity))
                .expression_attribute_values(":count", n(r.count as i64));
        }
        update
            .update_expression(expression)
            .send()
            .await
            .map(drop)
            .map_err(Into::into)
    }

    /// Count a claim's `actions` enforced actions against the counter `rate` (see
    /// `pipeline::rate`), which allows at most `max`. The claim is marked counted in the same
    /// transaction, so a retry of it is admitted without counting twice; a claim refused once is
    /// refused again (its finding records the refusal).
    pub async fn count_actions(
        &self,
        claim: &ClaimKey,
        rate: &str,
        actions: u32,
        max: u32,
        now: DateTime<Utc>,
    ) -> Result<RateCount, LedgerError> {
        let pk = format!("rate#{rate}");
        // Room left for this claim's actions; none if they alone are more than the limit.
        let Some(room) = max.checked_sub(actions) else {
            return self.refuse(claim, &pk, now).await;
        };
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            match self.count_once(claim, &pk, actions, room, now).await {
                Counting::Counted => {
                    // Only for the report: once counted, a failed read must not undo the count.
                    let used = self.get(&pk).await.ok().flatten();
                    return Ok(RateCount::Admitted {
                        used: used
                            .and_then(|i| number(&i, "actions"))
                            .map_or(actions, |u| u as u32),
                    });
                }
                Counting::AlreadyCounted => return Ok(RateCount::AlreadyCounted),
                Counting::Full => return self.refuse(claim, &pk, now).await,
                // Concurrent deliveries on one counter: apart, they stop colliding.
                Counting::Conflict => tokio::time::sleep(conflict_pause(attempt)).await,
                Counting::Failed(e) => return Err(e),
            }
        }
        Err(LedgerError {
            why: format!("the counter {pk} stayed busy with concurrent transactions"),
            transient: true,
        })
    }

    /// One attempt at the transaction: mark the claim counted, add its actions to the counter
    /// if there is `room`.
    async fn count_once(
        &self,
        claim: &ClaimKey,
        pk: &str,
        actions: u32,
        room: u32,
        now: DateTime<Utc>,
    ) -> Counting {
        let mark = Update::builder()
            .table_name(&self.table)
            .key("pk", s(claim.pk()))
            .update_expression("SET rate_counted = :rate")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(rate_counted)")
            .expression_attribute_values(":rate", s(pk))
            .build();
        let count = Update::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression(
                "SET kind = :kind, expires_at = if_not_exists(expires_at, :expires) \
                 ADD actions :n",
            )
            .condition_expression("attribute_not_exists(actions) OR actions <= :room")
            .expression_attribute_values(":kind", s("rate"))
            .expression_attribute_values(":expires", n(now.timestamp() + self.ttl_seconds))
            .expression_attribute_values(":n", n(actions.into()))
            .expression_attribute_values(":room", n(room.into()))
            .build();
        let (Ok(mark), Ok(count)) = (mark, count) else {
            return Counting::Failed(LedgerError {
                why: "the rate limit's transaction could not be built".into(),
                transient: false,
            });
        };
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(mark).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Counting::Counted,
            Err(e) => e,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Counting::Failed(err.into());
        };
        let code = |at: usize| {
            cancelled
                .cancellation_reasons()
                .get(at)
                .and_then(|r| r.code())
                .unwrap_or("None")
        };
        match (code(0), code(1)) {
            ("ConditionalCheckFailed", _) => Counting::AlreadyCounted,
            (_, "ConditionalCheckFailed") => Counting::Full,
            ("TransactionConflict", _) | (_, "TransactionConflict") => Counting::Conflict,
            _ => Counting::Failed(LedgerError {
                why: format!(
                    "the rate limit's transaction was cancelled: {}",
                    error_text(&err)
                ),
                transient: true,
            }),
        }
    }

    /// A refusal: counted on the window's counter, and whether it is the window's first.
    async fn refuse(
        &self,
        claim: &ClaimKey,
        pk: &str,
        now: DateTime<Utc>,
    ) -> Result<RateCount, LedgerError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression(
                "SET kind = :kind, expires_at = if_not_exists(expires_at, :expires), \
                 first_refused = if_not_exists(first_refused, :claim) ADD refusals :one",
            )
            .expression_attribute_values(":kind", s("rate"))
            .expression_attribute_values(":expires", n(now.timestamp() + self.ttl_seconds))
            .expression_attribute_values(":claim", s(claim.pk()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await?;
        let item = out.attributes.unwrap_or_default();
        Ok(RateCount::Refused {
            first: text(&item, "first_refused").as_deref() == Some(claim.pk().as_str()),
            used: number(&item, "actions").map_or(0, |u| u as u32),
        })
    }

    async fn get(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, LedgerError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map(|o| o.item)
            .map_err(Into::into)
    }

    /// A JSON state document and its version.
    pub async fn load(&self, key: &str) -> Result<Option<(Value, i64)>, LedgerError> {
        let Some(item) = self.get(&format!("state#{key}")).await? else {
            return Ok(None);
        };
        let doc = match item.get("doc") {
            Some(AttributeValue::S(text)) => {
                serde_json::from_str(text).map_err(|e| LedgerError {
                    why: format!("the record of {key} is not JSON: {e}"),
                    transient: false,
                })?
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
    ) -> Result<bool, LedgerError> {
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
            Err(e) => Err(e.into()),
        }
    }

    /// Every item, as JSON (for the demo and for people querying the audit trail).
    pub async fn entries(&self) -> Result<Vec<Value>, LedgerError> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await?;
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
                            AttributeValue::Bool(b) => Value::Bool(b),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::undo::{AwsCli, Undo};

    fn put_it_back() -> Undo {
        Undo::run(
            AwsCli::new("iam", "put-user-policy")
                .arg("--user-name", "alice")
                .arg("--policy-name", "big"),
        )
    }

    #[test]
    fn a_record_too_large_for_dynamodb_keeps_its_outcomes_and_loses_its_prior_states() {
        let huge = "x".repeat(MAX_RECORD_BYTES);
        let steps = vec![ActionReport {
            step: "delete-inline-policy user alice".into(),
            description: "delete inline policy big from user alice".into(),
            action: serde_json::json!({"type": "delete-inline-policy"}),
            outcome: Outcome::done(
                "deleted",
                Some(serde_json::json!({ "policy_document": huge })),
                put_it_back(),
            ),
        }];
        let text = fit(&steps);
        assert!(text.len() < MAX_RECORD_BYTES, "{} bytes", text.len());
        let back: Vec<ActionReport> = serde_json::from_str(&text).unwrap();
        assert_eq!(back[0].outcome.status(), "done");
        assert_eq!(back[0].outcome.undo(), Some(put_it_back().as_str()));
        assert!(
            back[0]
                .outcome
                .prior_state()
                .unwrap()
                .as_str()
                .unwrap()
                .contains("too large")
        );
    }
}
