//! Errors with a stable `error_type`, so operators can tell a bad event (permanent: retrying it
//! changes nothing) from a fault worth retrying.

use thiserror::Error;

/// The event itself is wrong for this function. Nothing was called and nothing changed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EventError {
    #[error("the event is not valid JSON: {reason}")]
    MalformedJson { reason: String },
    #[error("the event has no `{field}`")]
    MissingField { field: String },
    #[error("the event's `{field}` is invalid: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("this function does not handle `{detail_type}` events (source `{event_source}`)")]
    Unsupported {
        detail_type: String,
        event_source: String,
    },
}

impl EventError {
    pub fn error_type(&self) -> &'static str {
        match self {
            EventError::MalformedJson { .. } => "MalformedJson",
            EventError::MissingField { .. } => "MissingField",
            EventError::InvalidField { .. } => "InvalidField",
            EventError::Unsupported { .. } => "UnsupportedEvent",
        }
    }

    /// A required field is absent: `detail.requestParameters.policyArn (in AttachUserPolicy)`.
    pub fn missing(field: impl Into<String>) -> Self {
        EventError::MissingField {
            field: field.into(),
        }
    }

    /// A field is there but unusable, and why.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        EventError::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A configuration value is missing or wrong; the cold start fails naming the variable.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("configuration variable {variable} is invalid: {reason}")]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(variable: &str, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.to_string(),
            reason: reason.into(),
        }
    }
}

/// Why an event's account and region cannot be reached.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TargetError {
    /// Permanent: configuration says Reflex must not act there.
    #[error("{0}")]
    Refused(String),
    /// The member role could not be assumed (not deployed yet, trust policy, STS down).
    #[error("{0}")]
    AssumeRole(String),
}

/// What a handler invocation can fail with.
#[derive(Debug, Error)]
pub enum ReflexError {
    /// Permanent: the same event will fail the same way. No AWS call was made.
    #[error("rejected event: {0}")]
    BadEvent(#[from] EventError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Transient: the report could not be published. The outcomes stay in the ledger as done but
    /// not reported; Lambda's retry sends that report, with the original outcomes, and does not
    /// act again.
    #[error("could not publish the report to SNS: {0}")]
    Publish(String),
    /// Nothing was done: the event's account or region cannot be reached (see `target`).
    #[error("cannot act where the event happened: {0}")]
    Target(#[from] TargetError),
    /// Transient: another delivery of the same event is being handled right now; the retry
    /// finds it finished (or takes over a run that crashed).
    #[error("another delivery of this event is being handled now: {0}")]
    InProgress(String),
    /// Transient: a step failed in a way that may pass (throttling, a 5xx, a timeout) or the
    /// deadline came near; what was done is recorded, and the retry resumes after it.
    #[error("interrupted, to be resumed by the retry: {0}")]
    Interrupted(String),
    /// Transient: a read the rules need failed for now; nothing was done.
    #[error("a lookup failed for now, nothing was done: {0}")]
    Lookup(String),
    /// Transient: the ledger could not be reached; nothing was done.
    #[error("the ledger could not be reached, nothing was done: {0}")]
    Ledger(String),
}

impl ReflexError {
    /// Stable, machine-readable; `Permanent.*` means retrying is pointless.
    pub fn error_type(&self) -> String {
        match self {
            ReflexError::BadEvent(e) => format!("Permanent.BadEvent.{}", e.error_type()),
            ReflexError::Config(_) => "Permanent.Config".to_string(),
            // The name operators filter on since the first release: kept.
            ReflexError::Publish(_) => "Transient.Notify".to_string(),
            ReflexError::Target(TargetError::Refused(_)) => "Permanent.ForeignAccount".to_string(),
            ReflexError::Target(TargetError::AssumeRole(_)) => "Transient.AssumeRole".to_string(),
            ReflexError::InProgress(_) => "Transient.InProgress".to_string(),
            ReflexError::Interrupted(_) => "Transient.Interrupted".to_string(),
            ReflexError::Lookup(_) => "Transient.Lookup".to_string(),
            ReflexError::Ledger(_) => "Transient.Ledger".to_string(),
        }
    }

    /// Whether Lambda's retry of the event may succeed where this delivery did not.
    pub fn is_transient(&self) -> bool {
        self.error_type().starts_with("Transient.")
    }
}

impl From<ReflexError> for lambda_runtime::Diagnostic {
    fn from(e: ReflexError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type(),
            error_message: e.to_string(),
        }
    }
}
