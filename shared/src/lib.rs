//! Reflex's remediation core, shared by every function.
//!
//! A function supplies a [`pipeline::Remediator`] (its pure rules and its executor); this crate
//! supplies everything around them: event parsing, guards, outcomes, the report, the audit log,
//! the SNS notifier, configuration and the Lambda glue.

pub mod alarm;
pub mod audit;
pub mod aws;
pub mod config;
pub mod error;
pub mod event;
pub mod finding;
pub mod guard;
pub mod identity;
pub mod insight;
pub mod lambda;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod target;

pub use error::{ConfigError, EventError, ReflexError};
pub use event::{ApiCall, Event};
pub use identity::Principal;
pub use outcome::Outcome;
pub use plan::{Finding, RemediationAction, Severity};
