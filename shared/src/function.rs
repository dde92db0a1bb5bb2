//! The one trait a Reflex function implements to plug into the pipeline: its name, rule ids and
//! settings, its pure rules in two phases (`interpret` an event into its trigger, `decide` on the
//! trigger and the facts), and its AWS side (`gather` facts, read `tags` for exemptions,
//! `execute` actions).
//!
//! `interpret` and `decide` are associated functions, pure and without `self`: the Lambda, a
//! command line or a backtest run them on any event without an AWS client. Everything that
//! calls AWS takes `&self`, an instance built by `connect` for one account and region.

use std::future::Future;

use aws_config::SdkConfig;

use crate::aws::CallError;
use crate::config::Env;
use crate::error::{ConfigError, EventError};
use crate::event::{Accepts, Event};
use crate::exemption::Tags;
use crate::ledger::Ledger;
use crate::outcome::Outcome;
use crate::plan::{Action, Finding, Severity};
use crate::resource::Resource;
use crate::target::Target;

/// What `interpret` makes of an event the function accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpreted<T> {
    /// A trigger for the function's rules.
    Trigger(T),
    /// Nothing for this function's rules (a read-only call, an alarm it does not watch), and why.
    Ignored(String),
}

/// Where one instance of a function acts, and the central parts it shares.
#[derive(Debug, Clone)]
pub struct Place {
    pub target: Target,
    /// The function's own account and region; `false` for another region or a member account.
    pub is_home: bool,
    /// The central ledger, when configured: it stays in Reflex's own account and region.
    pub ledger: Option<Ledger>,
}

impl Place {
    /// `None` at home, `ACCOUNT/REGION` elsewhere: what keeps records of same-named resources in
    /// two accounts apart in the central ledger.
    pub fn scope(&self) -> Option<String> {
        (!self.is_home).then(|| format!("{}/{}", self.target.account, self.target.region))
    }
}

/// What gathering facts has to tell: notes for the report (what could not be read, what was
/// assumed), and the lookups that failed in a way that may pass. Deciding on a fact missing only
/// for now (a throttled read) could miss an escalation, so such an event is retried instead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notes {
    lines: Vec<String>,
    for_now: Vec<String>,
}

impl Notes {
    pub fn push(&mut self, note: impl Into<String>) {
        self.lines.push(note.into());
    }

    /// A lookup failed: `note` says what could not be read. One that failed `for_now` (a
    /// transient fault: `CallError::transient`, `LedgerError::transient`) has the event retried.
    pub fn failed(&mut self, note: impl Into<String>, for_now: bool) {
        let note = note.into();
        if for_now {
            self.for_now.push(note.clone());
        }
        self.lines.push(note);
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The lookups that failed for now, if any: the event must be retried.
    pub fn failed_for_now(&self) -> Option<String> {
        (!self.for_now.is_empty()).then(|| self.for_now.join("; "))
    }
}

pub trait Function: Sized + Send + Sync + 'static {
    /// `revoke`, `scale`, ...: in reports, metrics and the member-role session name.
    const NAME: &'static str;
    /// Every rule id, for `REFLEX_RULE_MODES` (an unknown id there is refused).
    const RULE_IDS: &'static [&'static str];
    /// The events the function takes; any other is refused as unsupported before anything else.
    const ACCEPTS: &'static [Accepts];
    /// Whether gathering facts and acting happen in the event's account and region (through the
    /// member role for another account). `false` for a function that only reports.
    const ACTS_WHERE_THE_EVENT_HAPPENED: bool = true;
    /// Findings with no action at or above this severity go to a person (a deleted trail);
    /// `notify` lowers it to report everything it finds.
    const ALERT_SEVERITY: Severity = Severity::High;

    /// The function's own settings (ports, steps, thresholds), read once at cold start.
    type Settings: Clone + Send + Sync + 'static;
    /// An event as this function's rules see it: typed, validated, nothing left to parse.
    type Trigger: Send + Sync;
    /// What the rules need to know beyond the event, read from AWS. `Default` is "nothing
    /// known": what an offline run assumes.
    type Facts: Default + Send + Sync;
    type Action: Action;

    /// Read and validate the function's settings; a bad value names its variable.
    fn settings(env: &Env<'_>) -> Result<Self::Settings, ConfigError>;

    /// The function's clients for one account and region.
    fn connect(sdk: &SdkConfig, place: &Place) -> Self;

    /// The event as this function's trigger: pure, no AWS call. A field the trigger needs that
    /// is missing or malformed is an `EventError`, before anything happens.
    fn interpret(
        event: &Event,
        settings: &Self::Settings,
    ) -> Result<Interpreted<Self::Trigger>, EventError>;

    /// The rules: pure, no AWS call, and they cannot fail. What is unknown in `facts` is
    /// decided on the safe side and said in the finding's reason.
    fn decide(
        trigger: &Self::Trigger,
        facts: &Self::Facts,
        settings: &Self::Settings,
    ) -> Vec<Finding<Self::Action>>;

    /// Read-only lookups the trigger needs. A lookup that fails leaves its fact unknown and adds
    /// a note (`Notes::failed`); one that failed for now has the event retried.
    fn gather(
        &self,
        trigger: &Self::Trigger,
        notes: &mut Notes,
    ) -> impl Future<Output = Self::Facts> + Send;

    /// The tags of the caller or of a resource an action touches, for exemptions. `Ok(None)`:
    /// this kind carries no tags, or this function never touches it.
    fn tags(
        &self,
        resource: &Resource,
    ) -> impl Future<Output = Result<Option<Tags>, CallError>> + Send;

    /// Carry out one action. Never panics; every fault is an outcome.
    fn execute(&self, action: &Self::Action) -> impl Future<Output = Outcome> + Send;
}
