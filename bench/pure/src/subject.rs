//! The pure path of one function, as the pipeline (`Handler::handle_by`) runs it, with nothing
//! known beyond the event (`F::Facts::default()`, no exempt resource) and no I/O.

use std::collections::BTreeMap;
use std::hint::black_box;

use reflex_shared::config::{CoreConfig, Env};
use reflex_shared::event::{self, Event, key};
use reflex_shared::function::{Function, Interpreted};
use reflex_shared::guard::Guards;
use reflex_shared::identity::SelfIdentity;
use reflex_shared::{ConfigError, Resource};
use serde_json::Value;

/// What the pure path made of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The rules ran: `findings` findings came out of the guards.
    Decided { findings: usize },
    /// An event guard left the event alone (`loop-guard`, `failed-call`, `exempt-actor`).
    Screened(&'static str),
    /// `interpret` found nothing for the function's rules.
    Ignored,
    /// The event was refused (`MissingField`, `UnsupportedEvent`, ...).
    Refused(&'static str),
    /// The run stopped after the stage it was asked to stop at (`--phases`).
    Stopped,
}

/// The stages of the pure path, in the pipeline's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// JSON text to a `serde_json::Value`.
    Json,
    /// `event::key::digest_unless_named` (the content digest, for an event without an id).
    Digest,
    /// `event::parse`: the value to a typed `Event`.
    Parse,
    /// The accept check and `Guards::screen`.
    Screen,
    Interpret,
    Decide,
    /// `Guards::apply`: the whole path.
    Apply,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Json,
        Stage::Digest,
        Stage::Parse,
        Stage::Screen,
        Stage::Interpret,
        Stage::Decide,
        Stage::Apply,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Json => "json",
            Stage::Digest => "digest",
            Stage::Parse => "parse",
            Stage::Screen => "screen",
            Stage::Interpret => "interpret",
            Stage::Decide => "decide",
            Stage::Apply => "apply",
        }
    }
}

impl Verdict {
    pub fn findings(&self) -> usize {
        match self {
            Verdict::Decided { findings } => *findings,
            _ => 0,
        }
    }

    pub fn status(&self) -> String {
        match self {
            Verdict::Decided { .. } => "decided".into(),
            Verdict::Screened(guard) => format!("screened:{guard}"),
            Verdict::Ignored => "ignored".into(),
            Verdict::Refused(error) => format!("refused:{error}"),
            Verdict::Stopped => "stopped".into(),
        }
    }
}

/// One function's pure path, type-erased so every function sits in one list.
pub trait Subject {
    fn name(&self) -> &'static str;
    fn accepts(&self, event: &Event) -> bool;
    /// The pure path on the raw bytes of one event, up to and including `last`.
    fn run_to(&self, raw: &[u8], last: Stage) -> Verdict;

    /// The whole pure path on the raw bytes of one event.
    fn run(&self, raw: &[u8]) -> Verdict {
        self.run_to(raw, Stage::Apply)
    }
}

/// Function `F` with its settings and guards, read once from the environment.
pub struct Pure<F: Function> {
    settings: F::Settings,
    guards: Guards,
    /// No exempt resource: exemption tags are read from AWS, and nothing is known offline.
    exempt: BTreeMap<Resource, String>,
}

impl<F: Function> Pure<F> {
    /// As `handler_from_env` builds them, Reflex's own identity taken from `REFLEX_SELF_ARN`.
    pub fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
        let core = CoreConfig::from_env(env, F::RULE_IDS)?;
        let settings = F::settings(env)?;
        let me = core.self_arn.as_deref().map(SelfIdentity::from_arn);
        Ok(Self {
            settings,
            guards: core.guards(me),
            exempt: BTreeMap::new(),
        })
    }
}

impl<F: Function> Subject for Pure<F> {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn accepts(&self, event: &Event) -> bool {
        event.is_one_of(F::ACCEPTS)
    }

    fn run_to(&self, raw: &[u8], last: Stage) -> Verdict {
        let value: Value = match serde_json::from_slice(raw) {
            Ok(value) => value,
            Err(_) => return Verdict::Refused("MalformedJson"),
        };
        if last == Stage::Json {
            black_box(value);
            return Verdict::Stopped;
        }
        // The pipeline keys an event without an id by its content digest, as here.
        black_box(key::digest_unless_named(&value));
        if last == Stage::Digest {
            black_box(value);
            return Verdict::Stopped;
        }
        let event = match event::parse(value) {
            Ok(event) => event,
            Err(e) => return Verdict::Refused(e.error_type()),
        };
        if last == Stage::Parse {
            black_box(event);
            return Verdict::Stopped;
        }
        if !event.is_one_of(F::ACCEPTS) {
            return Verdict::Refused(event.unsupported().error_type());
        }
        if let Some(skip) = event.api_call().and_then(|call| self.guards.screen(call)) {
            return Verdict::Screened(black_box(skip).name());
        }
        if last == Stage::Screen {
            black_box(event);
            return Verdict::Stopped;
        }
        let trigger = match F::interpret(&event, &self.settings) {
            Ok(Interpreted::Trigger(trigger)) => trigger,
            Ok(Interpreted::Ignored(why)) => {
                black_box(why);
                return Verdict::Ignored;
            }
            Err(e) => return Verdict::Refused(e.error_type()),
        };
        if last == Stage::Interpret {
            black_box(trigger);
            return Verdict::Stopped;
        }
        let findings = F::decide(&trigger, &F::Facts::default(), &self.settings);
        if last == Stage::Decide {
            black_box(findings);
            return Verdict::Stopped;
        }
        let guarded = black_box(self.guards.apply(findings, &self.exempt));
        Verdict::Decided {
            findings: guarded.len(),
        }
    }
}
