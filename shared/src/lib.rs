//! Reflex's remediation core, shared by every function.
//!
//! A function implements [`Function`]: its settings, its pure rules in two phases (`interpret`
//! an event into its trigger, `decide` on the trigger and its facts) and its AWS side (`gather`,
//! `tags`, `execute`). This crate supplies everything around them:
//!
//! - what comes in: `event` (typed events), `identity` (callers, Reflex itself), `resource`
//! - what the rules produce: `plan` (findings, actions), `outcome`
//! - what stands around the rules: `guard`, `exemption`, `target` (where to act), `config`
//! - the flow of one event: `pipeline` (with the ledger's claims), `ledger`
//! - what goes out: `report`, `publish` (SNS), `audit`, `metrics`, `undo` (the commands in
//!   reports that reverse a change, every value quoted)
//! - taking a remediation back: `reverse` (each function's reversal of its recorded steps)
//! - AWS plumbing: `aws`, `http` (one HTTP connector per process, set up off the critical
//!   path), `iam` (tags, containment), `lambda` (a function's `main`)

pub mod audit;
pub mod aws;
pub mod config;
pub mod error;
pub mod event;
pub mod exemption;
pub mod function;
pub mod guard;
pub mod http;
pub mod iam;
pub mod identity;
pub mod lambda;
pub mod ledger;
pub mod metrics;
pub mod outcome;
pub mod pipeline;
pub mod plan;
pub mod publish;
pub mod report;
pub mod resource;
pub mod reverse;
pub mod target;
pub mod undo;

pub use error::{ConfigError, EventError, ReflexError};
pub use event::{ApiCall, Event};
pub use function::{Function, Interpreted, Notes, Place};
pub use outcome::{Outcome, Step};
pub use plan::{Action, Finding, Severity};
pub use resource::Resource;
pub use undo::{AwsCli, Undo};
